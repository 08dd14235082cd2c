// Framers on byte vectors: no sockets. A `receiver` plays the connection: it
// appends each arriving chunk to its buffer, decodes, and drops what was
// consumed, exactly as the connection broker will.

#include "ghostnet/transports/framing.hpp"

#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "ghostnet/actors/error.hpp"

// Counts allocations of the calling thread, to show decode() makes none.
namespace {
thread_local size_t allocations = 0;
} // namespace

void* operator new(std::size_t size) {
  ++allocations;
  if (void* ptr = std::malloc(size == 0 ? 1 : size))
    return ptr;
  throw std::bad_alloc{};
}

// GCC 12 mistakes this replacement pair for a malloc/delete mismatch.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* ptr) noexcept {
  std::free(ptr);
}
#pragma GCC diagnostic pop

void operator delete(void* ptr, std::size_t) noexcept {
  operator delete(ptr);
}

using namespace ghostnet;
using namespace ghostnet::transports;

namespace {

byte_view view(const std::string& str) {
  return {str.data(), str.size()};
}

byte_view view(const std::vector<char>& buf) {
  return {buf.data(), buf.size()};
}

std::string str(const std::vector<char>& buf) {
  return {buf.begin(), buf.end()};
}

struct collector final : frame_sink {
  std::vector<std::string> frames;
  void on_frame(byte_view frame) override {
    frames.emplace_back(frame.data(), frame.size());
  }
};

struct counter final : frame_sink {
  size_t frames = 0;
  size_t bytes = 0;
  void on_frame(byte_view frame) override {
    ++frames;
    bytes += frame.size();
  }
};

framing_options make_options(framing_kind kind, size_t max_frame_size = 1024) {
  framing_options opts;
  opts.kind = kind;
  opts.max_frame_size = max_frame_size;
  return opts;
}

struct receiver {
  explicit receiver(const framing_options& opts) : f(make_framer(opts)) {
    BOOST_REQUIRE(!validate(opts));
  }

  caf::error feed(byte_view chunk) {
    buf.insert(buf.end(), chunk.begin(), chunk.end());
    auto consumed = f->decode(view(buf), sink);
    if (!consumed)
      return std::move(consumed.error());
    BOOST_REQUIRE_LE(*consumed, buf.size());
    buf.erase(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*consumed));
    return caf::none;
  }

  caf::error feed(const std::string& chunk) {
    return feed(view(chunk));
  }

  // Without the terminating '\0' (a span of the array would include it).
  template <size_t N>
  caf::error feed(const char (&chunk)[N]) {
    return feed(byte_view{chunk, N - 1});
  }

  std::unique_ptr<framer> f;
  std::vector<char> buf;
  collector sink;
};

void check_protocol_error(const caf::error& err, const char* operation) {
  BOOST_REQUIRE(err);
  BOOST_CHECK(is(err, errc::protocol_error));
  auto ctx = context_of(err);
  BOOST_CHECK_EQUAL(ctx.operation, operation);
  BOOST_CHECK(!ctx.detail.empty());
}

void check_invalid_configuration(const caf::error& err, const char* option) {
  BOOST_REQUIRE(err);
  BOOST_CHECK(is(err, errc::invalid_configuration));
  BOOST_CHECK_MESSAGE(context_of(err).detail.find(option) != std::string::npos,
                      describe(err) << " does not name " << option);
}

std::vector<char> encode_all(framer& f, const std::vector<std::string>& frames) {
  std::vector<char> wire;
  for (auto& frame : frames)
    BOOST_REQUIRE(!f.encode(view(frame), wire));
  return wire;
}

// Feeds `wire` cut at `cuts` (ascending offsets) and checks the frames.
void check_chunking(const framing_options& opts, const std::vector<char>& wire,
                    const std::vector<size_t>& cuts,
                    const std::vector<std::string>& expected) {
  receiver rx{opts};
  size_t pos = 0;
  for (auto cut : cuts) {
    BOOST_REQUIRE(!rx.feed(byte_view{wire.data() + pos, cut - pos}));
    pos = cut;
  }
  BOOST_REQUIRE(!rx.feed(byte_view{wire.data() + pos, wire.size() - pos}));
  BOOST_REQUIRE(rx.buf.empty());
  BOOST_REQUIRE(rx.sink.frames == expected);
}

// Byte by byte, every cut into two pieces, and random chunkings.
void check_round_trip(const framing_options& opts,
                      const std::vector<std::string>& frames) {
  auto f = make_framer(opts);
  auto wire = encode_all(*f, frames);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < wire.size(); ++i)
    cuts.push_back(i);
  check_chunking(opts, wire, cuts, frames);
  for (size_t i = 0; i <= wire.size(); ++i)
    check_chunking(opts, wire, {i}, frames);
  std::mt19937 rng{42};
  for (int run = 0; run < 200; ++run) {
    std::uniform_int_distribution<size_t> step{1, run % 2 == 0 ? 8u : 200u};
    cuts.clear();
    for (size_t pos = step(rng); pos < wire.size(); pos += step(rng))
      cuts.push_back(pos);
    check_chunking(opts, wire, cuts, frames);
  }
}

// Frames of random bytes; `ok` says whether a byte may appear at a position.
template <class Predicate>
std::vector<std::string> random_frames(size_t count, size_t max_size,
                                       Predicate ok) {
  std::mt19937 rng{7};
  std::uniform_int_distribution<size_t> size{0, max_size};
  std::uniform_int_distribution<int> byte{0, 255};
  std::vector<std::string> result;
  for (size_t i = 0; i < count; ++i) {
    // Sizes at the edges, then random ones.
    auto n = i == 0 ? 0 : i == 1 ? max_size : size(rng);
    std::string frame;
    while (frame.size() < n) {
      auto c = static_cast<char>(byte(rng));
      if (ok(c, frame.size() + 1 == n))
        frame += c;
    }
    result.push_back(std::move(frame));
  }
  return result;
}

std::vector<std::string> binary_frames(size_t count, size_t max_size) {
  return random_frames(count, max_size, [](char, bool) { return true; });
}

std::vector<std::string> text_lines(size_t count, size_t max_size,
                                    bool may_end_with_cr) {
  return random_frames(count, max_size, [=](char c, bool last) {
    return c != '\n' && (may_end_with_cr || !last || c != '\r');
  });
}

} // namespace

// -- round trips --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(length_prefixed_round_trips_frames_in_every_chunking) {
  for (uint8_t field_size : {1, 2, 4, 8}) {
    BOOST_TEST_CONTEXT("length_field_size " << int{field_size}) {
      auto opts = make_options(framing_kind::length_prefixed, 200);
      opts.length_field_size = field_size;
      check_round_trip(opts, binary_frames(30, 200));
    }
  }
}

BOOST_AUTO_TEST_CASE(line_round_trips_frames_in_every_chunking) {
  auto opts = make_options(framing_kind::line, 200);
  check_round_trip(opts, text_lines(30, 200, false));
  opts.strip_carriage_return = false;
  check_round_trip(opts, text_lines(30, 200, true));
}

BOOST_AUTO_TEST_CASE(many_frames_round_trip_in_random_chunks) {
  std::mt19937 rng{1234};
  for (auto kind : {framing_kind::length_prefixed, framing_kind::line}) {
    BOOST_TEST_CONTEXT(to_string(kind)) {
      auto opts = make_options(kind, 4096);
      auto frames = kind == framing_kind::line ? text_lines(1000, 300, false)
                                               : binary_frames(1000, 300);
      auto wire = encode_all(*make_framer(opts), frames);
      for (int run = 0; run < 20; ++run) {
        std::uniform_int_distribution<size_t> step{1, 3000};
        std::vector<size_t> cuts;
        for (size_t pos = step(rng); pos < wire.size(); pos += step(rng))
          cuts.push_back(pos);
        check_chunking(opts, wire, cuts, frames);
      }
    }
  }
}

// -- raw ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(raw_passes_each_input_as_one_frame_and_consumes_it) {
  auto f = make_framer(make_options(framing_kind::raw));
  collector sink;
  std::string input("hello\nworld\0!", 13);
  auto consumed = f->decode(view(input), sink);
  BOOST_REQUIRE(consumed);
  BOOST_CHECK_EQUAL(*consumed, input.size());
  BOOST_REQUIRE_EQUAL(sink.frames.size(), 1u);
  BOOST_CHECK_EQUAL(sink.frames[0], input);
}

BOOST_AUTO_TEST_CASE(raw_empty_input_yields_no_frame) {
  auto f = make_framer(make_options(framing_kind::raw));
  collector sink;
  auto consumed = f->decode(byte_view{}, sink);
  BOOST_REQUIRE(consumed);
  BOOST_CHECK_EQUAL(*consumed, 0u);
  BOOST_CHECK(sink.frames.empty());
}

BOOST_AUTO_TEST_CASE(raw_input_larger_than_max_frame_size_is_split) {
  auto f = make_framer(make_options(framing_kind::raw, 4));
  collector sink;
  auto consumed = f->decode(view(std::string{"abcdefghij"}), sink);
  BOOST_REQUIRE(consumed);
  BOOST_CHECK_EQUAL(*consumed, 10u);
  std::vector<std::string> expected{"abcd", "efgh", "ij"};
  BOOST_CHECK(sink.frames == expected);
}

BOOST_AUTO_TEST_CASE(raw_encode_appends_the_payload_unchanged) {
  auto f = make_framer(make_options(framing_kind::raw));
  std::vector<char> out{'>'};
  BOOST_REQUIRE(!f->encode(view(std::string{"a\nb"}), out));
  BOOST_CHECK_EQUAL(str(out), ">a\nb");
}

// -- length_prefixed ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(length_prefix_is_big_endian) {
  auto opts = make_options(framing_kind::length_prefixed, 1 << 20);
  auto f = make_framer(opts);
  std::vector<char> out;
  BOOST_REQUIRE(!f->encode(view(std::string(0x0102, 'x')), out));
  BOOST_REQUIRE_EQUAL(out.size(), 4u + 0x0102);
  BOOST_CHECK_EQUAL(str(out).substr(0, 4), std::string("\0\0\x01\x02", 4));
}

BOOST_AUTO_TEST_CASE(eight_byte_length_field_round_trips) {
  auto opts = make_options(framing_kind::length_prefixed);
  opts.length_field_size = 8;
  auto f = make_framer(opts);
  std::vector<char> out;
  BOOST_REQUIRE(!f->encode(view(std::string{"abc"}), out));
  BOOST_CHECK_EQUAL(str(out), std::string("\0\0\0\0\0\0\0\x03"
                                          "abc",
                                          11));
  collector sink;
  auto consumed = f->decode(view(out), sink);
  BOOST_REQUIRE(consumed);
  BOOST_CHECK_EQUAL(*consumed, 11u);
  BOOST_REQUIRE_EQUAL(sink.frames.size(), 1u);
  BOOST_CHECK_EQUAL(sink.frames[0], "abc");
}

BOOST_AUTO_TEST_CASE(huge_eight_byte_length_is_a_protocol_error) {
  auto opts = make_options(framing_kind::length_prefixed);
  opts.length_field_size = 8;
  receiver rx{opts};
  check_protocol_error(rx.feed(std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8)),
                       "decode frame");
  BOOST_CHECK(rx.sink.frames.empty());
}

BOOST_AUTO_TEST_CASE(oversized_length_prefix_is_a_protocol_error) {
  // Only the header of a 17-byte frame arrived: no need to wait for more.
  receiver rx{make_options(framing_kind::length_prefixed, 16)};
  check_protocol_error(rx.feed(std::string("\0\0\0\x11", 4)), "decode frame");
  BOOST_CHECK(rx.sink.frames.empty());
}

BOOST_AUTO_TEST_CASE(oversized_frame_after_good_ones_is_a_protocol_error) {
  receiver rx{make_options(framing_kind::length_prefixed, 16)};
  check_protocol_error(rx.feed(std::string("\0\0\0\x01" "a" "\0\0\x01\x00", 9)),
                       "decode frame");
}

BOOST_AUTO_TEST_CASE(length_prefix_of_exactly_max_frame_size_is_accepted) {
  receiver rx{make_options(framing_kind::length_prefixed, 16)};
  BOOST_REQUIRE(!rx.feed(std::string("\0\0\0\x10", 4) + std::string(16, 'x')));
  BOOST_REQUIRE_EQUAL(rx.sink.frames.size(), 1u);
  BOOST_CHECK_EQUAL(rx.sink.frames[0], std::string(16, 'x'));
}

BOOST_AUTO_TEST_CASE(zero_length_frames_are_delivered) {
  receiver rx{make_options(framing_kind::length_prefixed)};
  BOOST_REQUIRE(!rx.feed(std::string("\0\0\0\0\0\0\0\0\0\0\0\x01z\0\0\0\0", 17)));
  std::vector<std::string> expected{"", "", "z", ""};
  BOOST_CHECK(rx.sink.frames == expected);
  BOOST_CHECK(rx.buf.empty());
  std::vector<char> out;
  BOOST_REQUIRE(!rx.f->encode(byte_view{}, out));
  BOOST_CHECK_EQUAL(str(out), std::string(4, '\0'));
}

BOOST_AUTO_TEST_CASE(partial_length_header_consumes_nothing) {
  auto f = make_framer(make_options(framing_kind::length_prefixed));
  collector sink;
  std::string input("\0\0\0", 3);
  auto consumed = f->decode(view(input), sink);
  BOOST_REQUIRE(consumed);
  BOOST_CHECK_EQUAL(*consumed, 0u);
  BOOST_CHECK(sink.frames.empty());
}

BOOST_AUTO_TEST_CASE(partial_payload_is_kept_until_complete) {
  receiver rx{make_options(framing_kind::length_prefixed)};
  BOOST_REQUIRE(!rx.feed(std::string("\0\0\0\x05" "ab", 6)));
  BOOST_CHECK(rx.sink.frames.empty());
  BOOST_CHECK_EQUAL(rx.buf.size(), 6u);
  BOOST_REQUIRE(!rx.feed(std::string("cde\0\0", 5)));
  BOOST_REQUIRE_EQUAL(rx.sink.frames.size(), 1u);
  BOOST_CHECK_EQUAL(rx.sink.frames[0], "abcde");
  BOOST_CHECK_EQUAL(rx.buf.size(), 2u); // half of the next header
}

BOOST_AUTO_TEST_CASE(length_field_size_caps_the_frame_size) {
  auto opts = make_options(framing_kind::length_prefixed, 1 << 20);
  opts.length_field_size = 1;
  auto f = make_framer(opts);
  std::vector<char> out;
  BOOST_CHECK(!f->encode(view(std::string(255, 'x')), out));
  out.clear();
  check_protocol_error(f->encode(view(std::string(256, 'x')), out),
                       "encode frame");
  BOOST_CHECK(out.empty());
  opts.length_field_size = 2;
  f = make_framer(opts);
  BOOST_CHECK(!f->encode(view(std::string(65535, 'x')), out));
  check_protocol_error(f->encode(view(std::string(65536, 'x')), out),
                       "encode frame");
}

BOOST_AUTO_TEST_CASE(encoding_an_oversized_payload_is_a_protocol_error) {
  for (auto kind :
       {framing_kind::raw, framing_kind::length_prefixed, framing_kind::line}) {
    BOOST_TEST_CONTEXT(to_string(kind)) {
      auto f = make_framer(make_options(kind, 8));
      std::vector<char> out{'k', 'e', 'e', 'p'};
      BOOST_CHECK(!f->encode(view(std::string(8, 'x')), out));
      out.resize(4);
      check_protocol_error(f->encode(view(std::string(9, 'x')), out),
                           "encode frame");
      BOOST_CHECK_EQUAL(str(out), "keep");
    }
  }
}

// -- line ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(line_framing_splits_at_newline_without_the_delimiter) {
  receiver rx{make_options(framing_kind::line)};
  BOOST_REQUIRE(!rx.feed("one\ntwo\nthr"));
  std::vector<std::string> expected{"one", "two"};
  BOOST_CHECK(rx.sink.frames == expected);
  BOOST_CHECK_EQUAL(str(rx.buf), "thr");
  BOOST_REQUIRE(!rx.feed("ee\n"));
  expected.push_back("three");
  BOOST_CHECK(rx.sink.frames == expected);
  BOOST_CHECK(rx.buf.empty());
}

BOOST_AUTO_TEST_CASE(empty_lines_are_zero_length_frames) {
  receiver rx{make_options(framing_kind::line)};
  BOOST_REQUIRE(!rx.feed("\n\r\n\n"));
  std::vector<std::string> expected{"", "", ""};
  BOOST_CHECK(rx.sink.frames == expected);
}

BOOST_AUTO_TEST_CASE(crlf_counts_as_newline_when_stripping) {
  receiver rx{make_options(framing_kind::line)};
  BOOST_REQUIRE(!rx.feed("a\r\nb\rc\r\n\r\r\n"));
  std::vector<std::string> expected{"a", "b\rc", "\r"};
  BOOST_CHECK(rx.sink.frames == expected);
}

BOOST_AUTO_TEST_CASE(carriage_return_is_kept_without_stripping) {
  auto opts = make_options(framing_kind::line);
  opts.strip_carriage_return = false;
  receiver rx{opts};
  BOOST_REQUIRE(!rx.feed("a\r\nb\n"));
  std::vector<std::string> expected{"a\r", "b"};
  BOOST_CHECK(rx.sink.frames == expected);
}

BOOST_AUTO_TEST_CASE(crlf_split_between_reads_is_stripped) {
  receiver rx{make_options(framing_kind::line)};
  BOOST_REQUIRE(!rx.feed("abc\r"));
  BOOST_CHECK(rx.sink.frames.empty());
  BOOST_REQUIRE(!rx.feed("\n"));
  BOOST_REQUIRE_EQUAL(rx.sink.frames.size(), 1u);
  BOOST_CHECK_EQUAL(rx.sink.frames[0], "abc");
}

BOOST_AUTO_TEST_CASE(line_without_newline_beyond_max_is_a_protocol_error) {
  receiver rx{make_options(framing_kind::line, 8)};
  for (int i = 0; i < 8; ++i)
    BOOST_REQUIRE(!rx.feed("x")); // 8 bytes may still become a line
  check_protocol_error(rx.feed("x"), "decode frame");
}

BOOST_AUTO_TEST_CASE(complete_line_beyond_max_is_a_protocol_error) {
  receiver rx{make_options(framing_kind::line, 8)};
  check_protocol_error(rx.feed("ok\n123456789\n"), "decode frame");
}

BOOST_AUTO_TEST_CASE(line_of_max_size_awaiting_crlf_is_accepted) {
  receiver rx{make_options(framing_kind::line, 4)};
  BOOST_REQUIRE(!rx.feed("abcd\r")); // 5 bytes, but the '\r' will be stripped
  BOOST_REQUIRE(!rx.feed("\n"));
  BOOST_REQUIRE_EQUAL(rx.sink.frames.size(), 1u);
  BOOST_CHECK_EQUAL(rx.sink.frames[0], "abcd");
  // Without stripping, the '\r' is payload and the line too long.
  auto opts = make_options(framing_kind::line, 4);
  opts.strip_carriage_return = false;
  receiver strict{opts};
  check_protocol_error(strict.feed("abcd\r"), "decode frame");
}

BOOST_AUTO_TEST_CASE(line_decode_rescans_when_input_shrinks) {
  // Contract breach (a caller that dropped its buffer) must not skip bytes.
  auto f = make_framer(make_options(framing_kind::line));
  collector sink;
  BOOST_REQUIRE(f->decode(view(std::string{"abcdef"}), sink));
  auto consumed = f->decode(view(std::string{"x\ny"}), sink);
  BOOST_REQUIRE(consumed);
  BOOST_CHECK_EQUAL(*consumed, 2u);
  BOOST_REQUIRE_EQUAL(sink.frames.size(), 1u);
  BOOST_CHECK_EQUAL(sink.frames[0], "x");
}

BOOST_AUTO_TEST_CASE(line_encode_appends_a_newline) {
  auto f = make_framer(make_options(framing_kind::line));
  std::vector<char> out;
  BOOST_REQUIRE(!f->encode(view(std::string{"hi"}), out));
  BOOST_REQUIRE(!f->encode(byte_view{}, out));
  BOOST_CHECK_EQUAL(str(out), "hi\n\n");
}

BOOST_AUTO_TEST_CASE(line_encode_rejects_payloads_containing_newline) {
  auto f = make_framer(make_options(framing_kind::line));
  std::vector<char> out;
  check_protocol_error(f->encode(view(std::string{"a\nb"}), out),
                       "encode frame");
  BOOST_CHECK(out.empty());
}

BOOST_AUTO_TEST_CASE(line_encode_rejects_trailing_carriage_return_when_stripping) {
  std::vector<char> out;
  auto f = make_framer(make_options(framing_kind::line));
  check_protocol_error(f->encode(view(std::string{"a\r"}), out),
                       "encode frame");
  auto opts = make_options(framing_kind::line);
  opts.strip_carriage_return = false;
  f = make_framer(opts);
  BOOST_REQUIRE(!f->encode(view(std::string{"a\r"}), out));
  BOOST_CHECK_EQUAL(str(out), "a\r\n");
}

// -- performance contract -----------------------------------------------------

BOOST_AUTO_TEST_CASE(decode_does_not_allocate) {
  for (auto kind :
       {framing_kind::raw, framing_kind::length_prefixed, framing_kind::line}) {
    BOOST_TEST_CONTEXT(to_string(kind)) {
      auto opts = make_options(kind, 4096);
      auto f = make_framer(opts);
      auto frames = kind == framing_kind::line ? text_lines(500, 100, false)
                                               : binary_frames(500, 100);
      auto wire = encode_all(*f, frames);
      counter sink;
      auto before = allocations;
      auto consumed = f->decode(view(wire), sink);
      auto after = allocations;
      BOOST_REQUIRE(consumed);
      BOOST_CHECK_EQUAL(after - before, 0u);
      BOOST_CHECK_EQUAL(*consumed, wire.size());
      if (kind != framing_kind::raw)
        BOOST_CHECK_EQUAL(sink.frames, frames.size());
    }
  }
}

// -- options ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(default_options_are_valid) {
  framing_options opts;
  BOOST_CHECK(!validate(opts));
  for (uint8_t n : {1, 2, 4, 8}) {
    opts.length_field_size = n;
    BOOST_CHECK(!validate(opts));
  }
}

BOOST_AUTO_TEST_CASE(validate_rejects_zero_max_frame_size) {
  framing_options opts;
  opts.max_frame_size = 0;
  check_invalid_configuration(validate(opts), "max_frame_size");
}

BOOST_AUTO_TEST_CASE(validate_rejects_length_field_sizes_other_than_1_2_4_8) {
  for (uint8_t n : {0, 3, 5, 7, 16}) {
    BOOST_TEST_CONTEXT("length_field_size " << int{n}) {
      framing_options opts;
      opts.kind = framing_kind::length_prefixed;
      opts.length_field_size = n;
      check_invalid_configuration(validate(opts), "length_field_size");
    }
  }
}

BOOST_AUTO_TEST_CASE(validate_rejects_unknown_kind) {
  framing_options opts;
  opts.kind = static_cast<framing_kind>(9);
  check_invalid_configuration(validate(opts), "kind");
}

BOOST_AUTO_TEST_CASE(parse_framing_kind_accepts_the_three_names) {
  for (auto kind :
       {framing_kind::raw, framing_kind::length_prefixed, framing_kind::line}) {
    auto parsed = parse_framing_kind(to_string(kind));
    BOOST_REQUIRE(parsed);
    BOOST_CHECK(*parsed == kind);
    BOOST_CHECK_EQUAL(make_framer(make_options(kind))->name(), to_string(kind));
  }
}

BOOST_AUTO_TEST_CASE(parse_framing_kind_rejects_unknown_names) {
  for (const char* bad : {"", "lines", "length-prefixed", "RAW ", "json"}) {
    BOOST_TEST_CONTEXT('"' << bad << '"') {
      auto parsed = parse_framing_kind(bad);
      BOOST_REQUIRE(!parsed);
      check_invalid_configuration(parsed.error(), "kind");
    }
  }
}
