// bench-asio-echo: a standalone-Asio echo server, the "well-written
// framework" peer of bench/run.sh. One io_context, run on the main thread.
//
// The session follows Asio's own async_tcp_echo_server example: read some,
// write it all back, read again, with the buffer a member of the
// shared_ptr-owned session, so a connection is one allocation.
// Buffer choice: std::array<char, 16384> — the example's member style, but
// the 16 KiB of bench-epoll-echo's read buffer. Measured on the idle test, a
// 4096-byte member costs the same RSS per connection (~4.7 KB: only the
// touched first page is resident), while it cut 16 KiB bulk throughput
// several-fold, which would measure our buffer size, not Asio.
#include "../bench_util.hpp"

#include <asio.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>

namespace {

using asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

  void start() { read_some(); }

private:
  void read_some() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(data_), [this, self](std::error_code ec, std::size_t n) {
      if (!ec)
        write_back(n);
    });
  }

  void write_back(std::size_t n) {
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(data_, n), [this, self](std::error_code ec, std::size_t) {
      if (!ec)
        read_some();
    });
  }

  tcp::socket socket_;
  std::array<char, 16 * 1024> data_;
};

class Server {
public:
  Server(asio::io_context& io, tcp::acceptor& acceptor)
    : acceptor_(acceptor), retry_timer_(io) {}

  void accept_next() {
    acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        // EMFILE: the pending peer stays queued; retrying at once would spin.
        if (++emfile_ == 1)
          std::fprintf(stderr, "bench-asio-echo: out of descriptors, pausing accept\n");
        retry_timer_.expires_after(std::chrono::milliseconds(50));
        retry_timer_.async_wait([this](std::error_code) { accept_next(); });
        return;
      }
      if (!ec) {
        std::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket))->start();
      }
      accept_next();
    });
  }

private:
  tcp::acceptor& acceptor_;
  asio::steady_timer retry_timer_;
  size_t emfile_ = 0;
};

} // namespace

int main(int argc, char** argv) {
  bench::PeerOptions opt = bench::parse_peer_options(argc, argv);
  bench::raise_nofile_limit();
  try {
    asio::io_context io(1); // concurrency hint: a single thread runs it
    tcp::endpoint endpoint(asio::ip::make_address(opt.host),
                           static_cast<unsigned short>(opt.port));
    tcp::acceptor acceptor(io);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(4096);

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&io](std::error_code, int) { io.stop(); });

    Server server(io, acceptor);
    server.accept_next();
    if (!bench::write_ready_file(opt.ready_file, opt.host, acceptor.local_endpoint().port())) {
      std::perror("bench-asio-echo: ready file");
      return 1;
    }
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-asio-echo: %s\n", e.what());
    return 1;
  }
  return 0;
}
