// The HTTP/1.1 server layer: sans-IO on byte arrays split at every offset,
// then on real sockets against curl and hand-written raw requests
// (malformed, smuggling, oversized, slow), each answered with its status or
// a close while the server keeps serving everyone else.

#include <atomic>
#include <fstream>
#include <random>

#include <fcntl.h>
#include <unistd.h>

#include "ghostnet/transports/detail/layer_slot.hpp"
#include "ghostnet/transports/http/http_server.hpp"
#include "ghostnet/transports/http/static_files.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "tcp_fixture.hpp"
#include "test_layers.hpp"
#include "../run_command.hpp"
#include "tls_test_certs.hpp"

using namespace ghostnet;
using namespace ghostnet::test;
namespace http = ghostnet::transports::http;

namespace {

std::shared_ptr<http::http_router> test_router() {
  auto r = std::make_shared<http::http_router>();
  auto ok = [](caf::error err) { BOOST_REQUIRE_MESSAGE(!err, describe(err)); };
  ok(r->add("GET", "/hello", [](http::http_request&, http::http_response& res) {
    res.headers.set("Content-Type", "text/plain");
    res.body = "hello\n";
  }));
  ok(r->add("GET", "/users/{id}", [](http::http_request& req, http::http_response& res) {
    res.body = "user " + req.params.at("id") + "\n";
  }));
  ok(r->add("GET", "/files/*", [](http::http_request& req, http::http_response& res) {
    res.body = "file " + req.path + "\n";
  }));
  ok(r->add("POST", "/echo", [](http::http_request& req, http::http_response& res) {
    res.body = req.body;
  }));
  ok(r->add("GET", "/throw", [](http::http_request&, http::http_response&) {
    throw std::runtime_error("boom");
  }));
  ok(r->add("GET", "/pieces", [](http::http_request&, http::http_response& res) {
    auto left = std::make_shared<int>(3);
    res.stream = [left](std::string& out) {
      out += std::string(static_cast<size_t>(*left), 'a' + static_cast<char>(*left));
      return --*left > 0;
    };
  }));
  return r;
}

/// 8 MiB in 16 KiB pieces; `pulled` counts what the server asked for.
void add_big_route(http::http_router& r, std::shared_ptr<std::atomic<size_t>> pulled) {
  auto err = r.add("GET", "/big", [pulled](http::http_request&, http::http_response& res) {
    auto sent = std::make_shared<size_t>(0);
    res.stream = [pulled, sent](std::string& out) {
      constexpr size_t piece = 16 * 1024, total = 8 * 1024 * 1024;
      out.assign(piece, static_cast<char>('a' + (*sent / piece) % 26));
      *sent += piece;
      *pulled += piece;
      return *sent < total;
    };
  });
  BOOST_REQUIRE(!err);
}

/// An upload's reader: counts the bytes and pieces and sums them (FNV-1a),
/// refuses with `refuse_at_status` once more than `refuse_after` bytes came.
struct counting_reader : http::http_body_reader {
  struct totals {
    uint64_t bytes = 0;
    uint64_t pieces = 0;
    uint64_t hash = 1469598103934665603ull;
    bool ended = false;
    bool destroyed = false;
  };
  std::shared_ptr<totals> seen;
  uint64_t refuse_after;
  unsigned refuse_status;

  counting_reader(std::shared_ptr<totals> t, uint64_t after, unsigned status)
    : seen(std::move(t)), refuse_after(after), refuse_status(status) {
  }
  ~counting_reader() override {
    seen->destroyed = true;
  }
  unsigned on_body(std::string_view piece) override {
    seen->bytes += piece.size();
    ++seen->pieces;
    seen->hash = fnv1a(piece, seen->hash);
    return seen->bytes > refuse_after ? refuse_status : 0;
  }
  void on_end(http::http_request& req, http::http_response& res) override {
    seen->ended = true;
    res.body = "got " + std::to_string(seen->bytes) + " " + std::to_string(seen->hash)
               + " body=" + std::to_string(req.body.size()) + "\n";
  }
};

/// POST /upload streams to a counting_reader (refusing with 507 past
/// `refuse_after`); POST /locked answers 401 before any body.
void add_upload_routes(http::http_router& r, std::shared_ptr<counting_reader::totals> seen,
                       uint64_t refuse_after = UINT64_MAX) {
  auto err = r.add_upload("POST", "/upload", [seen, refuse_after](http::http_request& req,
                                                                  http::http_response&) {
    BOOST_TEST(req.body.empty());
    *seen = counting_reader::totals{};
    return std::make_unique<counting_reader>(seen, refuse_after, 507);
  });
  BOOST_REQUIRE(!err);
  err = r.add_upload("POST", "/locked", [](http::http_request&, http::http_response& res) {
    res.status = 401;
    res.body = "no\n";
    return std::unique_ptr<http::http_body_reader>{};
  });
  BOOST_REQUIRE(!err);
}

/// The layer on a recording lower layer, fed through a slot as the broker
/// does.
struct sans_io {
  recording_lower down;
  tp::detail::layer_slot slot;

  explicit sans_io(http::http_server_options opts = {}) {
    slot.reset(http::http_server(test_router(), std::move(opts))(""));
    BOOST_REQUIRE(!slot.start(down));
  }

  void feed(const std::string& bytes) {
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{bytes.data(), bytes.size()}));
  }
};

/// Drops the Date line (it changes every second).
std::string without_date(std::string x) {
  auto pos = x.find("Date: ");
  while (pos != std::string::npos) {
    auto end = x.find("\r\n", pos);
    x.erase(pos, end + 2 - pos);
    pos = x.find("Date: ");
  }
  return x;
}

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

} // namespace

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

BOOST_AUTO_TEST_CASE(a_file_body_goes_below_whole_or_is_read_where_files_cannot_go) {
  auto path = "/tmp/ghostnet-http-range-" + std::to_string(::getpid());
  auto bytes = pattern(200 * 1024, 3);
  {
    std::ofstream f{path, std::ios::binary};
    f << bytes;
  }
  auto router = test_router();
  BOOST_REQUIRE(!router->add("GET", "/f", [&](http::http_request&, http::http_response& res) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_REQUIRE(fd >= 0);
    res.file = tp::file_range{std::make_shared<const tp::file_handle>(fd), 1000, 100000};
  }));
  const std::string input = "GET /f HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
  {
    // Plain TCP: the range goes below whole, between the header and the
    // next answer.
    recording_lower down;
    down.takes_files = true;
    tp::detail::layer_slot slot;
    slot.reset(http::http_server(router)(""));
    BOOST_REQUIRE(!slot.start(down));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), input.size()}));
    auto out = down.take_output();
    BOOST_REQUIRE(down.files.size() == 1u);
    BOOST_TEST(down.files[0].offset == 1000u);
    BOOST_TEST(down.files[0].length == 100000u);
    auto header_end = out.find("\r\n\r\n") + 4;
    BOOST_TEST(down.file_at[0] == header_end);
    BOOST_TEST(out.substr(0, header_end).find("Content-Length: 100000\r\n") != std::string::npos);
    BOOST_TEST(out.find("HTTP/1.1 200 OK", header_end) == header_end, out); // /hello after it
    BOOST_TEST(out.find("hello\n") != std::string::npos);
    BOOST_TEST(down.conn.bytes_out >= 100000u);
  }
  {
    // TLS below: the layer reads the range itself, byte for byte.
    recording_lower down;
    tp::detail::layer_slot slot;
    slot.reset(http::http_server(router)(""));
    BOOST_REQUIRE(!slot.start(down));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), input.size()}));
    auto out = down.take_output();
    BOOST_TEST(down.files.empty());
    auto header_end = out.find("\r\n\r\n") + 4;
    BOOST_TEST(out.substr(header_end, 100000) == bytes.substr(1000, 100000));
    BOOST_TEST(out.find("hello\n", header_end + 100000) != std::string::npos);
  }
  // A file shorter than its range: the connection is aborted mid-body (no
  // status is left to send), not answered with bytes that are not there.
  {
    recording_lower down;
    tp::detail::layer_slot slot;
    auto short_router = std::make_shared<http::http_router>();
    BOOST_REQUIRE(!short_router->add("GET", "/f", [&](http::http_request&, http::http_response& res) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      res.file = tp::file_range{std::make_shared<const tp::file_handle>(fd), 150000, 100000};
    }));
    slot.reset(http::http_server(short_router)(""));
    BOOST_REQUIRE(!slot.start(down));
    const std::string get = "GET /f HTTP/1.1\r\n\r\n";
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{get.data(), get.size()}));
    BOOST_TEST(is(down.aborted, errc::protocol_error), describe(down.aborted));
    BOOST_TEST(describe(down.aborted).find("ended before its length") != std::string::npos,
               describe(down.aborted));
  }
  ::unlink(path.c_str());
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

BOOST_AUTO_TEST_CASE(an_upload_is_streamed_to_its_reader_split_at_every_offset) {
  auto body = pattern(3000, 5);
  std::string chunked;
  for (size_t at = 0; at < body.size(); at += 700) {
    auto piece = body.substr(at, 700);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  const std::string input = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + chunked + "GET /hello HTTP/1.1\r\n\r\n";
  auto expected = "got 3000 " + std::to_string(fnv1a(body)) + " body=0\n";
  for (size_t cut = 0; cut <= input.size(); cut += 7) {
    auto seen = std::make_shared<counting_reader::totals>();
    auto router = test_router();
    add_upload_routes(*router, seen);
    recording_lower down;
    tp::detail::layer_slot slot;
    slot.reset(http::http_server(router)(""));
    BOOST_REQUIRE(!slot.start(down));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), cut}));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data() + cut, input.size() - cut}));
    auto out = down.take_output();
    BOOST_TEST(out.find(expected) != std::string::npos, "cut at " << cut << ": " << out);
    BOOST_TEST(out.find("hello\n") > out.find(expected));
    BOOST_TEST(seen->destroyed); // the reader is gone with its request
  }
}

BOOST_AUTO_TEST_CASE(an_upload_refused_by_its_reader_its_handler_or_the_limit_closes) {
  auto seen = std::make_shared<counting_reader::totals>();
  auto router = test_router();
  add_upload_routes(*router, seen, 100);
  auto run = [&](const std::string& input, http::http_server_options opts = {}) {
    recording_lower down;
    tp::detail::layer_slot slot;
    slot.reset(http::http_server(router, opts)(""));
    BOOST_REQUIRE(!slot.start(down));
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), input.size()}));
    BOOST_TEST(down.closed);
    return down.take_output();
  };
  // The reader refuses past 100 bytes: 507, the rest unread.
  auto out = run("POST /upload HTTP/1.1\r\nContent-Length: 500\r\n\r\n" + std::string(500, 'x'));
  BOOST_TEST(status_line(out) == "HTTP/1.1 507 Insufficient Storage", out);
  BOOST_TEST(!seen->ended);
  BOOST_TEST(seen->destroyed);
  // The handler answers before the body: no 100 Continue, a 401 and a close.
  out = run("POST /locked HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  BOOST_TEST(status_line(out) == "HTTP/1.1 401 Unauthorized", out);
  BOOST_TEST(out.find("100 Continue") == std::string::npos, out);
  // Above max_upload (not max_body, which is smaller here): 413.
  http::http_server_options small;
  small.max_body = 10;
  small.max_upload = 50;
  out = run("POST /upload HTTP/1.1\r\nContent-Length: 80\r\n\r\n" + std::string(80, 'x'), small);
  BOOST_TEST(status_line(out) == "HTTP/1.1 413 Content Too Large", out);
  out = run("POST /upload HTTP/1.1\r\nContent-Length: 40\r\n\r\n" + std::string(40, 'x')
              + "POST /echo HTTP/1.1\r\nContent-Length: 20\r\n\r\n" + std::string(20, 'y'),
            small);
  BOOST_TEST(out.find("got 40 ") != std::string::npos, out); // over max_body, under max_upload
  BOOST_TEST(out.find("HTTP/1.1 413") != std::string::npos, out); // /echo keeps max_body
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

namespace {

/// The service "http" serving `router` (no connection handler: the HTTP
/// layer is the top of the stack).
tp::tcp_service_options http_service_for(std::shared_ptr<http::http_router> router,
                                         http::http_server_options opts = {}) {
  auto svc = echo_service();
  svc.name = "http";
  svc.handler = nullptr;
  svc.listener.connection.protocol = http::http_server(std::move(router), std::move(opts));
  return svc;
}

tp::tcp_service_options http_service(http::http_server_options opts = {}) {
  return http_service_for(test_router(), std::move(opts));
}

std::string url(const tp::endpoint& ep, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(ep.port) + path;
}

/// Reads until the peer closes or `want` appears.
std::string read_until(client& c, const std::string& want) {
  std::string got;
  while (got.find(want) == std::string::npos) {
    auto ch = c.read_exactly(1);
    if (ch.empty())
      break;
    got += ch;
  }
  return got;
}

} // namespace

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

namespace {

/// A temporary document root: hello.txt, big.bin (3 MiB: more than a
/// connection queues in one turn, so the stream must resume on writability),
/// sub/index.html, a file beside the root and a symlink inside it that points
/// at that file.
struct doc_root {
  std::string base = "/tmp/ghostnet-http-" + std::to_string(::getpid());
  std::string root = base + "/root";

  doc_root() {
    run_command("rm -rf '" + base + "' && mkdir -p '" + root + "/sub'");
    write(root + "/hello.txt", "hi there\n");
    write(root + "/sub/index.html", "<p>index</p>\n");
    write(base + "/outside.txt", "secret\n");
    big = pattern(3 * 1024 * 1024, 7);
    write(root + "/big.bin", big);
    BOOST_REQUIRE(::symlink((base + "/outside.txt").c_str(), (root + "/escape").c_str()) == 0);
  }

  ~doc_root() {
    run_command("rm -rf '" + base + "'");
  }

  static void write(const std::string& path, const std::string& data) {
    auto* f = std::fopen(path.c_str(), "wb");
    BOOST_REQUIRE(f != nullptr);
    BOOST_REQUIRE(std::fwrite(data.data(), 1, data.size(), f) == data.size());
    std::fclose(f);
  }

  std::string big;
};

std::string raw_request(const tp::endpoint& ep, const std::string& target) {
  client c{ep};
  c.send_all("GET " + target + " HTTP/1.1\r\nConnection: close\r\n\r\n");
  std::string got;
  for (;;) {
    auto piece = c.read_exactly(4096);
    if (piece.empty())
      break;
    got += piece;
  }
  return got;
}

} // namespace

BOOST_AUTO_TEST_CASE(static_files_with_etags_ranges_and_no_way_out_of_the_root) {
  doc_root docs;
  auto router = test_router();
  http::static_files_options so;
  so.root = docs.root;
  BOOST_REQUIRE(!http::add_static_files(*router, "/static/", so));
  auto svc = http_service_for(router);
  auto running = start_service(svc);
  auto base = url(running.bound, "/static/");
  // A small file, its validators, and a conditional request.
  auto head = run_command("curl -s -D - -o /dev/null " + base + "hello.txt");
  BOOST_TEST(head.output.find("Content-Type: text/plain") != std::string::npos, head.output);
  auto etag_at = head.output.find("ETag: ");
  BOOST_REQUIRE(etag_at != std::string::npos);
  auto etag = head.output.substr(etag_at + 6, head.output.find("\r\n", etag_at) - etag_at - 6);
  BOOST_TEST(head.output.find("Last-Modified: ") != std::string::npos);
  BOOST_TEST(run_command("curl -s " + base + "hello.txt").output == "hi there\n");
  auto cond = run_command("curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: " + etag
                          + "' " + base + "hello.txt");
  BOOST_TEST(cond.output == "304");
  auto modified_at = head.output.find("Last-Modified: ");
  auto modified = head.output.substr(modified_at + 15,
                                     head.output.find("\r\n", modified_at) - modified_at - 15);
  auto since = [&](const std::string& date) {
    return run_command("curl -s -o /dev/null -w '%{http_code}' -H 'If-Modified-Since: " + date
                       + "' " + base + "hello.txt")
      .output;
  };
  BOOST_TEST(since(modified) == "304");
  BOOST_TEST(since("Sat, 01 Jan 2000 00:00:00 GMT") == "200"); // modified since
  BOOST_TEST(since("yesterday") == "200");                     // not a date: ignored
  // Ranges: one served as 206, one past the end refused with 416.
  auto part = run_command("curl -s -D - -r 2-5 " + base + "hello.txt");
  BOOST_TEST(part.output.find("HTTP/1.1 206") == 0, part.output);
  BOOST_TEST(part.output.find("Content-Range: bytes 2-5/9") != std::string::npos, part.output);
  BOOST_TEST(part.output.substr(part.output.size() - 4) == " the");
  auto past = run_command("curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=100-' "
                          + base + "hello.txt");
  BOOST_TEST(past.output == "416");
  // A large file streams, whole or in part, byte for byte.
  auto whole = run_command("curl -s " + base + "big.bin | cmp - '" + docs.root + "/big.bin' && echo same");
  BOOST_TEST(whole.output == "same\n", whole.output);
  auto tail = run_command("curl -s -r 1000- -o '" + docs.base + "/part' " + base
                          + "big.bin && tail -c +1001 '" + docs.root + "/big.bin' | cmp - '"
                          + docs.base + "/part' && echo same");
  BOOST_TEST(tail.output == "same\n", tail.output);
  auto size = run_command("curl -s -I " + base + "big.bin");
  auto length = "Content-Length: " + std::to_string(docs.big.size());
  BOOST_TEST(size.output.find(length) != std::string::npos, size.output);
  // Directories serve their index; nothing leaves the root.
  BOOST_TEST(run_command("curl -s " + base + "sub/").output == "<p>index</p>\n");
  auto status = [&](const std::string& target) {
    auto got = raw_request(running.bound, target);
    return got.substr(9, 3);
  };
  BOOST_TEST(status("/static/../outside.txt") == "403");
  BOOST_TEST(status("/static/%2e%2e/outside.txt") == "403");
  BOOST_TEST(status("/static/sub/%2E%2E/%2e%2e/outside.txt") == "403");
  BOOST_TEST(status("/static/escape") == "403"); // a symlink out of the root
  BOOST_TEST(status("/static/nothing.txt") == "404");
  BOOST_TEST(status("/static/bad%zz") == "400");
  BOOST_TEST(status("/static/nul%00.txt") == "400");
  BOOST_TEST(raw_request(running.bound, "/static/escape").find("secret") == std::string::npos);
  stop(running.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(large_files_pipelined_in_order_over_tcp_and_whole_over_tls) {
  doc_root docs;
  auto router = test_router();
  http::static_files_options so;
  so.root = docs.root;
  BOOST_REQUIRE(!http::add_static_files(*router, "/static/", so));
  auto svc = http_service_for(router);
  auto plain = start_service(svc);
  {
    // Two files (sendfile) and a small answer, pipelined in one segment:
    // each whole, in the order asked.
    client c{plain.bound};
    BOOST_REQUIRE(c.send_all("GET /static/big.bin HTTP/1.1\r\n\r\n"
                             "GET /static/big.bin HTTP/1.1\r\nRange: bytes=5-\r\n\r\n"
                             "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n"));
    auto head = read_until(c, "\r\n\r\n");
    BOOST_TEST(head.find("HTTP/1.1 200 OK") == 0, head);
    BOOST_TEST((c.read_exactly(docs.big.size()) == docs.big));
    head = read_until(c, "\r\n\r\n");
    BOOST_TEST(head.find("HTTP/1.1 206") == 0, head);
    BOOST_TEST((c.read_exactly(docs.big.size() - 5) == docs.big.substr(5)));
    BOOST_TEST(read_until(c, "hello\n").find("hello\n") != std::string::npos);
    BOOST_TEST(c.sees_close());
  }
  // Over TLS the same file is read in pieces and encrypted: byte for byte.
  auto ctx = tp::make_tls_context(server_tls());
  BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
  svc.name = "https";
  svc.listener.connection.tls.context = std::make_shared<tp::tls_context_holder>(*ctx);
  auto tls = start_service(svc);
  auto port = std::to_string(tls.bound.port);
  auto same = run_command("curl -s --cacert " + test_certs().ca_cert + " --resolve localhost:"
                          + port + ":127.0.0.1 https://localhost:" + port
                          + "/static/big.bin | cmp - '" + docs.root + "/big.bin' && echo same");
  BOOST_TEST(same.output == "same\n", same.output);
  stop(tls.root);
  stop(plain.root);
  BOOST_TEST(fds_restored());
}

namespace {

/// A handler actor: /slow/{ms} answers after that many milliseconds (from a
/// response promise, as real work would), /never keeps the request and
/// never answers, /quit exits without answering.
struct slow_handler_state {
  std::map<uint64_t, caf::typed_response_promise<http::http_response>> pending;
  std::map<uint64_t, http::http_response> answers;
  uint64_t next = 0;
};

using slow_handler_actor = http::http_handler_actor::extend<caf::reacts_to<caf::ok_atom, uint64_t>>;

slow_handler_actor::behavior_type
slow_handler(slow_handler_actor::stateful_pointer<slow_handler_state> self) {
  return {
    [self](http::http_request& req) -> caf::result<http::http_response> {
      auto rp = self->make_response_promise<http::http_response>();
      if (req.path == "/quit") {
        self->quit();
        return rp;
      }
      auto id = self->state.next++;
      self->state.pending.emplace(id, rp); // /never: kept, never delivered
      if (req.path == "/never")
        return rp;
      auto ms = std::stoi(req.params.at("ms"));
      http::http_response res;
      res.headers.set("X-Handler", "actor");
      res.body = "slept " + std::to_string(ms) + " " + req.method + "\n";
      self->state.answers.emplace(id, std::move(res));
      self->delayed_send(self, std::chrono::milliseconds(ms), caf::ok_atom::value, id);
      return rp;
    },
    [self](caf::ok_atom, uint64_t id) {
      self->state.pending.at(id).deliver(self->state.answers.at(id));
      self->state.pending.erase(id);
      self->state.answers.erase(id);
    },
  };
}

} // namespace

BOOST_AUTO_TEST_CASE(handler_actors_answer_in_order_with_the_other_routes) {
  auto handler = caf::actor_cast<http::http_handler_actor>(sys.spawn(slow_handler));
  auto router = test_router();
  BOOST_REQUIRE(!router->add("GET", "/slow/{ms}", handler));
  BOOST_REQUIRE(!router->add("GET", "/never", handler));
  BOOST_REQUIRE(!router->add("GET", "/quit", handler));
  BOOST_TEST(is(router->add("GET", "/x", http::http_handler_actor{}), errc::invalid_configuration));
  http::http_server_options opts;
  opts.handler_timeout = std::chrono::milliseconds(300);
  auto svc = http_service_for(router, opts);
  auto running = start_service(svc);
  {
    // Pipelined: the actor's slow answer first, then the in-connection
    // route, then the actor again (HEAD: headers only).
    client c{running.bound};
    BOOST_REQUIRE(c.send_all("GET /slow/50 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n"
                             "HEAD /slow/1 HTTP/1.1\r\nConnection: close\r\n\r\n"));
    std::string got;
    for (auto piece = c.read_exactly(1); !piece.empty(); piece = c.read_exactly(1))
      got += piece;
    auto first = got.find("slept 50 GET\n");
    auto second = got.find("hello\n");
    BOOST_TEST(first != std::string::npos, got);
    BOOST_TEST((second != std::string::npos && second > first), got);
    BOOST_TEST(got.find("X-Handler: actor", second) != std::string::npos, got); // the HEAD
    BOOST_TEST(got.find("slept 1") == std::string::npos, got);
  }
  // No answer in time: 504, and the connection goes on.
  auto timed = run_command("curl -s -w ' %{http_code} %{num_connects}' " + url(running.bound, "/never")
                           + " " + url(running.bound, "/hello"));
  BOOST_TEST(timed.output.find("the handler did not answer within 300ms\n 504 1") == 0,
             timed.output);
  BOOST_TEST(std::string{http::reason_phrase(504)} == "Gateway Timeout");
  BOOST_TEST(timed.output.find("hello\n 200 0") != std::string::npos, timed.output);
  // The handler exits with the request: CAF 0.17 does not break the
  // promise it dropped, so the handler timeout answers (504); once it is
  // gone, requests to it are bounced at once (503).
  auto quit = run_command("curl -s -o /dev/null -w '%{http_code}' " + url(running.bound, "/quit"));
  BOOST_TEST(quit.output == "504", quit.output);
  auto gone = run_command("curl -s -o /dev/null -w '%{http_code}' " + url(running.bound, "/slow/0"));
  BOOST_TEST(gone.output == "503", gone.output);
  stop(running.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_handler_answer_after_the_client_left_or_half_closed) {
  auto handler = caf::actor_cast<http::http_handler_actor>(sys.spawn(slow_handler));
  auto router = test_router();
  BOOST_REQUIRE(!router->add("GET", "/slow/{ms}", handler));
  auto svc = http_service_for(router);
  auto running = start_service(svc);
  {
    // The client is gone before the answer: it is dropped with the
    // connection, nothing else happens.
    client c{running.bound};
    BOOST_REQUIRE(c.send_all("GET /slow/100 HTTP/1.1\r\n\r\n"));
    c.reset();
  }
  {
    // The client half-closes after its request: the answer still comes,
    // then the close (the FIN is read once the answer is out: reading is
    // paused while the handler works).
    client c{running.bound};
    BOOST_REQUIRE(c.send_all("GET /slow/30 HTTP/1.1\r\n\r\n"));
    c.shutdown_write();
    BOOST_TEST(read_until(c, "slept 30 GET\n").find("HTTP/1.1 200 OK") == 0);
    BOOST_TEST(c.sees_close());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150)); // the first answer came and went
  BOOST_TEST(run_command("curl -s " + url(running.bound, "/slow/0")).output == "slept 0 GET\n");
  // The service stops while the handler works: the answer still goes out
  // (within the drain timeout), with Connection: close, then the close.
  client late{running.bound};
  BOOST_REQUIRE(late.send_all("GET /slow/300 HTTP/1.1\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // the request is with the actor
  stop(running.root);
  auto answer = read_until(late, "slept 300 GET\n");
  BOOST_TEST(answer.find("slept 300 GET\n") != std::string::npos, answer);
  BOOST_TEST(answer.find("Connection: close\r\n") != std::string::npos, answer);
  BOOST_TEST(late.sees_close());
  late.close();
  caf::anon_send_exit(handler, caf::exit_reason::user_shutdown);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(an_answer_resumes_the_pipeline_and_a_late_one_finds_no_layer) {
  // The layer alone: ask() is recorded, the answer given by hand.
  auto handler = caf::actor_cast<http::http_handler_actor>(sys.spawn(slow_handler));
  auto router = test_router();
  BOOST_REQUIRE(!router->add("GET", "/slow/{ms}", handler));
  recording_lower down;
  tp::detail::layer_slot slot;
  slot.reset(http::http_server(router)(""));
  BOOST_REQUIRE(!slot.start(down));
  const std::string input = "GET /slow/5 HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
  BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{input.data(), input.size()}));
  BOOST_REQUIRE(down.asked.size() == 1u);
  BOOST_TEST(down.asked[0].msg.match_element<http::http_request>(0));
  BOOST_TEST(down.paused);
  BOOST_TEST(down.output.empty()); // /hello waits for the actor's answer
  BOOST_TEST(!slot->next_deadline());
  http::http_response res;
  res.body = "answered\n";
  auto answer = caf::make_message(res);
  down.asked[0].reply(answer);
  BOOST_TEST(!down.paused);
  BOOST_REQUIRE(!slot.redeliver(down));
  auto out = down.take_output();
  BOOST_TEST(out.find("answered\n") != std::string::npos, out);
  BOOST_TEST(out.find("hello\n") > out.find("answered\n"), out);
  // An error answer is a status, and the layer goes on.
  const std::string again = "GET /slow/5 HTTP/1.1\r\n\r\n";
  BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{again.data(), again.size()}));
  BOOST_REQUIRE(down.asked.size() == 2u);
  auto failed = caf::make_message(caf::make_error(caf::sec::request_receiver_down));
  down.asked[1].reply(failed);
  BOOST_TEST(status_line(down.take_output()) == "HTTP/1.1 503 Service Unavailable");
  // The layer is gone (the connection switched protocol or closed) when
  // the answer comes: nothing happens.
  BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{again.data(), again.size()}));
  BOOST_REQUIRE(down.asked.size() == 3u);
  slot.clear();
  down.asked[2].reply(answer);
  BOOST_TEST(down.output.empty());
  caf::anon_send_exit(handler, caf::exit_reason::user_shutdown);
}

namespace {

/// This process's peak RSS in KiB since the last reset_peak_rss().
long peak_rss_kib() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

void reset_peak_rss() {
  std::ofstream{"/proc/self/clear_refs"} << "5";
}

} // namespace

BOOST_AUTO_TEST_CASE(curl_uploads_128_mib_that_never_sit_in_memory) {
  auto seen = std::make_shared<counting_reader::totals>();
  auto router = test_router();
  add_upload_routes(*router, seen);
  auto svc = http_service_for(router);
  auto running = start_service(svc);
  auto file = "/tmp/ghostnet-upload-" + std::to_string(::getpid());
  auto made = run_command("head -c 134217728 /dev/urandom > '" + file + "' && echo made");
  BOOST_REQUIRE(made.output == "made\n");
  auto sum = [&](const char* how) {
    reset_peak_rss();
    auto before = peak_rss_kib();
    auto out = run_command(std::string{"curl -s -H 'Expect:' "} + how + " --data-binary @'"
                           + file + "' " + url(running.bound, "/upload"));
    auto grown_mib = (peak_rss_kib() - before) / 1024;
    BOOST_TEST_MESSAGE(how << ": peak RSS grew by " << grown_mib << " MiB");
    BOOST_TEST(out.output.find("got 134217728 ") == 0, out.output);
    // 128 MiB went through; the process grew by what a few reads take.
    BOOST_TEST(grown_mib < 24, how << ": peak RSS grew by " << grown_mib << " MiB");
    return out.output;
  };
  auto plain = sum("");
  auto chunked = sum("-H 'Transfer-Encoding: chunked'");
  BOOST_TEST(plain == chunked); // the same bytes, the same sum
  ::unlink(file.c_str());
  stop(running.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_static_root_that_is_not_a_directory_is_refused) {
  http::http_router r;
  http::static_files_options so;
  so.root = "/nonexistent/ghostnet";
  auto err = http::add_static_files(r, "/static/", so);
  BOOST_TEST(is(err, errc::invalid_configuration), describe(err));
  so.root = "/tmp";
  BOOST_TEST(is(http::add_static_files(r, "static", so), errc::invalid_configuration));
  BOOST_TEST(std::string{http::content_type_of("a.css")} == "text/css; charset=utf-8");
  BOOST_TEST(std::string{http::content_type_of("a.unknown")} == "application/octet-stream");
}

BOOST_AUTO_TEST_SUITE_END()
