// bench-asio-tls-echo: bench-asio-echo over TLS, the peer of the TLS rows of
// bench/run.sh. One io_context, run on the main thread; asio::ssl on
// OpenSSL with the context's defaults (session tickets on, TLS 1.2 minimum
// set here to match ghostnet's).
//
//   bench-asio-tls-echo --cert FILE --key FILE [--host ADDR] [--port N] [--ready-file PATH]
//
// The session is the plain peer's (read some, write it all back, read again,
// 16 KiB member buffer) behind a server handshake. A peer's close_notify or
// any error ends the session like EOF does in the plain peer: no
// close_notify back, as in Asio's own SSL example.
#include "../bench_util.hpp"

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

using asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(tcp::socket socket, asio::ssl::context& ctx) : stream_(std::move(socket), ctx) {}

  void start() {
    auto self = shared_from_this();
    stream_.async_handshake(asio::ssl::stream_base::server, [this, self](std::error_code ec) {
      if (!ec)
        read_some();
    });
  }

private:
  void read_some() {
    auto self = shared_from_this();
    stream_.async_read_some(asio::buffer(data_), [this, self](std::error_code ec, std::size_t n) {
      if (!ec)
        write_back(n);
    });
  }

  void write_back(std::size_t n) {
    auto self = shared_from_this();
    asio::async_write(stream_, asio::buffer(data_, n), [this, self](std::error_code ec, std::size_t) {
      if (!ec)
        read_some();
    });
  }

  tls_stream stream_;
  std::array<char, 16 * 1024> data_;
};

class Server {
public:
  Server(asio::io_context& io, tcp::acceptor& acceptor, asio::ssl::context& ctx)
    : acceptor_(acceptor), ctx_(ctx), retry_timer_(io) {}

  void accept_next() {
    acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        // EMFILE: the pending peer stays queued; retrying at once would spin.
        if (++emfile_ == 1)
          std::fprintf(stderr, "bench-asio-tls-echo: out of descriptors, pausing accept\n");
        retry_timer_.expires_after(std::chrono::milliseconds(50));
        retry_timer_.async_wait([this](std::error_code) { accept_next(); });
        return;
      }
      if (!ec) {
        std::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), ctx_)->start();
      }
      accept_next();
    });
  }

private:
  tcp::acceptor& acceptor_;
  asio::ssl::context& ctx_;
  asio::steady_timer retry_timer_;
  size_t emfile_ = 0;
};

// Takes --cert FILE and --key FILE out of argv; the rest is the common peer
// command line (bench::parse_peer_options).
struct TlsFiles {
  std::string cert, key;
};

TlsFiles take_tls_files(int& argc, char** argv) {
  TlsFiles files;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string* target = arg == "--cert" ? &files.cert : arg == "--key" ? &files.key : nullptr;
    if (target != nullptr && i + 1 < argc)
      *target = argv[++i];
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  if (files.cert.empty() || files.key.empty()) {
    std::fprintf(stderr,
                 "usage: %s --cert FILE --key FILE [--host ADDR] [--port N] [--ready-file PATH]\n",
                 argv[0]);
    std::exit(2);
  }
  return files;
}

} // namespace

int main(int argc, char** argv) {
  TlsFiles files = take_tls_files(argc, argv);
  bench::PeerOptions opt = bench::parse_peer_options(argc, argv);
  bench::raise_nofile_limit();
  try {
    asio::ssl::context ctx(asio::ssl::context::tls_server);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain_file(files.cert);
    ctx.use_private_key_file(files.key, asio::ssl::context::pem);

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

    Server server(io, acceptor, ctx);
    server.accept_next();
    if (!bench::write_ready_file(opt.ready_file, opt.host, acceptor.local_endpoint().port())) {
      std::perror("bench-asio-tls-echo: ready file");
      return 1;
    }
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-asio-tls-echo: %s\n", e.what());
    return 1;
  }
  return 0;
}
