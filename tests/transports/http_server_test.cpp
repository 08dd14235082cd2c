// The HTTP/1.1 server layer: sans-IO on byte arrays split at every offset,
// then on real sockets against curl and hand-written raw requests
// (malformed, smuggling, oversized, slow), each answered with its status or
// a close while the server keeps serving everyone else. Files, handler
// actors and uploads: http_content_test.

#include <atomic>
#include <random>

#include "ghostnet/transports/http/admin_routes.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "http_test_support.hpp"
#include "../run_command.hpp"
#include "tls_test_certs.hpp"

using namespace ghostnet;
using namespace ghostnet::test;
namespace http = ghostnet::transports::http;

BOOST_AUTO_TEST_SUITE(http_server_sans_io)

BOOST_AUTO_TEST_CASE(pipelined_requests_split_at_every_offset_get_the_same_answers) {
  const std::string input = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                            "GET /users/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
  std::string expected;
  {
    sans_io whole;
    whole.feed(input);
    expected = without_date(whole.down.take_output());
  }
  BOOST_TEST(expected.find("HTTP/1.1 200 OK") == 0);
  BOOST_TEST(expected.find("\r\n\r\nhello\n") != std::string::npos);
  BOOST_TEST(expected.find("\r\n\r\nabcde") != std::string::npos);
  BOOST_TEST(expected.find("\r\n\r\nuser 7\n") != std::string::npos);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    sans_io split;
    split.feed(input.substr(0, cut));
    split.feed(input.substr(cut));
    BOOST_TEST(without_date(split.down.take_output()) == expected, "cut at " << cut);
  }
  // One byte at a time as well.
  sans_io bytewise;
  for (char c : input)
    bytewise.feed(std::string(1, c));
  BOOST_TEST(without_date(bytewise.down.take_output()) == expected);
}

BOOST_AUTO_TEST_CASE(routes_exact_parameters_prefixes_404_and_405) {
  sans_io s;
  s.feed("GET /files/a/b.txt HTTP/1.1\r\n\r\n");
  auto out = s.down.take_output();
  BOOST_TEST(out.find("file /files/a/b.txt\n") != std::string::npos, out);
  s.feed("GET /nothing HTTP/1.1\r\n\r\n");
  BOOST_TEST(status_line(s.down.take_output()) == "HTTP/1.1 404 Not Found");
  s.feed("DELETE /hello HTTP/1.1\r\n\r\n");
  out = s.down.take_output();
  BOOST_TEST(status_line(out) == "HTTP/1.1 405 Method Not Allowed");
  BOOST_TEST(out.find("Allow: GET\r\n") != std::string::npos, out);
  s.feed("GET /users/ HTTP/1.1\r\n\r\n"); // an empty parameter is no match
  BOOST_TEST(status_line(s.down.take_output()) == "HTTP/1.1 404 Not Found");
  BOOST_TEST(!s.down.closed);
}

BOOST_AUTO_TEST_CASE(head_sends_the_headers_of_get_without_the_body) {
  sans_io s;
  s.feed("HEAD /hello HTTP/1.1\r\n\r\n");
  auto out = s.down.take_output();
  BOOST_TEST(out.find("Content-Length: 6\r\n") != std::string::npos, out);
  BOOST_TEST(out.substr(out.size() - 4) == "\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body) {
  sans_io s;
  s.feed("POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  BOOST_TEST(s.down.take_output() == "HTTP/1.1 100 Continue\r\n\r\n");
  s.feed("body");
  auto out = s.down.take_output();
  BOOST_TEST(status_line(out) == "HTTP/1.1 200 OK");
  BOOST_TEST(out.find("\r\n\r\nbody") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(connection_close_and_http_1_0_close_after_the_response) {
  sans_io s;
  s.feed("GET /hello HTTP/1.1\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  auto out = s.down.take_output();
  BOOST_TEST(out.find("Connection: close\r\n") != std::string::npos);
  BOOST_TEST(out.find("HTTP/1.1 200", 10) == std::string::npos); // one answer only
  BOOST_TEST(s.down.closed);
  sans_io old;
  old.feed("GET /hello HTTP/1.0\r\n\r\n");
  BOOST_TEST(status_line(old.down.take_output()) == "HTTP/1.0 200 OK");
  BOOST_TEST(old.down.closed);
}

BOOST_AUTO_TEST_CASE(every_bad_request_gets_its_status_and_a_close) {
  struct bad_case {
    std::string request;
    std::string status;
  };
  http::http_server_options opts;
  opts.max_target = 64;
  opts.max_header_bytes = 256;
  opts.max_header_count = 8;
  opts.max_body = 16;
  std::string many_fields;
  for (int i = 0; i < 9; ++i)
    many_fields += "X-" + std::to_string(i) + ": y\r\n";
  std::vector<bad_case> cases{
    {"GARBAGE\r\n\r\n", "400"},
    {"GET /hello HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
    {"GET /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "400"},
    {"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "400"},
    {"POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "400"},
    {"GET /hello HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", "400"},          // obs-fold
    {"GET /hello HTTP/1.1\r\nX-A: b\rX-B: c\r\n\r\n", "400"},        // bare CR
    {"GET /hello HTTP/1.1\nHost: x\n\n", "400"},                     // bare LF
    {"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
    {"GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", "414"},
    {"GET /hello HTTP/1.1\r\n" + many_fields + "\r\n", "431"},
    {"GET /hello HTTP/1.1\r\nX-Big: " + std::string(300, 'v') + "\r\n\r\n", "431"},
    {"POST /echo HTTP/1.1\r\nContent-Length: 17\r\n\r\n", "413"},
    {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + std::string(32, 'x'), "413"},
    {"GET /hello HTTP/1.1\r\nExpect: magic\r\n\r\n", "417"},
    {"GET /hello HTTP/2.0\r\n\r\n", "505"},
    {"GET hello HTTP/1.1\r\n\r\n", "400"},
  };
  for (auto& c : cases) {
    sans_io s{opts};
    s.feed(c.request);
    auto out = s.down.take_output();
    BOOST_TEST(out.rfind("HTTP/1.1 " + c.status, 0) == 0, c.request << " -> " << status_line(out));
    BOOST_TEST(out.find("Connection: close\r\n") != std::string::npos, c.request);
    BOOST_TEST(s.down.closed, c.request);
    // What follows is not read: no second answer.
    s.feed("GET /hello HTTP/1.1\r\n\r\n");
    BOOST_TEST(s.down.take_output().empty(), c.request);
  }
}

BOOST_AUTO_TEST_CASE(a_streamed_body_goes_out_chunked_before_the_next_pipelined_answer) {
  sans_io s;
  s.feed("GET /pieces HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  auto out = s.down.take_output();
  BOOST_TEST(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos, out);
  auto head = out.substr(0, out.find("\r\n\r\n"));
  BOOST_TEST(head.find("Content-Length") == std::string::npos, head);
  auto body = out.find("3\r\nddd\r\n2\r\ncc\r\n1\r\nb\r\n0\r\n\r\n");
  BOOST_TEST(body != std::string::npos, out);
  BOOST_TEST(out.find("hello\n") > body); // in order
  // HTTP/1.0 has no chunks: the body ends with the connection.
  sans_io old;
  old.feed("GET /pieces HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  out = old.down.take_output();
  BOOST_TEST(out.find("Transfer-Encoding") == std::string::npos, out);
  BOOST_TEST(out.find("Connection: close\r\n") != std::string::npos, out);
  BOOST_TEST(out.substr(out.size() - 6) == "dddccb");
  BOOST_TEST(old.down.closed);
}

BOOST_AUTO_TEST_CASE(requests_behind_answers_the_connection_cannot_take_wait_for_writable) {
  sans_io s;
  s.down.full = true; // the queue is above its mark after the first answer
  s.feed("GET /hello HTTP/1.1\r\n\r\nGET /users/1 HTTP/1.1\r\n\r\n");
  auto out = s.down.take_output();
  BOOST_TEST(out.find("hello\n") != std::string::npos);
  BOOST_TEST(out.find("user 1") == std::string::npos, out);
  BOOST_TEST(s.down.paused);
  BOOST_TEST(!s.slot->next_deadline()); // the write timeout bounds it now
  s.down.full = false;
  s.slot->on_writable();
  BOOST_TEST(!s.down.paused);
  BOOST_REQUIRE(!s.slot.redeliver(s.down));
  BOOST_TEST(s.down.take_output().find("user 1\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_is_a_500_for_that_request_only) {
  sans_io s;
  s.feed("GET /throw HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  auto out = s.down.take_output();
  BOOST_TEST(status_line(out) == "HTTP/1.1 500 Internal Server Error");
  BOOST_TEST(out.find("hello\n") != std::string::npos);
  BOOST_TEST(!s.down.closed);
}

BOOST_AUTO_TEST_CASE(deadlines_header_then_body_then_keep_alive) {
  http::http_server_options opts;
  opts.header_timeout = std::chrono::seconds(1);
  opts.body_timeout = std::chrono::seconds(2);
  opts.keep_alive_timeout = std::chrono::seconds(3);
  sans_io s{opts};
  auto* layer = s.slot.get();
  BOOST_TEST((layer->next_deadline() == s.down.time + std::chrono::seconds(3)));
  s.down.time += std::chrono::milliseconds(500);
  s.feed("GET /hel"); // the header deadline starts with the first byte
  BOOST_TEST((layer->next_deadline() == s.down.time + std::chrono::seconds(1)));
  s.down.time += std::chrono::seconds(1);
  BOOST_REQUIRE(!layer->on_timeout(s.down.time));
  auto out = s.down.take_output();
  BOOST_TEST(status_line(out) == "HTTP/1.1 408 Request Timeout");
  BOOST_TEST(s.down.closed);
  BOOST_TEST(!layer->next_deadline());
  // An idle keep-alive connection closes without a word.
  sans_io idle{opts};
  idle.down.time += std::chrono::seconds(3);
  BOOST_REQUIRE(!idle.slot.get()->on_timeout(idle.down.time));
  BOOST_TEST(idle.down.take_output().empty());
  BOOST_TEST(idle.down.closed);
  // The body has its own deadline.
  sans_io body{opts};
  body.feed("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  BOOST_TEST((body.slot.get()->next_deadline() == body.down.time + std::chrono::seconds(2)));
}

BOOST_AUTO_TEST_CASE(dates_are_imf_fixdate) {
  BOOST_TEST(http::http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"); // RFC 9110's
  BOOST_TEST((http::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == std::time_t{784111777}));
  BOOST_TEST(!http::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT")); // RFC 850: not taken
  BOOST_TEST(!http::parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  BOOST_TEST(!http::parse_http_date(""));
}

BOOST_AUTO_TEST_CASE(invalid_options_and_routes_are_configuration_errors) {
  http::http_server_options opts;
  opts.header_timeout = caf::timespan{0};
  BOOST_TEST(is(http::validate(opts), errc::invalid_configuration));
  http::http_router r;
  auto noop = [](http::http_request&, http::http_response&) {};
  BOOST_TEST(is(r.add("GET", "nope", noop), errc::invalid_configuration));
  BOOST_TEST(is(r.add("GET", "/a/*/b", noop), errc::invalid_configuration));
  BOOST_TEST(is(r.add("GET", "/a/{}", noop), errc::invalid_configuration));
  BOOST_TEST(is(r.add("", "/a", noop), errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(random_bytes_and_mutated_requests_never_crash_and_answer_http_or_nothing) {
  // Bounded: 2,000 inputs, a fixed seed (a failure is reproducible).
  std::mt19937 rng{20261203};
  const std::vector<std::string> seeds{
    "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
  };
  http::http_server_options opts;
  opts.max_body = 64;
  for (int round = 0; round < 2000; ++round) {
    std::string input;
    if (round % 4 == 0) {
      std::uniform_int_distribution<int> len{0, 200}, byte{0, 255};
      for (int i = len(rng); i > 0; --i)
        input.push_back(static_cast<char>(byte(rng)));
    } else {
      input = seeds[static_cast<size_t>(round) % seeds.size()];
      std::uniform_int_distribution<size_t> pos{0, input.size() - 1};
      std::uniform_int_distribution<int> byte{0, 255}, edits{1, 4};
      for (int e = edits(rng); e > 0; --e)
        input[pos(rng)] = static_cast<char>(byte(rng));
    }
    sans_io s{opts};
    std::uniform_int_distribution<size_t> cut{0, input.size()};
    auto c = cut(rng);
    s.feed(input.substr(0, c));
    s.feed(input.substr(c));
    (void) s.slot.get()->on_eof();
    auto out = s.down.take_output();
    BOOST_TEST((out.empty() || out.rfind("HTTP/1.", 0) == 0), "round " << round);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -- real sockets -------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(http_server_sockets, tcp_fixture)

BOOST_AUTO_TEST_CASE(curl_reuses_one_connection_for_several_requests) {
  auto svc = start_service(http_service());
  auto out = run_command("curl -s --http1.1 -w '[%{http_code} %{num_connects}]' "
                         + url(svc.bound, "/hello") + " " + url(svc.bound, "/users/42"));
  BOOST_TEST(out.status == 0, out.output);
  BOOST_TEST(out.output == "hello\n[200 1]user 42\n[200 0]", out.output);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(curl_head_chunked_upload_and_expect_100_continue) {
  auto svc = start_service(http_service());
  auto head = run_command("curl -s -I " + url(svc.bound, "/hello"));
  BOOST_TEST(head.output.find("HTTP/1.1 200 OK") == 0, head.output);
  BOOST_TEST(head.output.find("Content-Length: 6") != std::string::npos, head.output);
  BOOST_TEST(head.output.find("Server: ghostnet") != std::string::npos, head.output);
  BOOST_TEST(head.output.find("Date: ") != std::string::npos, head.output);
  auto chunked = run_command("printf 'chunked body' | curl -s -H 'Transfer-Encoding: chunked'"
                             " --data-binary @- " + url(svc.bound, "/echo"));
  BOOST_TEST(chunked.output == "chunked body", chunked.output);
  auto expect = run_command("printf 'expected' | curl -sv -H 'Expect: 100-continue'"
                            " --data-binary @- " + url(svc.bound, "/echo") + " 2>&1");
  BOOST_TEST(expect.output.find("HTTP/1.1 100 Continue") != std::string::npos, expect.output);
  BOOST_TEST(expect.output.find("expected") != std::string::npos, expect.output);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_on_a_raw_socket_are_answered_in_order) {
  auto svc = start_service(http_service());
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("GET /users/1 HTTP/1.1\r\n\r\nGET /users/2 HTTP/1.1\r\n\r\n"
                           "GET /users/3 HTTP/1.1\r\nConnection: close\r\n\r\n"));
  auto got = read_until(c, "user 3\n");
  auto p1 = got.find("user 1");
  auto p2 = got.find("user 2");
  auto p3 = got.find("user 3");
  BOOST_TEST((p1 < p2 && p2 < p3 && p3 != std::string::npos), got);
  BOOST_TEST(c.sees_close());
  c.close();
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_smuggling_attempt_is_refused_and_others_are_still_served) {
  auto svc = start_service(http_service());
  client bad{svc.bound};
  BOOST_REQUIRE(bad.send_all("POST /echo HTTP/1.1\r\nContent-Length: 6\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"));
  auto answer = read_until(bad, "\r\n\r\n");
  BOOST_TEST(answer.find("HTTP/1.1 400") == 0, answer);
  BOOST_TEST(bad.sees_close());
  bad.close();
  auto good = run_command("curl -s " + url(svc.bound, "/hello"));
  BOOST_TEST(good.output == "hello\n");
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_slowloris_client_is_cut_off_at_the_header_deadline) {
  http::http_server_options opts;
  opts.header_timeout = std::chrono::milliseconds(300);
  auto svc = start_service(http_service(opts));
  client slow{svc.bound};
  auto t0 = std::chrono::steady_clock::now();
  std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  bool cut = false;
  for (char ch : request) {
    if (!slow.send_all(std::string(1, ch))) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(600))
      break;
  }
  auto answer = read_until(slow, "\r\n\r\n");
  BOOST_TEST((cut || answer.find("HTTP/1.1 408") == 0), answer);
  BOOST_TEST(slow.sees_close());
  auto elapsed = std::chrono::steady_clock::now() - t0;
  BOOST_TEST((elapsed >= std::chrono::milliseconds(300)));
  BOOST_TEST((elapsed < std::chrono::seconds(5)));
  slow.close();
  // Meanwhile and after, the server serves everyone else.
  auto good = run_command("curl -s " + url(svc.bound, "/hello"));
  BOOST_TEST(good.output == "hello\n");
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(an_idle_keep_alive_connection_is_closed_quietly) {
  http::http_server_options opts;
  opts.keep_alive_timeout = std::chrono::milliseconds(200);
  auto svc = start_service(http_service(opts));
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("GET /hello HTTP/1.1\r\n\r\n"));
  auto first = read_until(c, "hello\n");
  BOOST_TEST(first.find("200 OK") != std::string::npos);
  BOOST_TEST(c.sees_close()); // within the keep-alive timeout, no 408
  c.close();
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(wrk_as_a_load_peer_gets_only_200s_over_keep_alive) {
  auto svc = start_service(http_service());
  // One second, ten connections: a load peer, not a benchmark (bench/ has
  // the figures).
  auto out = run_command("wrk -t1 -c10 -d1s " + url(svc.bound, "/hello"), 30);
  BOOST_TEST(out.status == 0, out.output);
  BOOST_TEST(out.output.find("requests in") != std::string::npos, out.output);
  BOOST_TEST(out.output.find("Non-2xx") == std::string::npos, out.output);
  BOOST_TEST(out.output.find("Socket errors") == std::string::npos, out.output);
  // Kept alive: ten connections (and the one wrk opens first to check the
  // address) carried every request.
  auto pos = out.output.find(" requests in");
  BOOST_REQUIRE(pos != std::string::npos);
  auto start = out.output.rfind(' ', pos - 1) + 1;
  auto requests = std::stoull(out.output.substr(start, pos - start));
  auto accepted = listener_info_of(svc.root).accepted;
  BOOST_TEST(accepted <= 11u);
  BOOST_TEST(requests > 20 * accepted, out.output);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(curl_over_tls_with_the_ca_gets_the_same_routes) {
  // HTTP above the TLS layer: nothing in the HTTP layer knows.
  auto ctx = tp::make_tls_context(server_tls({"http/1.1"}));
  BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
  auto opts = http_service();
  opts.listener.connection.tls.context = std::make_shared<tp::tls_context_holder>(*ctx);
  auto svc = start_service(opts);
  auto port = std::to_string(svc.bound.port);
  auto out = run_command("curl -s --http1.1 --cacert " + test_certs().ca_cert
                         + " --resolve localhost:" + port + ":127.0.0.1"
                         + " -w '[%{http_code} %{num_connects}]'"
                         + " https://localhost:" + port + "/hello https://localhost:" + port
                         + "/users/9");
  BOOST_TEST(out.status == 0, out.output);
  BOOST_TEST(out.output == "hello\n[200 1]user 9\n[200 0]", out.output);
  // Without the CA, curl refuses the server and the server keeps serving.
  auto refused = run_command("curl -s --cacert /dev/null https://127.0.0.1:" + port + "/hello");
  BOOST_TEST(refused.status != 0);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_large_streamed_body_is_pulled_as_the_socket_drains) {
  auto pulled = std::make_shared<std::atomic<size_t>>(0);
  auto router = test_router();
  add_big_route(*router, pulled);
  auto svc = echo_service();
  svc.name = "http";
  svc.handler = nullptr;
  svc.listener.connection.high_water_mark = 256 * 1024;
  svc.listener.connection.low_water_mark = 64 * 1024;
  svc.listener.connection.socket.send_buffer = 64 * 1024;
  svc.listener.connection.protocol = http::http_server(router);
  auto running = start_service(svc);
  {
    // A client that asks, then does not read: the server stops pulling.
    client c{running.bound};
    BOOST_REQUIRE(c.send_all("GET /big HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    BOOST_TEST(pulled->load() < 3u * 1024 * 1024, pulled->load());
    // Reading on, the whole body arrives, then the pipelined answer.
    size_t got = 0;
    std::string tail;
    for (;;) {
      auto piece = c.read_exactly(64 * 1024);
      if (piece.empty())
        break;
      got += piece.size();
      tail += piece;
      if (tail.size() > 64)
        tail.erase(0, tail.size() - 64);
      if (tail.find("hello\n") != std::string::npos)
        break;
    }
    BOOST_TEST(got > 8u * 1024 * 1024);
    BOOST_TEST(tail.find("hello\n") != std::string::npos);
    BOOST_TEST(pulled->load() == 8u * 1024 * 1024);
  }
  // curl decodes the chunks: exactly 8 MiB.
  auto out = run_command("curl -s " + url(running.bound, "/big") + " | wc -c");
  BOOST_TEST(out.output == "8388608\n", out.output);
  stop(running.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(the_admin_guard_refuses_other_peers_without_a_token) {
  http::admin_options open;
  http::http_request req;
  http::http_response res;
  req.remote = tp::endpoint{"10.1.2.3", 5000};
  BOOST_TEST(http::admin_refusal(open, req, res) == 403u);
  for (auto host : {"127.0.0.1", "127.9.9.9", "::1"}) {
    req.remote = tp::endpoint{host, 5000};
    BOOST_TEST(http::admin_refusal(open, req, res) == 0u, host);
  }
  http::admin_options guarded;
  guarded.bearer_token = "t0ken";
  req.remote = tp::endpoint{"10.1.2.3", 5000};
  BOOST_TEST(http::admin_refusal(guarded, req, res) == 401u);
  req.headers.set("Authorization", "Bearer t0kem");
  BOOST_TEST(http::admin_refusal(guarded, req, res) == 401u);
  req.headers.set("Authorization", "bearer t0ken");
  BOOST_TEST(http::admin_refusal(guarded, req, res) == 0u);
}
