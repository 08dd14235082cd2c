// bench-beast-http: a minimal Boost.Beast HTTP/1.1 server, the "well-written
// library" peer of bench/http.sh. One io_context, run on the main thread.
//
//   bench-beast-http [--host 127.0.0.1] [--port 0] [--ready-file PATH] [--root DIR]
//
// GET /hello answers what ghostnet-node answers there, byte for byte but
// for the Server header's value: 200, Content-Type: text/plain;
// charset=utf-8, Server, Date (formatted once per second), a 20-byte body.
// With --root, GET /static/NAME streams DIR/NAME with http::file_body (the
// node serves its --http.root under /static/ too). Anything else is 404.
// Keep-alive and pipelining follow the request (HTTP/1.1 keeps the
// connection unless it says close; 1.0 closes unless it says keep-alive).
//
// The session is the shape of Beast's http_server_async example: one
// flat_buffer and one request per connection, read → answer → read, no
// timeouts (a benchmark peer; the load generator closes what it opens).
// The ready file is {"http": "HOST:PORT"} (bench/bench_util.hpp).
#include "../bench_util.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr const char* hello_body = "hello from ghostnet\n"; // the node's body, same size
constexpr const char* server_name = "beast";

// The Date header's value, formatted at most once per second.
const std::string& date_now() {
  static std::time_t cached_at = 0;
  static std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = buf;
    cached_at = now;
  }
  return cached;
}

// A path below /static/ that stays inside the root: no empty, "." or ".."
// segment, no NUL, no backslash.
bool safe_relative(beast::string_view rel) {
  if (rel.empty())
    return false;
  std::size_t start = 0;
  while (start <= rel.size()) {
    std::size_t end = rel.find('/', start);
    if (end == beast::string_view::npos)
      end = rel.size();
    beast::string_view seg = rel.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..")
      return false;
    start = end + 1;
  }
  return rel.find('\0') == beast::string_view::npos && rel.find('\\') == beast::string_view::npos;
}

class Session : public std::enable_shared_from_this<Session> {
public:
  Session(tcp::socket socket, const std::string& root)
    : socket_(std::move(socket)), root_(root) {}

  void start() { read_request(); }

private:
  void read_request() {
    req_ = {};
    auto self = shared_from_this();
    http::async_read(socket_, buffer_, req_, [this, self](beast::error_code ec, std::size_t) {
      if (ec) {
        close();
        return;
      }
      answer();
    });
  }

  template <class Body>
  void common_headers(http::response<Body>& res) {
    res.version(req_.version());
    res.set(http::field::server, server_name);
    res.set(http::field::date, date_now());
    res.keep_alive(req_.keep_alive());
  }

  void answer() {
    beast::string_view target = req_.target();
    if (req_.method() == http::verb::get && target == "/hello") {
      auto res = std::make_shared<http::response<http::string_body>>(http::status::ok, req_.version());
      common_headers(*res);
      res->set(http::field::content_type, "text/plain; charset=utf-8");
      res->body() = hello_body;
      res->prepare_payload();
      send(std::move(res));
      return;
    }
    constexpr beast::string_view prefix = "/static/";
    if (req_.method() == http::verb::get && !root_.empty() && target.starts_with(prefix)) {
      beast::string_view rel = target.substr(prefix.size());
      rel = rel.substr(0, rel.find('?'));
      if (safe_relative(rel)) {
        std::string path = root_ + "/" + std::string(rel);
        http::file_body::value_type file;
        beast::error_code ec;
        file.open(path.c_str(), beast::file_mode::scan, ec);
        if (!ec) {
          auto res = std::make_shared<http::response<http::file_body>>(http::status::ok, req_.version());
          common_headers(*res);
          res->set(http::field::content_type, "application/octet-stream");
          res->body() = std::move(file);
          res->prepare_payload();
          send(std::move(res));
          return;
        }
      }
    }
    auto res = std::make_shared<http::response<http::string_body>>(http::status::not_found, req_.version());
    common_headers(*res);
    res->set(http::field::content_type, "text/plain; charset=utf-8");
    res->body() = "not found\n";
    res->prepare_payload();
    send(std::move(res));
  }

  // RES lives in the handler until the write is done.
  template <class Response>
  void send(std::shared_ptr<Response> res) {
    auto self = shared_from_this();
    bool keep = res->keep_alive();
    http::async_write(socket_, *res, [this, self, res, keep](beast::error_code ec, std::size_t) {
      if (ec || !keep) {
        close();
        return;
      }
      read_request();
    });
  }

  void close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  const std::string& root_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
};

class Server {
public:
  Server(asio::io_context& io, tcp::acceptor& acceptor, std::string root)
    : acceptor_(acceptor), retry_timer_(io), root_(std::move(root)) {}

  void accept_next() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted)
        return;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        // EMFILE: the pending peer stays queued; retrying at once would spin.
        if (++emfile_ == 1)
          std::fprintf(stderr, "bench-beast-http: out of descriptors, pausing accept\n");
        retry_timer_.expires_after(std::chrono::milliseconds(50));
        retry_timer_.async_wait([this](beast::error_code) { accept_next(); });
        return;
      }
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), root_)->start();
      }
      accept_next();
    });
  }

private:
  tcp::acceptor& acceptor_;
  asio::steady_timer retry_timer_;
  std::string root_;
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

    Server server(io, acceptor, opt.root);
    server.accept_next();
    if (!bench::write_ready_file(opt.ready_file, opt.host, acceptor.local_endpoint().port(),
                                 "http")) {
      std::perror("bench-beast-http: ready file");
      return 1;
    }
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-beast-http: %s\n", e.what());
    return 1;
  }
  return 0;
}
