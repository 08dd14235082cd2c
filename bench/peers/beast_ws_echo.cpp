// bench-beast-ws-echo: a Boost.Beast WebSocket echo server, the "well-written
// library" peer of bench/ws.sh. One io_context, run on the main thread.
//
//   bench-beast-ws-echo [--host 127.0.0.1] [--port 0] [--ready-file PATH]
//
// Accepts the upgrade on any path and echoes every message back whole, text
// as text and binary as binary. No permessage-deflate (Beast's default,
// set anyway) and auto_fragment off, so an echo is one frame like the
// message that came in.
//
// The session is the shape of Beast's websocket_server_async example: one
// flat_buffer per connection, read a message → write it → read, no timeouts
// (a benchmark peer; the load generator closes what it opens). The ready
// file is {"http": "HOST:PORT"} (bench/bench_util.hpp), as for the node,
// whose WebSocket echo is a route of its HTTP service.
#include "../bench_util.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr std::size_t max_message = 1 << 20; // the node's default ws.max-message

class Session : public std::enable_shared_from_this<Session> {
public:
  explicit Session(tcp::socket socket) : ws_(std::move(socket)) {}

  void start() {
    websocket::permessage_deflate pmd;
    pmd.server_enable = false;
    ws_.set_option(pmd);
    ws_.auto_fragment(false);
    ws_.read_message_max(max_message);
    auto self = shared_from_this();
    ws_.async_accept([this, self](beast::error_code ec) {
      if (!ec)
        read_message();
    });
  }

private:
  void read_message() {
    auto self = shared_from_this();
    ws_.async_read(buffer_, [this, self](beast::error_code ec, std::size_t) {
      if (ec)
        return; // closed by the peer (or broken): the session ends with its last handler
      ws_.text(ws_.got_text());
      ws_.async_write(buffer_.data(), [this, self](beast::error_code ec, std::size_t bytes) {
        if (ec)
          return;
        buffer_.consume(bytes);
        read_message();
      });
    });
  }

  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
};

class Server {
public:
  Server(asio::io_context& io, tcp::acceptor& acceptor)
    : acceptor_(acceptor), retry_timer_(io) {}

  void accept_next() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        // EMFILE: the pending peer stays queued; retrying at once would spin.
        if (++emfile_ == 1)
          std::fprintf(stderr, "bench-beast-ws-echo: out of descriptors, pausing accept\n");
        retry_timer_.expires_after(std::chrono::milliseconds(50));
        retry_timer_.async_wait([this](beast::error_code) { accept_next(); });
        return;
      }
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket))->start();
      }
      accept_next();
    });
  }

private:
  tcp::acceptor& acceptor_;
  asio::steady_timer retry_timer_;
  std::size_t emfile_ = 0;
};

} // namespace

int main(int argc, char** argv) {
  auto opt = bench::parse_peer_options(argc, argv);
  bench::raise_nofile_limit();
  std::signal(SIGPIPE, SIG_IGN);
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
    signals.async_wait([&io](beast::error_code, int) { io.stop(); });

    Server server(io, acceptor);
    server.accept_next();
    if (!bench::write_ready_file(opt.ready_file, opt.host, acceptor.local_endpoint().port(),
                                 "http")) {
      std::perror("bench-beast-ws-echo: ready file");
      return 1;
    }
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-beast-ws-echo: %s\n", e.what());
    return 1;
  }
  return 0;
}
