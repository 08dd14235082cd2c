// The HTTP client on real sockets: against ghostnet's own HTTP server (plain
// and TLS), against nginx started here on 127.0.0.1, and against servers
// that refuse, stay silent or answer garbage. Each failure is its own typed
// error: pool_exhausted, circuit_open, timeout, protocol_error.

#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "ghostnet/pool/http_client.hpp"
#include "ghostnet/transports/http/http_server.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "../transports/tls_test_certs.hpp"
#include "pool_fixture.hpp"

extern char** environ;

using namespace ghostnet;
using namespace ghostnet::test;
namespace http = ghostnet::transports::http;

namespace {

using response = caf::expected<pl::http_client_response>;

/// Bytes the /huge route has produced (the server's side of a download).
std::atomic<uint64_t> huge_pulled{0};
constexpr uint64_t huge_size = 64 * 1024 * 1024;

/// FNV-1a of the first `total` bytes of 64 KiB pieces pattern(0), pattern(1)...
/// (what /huge serves and body_source produces).
uint64_t pattern_sum(uint64_t total) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < total / (64 * 1024); ++i)
    h = fnv1a(pattern(64 * 1024, static_cast<unsigned>(i)), h);
  return h;
}

std::shared_ptr<http::http_router> client_test_router() {
  auto r = std::make_shared<http::http_router>();
  auto ok = [](caf::error err) { BOOST_REQUIRE_MESSAGE(!err, describe(err)); };
  ok(r->add("GET", "/hello", [](http::http_request& req, http::http_response& res) {
    res.headers.set("Content-Type", "text/plain");
    res.headers.set("X-Agent", std::string{req.headers.get("User-Agent")});
    res.headers.set("X-Host", std::string{req.headers.get("Host")});
    res.body = "hello\n";
  }));
  ok(r->add("POST", "/echo", [](http::http_request& req, http::http_response& res) {
    res.body = req.method + " " + req.body;
  }));
  ok(r->add("GET", "/pieces", [](http::http_request&, http::http_response& res) {
    auto left = std::make_shared<int>(3);
    res.stream = [left](std::string& out) {
      out += std::string(static_cast<size_t>(*left), 'a' + static_cast<char>(*left));
      return --*left > 0;
    };
  }));
  ok(r->add("GET", "/big", [](http::http_request&, http::http_response& res) {
    auto sent = std::make_shared<size_t>(0);
    res.stream = [sent](std::string& out) {
      out += pattern(64 * 1024, static_cast<unsigned>(*sent / (64 * 1024)));
      *sent += 64 * 1024;
      return *sent < 4 * 1024 * 1024;
    };
  }));
  ok(r->add("GET", "/huge", [](http::http_request&, http::http_response& res) {
    auto sent = std::make_shared<uint64_t>(0);
    res.stream_length = huge_size;
    res.stream = [sent](std::string& out) {
      out += pattern(64 * 1024, static_cast<unsigned>(*sent / (64 * 1024)));
      *sent += 64 * 1024;
      huge_pulled += 64 * 1024;
      return *sent < huge_size;
    };
  }));
  // POST /upload: the body streamed to a reader that answers its size and
  // FNV-1a sum (the server side of a streamed request body).
  struct summing_reader : http::http_body_reader {
    uint64_t bytes = 0;
    uint64_t hash = 1469598103934665603ull;
    unsigned on_body(std::string_view piece) override {
      bytes += piece.size();
      hash = fnv1a(piece, hash);
      return 0;
    }
    void on_end(http::http_request&, http::http_response& res) override {
      res.body = std::to_string(bytes) + " " + std::to_string(hash);
    }
  };
  ok(r->add_upload("POST", "/upload", [](http::http_request&, http::http_response&) {
    return std::make_unique<summing_reader>();
  }));
  // /r/3 → /r/2 → /r/1 → /r/0 → /hello
  ok(r->add("GET", "/r/{n}", [](http::http_request& req, http::http_response& res) {
    auto n = std::stoi(req.params.at("n"));
    res.status = n % 2 == 0 ? 302 : 307;
    res.headers.set("Location", n == 0 ? "/hello" : "/r/" + std::to_string(n - 1));
  }));
  ok(r->add("GET", "/loop", [](http::http_request&, http::http_response& res) {
    res.status = 302;
    res.headers.set("Location", "loop"); // relative to /loop's directory
  }));
  ok(r->add("POST", "/submit", [](http::http_request&, http::http_response& res) {
    res.status = 303;
    res.headers.set("Location", "/hello");
  }));
  ok(r->add("GET", "/bad-redirect", [](http::http_request&, http::http_response& res) {
    res.status = 301;
    res.headers.set("Location", "ftp://127.0.0.1/x");
  }));
  return r;
}

tp::tcp_service_options http_backend(http::http_server_options opts = {}) {
  auto svc = echo_service();
  svc.name = "http";
  svc.handler = nullptr;
  svc.listener.connection.protocol = http::http_server(client_test_router(), std::move(opts));
  return svc;
}

std::string url(const tp::endpoint& ep, const std::string& path,
                const std::string& scheme = "http", const std::string& host = "127.0.0.1") {
  return scheme + "://" + host + ":" + std::to_string(ep.port) + path;
}

/// A socket that listens and never accepts: connects complete (the
/// kernel's backlog), nothing is ever answered.
struct silent_server {
  int fd = -1;
  tp::endpoint bound;

  silent_server() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
    BOOST_REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof(sa);
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    bound = tp::endpoint{"127.0.0.1", ntohs(sa.sin_port)};
  }

  ~silent_server() {
    ::close(fd);
  }
};

/// nginx with one worker in the foreground, on 127.0.0.1, with its own
/// prefix, config and document root in a temporary directory.
class nginx_peer {
public:
  nginx_peer() : port_(unused_port()) {
    char tmpl[] = "/tmp/ghostnet-nginx-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    BOOST_REQUIRE(std::system(("mkdir -p " + dir_ + "/www " + dir_ + "/tmp").c_str()) == 0);
    std::ofstream{dir_ + "/www/file.bin", std::ios::binary} << pattern(1024 * 1024, 7);
    std::ofstream conf{dir_ + "/nginx.conf"};
    conf << "worker_processes 1;\n"
         << "pid " << dir_ << "/nginx.pid;\n"
         << "error_log " << dir_ << "/error.log;\n"
         << "events { worker_connections 64; }\n"
         << "http {\n"
         << "  access_log off;\n"
         << "  client_body_temp_path " << dir_ << "/tmp;\n"
         << "  proxy_temp_path " << dir_ << "/tmp;\n"
         << "  fastcgi_temp_path " << dir_ << "/tmp;\n"
         << "  uwsgi_temp_path " << dir_ << "/tmp;\n"
         << "  scgi_temp_path " << dir_ << "/tmp;\n"
         << "  keepalive_requests 1000;\n"
         << "  server {\n"
         << "    listen 127.0.0.1:" << port_ << ";\n"
         << "    root " << dir_ << "/www;\n"
         << "    location = /hello { default_type text/plain; return 200 \"hello from nginx\\n\"; }\n"
         << "    location = /moved { return 301 /hello; }\n"
         << "  }\n"
         << "}\n";
    conf.close();
    std::vector<std::string> args{"/usr/sbin/nginx", "-p",  dir_,
                                  "-e",              dir_ + "/error.log",
                                  "-c",              dir_ + "/nginx.conf",
                                  "-g",              "daemon off; master_process off;"};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    BOOST_REQUIRE(posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    auto up = eventually([&] { return client{endpoint()}.connected(); });
    BOOST_REQUIRE_MESSAGE(up, "nginx did not start: " + error_log());
  }

  ~nginx_peer() {
    ::kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    (void) std::system(("rm -rf " + dir_).c_str());
  }

  tp::endpoint endpoint() const {
    return tp::endpoint{"127.0.0.1", port_};
  }

  std::string error_log() const {
    std::ifstream in{dir_ + "/error.log"};
    return {std::istreambuf_iterator<char>{in}, {}};
  }

private:
  uint16_t port_;
  std::string dir_;
  pid_t pid_ = -1;
};

/// A streamed body's sink: counts and sums (FNV-1a) what it takes, and
/// holds its first piece unanswered until told (ok_atom) or forever.
struct sink_state {
  uint64_t bytes = 0;
  uint64_t pieces = 0;
  uint64_t hash = 1469598103934665603ull;
  caf::response_promise first;
  bool holding = false;
};

using sink_actor = caf::stateful_actor<sink_state>;

caf::behavior body_sink(sink_actor* self, bool hold_first, std::shared_ptr<std::atomic<uint64_t>> taken) {
  return {
    [=](http_body_atom, const std::string& piece) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      st.bytes += piece.size();
      *taken += piece.size();
      ++st.pieces;
      st.hash = fnv1a(piece, st.hash);
      if (hold_first && st.pieces == 1) {
        st.holding = true;
        st.first = self->make_response_promise();
        return st.first;
      }
      return caf::ok_atom::value;
    },
    [=](caf::ok_atom) {
      if (self->state.holding) {
        self->state.holding = false;
        self->state.first.deliver(caf::ok_atom::value);
      }
    },
    [=](caf::get_atom) { return std::make_tuple(self->state.bytes, self->state.hash); },
  };
}

/// A request body's source: `total` bytes in 64 KiB pieces of pattern(i);
/// `pulled` counts what was asked of it.
caf::behavior body_source(caf::event_based_actor* self, uint64_t total,
                          std::shared_ptr<std::atomic<uint64_t>> pulled) {
  auto next = std::make_shared<uint64_t>(0);
  return {
    [=](http_body_atom) -> std::string {
      if (*next >= total)
        return {};
      auto piece = pattern(64 * 1024, static_cast<unsigned>(*next / (64 * 1024)));
      *next += piece.size();
      *pulled += piece.size();
      return piece;
    },
  };
}


struct client_fixture : pool_fixture {
  pl::http_client_actor spawn_client(pl::http_client_options opts = {}) {
    auto c = pl::spawn_http_client(sys, std::move(opts));
    BOOST_REQUIRE_MESSAGE(c, why(c));
    leftovers.push_back(caf::actor_cast<caf::actor>(*c));
    return *c;
  }

  response fetch(const pl::http_client_actor& c, pl::http_client_request req) {
    response result{make_error(errc::invalid_state, "no reply")};
    self->request(c, caf::infinite, std::move(req))
      .receive([&](pl::http_client_response& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  response get(const pl::http_client_actor& c, const std::string& u) {
    return fetch(c, pl::http_get(u));
  }

  std::vector<std::pair<std::string, pl::pool_stats>>
  client_stats(const pl::http_client_actor& c) {
    std::vector<std::pair<std::string, pl::pool_stats>> result;
    self->request(c, patience, stats_atom::value)
      .receive([&](std::vector<std::pair<std::string, pl::pool_stats>>& x) { result = x; },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  void close_client(const pl::http_client_actor& c) {
    self->request(c, patience, close_atom::value)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  }
};

#define REQUIRE_RESPONSE(res) BOOST_REQUIRE_MESSAGE(res, why(res))

} // namespace

BOOST_FIXTURE_TEST_SUITE(http_client, client_fixture)

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection_for_get_post_head_and_chunked) {
  auto svc = start_backend(http_backend());
  auto c = spawn_client();
  auto first = get(c, url(svc.bound, "/hello"));
  REQUIRE_RESPONSE(first);
  BOOST_TEST(first->status == 200u);
  BOOST_TEST(first->body == "hello\n");
  BOOST_TEST(!first->reused);
  BOOST_TEST(first->header("x-agent") == "ghostnet");
  BOOST_TEST(first->header("X-Host") == "127.0.0.1:" + std::to_string(svc.bound.port));
  BOOST_TEST(first->url == url(svc.bound, "/hello"));

  pl::http_client_request post;
  post.method = "POST";
  post.url = url(svc.bound, "/echo");
  post.body = "some body";
  auto echoed = fetch(c, post);
  REQUIRE_RESPONSE(echoed);
  BOOST_TEST(echoed->body == "POST some body");
  BOOST_TEST(echoed->reused);

  pl::http_client_request head = pl::http_get(url(svc.bound, "/hello"));
  head.method = "HEAD";
  auto headed = fetch(c, head);
  REQUIRE_RESPONSE(headed);
  BOOST_TEST(headed->body.empty());
  BOOST_TEST(headed->header("Content-Length") == "6");

  auto chunked = get(c, url(svc.bound, "/pieces"));
  REQUIRE_RESPONSE(chunked);
  BOOST_TEST(chunked->header("Transfer-Encoding") == "chunked");
  BOOST_TEST(chunked->body == "dddccb");
  BOOST_TEST(chunked->reused);

  auto stats = client_stats(c);
  BOOST_REQUIRE_EQUAL(stats.size(), 1u);
  BOOST_TEST(stats[0].first == "http://127.0.0.1:" + std::to_string(svc.bound.port));
  BOOST_TEST(stats[0].second.created == 1u);
  BOOST_TEST(stats[0].second.reuses == 3u);
  close_client(c);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_large_streamed_response_arrives_whole_and_in_order) {
  auto svc = start_backend(http_backend());
  auto c = spawn_client();
  auto res = get(c, url(svc.bound, "/big"));
  REQUIRE_RESPONSE(res);
  BOOST_REQUIRE_EQUAL(res->body.size(), 4u * 1024 * 1024);
  for (size_t i = 0; i < 64; ++i)
    BOOST_REQUIRE(res->body.compare(i * 64 * 1024, 64 * 1024,
                                    pattern(64 * 1024, static_cast<unsigned>(i)))
                  == 0);
  // A limit on the body is the client's protection against a server.
  pl::http_client_options small;
  small.limits.max_body = 1024 * 1024;
  auto limited = spawn_client(small);
  auto refused = get(limited, url(svc.bound, "/big"));
  BOOST_REQUIRE(!refused);
  BOOST_TEST(is(refused.error(), errc::protocol_error), describe(refused.error()));
  BOOST_TEST(context_of(refused.error()).endpoint == url(svc.bound, "/big"));
  close_client(c);
  close_client(limited);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_body_streamed_to_a_slow_sink_slows_the_server_down) {
  huge_pulled = 0;
  auto svc = start_backend(http_backend());
  auto c = spawn_client();
  auto taken = std::make_shared<std::atomic<uint64_t>>(0);
  auto sink = sys.spawn(body_sink, true, taken);
  auto req = pl::http_get(url(svc.bound, "/huge"));
  req.body_sink = sink;
  auto handle = self->request(c, caf::infinite, req);
  // The sink sits on its first piece: the client stops reading, the
  // server's queue fills and it stops pulling its 64 MiB.
  BOOST_TEST(eventually([&] { return *taken > 0; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto pulled = huge_pulled.load();
  BOOST_TEST_MESSAGE("the server produced " << pulled / 1024 << " KiB while the sink held");
  BOOST_TEST(pulled < 24u * 1024 * 1024, "the server produced " << pulled << " bytes");
  self->send(sink, caf::ok_atom::value);
  response res{make_error(errc::invalid_state, "no reply")};
  handle.receive([&](pl::http_client_response& x) { res = std::move(x); },
                 [&](caf::error& err) { res = std::move(err); });
  REQUIRE_RESPONSE(res);
  BOOST_TEST(res->status == 200u);
  BOOST_TEST(res->body.empty()); // it went to the sink
  auto expected = pattern_sum(huge_size);
  self->request(sink, patience, caf::get_atom::value)
    .receive(
      [&](uint64_t bytes, uint64_t hash) {
        BOOST_TEST(bytes == huge_size);
        BOOST_TEST(hash == expected); // every byte, in order
      },
      [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  // The connection went back to the pool and serves the next request.
  auto next = get(c, url(svc.bound, "/hello"));
  REQUIRE_RESPONSE(next);
  BOOST_TEST(next->reused);
  self->send_exit(sink, caf::exit_reason::user_shutdown);
  close_client(c);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_sink_that_dies_mid_body_fails_the_request_at_once) {
  auto svc = start_backend(http_backend());
  auto c = spawn_client();
  auto taken = std::make_shared<std::atomic<uint64_t>>(0);
  auto sink = sys.spawn(body_sink, true, taken);
  auto req = pl::http_get(url(svc.bound, "/huge"));
  req.body_sink = sink;
  auto handle = self->request(c, caf::infinite, req);
  BOOST_TEST(eventually([&] { return *taken > 0; }));
  auto killed_at = std::chrono::steady_clock::now();
  self->send_exit(sink, caf::exit_reason::kill);
  response res{make_error(errc::invalid_state, "no reply")};
  handle.receive([&](pl::http_client_response& x) { res = std::move(x); },
                 [&](caf::error& err) { res = std::move(err); });
  BOOST_REQUIRE(!res);
  BOOST_TEST(is(res.error(), errc::io_error), describe(res.error()));
  BOOST_TEST(describe(res.error()).find("sink is gone") != std::string::npos);
  BOOST_TEST((std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(5)));
  // Its connection was closed, not given to the next request half-read.
  auto next = get(c, url(svc.bound, "/hello"));
  REQUIRE_RESPONSE(next);
  BOOST_TEST(next->body == "hello\n");
  BOOST_TEST(!next->reused);
  close_client(c);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_request_body_streamed_from_a_source_arrives_whole) {
  auto svc = start_backend(http_backend());
  auto c = spawn_client();
  constexpr uint64_t total = 32 * 1024 * 1024;
  auto pulled = std::make_shared<std::atomic<uint64_t>>(0);
  auto source = sys.spawn(body_source, total, pulled);
  pl::http_client_request req;
  req.method = "POST";
  req.url = url(svc.bound, "/upload");
  req.body_source = source;
  auto res = fetch(c, req);
  REQUIRE_RESPONSE(res);
  auto expected = pattern_sum(total);
  BOOST_TEST(res->body == std::to_string(total) + " " + std::to_string(expected));
  // The connection was left clean (the last chunk went out): reused.
  auto next = get(c, url(svc.bound, "/hello"));
  REQUIRE_RESPONSE(next);
  BOOST_TEST(next->reused);
  // A body and a source at once is a malformed request.
  req.body = "x";
  auto both = fetch(c, req);
  BOOST_REQUIRE(!both);
  BOOST_TEST(is(both.error(), errc::invalid_configuration), describe(both.error()));
  self->send_exit(source, caf::exit_reason::user_shutdown);
  close_client(c);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_server_that_does_not_read_stops_the_source) {
  auto c = spawn_client();
  auto pulled = std::make_shared<std::atomic<uint64_t>>(0);
  auto source = sys.spawn(body_source, uint64_t{1} << 30, pulled); // 1 GiB
  pl::http_client_request req;
  req.method = "POST";
  req.body_source = source;
  {
    silent_server silent; // connects complete, nothing is ever read
    req.url = url(silent.bound, "/upload");
    req.timeout = std::chrono::seconds(1);
    auto res = fetch(c, req);
    BOOST_REQUIRE(!res);
    BOOST_TEST(is(res.error(), errc::timeout), describe(res.error()));
    // The kernel's buffers and the connection's queue took what they
    // hold, then the source was asked for nothing more.
    BOOST_TEST_MESSAGE("pulled " << *pulled / 1024 << " KiB from the source");
    BOOST_TEST(*pulled < 32u * 1024 * 1024, "pulled " << *pulled);
    BOOST_TEST(*pulled > 0u);
  }
  // A source that dies fails its request at once.
  auto svc = start_backend(http_backend());
  auto dead = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {[self](http_body_atom) -> std::string {
      self->quit(caf::exit_reason::kill);
      return "never";
    }};
  });
  req.url = url(svc.bound, "/upload");
  req.body_source = dead;
  req.timeout = std::chrono::seconds(30);
  auto at = std::chrono::steady_clock::now();
  auto failed = fetch(c, req);
  BOOST_REQUIRE(!failed);
  BOOST_TEST(is(failed.error(), errc::io_error), describe(failed.error()));
  BOOST_TEST((std::chrono::steady_clock::now() - at < std::chrono::seconds(5)));
  self->send_exit(source, caf::exit_reason::user_shutdown);
  close_client(c);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(redirects_are_followed_bounded_and_303_turns_into_get) {
  auto svc = start_backend(http_backend());
  auto c = spawn_client();
  auto chain = get(c, url(svc.bound, "/r/3"));
  REQUIRE_RESPONSE(chain);
  BOOST_TEST(chain->status == 200u);
  BOOST_TEST(chain->body == "hello\n");
  BOOST_TEST(chain->redirects == 4u);
  BOOST_TEST(chain->url == url(svc.bound, "/hello"));

  auto loop = get(c, url(svc.bound, "/loop"));
  BOOST_REQUIRE(!loop);
  BOOST_TEST(is(loop.error(), errc::protocol_error));
  BOOST_TEST(context_of(loop.error()).operation == "http redirect");

  pl::http_client_request post;
  post.method = "POST";
  post.url = url(svc.bound, "/submit");
  post.body = "form";
  auto seen = fetch(c, post);
  REQUIRE_RESPONSE(seen);
  BOOST_TEST(seen->status == 200u); // GET /hello: the POST route would echo
  BOOST_TEST(seen->body == "hello\n");

  auto bad = get(c, url(svc.bound, "/bad-redirect"));
  BOOST_REQUIRE(!bad);
  BOOST_TEST(is(bad.error(), errc::invalid_address), describe(bad.error()));

  pl::http_client_options none;
  none.max_redirects = 0;
  auto literal = spawn_client(none);
  auto first = get(literal, url(svc.bound, "/r/3"));
  REQUIRE_RESPONSE(first);
  BOOST_TEST(first->status == 307u);
  BOOST_TEST(first->header("Location") == "/r/2");
  close_client(c);
  close_client(literal);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(https_verifies_the_server_by_name_and_refuses_an_unknown_ca) {
  auto ctx = tp::make_tls_context(server_tls({"http/1.1"}));
  BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
  auto opts = http_backend();
  opts.listener.connection.tls.context = std::make_shared<tp::tls_context_holder>(*ctx);
  auto svc = start_backend(opts);

  pl::http_client_options trusting;
  trusting.tls.ca_file = test_certs().ca_cert;
  auto c = spawn_client(trusting);
  // "localhost": resolved, sent as SNI and checked against the certificate.
  for (int i = 0; i < 2; ++i) {
    auto res = get(c, url(svc.bound, "/hello", "https", "localhost"));
    REQUIRE_RESPONSE(res);
    BOOST_TEST(res->body == "hello\n");
    BOOST_TEST(res->reused == (i == 1));
  }
  // The system's CAs do not know the test CA: the handshake fails, and the
  // pool's retries open the host's breaker; the cause is in the detail.
  auto strict = spawn_client();
  auto refused = get(strict, url(svc.bound, "/hello", "https", "localhost"));
  BOOST_REQUIRE(!refused);
  BOOST_TEST((is(refused.error(), errc::tls_handshake_failed)
              || is(refused.error(), errc::circuit_open)),
             describe(refused.error()));
  BOOST_TEST(describe(refused.error()).find("certificate verify failed") != std::string::npos,
             describe(refused.error()));
  close_client(c);
  close_client(strict);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_refused_port_fails_then_the_breaker_answers_circuit_open) {
  auto port = unused_port();
  pl::http_client_options opts;
  opts.breaker = pl::breaker_options{2, std::chrono::seconds(30)};
  auto c = spawn_client(opts);
  auto target = "http://127.0.0.1:" + std::to_string(port) + "/x";
  std::vector<caf::error> errors;
  for (int i = 0; i < 4; ++i) {
    auto res = get(c, target);
    BOOST_REQUIRE(!res);
    errors.push_back(res.error());
  }
  // The first request meets the refusals (the pool retries up to the
  // threshold); the cause is named. Later ones fail at once, without a
  // connect, until the cool-down has passed.
  BOOST_TEST((is(errors.front(), errc::connection_refused)
              || is(errors.front(), errc::circuit_open)),
             describe(errors.front()));
  BOOST_TEST(describe(errors.front()).find("connection_refused") != std::string::npos);
  for (size_t i = 1; i < errors.size(); ++i)
    BOOST_TEST(is(errors[i], errc::circuit_open), describe(errors[i]));
  auto stats = client_stats(c);
  BOOST_REQUIRE_EQUAL(stats.size(), 1u);
  BOOST_TEST(stats[0].second.failed_connects == 2u);
  BOOST_TEST(stats[0].second.unreachable >= 3u);
  close_client(c);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_silent_server_times_out_at_the_response_header_deadline) {
  silent_server silent;
  pl::http_client_options opts;
  opts.response_header_timeout = 300ms;
  auto c = spawn_client(opts);
  auto res = get(c, url(silent.bound, "/"));
  BOOST_REQUIRE(!res);
  BOOST_TEST(is(res.error(), errc::timeout), describe(res.error()));
  BOOST_TEST(context_of(res.error()).operation == "http response header");
  BOOST_TEST(context_of(res.error()).endpoint == url(silent.bound, "/"));
  // The whole request's deadline, shorter than the header's, wins.
  auto whole = pl::http_get(url(silent.bound, "/"));
  whole.timeout = 100ms;
  opts.response_header_timeout = std::chrono::seconds(30);
  auto patient = spawn_client(opts);
  res = fetch(patient, whole);
  BOOST_REQUIRE(!res);
  BOOST_TEST(is(res.error(), errc::timeout), describe(res.error()));
  BOOST_TEST(context_of(res.error()).operation == "http request");
  close_client(c);
  close_client(patient);
  BOOST_TEST(fds_restored(1)); // the silent socket itself
}

BOOST_AUTO_TEST_CASE(a_server_that_answers_garbage_is_a_protocol_error) {
  // A raw echo: the "response" is the request itself.
  auto svc = start_backend(echo_service());
  auto opts = echo_service();
  opts.handler = [] { return std::make_unique<greeting_echo>("SSH-2.0-OpenSSH_9.2\r\n\r\n"); };
  auto ssh = start_backend(opts);
  auto c = spawn_client();
  auto echoed = get(c, url(svc.bound, "/"));
  BOOST_REQUIRE(!echoed);
  BOOST_TEST(is(echoed.error(), errc::protocol_error), describe(echoed.error()));
  BOOST_TEST(context_of(echoed.error()).endpoint == url(svc.bound, "/"));
  // A server that speaks before it is asked is dropped by the pool (an
  // unsolicited frame), or its bytes reach the parser: either way a typed
  // error for the URL, never a response.
  auto greeted = get(c, url(ssh.bound, "/"));
  BOOST_REQUIRE(!greeted);
  BOOST_TEST((is(greeted.error(), errc::protocol_error)
              || is(greeted.error(), errc::transport_closed)),
             describe(greeted.error()));
  BOOST_TEST(context_of(greeted.error()).endpoint == url(ssh.bound, "/"));
  close_client(c);
  stop(svc.root);
  stop(ssh.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(one_connection_and_one_waiter_per_host_then_pool_exhausted) {
  silent_server silent;
  pl::http_client_options opts;
  opts.max_connections_per_host = 1;
  opts.max_idle_per_host = 1;
  opts.max_waiters_per_host = 1;
  opts.response_header_timeout = std::chrono::seconds(2);
  auto c = spawn_client(opts);
  // Two requests take the connection and the waiter's place; the third
  // finds both taken.
  auto stats_are = [&](uint64_t in_use, uint64_t waiters) {
    return eventually([&] {
      auto s = client_stats(c);
      return s.size() == 1 && s[0].second.in_use == in_use
             && s[0].second.waiters == waiters;
    });
  };
  auto first = self->request(c, caf::infinite, pl::http_get(url(silent.bound, "/")));
  BOOST_REQUIRE(stats_are(1, 0));
  auto second = self->request(c, caf::infinite, pl::http_get(url(silent.bound, "/")));
  BOOST_REQUIRE(stats_are(1, 1));
  auto third = get(c, url(silent.bound, "/"));
  BOOST_REQUIRE(!third);
  BOOST_TEST(is(third.error(), errc::pool_exhausted), describe(third.error()));
  // The first two end at their header deadline (a timeout, not exhaustion).
  for (auto* h : {&first, &second})
    h->receive([&](pl::http_client_response&) { BOOST_FAIL("a response from nowhere"); },
               [&](caf::error& err) { BOOST_TEST(is(err, errc::timeout), describe(err)); });
  close_client(c);
  BOOST_TEST(fds_restored(1));
}

BOOST_AUTO_TEST_CASE(a_connection_the_server_closed_while_idle_is_not_an_error) {
  http::http_server_options server;
  server.keep_alive_timeout = 200ms;
  auto svc = start_backend(http_backend(server));
  auto c = spawn_client();
  for (int i = 0; i < 3; ++i) {
    auto res = get(c, url(svc.bound, "/hello"));
    REQUIRE_RESPONSE(res);
    BOOST_TEST(res->status == 200u);
    std::this_thread::sleep_for(400ms);
  }
  close_client(c);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(malformed_requests_are_refused_before_any_connect) {
  auto c = spawn_client();
  auto bad_url = get(c, "http://user:pw@127.0.0.1:1/");
  BOOST_REQUIRE(!bad_url);
  BOOST_TEST(is(bad_url.error(), errc::invalid_address));
  auto req = pl::http_get("http://127.0.0.1:1/");
  req.headers.emplace_back("X-Evil", "a\r\nInjected: yes");
  auto injected = fetch(c, req);
  BOOST_REQUIRE(!injected);
  BOOST_TEST(is(injected.error(), errc::invalid_configuration));
  req = pl::http_get("http://127.0.0.1:1/");
  req.method = "GET /x";
  auto bad_method = fetch(c, req);
  BOOST_REQUIRE(!bad_method);
  BOOST_TEST(is(bad_method.error(), errc::invalid_configuration));
  BOOST_TEST(client_stats(c).empty()); // no pool was made for any of them
  pl::http_client_options wrong;
  wrong.max_idle_per_host = 100;
  BOOST_TEST(!pl::spawn_http_client(sys, wrong));
  close_client(c);
}

BOOST_AUTO_TEST_CASE(close_fails_requests_under_way_and_frees_everything) {
  silent_server silent;
  auto c = spawn_client();
  auto pending = self->request(c, caf::infinite, pl::http_get(url(silent.bound, "/")));
  BOOST_REQUIRE(eventually([&] {
    auto s = client_stats(c);
    return s.size() == 1 && s[0].second.in_use == 1;
  }));
  close_client(c);
  pending.receive([&](pl::http_client_response&) { BOOST_FAIL("a response from nowhere"); },
                [&](caf::error& err) {
                  BOOST_TEST(is(err, errc::transport_closed), describe(err));
                });
  BOOST_TEST(fds_restored(1));
}

BOOST_AUTO_TEST_CASE(against_nginx_files_redirects_errors_and_keep_alive) {
  nginx_peer nginx;
  auto c = spawn_client();
  auto hello = get(c, url(nginx.endpoint(), "/hello"));
  REQUIRE_RESPONSE(hello);
  BOOST_TEST(hello->status == 200u);
  BOOST_TEST(hello->body == "hello from nginx\n");
  BOOST_TEST(hello->header("Server").find("nginx") == 0u);

  auto file = get(c, url(nginx.endpoint(), "/file.bin"));
  REQUIRE_RESPONSE(file);
  BOOST_TEST(file->body == pattern(1024 * 1024, 7));
  BOOST_TEST(file->reused);

  auto moved = get(c, url(nginx.endpoint(), "/moved"));
  REQUIRE_RESPONSE(moved);
  BOOST_TEST(moved->redirects == 1u);
  BOOST_TEST(moved->body == "hello from nginx\n");

  auto missing = get(c, url(nginx.endpoint(), "/nothing"));
  REQUIRE_RESPONSE(missing); // a 404 is an answer, not an error
  BOOST_TEST(missing->status == 404u);

  pl::http_client_request ranged = pl::http_get(url(nginx.endpoint(), "/file.bin"));
  ranged.headers.emplace_back("Range", "bytes=10-19");
  auto part = fetch(c, ranged);
  REQUIRE_RESPONSE(part);
  BOOST_TEST(part->status == 206u);
  BOOST_TEST(part->body == pattern(1024 * 1024, 7).substr(10, 10));

  auto stats = client_stats(c);
  BOOST_REQUIRE_EQUAL(stats.size(), 1u);
  BOOST_TEST(stats[0].second.created == 1u, "one connection carried every request");
  close_client(c);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_SUITE_END()
