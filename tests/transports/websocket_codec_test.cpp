// The WebSocket codec without sockets: UTF-8 validation split at every
// offset, frame headers, masking, close payloads.

#include <boost/test/unit_test.hpp>

#include <string>

#include "ghostnet/transports/websocket/frame_codec.hpp"
#include "ghostnet/transports/websocket/utf8_validator.hpp"

namespace ws = ghostnet::transports::ws;

BOOST_AUTO_TEST_SUITE(websocket_codec)

BOOST_AUTO_TEST_CASE(utf8_accepts_valid_text_split_anywhere) {
  const std::string text = "hello κόσμε \xE2\x82\xAC \xF0\x9F\x98\x80 end";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ws::utf8_validator v;
    BOOST_REQUIRE(v.feed(text.substr(0, cut)));
    BOOST_REQUIRE(v.feed(text.substr(cut)));
    BOOST_CHECK_MESSAGE(v.complete(), "cut at " << cut);
  }
}

BOOST_AUTO_TEST_CASE(utf8_refuses_what_rfc3629_forbids) {
  const char* bad[] = {
    "\xC0\xAF",         // overlong '/'
    "\xE0\x80\xAF",     // overlong, three bytes
    "\xED\xA0\x80",     // a surrogate
    "\xF4\x90\x80\x80", // above U+10FFFF
    "\xF5\x80\x80\x80", // lead byte F5
    "\x80",             // a lone continuation byte
    "\xCE\xBA\xE1",     // ends in the middle of a code point
  };
  for (auto x : bad)
    BOOST_CHECK_MESSAGE(!ws::is_valid_utf8(x), "accepted " << x);
  // Found as soon as the bad byte arrives, across a fragment boundary.
  ws::utf8_validator v;
  BOOST_CHECK(v.feed("abc\xED"));
  BOOST_CHECK(!v.feed("\xA0\x80"));
  BOOST_CHECK(!v.complete());
  // An incomplete code point at the end is not complete.
  ws::utf8_validator w;
  BOOST_CHECK(w.feed("\xE2\x82"));
  BOOST_CHECK(!w.complete());
}

BOOST_AUTO_TEST_CASE(frames_round_trip_with_every_length_encoding) {
  for (size_t len : {size_t{0}, size_t{125}, size_t{126}, size_t{65535},
                     size_t{65536}, size_t{100000}}) {
    std::string payload(len, 'x');
    for (size_t i = 0; i < len; ++i)
      payload[i] = static_cast<char>(i * 7);
    ws::mask_key key{1, 2, 3, 4};
    std::vector<char> out;
    ws::append_frame(out, ws::opcode::binary, true, payload, &key);
    ws::frame_header h;
    // Every prefix shorter than the header is "need more".
    for (size_t n = 0; n < 2; ++n)
      BOOST_CHECK(!ws::parse_header(out.data(), n, h));
    BOOST_REQUIRE(ws::parse_header(out.data(), out.size(), h));
    BOOST_CHECK_EQUAL(h.length, len);
    BOOST_CHECK(h.masked && h.fin);
    BOOST_CHECK_EQUAL(h.op, 0x2);
    BOOST_CHECK_EQUAL(ws::check_header(h, ws::role::server), 0);
    BOOST_CHECK_EQUAL(ws::check_header(h, ws::role::client), 1002);
    BOOST_REQUIRE_EQUAL(out.size(), h.size + len);
    // Unmasked in two pieces at an odd offset, as it may arrive.
    std::string got(out.begin() + static_cast<long>(h.size), out.end());
    auto half = len / 2 + (len > 0 ? 1 : 0);
    half = std::min(half, len);
    ws::apply_mask(got.data(), half, h.mask, 0);
    ws::apply_mask(got.data() + half, len - half, h.mask, half);
    BOOST_CHECK(got == payload);
  }
}

BOOST_AUTO_TEST_CASE(headers_that_break_the_rules_get_1002) {
  ws::frame_header h;
  h.masked = true;
  h.op = 0x3; // reserved
  BOOST_CHECK_EQUAL(ws::check_header(h, ws::role::server), 1002);
  h.op = 0x1;
  h.rsv = 0x4; // RSV1 without permessage-deflate
  BOOST_CHECK_EQUAL(ws::check_header(h, ws::role::server), 1002);
  h.rsv = 0;
  h.op = 0x9;
  h.fin = false; // a fragmented ping
  BOOST_CHECK_EQUAL(ws::check_header(h, ws::role::server), 1002);
  h.fin = true;
  h.length = 126; // a control frame too long
  BOOST_CHECK_EQUAL(ws::check_header(h, ws::role::server), 1002);
  h.length = 0;
  h.masked = false; // an unmasked client frame
  BOOST_CHECK_EQUAL(ws::check_header(h, ws::role::server), 1002);
  h.masked = true;
  BOOST_CHECK_EQUAL(ws::check_header(h, ws::role::server), 0);
}

BOOST_AUTO_TEST_CASE(close_payloads_are_checked) {
  auto p = ws::close_payload(1000, "bye");
  auto ok = ws::parse_close_payload(std::string_view{p.data(), p.size()});
  BOOST_CHECK_EQUAL(ok.code, 1000);
  BOOST_CHECK_EQUAL(ok.reason, "bye");
  BOOST_CHECK_EQUAL(ok.violation, 0);
  BOOST_CHECK_EQUAL(ws::parse_close_payload("").code, 1005);
  BOOST_CHECK_EQUAL(ws::parse_close_payload("x").violation, 1002);
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 2999, 5000}) {
    auto q = ws::close_payload(code, "");
    BOOST_CHECK_EQUAL(ws::parse_close_payload(std::string_view{q.data(), 2}).violation,
                      1002);
  }
  auto bad = ws::close_payload(1000, "\xC0\xAF");
  BOOST_CHECK_EQUAL(ws::parse_close_payload(std::string_view{bad.data(), bad.size()})
                      .violation,
                    1007);
  // A long reason is cut to 125 bytes in all, on a code point boundary.
  std::string longer;
  for (int i = 0; i < 100; ++i)
    longer += "\xCE\xBA";
  auto cut = ws::close_payload(1000, longer);
  BOOST_CHECK_LE(cut.size(), 125u);
  BOOST_CHECK(ws::is_valid_utf8(std::string_view{cut.data() + 2, cut.size() - 2}));
}

BOOST_AUTO_TEST_SUITE_END()
