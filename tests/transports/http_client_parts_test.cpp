// The HTTP client's sans-IO parts: URLs (parsing, redirect resolution) and
// the response parser on byte arrays split at every offset, one byte at a
// time, and against hostile servers' bytes.

#include <optional>
#include <random>

#include <boost/test/unit_test.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/transports/http/response_parser.hpp"
#include "ghostnet/transports/http/url.hpp"

using namespace ghostnet;
namespace http = ghostnet::transports::http;

namespace {

/// Feeds `bytes` cut at `cuts` (ascending offsets); the first error, if any.
caf::error feed_in_pieces(http::response_parser& p, const std::string& bytes,
                          std::vector<size_t> cuts) {
  size_t at = 0;
  cuts.push_back(bytes.size());
  for (auto cut : cuts) {
    if (auto err = p.feed(std::string_view{bytes}.substr(at, cut - at)))
      return err;
    at = cut;
  }
  return caf::none;
}

/// Parses `bytes` whole, split at every offset and one byte at a time; each
/// way must give the same response. Returns it.
http::received_response parse_every_way(const std::string& bytes,
                                        bool head = false) {
  std::optional<http::received_response> first;
  auto check = [&](http::response_parser& p, const std::string& how) {
    BOOST_REQUIRE_MESSAGE(p.done(), how);
    auto& got = p.response();
    if (!first) {
      first = got;
      return;
    }
    BOOST_TEST(got.status == first->status, how);
    BOOST_TEST(got.body == first->body, how);
    BOOST_TEST(got.headers.size() == first->headers.size(), how);
  };
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    http::response_parser p;
    p.reset(head);
    auto err = feed_in_pieces(p, bytes, {cut});
    BOOST_REQUIRE_MESSAGE(!err, "split at " << cut << ": " << describe(err));
    check(p, "split at " + std::to_string(cut));
  }
  http::response_parser p;
  p.reset(head);
  for (char c : bytes)
    BOOST_REQUIRE(!p.feed(std::string_view{&c, 1}));
  check(p, "one byte at a time");
  return *first;
}

caf::error parse_error(const std::string& bytes, bool eof = false) {
  http::response_parser p{http::response_limits{1024, 4096}};
  p.reset(false);
  if (auto err = p.feed(bytes))
    return err;
  if (eof)
    return p.feed_eof();
  return caf::none;
}

} // namespace

BOOST_AUTO_TEST_SUITE(urls)

BOOST_AUTO_TEST_CASE(absolute_urls_give_scheme_host_port_and_target) {
  auto u = http::parse_url("HTTP://example.org");
  BOOST_REQUIRE(u);
  BOOST_TEST(u->scheme == "http");
  BOOST_TEST(u->host == "example.org");
  BOOST_TEST(u->port == 80);
  BOOST_TEST(u->target == "/");
  BOOST_TEST(u->authority() == "example.org");
  BOOST_TEST(u->origin() == "http://example.org");

  u = http::parse_url("https://127.0.0.1:8443/a/b?x=1#frag");
  BOOST_REQUIRE(u);
  BOOST_TEST(u->tls());
  BOOST_TEST(u->port == 8443);
  BOOST_TEST(u->target == "/a/b?x=1");
  BOOST_TEST(u->to_string() == "https://127.0.0.1:8443/a/b?x=1");

  u = http::parse_url("https://[::1]/");
  BOOST_REQUIRE(u);
  BOOST_TEST(u->host == "::1");
  BOOST_TEST(u->port == 443);
  BOOST_TEST(u->authority() == "[::1]");

  u = http::parse_url("http://[::1]:8080?q");
  BOOST_REQUIRE(u);
  BOOST_TEST(u->target == "/?q");
  BOOST_TEST(u->origin() == "http://[::1]:8080");
}

BOOST_AUTO_TEST_CASE(malformed_urls_are_invalid_addresses_that_say_why) {
  for (auto [text, why] : std::vector<std::pair<std::string, std::string>>{
         {"example.org/x", "scheme"},
         {"ftp://example.org/", "scheme"},
         {"http://user:secret@example.org/", "user info"},
         {"http:///path", "no host"},
         {"http://h:0/", "port"},
         {"http://h:65536/", "port"},
         {"http://h:80a/", "port"},
         {"http://h:99999999999999999999/", "port"},
         {"http://[::1/", "']'"},
         {"http://[::1]x/", "garbage"},
         {"http://h/a b", "space"},
         {std::string{"http://h/\r\nX: y"}, "control"},
       }) {
    auto u = http::parse_url(text);
    BOOST_REQUIRE_MESSAGE(!u, text);
    BOOST_TEST(is(u.error(), errc::invalid_address), text);
    auto ctx = context_of(u.error());
    BOOST_TEST(ctx.operation == "parse url");
    BOOST_TEST(ctx.detail.find(why) != std::string::npos, text << ": " << ctx.detail);
  }
}

BOOST_AUTO_TEST_CASE(locations_resolve_against_the_url_that_answered) {
  auto base = http::parse_url("http://a.example:8080/dir/page?q=1");
  BOOST_REQUIRE(base);
  auto at = [&](std::string_view loc) {
    auto u = http::resolve_location(*base, loc);
    BOOST_REQUIRE_MESSAGE(u, loc);
    return u->to_string();
  };
  BOOST_TEST(at("https://b.example/x") == "https://b.example/x");
  BOOST_TEST(at("//c.example/y") == "http://c.example/y");
  BOOST_TEST(at("/root?z") == "http://a.example:8080/root?z");
  BOOST_TEST(at("other") == "http://a.example:8080/dir/other");
  BOOST_TEST(!http::resolve_location(*base, ""));
  BOOST_TEST(!http::resolve_location(*base, "ftp://x/"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(response_parser)

BOOST_AUTO_TEST_CASE(a_content_length_response_split_at_every_offset) {
  auto res = parse_every_way("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 6\r\nX-Two: a\r\nX-Two: b\r\n\r\nhello\n");
  BOOST_TEST(res.status == 200);
  BOOST_TEST(res.reason == "OK");
  BOOST_TEST(res.version == 11u);
  BOOST_TEST(res.body == "hello\n");
  BOOST_TEST(res.headers.get("content-type") == "text/plain");
  BOOST_TEST(res.headers.size() == 4u);
}

BOOST_AUTO_TEST_CASE(a_chunked_response_with_extensions_and_trailer_split_at_every_offset) {
  auto res = parse_every_way("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n"
                             "0\r\nX-Trailer: t\r\n\r\n");
  BOOST_TEST(res.status == 201);
  BOOST_TEST(res.body == "hello 0123456789");
}

BOOST_AUTO_TEST_CASE(interim_responses_are_skipped_for_the_final_one) {
  auto res = parse_every_way("HTTP/1.1 100 Continue\r\n\r\n"
                             "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                             "HTTP/1.1 204 No Content\r\n\r\n");
  BOOST_TEST(res.status == 204);
  BOOST_TEST(res.body.empty());
  BOOST_TEST(res.headers.get("Link").empty()); // the interim's headers went with it
}

BOOST_AUTO_TEST_CASE(head_204_and_304_have_no_body_whatever_the_headers_say) {
  auto head = parse_every_way("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", true);
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.body.empty());
  auto not_modified = parse_every_way("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
  BOOST_TEST(not_modified.status == 304);
  http::response_parser p;
  p.reset(true);
  BOOST_REQUIRE(!p.feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"));
  BOOST_TEST(p.done());
  BOOST_TEST(p.reusable());
}

BOOST_AUTO_TEST_CASE(a_body_until_eof_ends_with_the_connection_and_is_not_reusable) {
  for (auto text : {"HTTP/1.0 200 OK\r\n\r\nall of it", "HTTP/1.1 200 OK\r\n\r\nall of it"}) {
    http::response_parser p;
    p.reset(false);
    BOOST_REQUIRE(!p.feed(text));
    BOOST_TEST(p.header_done());
    BOOST_TEST(!p.done());
    BOOST_REQUIRE(!p.feed_eof());
    BOOST_TEST(p.done());
    BOOST_TEST(p.response().body == "all of it");
    BOOST_TEST(!p.reusable());
  }
}

BOOST_AUTO_TEST_CASE(reuse_needs_keep_alive_a_delimited_body_and_nothing_beyond) {
  auto reusable = [](std::string text) {
    http::response_parser p;
    p.reset(false);
    BOOST_REQUIRE(!p.feed(text));
    BOOST_REQUIRE(p.done());
    return p.reusable();
  };
  BOOST_TEST(reusable("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  BOOST_TEST(!reusable("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"));
  BOOST_TEST(!reusable("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  BOOST_TEST(reusable("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"));
  // A server that sends more than it announced cannot be trusted with the
  // next request.
  BOOST_TEST(!reusable("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"));
}

BOOST_AUTO_TEST_CASE(an_early_close_is_transport_closed_and_says_when) {
  http::response_parser before;
  before.reset(false);
  BOOST_TEST(!before.started());
  auto err = before.feed_eof();
  BOOST_TEST(is(err, errc::transport_closed));
  BOOST_TEST(context_of(err).detail.find("before answering") != std::string::npos);

  http::response_parser mid;
  mid.reset(false);
  BOOST_REQUIRE(!mid.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
  BOOST_TEST(mid.started());
  BOOST_TEST(mid.header_done());
  err = mid.feed_eof();
  BOOST_TEST(is(err, errc::transport_closed));
  BOOST_TEST(context_of(err).detail.find("mid-response") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(hostile_responses_are_protocol_errors_that_say_why) {
  for (auto [text, why] : std::vector<std::pair<std::string, std::string>>{
         {"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "LF without CR"},
         {"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n", "CR"},
         {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
          "Content-Length"},
         {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
          "Content-Length"},
         {"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", "version"},
         {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "101"},
         {"SSH-2.0-OpenSSH_9.2p1 Debian\r\n\r\n", ""},
         {"HTTP/1.1 200 OK\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", ""},
         {"HTTP/1.1 200 OK\r\nX: " + std::string(2000, 'a'), "header larger"},
         {"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", ""},
         {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n"
            + std::string(4096, 'x') + "\r\n1\r\nx\r\n0\r\n\r\n",
          ""},
         {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ""},
       }) {
    auto err = parse_error(text);
    BOOST_REQUIRE_MESSAGE(err, text);
    BOOST_TEST(is(err, errc::protocol_error), text << ": " << describe(err));
    BOOST_TEST(context_of(err).operation == "http response");
    BOOST_TEST(context_of(err).detail.find(why) != std::string::npos,
               text.substr(0, 40) << ": " << context_of(err).detail);
  }
}

BOOST_AUTO_TEST_CASE(random_and_mutated_bytes_never_crash) {
  std::mt19937 rng{17};
  const std::string valid = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n0\r\n\r\n";
  size_t done = 0, errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text = valid;
    auto flips = 1 + rng() % 4;
    for (unsigned i = 0; i < flips; ++i)
      text[rng() % text.size()] = static_cast<char>(rng());
    if (round % 3 == 0) {
      text.resize(rng() % 64);
      for (auto& c : text)
        c = static_cast<char>(rng());
    }
    http::response_parser p{http::response_limits{256, 256}};
    p.reset(round % 5 == 0);
    auto err = feed_in_pieces(p, text, {text.size() / 2});
    if (!err)
      err = p.feed_eof();
    if (err) {
      ++errors;
      BOOST_TEST((is(err, errc::protocol_error) || is(err, errc::transport_closed)),
                 describe(err));
    } else {
      ++done;
      BOOST_TEST(p.done());
    }
  }
  BOOST_TEST(errors > 0u);
  BOOST_TEST(done > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
