// Structured logging: line formats, escaping, filtering, sinks, threads.

#include "ghostnet/actors/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <cerrno>

#include "ghostnet/actors/error.hpp"

// Counts allocations of the calling thread, to show disabled events make none.
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

using namespace std::chrono_literals;
using namespace ghostnet;

namespace {

// 2026-11-25T10:00:00.123Z
const auto fixed_ts
  = std::chrono::system_clock::time_point{std::chrono::milliseconds{1795600800123}};

constexpr size_t ts_size = 24;

// Where the fields start in a text line of level info, source "s", event "e".
constexpr size_t fields_pos = ts_size + 11;

std::string text_line(log::level lvl, std::string_view source,
                      std::string_view event,
                      std::initializer_list<log::field> fields = {}) {
  return log::format_line(log::format::text, fixed_ts, lvl, source, event,
                          fields);
}

std::string json_line(log::level lvl, std::string_view source,
                      std::string_view event,
                      std::initializer_list<log::field> fields = {}) {
  return log::format_line(log::format::json, fixed_ts, lvl, source, event,
                          fields);
}

// A path in the temp directory, removed when the test ends.
struct temp_file {
  explicit temp_file(const std::string& name)
    : path((std::filesystem::temp_directory_path()
            / ("ghostnet-log-test-" + std::to_string(getpid()) + "-" + name))
             .string()) {
    std::filesystem::remove(path);
  }

  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }

  std::vector<std::string> lines() const {
    std::ifstream in{path};
    std::vector<std::string> result;
    for (std::string line; std::getline(in, line);)
      result.push_back(line);
    return result;
  }

  std::string path;
};

// Configures logging into a temp file plus a capture; restores the defaults.
struct log_session {
  explicit log_session(log::options opts, const std::string& name = "session")
    : file(name + ".log") {
    opts.file = file.path;
    auto err = log::configure(opts);
    BOOST_REQUIRE_MESSAGE(!err, describe(err));
    log::set_capture([this](std::string_view line) { lines.emplace_back(line); });
  }

  ~log_session() {
    log::set_capture(nullptr);
    (void) log::configure(log::options{});
  }

  temp_file file;
  std::vector<std::string> lines;
};

log::options with_level(log::level lvl, log::format fmt = log::format::text) {
  log::options opts;
  opts.min_level = lvl;
  opts.fmt = fmt;
  return opts;
}

// -- a tiny JSON reader: flat objects of strings, numbers and booleans --------

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::optional<std::string> read_json_string(std::string_view in, size_t& pos) {
  if (pos >= in.size() || in[pos] != '"')
    return std::nullopt;
  std::string result;
  for (++pos; pos < in.size(); ++pos) {
    auto c = in[pos];
    if (c == '"') {
      ++pos;
      return result;
    }
    if (static_cast<unsigned char>(c) < 0x20)
      return std::nullopt; // raw control characters are invalid JSON
    if (c != '\\') {
      result += c;
      continue;
    }
    if (++pos >= in.size())
      return std::nullopt;
    switch (in[pos]) {
      case '"': result += '"'; break;
      case '\\': result += '\\'; break;
      case '/': result += '/'; break;
      case 'b': result += '\b'; break;
      case 'f': result += '\f'; break;
      case 'n': result += '\n'; break;
      case 'r': result += '\r'; break;
      case 't': result += '\t'; break;
      case 'u': {
        if (pos + 4 >= in.size())
          return std::nullopt;
        auto cp = std::stoul(std::string{in.substr(pos + 1, 4)}, nullptr, 16);
        append_utf8(result, static_cast<uint32_t>(cp));
        pos += 4;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

using json_object = std::vector<std::pair<std::string, std::string>>;

// Strings come back unescaped, other values verbatim.
std::optional<json_object> read_json_object(std::string_view in) {
  json_object result;
  size_t pos = 0;
  if (in.empty() || in[pos++] != '{')
    return std::nullopt;
  while (pos < in.size()) {
    auto key = read_json_string(in, pos);
    if (!key || pos >= in.size() || in[pos++] != ':')
      return std::nullopt;
    std::string value;
    if (pos < in.size() && in[pos] == '"') {
      auto str = read_json_string(in, pos);
      if (!str)
        return std::nullopt;
      value = std::move(*str);
    } else {
      auto end = in.find_first_of(",}", pos);
      if (end == std::string_view::npos || end == pos)
        return std::nullopt;
      value = std::string{in.substr(pos, end - pos)};
      pos = end;
    }
    result.emplace_back(std::move(*key), std::move(value));
    if (pos >= in.size())
      return std::nullopt;
    if (in[pos] == '}')
      return pos + 1 == in.size() ? std::optional<json_object>{result}
                                  : std::nullopt;
    if (in[pos++] != ',')
      return std::nullopt;
  }
  return std::nullopt;
}

} // namespace

// -- text format --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(text_line_has_timestamp_level_source_event_and_fields) {
  BOOST_CHECK_EQUAL(text_line(log::level::info, "supervisor:root",
                              "child_restarted",
                              {{"id", "echo"}, {"restarts", 2}}),
                    "2026-11-25T10:00:00.123Z INFO  supervisor:root "
                    "child_restarted id=echo restarts=2");
  BOOST_CHECK_EQUAL(text_line(log::level::warn, "node", "started"),
                    "2026-11-25T10:00:00.123Z WARN  node started");
}

BOOST_AUTO_TEST_CASE(text_level_names_are_upper_case_and_aligned) {
  BOOST_CHECK_EQUAL(text_line(log::level::trace, "s", "e").substr(ts_size),
                    " TRACE s e");
  BOOST_CHECK_EQUAL(text_line(log::level::debug, "s", "e").substr(ts_size),
                    " DEBUG s e");
  BOOST_CHECK_EQUAL(text_line(log::level::info, "s", "e").substr(ts_size),
                    " INFO  s e");
  BOOST_CHECK_EQUAL(text_line(log::level::warn, "s", "e").substr(ts_size),
                    " WARN  s e");
  BOOST_CHECK_EQUAL(text_line(log::level::error, "s", "e").substr(ts_size),
                    " ERROR s e");
}

BOOST_AUTO_TEST_CASE(text_values_with_spaces_quotes_or_equals_are_quoted) {
  auto line = text_line(log::level::info, "s", "e",
                        {{"a", "x y"},
                         {"b", R"(say "hi")"},
                         {"c", "k=v"},
                         {"d", ""},
                         {"e", R"(C:\dir)"},
                         {"f", R"(a "b\c")"},
                         {"g", "two\nlines\tand\r\x01"}});
  BOOST_CHECK_EQUAL(line.substr(fields_pos),
                    R"(a="x y" b="say \"hi\"" c="k=v" d="" e=C:\dir )"
                    R"(f="a \"b\\c\"" g="two\nlines\tand\r\u0001")");
}

BOOST_AUTO_TEST_CASE(text_source_and_event_stay_one_token) {
  BOOST_CHECK_EQUAL(text_line(log::level::info, "conn 7", "a\nb").substr(ts_size),
                    R"( INFO  "conn 7" "a\nb")");
}

BOOST_AUTO_TEST_CASE(numbers_booleans_and_durations_are_rendered_plainly) {
  auto line = text_line(log::level::info, "s", "e",
                        {{"neg", -42},
                         {"big", std::numeric_limits<uint64_t>::max()},
                         {"small", uint8_t{7}},
                         {"ratio", 0.5},
                         {"ok", true},
                         {"no", false},
                         {"ch", 'x'},
                         {"ms", 250ms},
                         {"s", 5s},
                         {"min", 2min},
                         {"us", 1500us},
                         {"ns", 3ns},
                         {"zero", 0ms},
                         {"fractional", std::chrono::duration<double>{0.25}}});
  BOOST_CHECK_EQUAL(line.substr(fields_pos),
                    "neg=-42 big=18446744073709551615 small=7 ratio=0.5 ok=true "
                    "no=false ch=x ms=250ms s=5s min=2min us=1500us ns=3ns "
                    "zero=0s fractional=250ms");
}

BOOST_AUTO_TEST_CASE(error_fields_are_described) {
  auto err = make_error(errc::timeout, "connect", "10.0.0.1:80");
  auto line = text_line(log::level::warn, "supervisor:root", "child_restarted",
                        {log::kv("id", "echo"), log::kv("reason", err),
                         log::kv("moved", make_error(errc::backpressure)),
                         log::kv("none", caf::error{})});
  BOOST_CHECK_EQUAL(line.substr(ts_size),
                    R"( WARN  supervisor:root child_restarted id=echo )"
                    R"(reason="timeout(operation=\"connect\", )"
                    R"x(endpoint=\"10.0.0.1:80\")" moved=backpressure none=none)x");
}

BOOST_AUTO_TEST_CASE(string_fields_may_be_views_or_owned) {
  std::string lvalue = "kept by the caller";
  std::string_view view = "a view";
  const char* null = nullptr;
  auto line = text_line(log::level::info, "s", "e",
                        {{"lvalue", lvalue},
                         {"view", view},
                         {"owned", std::string{"moved in"}},
                         {"null", null}});
  BOOST_CHECK_EQUAL(line.substr(fields_pos),
                    R"(lvalue="kept by the caller" view="a view" )"
                    R"(owned="moved in" null="")");
}

// -- JSON format --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(json_line_has_typed_fields) {
  BOOST_CHECK_EQUAL(json_line(log::level::info, "supervisor:root",
                              "child_restarted",
                              {{"id", "echo"},
                               {"restarts", 2},
                               {"ok", true},
                               {"ratio", 0.5},
                               {"after", 250ms}}),
                    R"({"ts":"2026-11-25T10:00:00.123Z","level":"info",)"
                    R"("source":"supervisor:root","event":"child_restarted",)"
                    R"("id":"echo","restarts":2,"ok":true,"ratio":0.5,)"
                    R"("after":"250ms"})");
}

BOOST_AUTO_TEST_CASE(json_level_names_are_lower_case) {
  for (auto lvl : {log::level::trace, log::level::debug, log::level::info,
                   log::level::warn, log::level::error}) {
    auto obj = read_json_object(json_line(lvl, "s", "e"));
    BOOST_REQUIRE(obj);
    BOOST_REQUIRE_EQUAL(obj->size(), 4u);
    BOOST_CHECK_EQUAL((*obj)[1].second, log::to_string(lvl));
  }
}

BOOST_AUTO_TEST_CASE(json_strings_escape_quotes_backslashes_and_controls) {
  auto line = json_line(log::level::info, "s", "e",
                        {{"v", "a\"b\\c\n\t\x01\x1f/"}});
  BOOST_CHECK_EQUAL(line.substr(line.find(",\"event\"")),
                    R"(,"event":"e","v":"a\"b\\c\n\t\u0001\u001f/"})");
}

BOOST_AUTO_TEST_CASE(json_strings_round_trip_every_ascii_byte_and_utf8) {
  std::string all;
  for (int c = 1; c < 128; ++c)
    all += static_cast<char>(c);
  all += "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"; // é € 😀
  auto line = json_line(log::level::info, "src \"x\"", "e\n", {{"all", all}});
  auto obj = read_json_object(line);
  BOOST_REQUIRE_MESSAGE(obj, "not JSON: " << line);
  BOOST_REQUIRE_EQUAL(obj->size(), 5u);
  BOOST_CHECK_EQUAL((*obj)[2].second, "src \"x\"");
  BOOST_CHECK_EQUAL((*obj)[3].second, "e\n");
  BOOST_CHECK_EQUAL((*obj)[4].first, "all");
  BOOST_CHECK((*obj)[4].second == all);
}

BOOST_AUTO_TEST_CASE(json_replaces_invalid_utf8_with_replacement_character) {
  auto line = json_line(log::level::info, "s", "e",
                        {{"v", "a\xFF" "b\xC3" "\xC0\xAF" "\xED\xA0\x80"}});
  auto obj = read_json_object(line);
  BOOST_REQUIRE(obj);
  BOOST_CHECK_EQUAL((*obj)[4].second, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD"
                                      "\xEF\xBF\xBD\xEF\xBF\xBD"
                                      "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_CASE(json_non_finite_numbers_are_strings) {
  auto line = json_line(log::level::info, "s", "e",
                        {{"nan", std::numeric_limits<double>::quiet_NaN()},
                         {"inf", std::numeric_limits<double>::infinity()}});
  BOOST_CHECK_EQUAL(line.substr(line.find(",\"nan\"")),
                    R"(,"nan":"nan","inf":"inf"})");
}

BOOST_AUTO_TEST_CASE(json_error_fields_are_objects_of_their_fields) {
  auto err = make_error(errc::protocol_error, "decode frame", {}, 0, "x \"y\"");
  auto line = json_line(log::level::error, "conn", "closed", {{"reason", err}});
  BOOST_CHECK_EQUAL(line.substr(line.find(",\"reason\"")),
                    R"(,"reason":{"code":"protocol_error","operation":"decode frame",)"
                    R"("detail":"x \"y\""}})");
  auto os = make_os_error(ECONNREFUSED, "connect", "10.0.0.1:80");
  auto refused = json_line(log::level::warn, "conn", "failed", {{"reason", os}});
  BOOST_CHECK_MESSAGE(refused.find(R"("reason":{"code":"connection_refused","operation":"connect",)"
                                   R"("endpoint":"10.0.0.1:80","errno":111)")
                        != std::string::npos,
                      refused);
  auto none = json_line(log::level::info, "conn", "closed", {{"reason", caf::error{}}});
  BOOST_CHECK(none.find(R"("reason":null)") != std::string::npos);
}

// -- options ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(parse_level_accepts_every_name_in_any_case) {
  for (auto lvl : {log::level::trace, log::level::debug, log::level::info,
                   log::level::warn, log::level::error, log::level::off}) {
    std::string upper = log::to_string(lvl);
    for (auto& c : upper)
      c = static_cast<char>(c - 'a' + 'A');
    for (const auto& name : {std::string{log::to_string(lvl)}, upper}) {
      auto parsed = log::parse_level(name);
      BOOST_REQUIRE(parsed);
      BOOST_CHECK(*parsed == lvl);
    }
  }
}

BOOST_AUTO_TEST_CASE(parse_level_rejects_unknown_names) {
  for (const char* bad : {"", "verbose", "warning", "info ", "inf"}) {
    auto parsed = log::parse_level(bad);
    BOOST_REQUIRE(!parsed);
    BOOST_CHECK(is(parsed.error(), errc::invalid_configuration));
  }
}

BOOST_AUTO_TEST_CASE(parse_format_accepts_text_and_json_only) {
  auto text = log::parse_format("text");
  BOOST_REQUIRE(text);
  BOOST_CHECK(*text == log::format::text);
  auto json = log::parse_format("JSON");
  BOOST_REQUIRE(json);
  BOOST_CHECK(*json == log::format::json);
  for (const char* bad : {"", "logfmt", "jsonl"}) {
    auto parsed = log::parse_format(bad);
    BOOST_REQUIRE(!parsed);
    BOOST_CHECK(is(parsed.error(), errc::invalid_configuration));
  }
}

BOOST_AUTO_TEST_CASE(validate_names_the_bad_option) {
  BOOST_CHECK(!log::validate(log::options{}));
  log::options opts;
  opts.min_level = static_cast<log::level>(42);
  auto err = log::validate(opts);
  BOOST_REQUIRE(is(err, errc::invalid_configuration));
  BOOST_CHECK(context_of(err).detail.find("min_level") != std::string::npos);
  opts = log::options{};
  opts.fmt = static_cast<log::format>(7);
  err = log::validate(opts);
  BOOST_REQUIRE(is(err, errc::invalid_configuration));
  BOOST_CHECK(context_of(err).detail.find("fmt") != std::string::npos);
}

// -- output -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(events_below_min_level_are_dropped) {
  log_session session{with_level(log::level::warn), "levels"};
  BOOST_CHECK(!log::enabled(log::level::debug));
  BOOST_CHECK(!log::enabled(log::level::info));
  BOOST_CHECK(log::enabled(log::level::warn));
  BOOST_CHECK(log::enabled(log::level::error));
  BOOST_CHECK(!log::enabled(log::level::off));
  log::trace("s", "dropped");
  log::debug("s", "dropped");
  log::info("s", "dropped");
  log::warn("s", "kept", {{"n", 1}});
  log::error("s", "kept", {{"n", 2}});
  log::write(log::level::off, "s", "dropped");
  BOOST_REQUIRE_EQUAL(session.lines.size(), 2u);
  BOOST_CHECK_EQUAL(session.lines[0].substr(ts_size), " WARN  s kept n=1");
  BOOST_CHECK_EQUAL(session.lines[1].substr(ts_size), " ERROR s kept n=2");
}

BOOST_AUTO_TEST_CASE(min_level_off_drops_everything) {
  log_session session{with_level(log::level::off), "off"};
  BOOST_CHECK(!log::enabled(log::level::error));
  log::error("s", "dropped");
  BOOST_CHECK(session.lines.empty());
}

BOOST_AUTO_TEST_CASE(min_level_trace_keeps_everything) {
  log_session session{with_level(log::level::trace), "trace"};
  log::trace("s", "a");
  log::debug("s", "b");
  log::info("s", "c");
  BOOST_CHECK_EQUAL(session.lines.size(), 3u);
}

BOOST_AUTO_TEST_CASE(written_lines_carry_the_current_utc_time) {
  log_session session{with_level(log::level::info), "time"};
  auto before = std::chrono::floor<std::chrono::milliseconds>(
    std::chrono::system_clock::now());
  log::info("s", "now");
  auto after = std::chrono::system_clock::now();
  BOOST_REQUIRE_EQUAL(session.lines.size(), 1u);
  auto ts = session.lines[0].substr(0, ts_size);
  BOOST_CHECK_EQUAL(session.lines[0].size(),
                    text_line(log::level::info, "s", "now").size());
  // The stamp lies between two stamps rendered around the call.
  auto render = [](std::chrono::system_clock::time_point tp) {
    return log::format_line(log::format::text, tp, log::level::info, "s", "e")
      .substr(0, ts_size);
  };
  BOOST_CHECK_LE(render(before), ts);
  BOOST_CHECK_LE(ts, render(after));
}

BOOST_AUTO_TEST_CASE(configured_file_receives_every_line) {
  log_session session{with_level(log::level::info, log::format::json), "file"};
  log::info("s", "one", {{"n", 1}});
  log::warn("s", "two", {{"text", "with \"quotes\"\nand a newline"}});
  BOOST_REQUIRE_EQUAL(session.lines.size(), 2u);
  BOOST_CHECK(session.file.lines() == session.lines);
  for (auto& line : session.lines)
    BOOST_CHECK_MESSAGE(read_json_object(line), "not JSON: " << line);
}

BOOST_AUTO_TEST_CASE(configure_replaces_the_sink) {
  log_session session{with_level(log::level::info), "first"};
  log::info("s", "to_first");
  temp_file second{"second.log"};
  log::options opts = with_level(log::level::debug, log::format::json);
  opts.file = second.path;
  BOOST_REQUIRE(!log::configure(opts));
  log::debug("s", "to_second");
  auto first_lines = session.file.lines();
  BOOST_REQUIRE_EQUAL(first_lines.size(), 1u);
  BOOST_CHECK(first_lines[0].find("to_first") != std::string::npos);
  auto second_lines = second.lines();
  BOOST_REQUIRE_EQUAL(second_lines.size(), 1u);
  BOOST_CHECK(read_json_object(second_lines[0]));
  BOOST_CHECK(second_lines[0].find("to_second") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unopenable_file_is_invalid_configuration_and_keeps_sink) {
  log_session session{with_level(log::level::info), "keep"};
  log::options opts = with_level(log::level::trace);
  opts.file = "/dev/null/ghostnet.log"; // a path below a non-directory
  auto err = log::configure(opts);
  BOOST_REQUIRE(is(err, errc::invalid_configuration));
  BOOST_CHECK(context_of(err).detail.find("file") != std::string::npos);
  BOOST_CHECK(!log::enabled(log::level::debug)); // still the old level
  log::info("s", "still_here");
  BOOST_CHECK_EQUAL(session.file.lines().size(), 1u);
}

BOOST_AUTO_TEST_CASE(invalid_options_are_rejected_by_configure) {
  log_session session{with_level(log::level::info), "invalid"};
  log::options opts;
  opts.min_level = static_cast<log::level>(42);
  BOOST_CHECK(is(log::configure(opts), errc::invalid_configuration));
  BOOST_CHECK(log::enabled(log::level::info));
  BOOST_CHECK(!log::enabled(log::level::debug));
}

BOOST_AUTO_TEST_CASE(disabled_events_do_not_allocate) {
  log_session session{with_level(log::level::error), "alloc"};
  std::string long_string(100, 'x');
  auto err = make_error(errc::timeout, "connect", "10.0.0.1:80");
  auto before = allocations;
  log::info("supervisor:root", "child_restarted",
            {{"literal", "echo"},
             {"n", 42},
             {"u", 7u},
             {"ratio", 0.5},
             {"ok", true},
             {"after", 250ms},
             {"err", err},
             {"string", long_string},
             log::kv("view", std::string_view{long_string})});
  log::debug("s", "e", {{"x", 1}});
  log::trace("s", "e");
  log::write(log::level::warn, "s", "e", {{"err", err}});
  auto after = allocations;
  BOOST_CHECK_EQUAL(after - before, 0u);
  BOOST_CHECK(session.lines.empty());
}

BOOST_AUTO_TEST_CASE(concurrent_logging_yields_whole_lines_only) {
  constexpr int threads = 4;
  constexpr int per_thread = 2000;
  for (auto fmt : {log::format::text, log::format::json}) {
    BOOST_TEST_CONTEXT(log::to_string(fmt)) {
      log_session session{with_level(log::level::info, fmt),
                          std::string{"threads-"} + log::to_string(fmt)};
      const std::string pad(300, '#');
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t)
        workers.emplace_back([t, &pad] {
          auto source = "worker:" + std::to_string(t);
          for (int i = 0; i < per_thread; ++i)
            log::info(source, "tick",
                      {{"i", i}, {"pad", pad}, {"text", "a \"b\" c"}});
        });
      for (auto& w : workers)
        w.join();
      BOOST_REQUIRE_EQUAL(session.lines.size(), size_t{threads * per_thread});
      // Each line must equal the line rendered alone (timestamp aside), and
      // each thread's lines must appear in order.
      auto ts_pos = fmt == log::format::json ? size_t{7} : size_t{0};
      std::vector<int> next(threads, 0);
      bool all_whole = true;
      for (auto line : session.lines) {
        auto src = line.find("worker:");
        if (src == std::string::npos || ts_pos + ts_size > line.size()) {
          all_whole = false;
          break;
        }
        auto t = line[src + 7] - '0';
        if (t < 0 || t >= threads) {
          all_whole = false;
          break;
        }
        auto expected = log::format_line(
          fmt, fixed_ts, log::level::info, "worker:" + std::to_string(t),
          "tick", {{"i", next[t]}, {"pad", pad}, {"text", "a \"b\" c"}});
        line.replace(ts_pos, ts_size, expected, ts_pos, ts_size);
        if (line != expected) {
          all_whole = false;
          break;
        }
        ++next[t];
      }
      BOOST_CHECK(all_whole);
      BOOST_CHECK(session.file.lines() == session.lines);
    }
  }
}

BOOST_AUTO_TEST_CASE(configure_while_logging_loses_no_line) {
  constexpr int threads = 3;
  constexpr int per_thread = 2000;
  log_session session{with_level(log::level::info), "reconfigure"};
  temp_file other{"reconfigure-other.log"};
  std::atomic<bool> done{false};
  std::atomic<int> failed_configures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([] {
      for (int i = 0; i < per_thread; ++i)
        log::info("worker", "tick", {{"i", i}});
    });
  // Swap sink and format back and forth while the workers log.
  std::thread switcher{[&] {
    for (int round = 0; !done; ++round) {
      auto opts = with_level(log::level::info, round % 2 == 0
                                                 ? log::format::json
                                                 : log::format::text);
      opts.file = round % 2 == 0 ? other.path : session.file.path;
      if (log::configure(opts))
        ++failed_configures; // Boost.Test checks are for the main thread only
    }
  }};
  for (auto& w : workers)
    w.join();
  done = true;
  switcher.join();
  BOOST_CHECK_EQUAL(failed_configures, 0);
  BOOST_CHECK_EQUAL(session.lines.size(), size_t{threads * per_thread});
  auto in_files = session.file.lines().size() + other.lines().size();
  BOOST_CHECK_EQUAL(in_files, size_t{threads * per_thread});
  for (auto& line : session.lines) {
    auto whole = line.find("\"tick\"") != std::string::npos
                   ? read_json_object(line).has_value()
                   : line.find(" INFO  worker tick i=") == ts_size;
    if (!whole) {
      BOOST_ERROR("broken line: " << line);
      break;
    }
  }
}
