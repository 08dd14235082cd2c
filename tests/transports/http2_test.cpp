// HTTP/2 over real sockets: curl (prior knowledge, and ALPN over TLS on the
// port that serves HTTP/1.1 too), nghttp and h2load against the same
// routes as HTTP/1.1; per-stream limits and errors; GOAWAY on drain; and
// the rapid-reset and CONTINUATION floods from a raw frame client.

#include <boost/test/unit_test.hpp>

#include <future>

#include <caf/all.hpp>

#include "ghostnet/transports/http/static_files.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "http_test_support.hpp"
#include "tls_test_certs.hpp"
#include "../run_command.hpp"

using namespace ghostnet;
using namespace ghostnet::test;

namespace {

// -- a raw HTTP/2 client for the floods -------------------------------------

constexpr uint8_t type_data = 0x0, type_headers = 0x1, type_rst_stream = 0x3,
                  type_settings = 0x4, type_goaway = 0x7, type_continuation = 0x9;
constexpr uint8_t flag_end_stream = 0x1, flag_end_headers = 0x4;
constexpr uint32_t enhance_your_calm = 0xb;

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string out;
  auto len = payload.size();
  out += static_cast<char>((len >> 16) & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((stream >> shift) & 0xff);
  out += payload;
  return out;
}

std::string be32(uint32_t x) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8)
    out += static_cast<char>((x >> shift) & 0xff);
  return out;
}

/// HPACK for GET http://x/hello: static-table :method GET, :scheme http,
/// then :path and :authority as literals with indexed names.
const std::string get_hello = std::string{"\x82\x86"} + "\x04\x06/hello" + "\x01\x01x";

std::string preface_and_settings() {
  return std::string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"} + frame(type_settings, 0, 0, {});
}

struct h2_frame {
  int type = -1; ///< -1: the connection ended
  uint8_t flags = 0;
  uint32_t stream = 0;
  std::string payload;
};

h2_frame read_h2_frame(client& c) {
  h2_frame f;
  auto head = c.read_exactly(9);
  if (head.size() < 9)
    return f;
  auto byte = [&](size_t i) { return static_cast<uint8_t>(head[i]); };
  size_t len = (size_t{byte(0)} << 16) | (size_t{byte(1)} << 8) | byte(2);
  f.payload = c.read_exactly(len);
  if (f.payload.size() < len)
    return f;
  f.type = byte(3);
  f.flags = byte(4);
  f.stream = (uint32_t{byte(5)} << 24 | uint32_t{byte(6)} << 16 | uint32_t{byte(7)} << 8
              | byte(8)) & 0x7fffffff;
  return f;
}

/// Reads frames until a GOAWAY (its error code) or the end (-1).
int64_t goaway_code(client& c) {
  for (int i = 0; i < 100000; ++i) {
    auto f = read_h2_frame(c);
    if (f.type < 0)
      return -1;
    if (f.type == type_goaway && f.payload.size() >= 8) {
      uint32_t code = 0;
      for (size_t k = 4; k < 8; ++k)
        code = (code << 8) | static_cast<uint8_t>(f.payload[k]);
      return code;
    }
  }
  return -1;
}

// -- the service ------------------------------------------------------------

struct h2_fixture : tcp_fixture {
  caf::actor slow; ///< serves /slow/{ms} (the shared slow handler)

  std::shared_ptr<http::http_router> router() {
    auto r = test_router();
    slow = caf::actor_cast<caf::actor>(sys.spawn(slow_handler));
    BOOST_REQUIRE(!r->add("GET", "/slow/{ms}",
                          caf::actor_cast<http::http_handler_actor>(slow)));
    BOOST_REQUIRE(!r->add("GET", "/breaks", [](http::http_request&, http::http_response& res) {
      auto left = std::make_shared<int>(2);
      res.stream = [left](std::string& out) {
        if ((*left)-- == 0)
          throw std::runtime_error("the source broke mid-body");
        out.assign(1000, 'b');
        return true;
      };
    }));
    return r;
  }

  running_service start(http::http_server_options opts = {},
                        std::shared_ptr<http::http_router> r = nullptr) {
    return start_service(http_service_for(r ? r : router(), std::move(opts)));
  }

  ~h2_fixture() {
    if (slow)
      caf::anon_send_exit(slow, caf::exit_reason::kill);
  }
};

/// A file of `n` bytes to upload; the caller removes it.
std::string temp_file_of(size_t n) {
  auto path = "/tmp/ghostnet-h2-" + std::to_string(::getpid()) + "-upload";
  run_command("head -c " + std::to_string(n) + " /dev/zero > " + path);
  return path;
}

std::string h2c(const tp::endpoint& ep, const std::string& args) {
  return "curl -sS --http2-prior-knowledge " + args + " http://127.0.0.1:"
         + std::to_string(ep.port);
}

/// Sends `flood` from a raw client: the server answers it with
/// GOAWAY(ENHANCE_YOUR_CALM) and closes, the defence counter `which` goes
/// up by one, and another client is served.
void expect_cut_off(const tcp_fixture::running_service& svc, const std::string& flood,
                    uint64_t http::http2_defence_counts::*which) {
  auto before = http::http2_defences().*which;
  client c{svc.bound};
  c.send_all(flood); // may fail part way: the server stops reading
  BOOST_TEST(goaway_code(c) == int64_t{enhance_your_calm});
  BOOST_TEST(c.sees_close());
  c.close();
  auto after = http::http2_defences().*which;
  BOOST_TEST(after == before + 1);
  auto ok = run_command(h2c(svc.bound, "") + "/hello");
  BOOST_TEST(ok.output == "hello\n", ok.output);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(http2, h2_fixture)

BOOST_AUTO_TEST_CASE(prior_knowledge_serves_the_routes_of_http1_on_the_same_port) {
  auto svc = start();
  auto base = "http://127.0.0.1:" + std::to_string(svc.bound.port);
  // One URL per curl: curl 7.88 fails to reuse a prior-knowledge
  // connection (against nginx as well); nghttp and h2load reuse theirs.
  auto out = run_command("curl -sS --http2-prior-knowledge -w '[%{http_code} %{http_version}]' "
                         + base + "/hello");
  BOOST_TEST(out.output == "hello\n[200 2]", out.output);
  auto user = run_command(h2c(svc.bound, "") + "/users/9");
  BOOST_TEST(user.output == "user 9\n", user.output);
  auto two = run_command("nghttp " + base + "/hello " + base + "/users/7");
  BOOST_TEST(two.output == "hello\nuser 7\n", two.output);
  auto missing = run_command("curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge "
                             + base + "/nope");
  BOOST_TEST(missing.output == "404");
  // A body up and down; a streamed body; HEAD.
  auto echo = run_command("head -c 300000 /dev/zero | tr '\\0' e | curl -sS --http2-prior-knowledge"
                          " --data-binary @- " + base + "/echo | wc -c");
  BOOST_TEST(echo.output == "300000\n", echo.output);
  auto pieces = run_command(h2c(svc.bound, "") + "/pieces");
  BOOST_TEST(pieces.output == "dddccb", pieces.output);
  auto head = run_command("curl -sS -I --http2-prior-knowledge " + base + "/hello");
  BOOST_TEST(head.output.find("content-length: 6") != std::string::npos, head.output);
  BOOST_TEST(head.output.find("server: ghostnet") != std::string::npos, head.output);
  // HTTP/1.1 still, on the same port.
  auto h1 = run_command("curl -sS --http1.1 -w '[%{http_version}]' " + base + "/hello");
  BOOST_TEST(h1.output == "hello\n[1.1]", h1.output);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(static_files_go_out_as_data_frames_read_from_the_file) {
  auto dir = "/tmp/ghostnet-h2-" + std::to_string(::getpid()) + "-static";
  run_command("mkdir -p " + dir + " && head -c 3000000 /dev/urandom > " + dir + "/big.bin");
  auto r = router();
  http::static_files_options files;
  files.root = dir;
  BOOST_REQUIRE(!http::add_static_files(*r, "/static/", files));
  auto svc = start({}, r);
  auto got = run_command(h2c(svc.bound, "-o " + dir + "/got.bin -w '%{http_version}'")
                         + "/static/big.bin && cmp " + dir + "/big.bin " + dir + "/got.bin"
                         + " && echo same");
  BOOST_TEST(got.output == "2same\n", got.output);
  run_command("rm -rf " + dir);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(alpn_picks_http2_or_http1_over_tls_on_the_same_port) {
  auto ctx = tp::make_tls_context(server_tls({"h2", "http/1.1"}));
  BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
  auto opts = http_service_for(router());
  opts.listener.connection.tls.context = std::make_shared<tp::tls_context_holder>(*ctx);
  auto svc = start_service(opts);
  auto port = std::to_string(svc.bound.port);
  auto curl = "curl -sS --cacert " + test_certs().ca_cert + " --resolve localhost:" + port
              + ":127.0.0.1 -w '[%{http_version}]' https://localhost:" + port + "/hello";
  auto h2 = run_command(curl + " --http2");
  BOOST_TEST(h2.output == "hello\n[2]", h2.output);
  auto h1 = run_command(curl + " --http1.1");
  BOOST_TEST(h1.output == "hello\n[1.1]", h1.output);
  auto nghttp = run_command("nghttp -n -s https://127.0.0.1:" + port + "/hello");
  BOOST_TEST(nghttp.status == 0, nghttp.output);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(nghttp_sees_the_settings_and_h2load_many_streams_at_once) {
  http::http_server_options opts;
  opts.http2.max_concurrent_streams = 8;
  auto svc = start(opts);
  auto base = "http://127.0.0.1:" + std::to_string(svc.bound.port);
  auto v = run_command("nghttp -nv " + base + "/hello");
  BOOST_TEST(v.status == 0, v.output);
  BOOST_TEST(v.output.find("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):8") != std::string::npos,
             v.output);
  BOOST_TEST(v.output.find(":status: 200") != std::string::npos, v.output);
  // 40 streams of a handler actor that takes 100 ms each, 8 at a time on
  // one connection: all served, concurrently.
  auto slow = run_command("h2load -n 40 -c 1 -m 8 " + base + "/slow/100", 60);
  BOOST_TEST(slow.output.find("40 succeeded, 0 failed, 0 errored") != std::string::npos,
             slow.output);
  auto load = run_command("h2load -n 4000 -c 4 -m 8 " + base + "/hello", 60);
  BOOST_TEST(load.output.find("4000 succeeded, 0 failed, 0 errored") != std::string::npos,
             load.output);
  // A client that opens 10 at once, before it saw the SETTINGS: 8 are
  // served, 2 refused (RST_STREAM REFUSED_STREAM), the connection goes on.
  client c{svc.bound};
  std::string burst = preface_and_settings();
  for (uint32_t id = 1; id <= 19; id += 2)
    burst += frame(type_headers, flag_end_headers | flag_end_stream, id,
                   std::string{"\x82\x86"} + "\x04\x09/slow/100" + "\x01\x01x");
  BOOST_REQUIRE(c.send_all(burst));
  size_t answered = 0, refused = 0;
  while (answered + refused < 10) {
    auto f = read_h2_frame(c);
    BOOST_REQUIRE(f.type >= 0);
    if (f.type == type_data && (f.flags & flag_end_stream) != 0)
      ++answered;
    if (f.type == type_rst_stream && f.payload == be32(0x7))
      ++refused;
  }
  BOOST_TEST(answered == 8u);
  BOOST_TEST(refused == 2u);
  c.close();
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(limits_and_handler_errors_answer_one_stream_and_the_rest_go_on) {
  http::http_server_options opts;
  opts.max_header_bytes = 4096;
  opts.max_body = 64 * 1024;
  auto svc = start(opts);
  auto base = "http://127.0.0.1:" + std::to_string(svc.bound.port);
  auto code = [&](const std::string& args) {
    return run_command("curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge " + args)
      .output;
  };
  BOOST_TEST(code("-H 'X-Big: " + std::string(8000, 'x') + "' " + base + "/hello") == "431");
  BOOST_TEST(code("-d '' " + base + "/echo") == "200");
  // A body above max_body: 413 at once, then RST_STREAM(NO_ERROR) so that
  // the client stops sending (RFC 9113, 8.1). nghttp, since curl 7.88
  // takes that reset for an error.
  auto upload = temp_file_of(200000);
  auto big = run_command("nghttp -v -d " + upload + " " + base + "/echo");
  BOOST_TEST(big.output.find(":status: 413") != std::string::npos, big.output);
  BOOST_TEST(big.output.find("error_code=NO_ERROR") != std::string::npos, big.output);
  ::unlink(upload.c_str());
  // A handler that throws before answering: 500. A body source that
  // breaks after its first pieces: the stream is reset (curl: error 92,
  // INTERNAL_ERROR); the connection's other streams are served.
  BOOST_TEST(code(base + "/throw") == "500");
  auto broke = run_command("curl -sS --http2-prior-knowledge -o /dev/null " + base + "/breaks");
  BOOST_TEST(broke.status == 92, broke.output);
  BOOST_TEST(broke.output.find("INTERNAL_ERROR") != std::string::npos, broke.output);
  auto both = run_command("nghttp " + base + "/breaks " + base + "/hello");
  BOOST_TEST(both.output.find("hello\n") != std::string::npos, both.output);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_drain_sends_goaway_and_streams_in_flight_finish) {
  auto svc = start();
  // Within the fixture's 500 ms drain timeout.
  auto url = "http://127.0.0.1:" + std::to_string(svc.bound.port) + "/slow/300";
  auto peer = std::async(std::launch::async, [url] { return run_command("nghttp -v " + url); });
  // Once the handler holds the request, the service stops.
  BOOST_REQUIRE(eventually([&] {
    size_t held = 0;
    self->request(caf::actor_cast<slow_handler_actor>(slow), patience, caf::get_atom::value)
      .receive([&](size_t n) { held = n; }, [](caf::error&) {});
    return held == 1;
  }));
  stop(svc.root);
  auto out = peer.get();
  BOOST_TEST(out.output.find("recv GOAWAY") != std::string::npos, out.output);
  BOOST_TEST(out.output.find(":status: 200") != std::string::npos, out.output);
  BOOST_TEST(out.output.find("slept 300 GET") != std::string::npos, out.output);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_rapid_reset_flood_is_cut_off_and_others_are_served) {
  http::http_server_options opts;
  opts.http2.max_reset_burst = 50;
  opts.http2.max_resets_per_second = 10;
  auto svc = start(opts);
  std::string flood = preface_and_settings();
  for (uint32_t id = 1; id < 2 * 1000; id += 2) {
    flood += frame(type_headers, flag_end_headers | flag_end_stream, id, get_hello);
    flood += frame(type_rst_stream, 0, id, be32(0x8)); // CANCEL
  }
  expect_cut_off(svc, flood, &http::http2_defence_counts::rapid_reset);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_continuation_flood_is_cut_off_and_others_are_served) {
  auto svc = start();
  // HEADERS without END_HEADERS, then CONTINUATION frames that never end
  // the block, each with one more literal header (a: b).
  std::string flood = preface_and_settings()
                      + frame(type_headers, flag_end_stream, 1, "\x82\x86\x84");
  for (int i = 0; i < 1000; ++i)
    flood += frame(type_continuation, 0, 1, std::string{"\x00\x01" "a" "\x01" "b", 5});
  expect_cut_off(svc, flood, &http::http2_defence_counts::continuation);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_client_that_grants_no_window_pauses_the_body_source) {
  // /big streams 8 MiB; a client that never sends WINDOW_UPDATE gets the
  // initial 64 KiB window's worth and the source is not pulled further.
  auto pulled = std::make_shared<std::atomic<size_t>>(0);
  auto r = router();
  add_big_route(*r, pulled);
  auto svc = start({}, r);
  client c{svc.bound};
  auto get_big = std::string{"\x82\x86"} + "\x04\x04/big" + "\x01\x01x";
  BOOST_REQUIRE(c.send_all(preface_and_settings()
                           + frame(type_headers, flag_end_headers | flag_end_stream, 1, get_big)));
  size_t data = 0;
  bool headers = false;
  while (data < 65535) {
    auto f = read_h2_frame(c);
    BOOST_REQUIRE(f.type >= 0);
    headers = headers || (f.type == type_headers && f.stream == 1);
    if (f.type == type_data)
      data += f.payload.size();
  }
  BOOST_TEST(headers);
  BOOST_TEST(data == 65535u);
  // Nothing more comes, and the source stays where the window stopped it.
  BOOST_TEST(!eventually([&] { return pulled->load() > 256 * 1024; }, 300ms));
  c.close();
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_SUITE_END()
