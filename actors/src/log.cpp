#include "ghostnet/actors/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <ctime>
#include <memory>
#include <mutex>

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"

namespace ghostnet::log {

const char* to_string(level x) noexcept {
  switch (x) {
    case level::trace: return "trace";
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "invalid";
}

const char* to_string(format x) noexcept {
  switch (x) {
    case format::text: return "text";
    case format::json: return "json";
  }
  return "invalid";
}

namespace {

// -- configuration state ------------------------------------------------------

struct state {
  std::atomic<uint8_t> min_level{static_cast<uint8_t>(level::info)};
  std::atomic<uint8_t> fmt{static_cast<uint8_t>(format::text)};
  std::mutex mtx; // serializes output; guards `out` and `capture`
  std::shared_ptr<spdlog::logger> out; // null until configured or first write
  std::function<void(std::string_view)> capture;
};

// Never destroyed: actor threads may still log during static destruction.
state& global() {
  static auto* instance = new state;
  return *instance;
}

// Our own lock serializes all output, so the sinks need none. spdlog only
// adds the newline ("%v" is the line we formatted) and writes.
std::shared_ptr<spdlog::logger> make_logger(const std::string& file) {
  spdlog::sink_ptr sink;
  if (file.empty())
    sink = std::make_shared<spdlog::sinks::stderr_sink_st>();
  else
    sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(file, false);
  auto result = std::make_shared<spdlog::logger>("ghostnet", std::move(sink));
  result->set_pattern("%v");
  result->set_level(spdlog::level::trace);
  // One write per line: a crash loses no line and `tail -f` sees each at once.
  result->flush_on(spdlog::level::trace);
  return result;
}

spdlog::level::level_enum to_spdlog(level x) noexcept {
  switch (x) {
    case level::trace: return spdlog::level::trace;
    case level::debug: return spdlog::level::debug;
    case level::info: return spdlog::level::info;
    case level::warn: return spdlog::level::warn;
    case level::error: return spdlog::level::err;
    default: return spdlog::level::off;
  }
}

bool iequals(std::string_view x, std::string_view y) noexcept {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i) {
    auto lower = [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(x[i]) != lower(y[i]))
      return false;
  }
  return true;
}

// -- formatting primitives ----------------------------------------------------

// A text token: bare if unambiguous, else quoted with " and \ escaped.
void append_text_string(std::string& out, std::string_view str) {
  bool needs_quotes = str.empty();
  for (char ch : str) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '"' || c == '=' || c < 0x20 || c == 0x7F) {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out += str;
    return;
  }
  out += '"';
  for (char ch : str) {
    auto c = static_cast<unsigned char>(ch);
    if (c == 0x7F)
      ghostnet::detail::append_unicode_escape(out, c);
    else if (!ghostnet::detail::append_common_escape(out, c))
      out += ch;
  }
  out += '"';
}

template <class T>
void append_number(std::string& out, T x) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  out.append(buf, res.ptr);
}

void append_digits(std::string& out, unsigned value, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

// 2026-11-25T10:00:00.123Z
void append_timestamp(std::string& out,
                      std::chrono::system_clock::time_point ts) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(ts).time_since_epoch().count();
  auto secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto millis = static_cast<unsigned>(ms - secs * 1000);
  // Many lines share a second: compute the calendar part once per second.
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char cached[20];
  if (secs != cached_secs) {
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::string tmp;
    tmp.reserve(20);
    append_digits(tmp, static_cast<unsigned>(tm.tm_year + 1900), 4);
    tmp += '-';
    append_digits(tmp, static_cast<unsigned>(tm.tm_mon + 1), 2);
    tmp += '-';
    append_digits(tmp, static_cast<unsigned>(tm.tm_mday), 2);
    tmp += 'T';
    append_digits(tmp, static_cast<unsigned>(tm.tm_hour), 2);
    tmp += ':';
    append_digits(tmp, static_cast<unsigned>(tm.tm_min), 2);
    tmp += ':';
    append_digits(tmp, static_cast<unsigned>(tm.tm_sec), 2);
    tmp.copy(cached, 19);
    cached_secs = secs;
  }
  out.append(cached, 19);
  out += '.';
  append_digits(out, millis, 3);
  out += 'Z';
}

const char* padded_upper_name(level x) noexcept {
  switch (x) {
    case level::trace: return "TRACE";
    case level::debug: return "DEBUG";
    case level::info: return "INFO ";
    case level::warn: return "WARN ";
    case level::error: return "ERROR";
    default: return "OFF  ";
  }
}

// -- values -------------------------------------------------------------------

struct text_value {
  std::string& out;
  void operator()(bool x) { out += x ? "true" : "false"; }
  void operator()(int64_t x) { append_number(out, x); }
  void operator()(uint64_t x) { append_number(out, x); }
  void operator()(double x) { append_number(out, x); }
  void operator()(std::string_view x) { append_text_string(out, x); }
  void operator()(const std::string& x) { append_text_string(out, x); }
  void operator()(field::nanoseconds x) { append_duration(out, caf::timespan{x.count}); }
  void operator()(const caf::error* x) { (*this)(*x); }
  void operator()(const caf::error& x) { append_text_string(out, describe(x)); }
};

struct json_value {
  std::string& out;
  void operator()(bool x) { out += x ? "true" : "false"; }
  void operator()(int64_t x) { append_number(out, x); }
  void operator()(uint64_t x) { append_number(out, x); }
  void operator()(double x) {
    // JSON has no NaN or infinity: write those as strings.
    if (x - x == 0) {
      append_number(out, x);
    } else {
      out += '"';
      append_number(out, x);
      out += '"';
    }
  }
  void operator()(std::string_view x) { append_json_string(out, x); }
  void operator()(const std::string& x) { append_json_string(out, x); }
  void operator()(field::nanoseconds x) {
    out += '"';
    append_duration(out, caf::timespan{x.count});
    out += '"';
  }
  void operator()(const caf::error* x) { (*this)(*x); }
  /// A ghostnet error as an object of its fields, so that a log pipeline
  /// can filter on them: {"code":"timeout","operation":"connect",
  /// "endpoint":"10.0.0.1:80","errno":110,"detail":"..."} (empty fields
  /// left out); another category's error as {"code":"<described>"}; none
  /// as null.
  void operator()(const caf::error& x) {
    if (!x) {
      out += "null";
      return;
    }
    auto code = code_of(x);
    out += "{\"code\":";
    if (!code) {
      append_json_string(out, describe(x));
      out += '}';
      return;
    }
    append_json_string(out, to_string(*code));
    auto ctx = context_of(x);
    auto add = [this](const char* key, const std::string& value) {
      if (value.empty())
        return;
      out += ",\"";
      out += key;
      out += "\":";
      append_json_string(out, value);
    };
    add("operation", ctx.operation);
    add("endpoint", ctx.endpoint);
    if (ctx.os_errno != 0)
      out += ",\"errno\":" + std::to_string(ctx.os_errno);
    add("detail", ctx.detail);
    out += '}';
  }
};

void append_line(std::string& out, format fmt,
                 std::chrono::system_clock::time_point ts, level lvl,
                 std::string_view source, std::string_view event,
                 std::initializer_list<field> fields) {
  if (fmt == format::json) {
    out += "{\"ts\":\"";
    append_timestamp(out, ts);
    out += "\",\"level\":\"";
    out += to_string(lvl);
    out += "\",\"source\":";
    append_json_string(out, source);
    out += ",\"event\":";
    append_json_string(out, event);
    for (auto& f : fields) {
      out += ',';
      append_json_string(out, f.key);
      out += ':';
      std::visit(json_value{out}, f.value);
    }
    out += '}';
  } else {
    append_timestamp(out, ts);
    out += ' ';
    out += padded_upper_name(lvl);
    out += ' ';
    append_text_string(out, source);
    out += ' ';
    append_text_string(out, event);
    for (auto& f : fields) {
      out += ' ';
      out += f.key;
      out += '=';
      std::visit(text_value{out}, f.value);
    }
  }
}

} // namespace

// -- configuration ------------------------------------------------------------

caf::error validate(const options& opts) {
  if (opts.min_level > level::off)
    return make_error(errc::invalid_configuration, "validate log options", {},
                      0,
                      "min_level: "
                        + std::to_string(static_cast<int>(opts.min_level))
                        + " is not a level");
  if (opts.fmt > format::json)
    return make_error(errc::invalid_configuration, "validate log options", {},
                      0,
                      "fmt: " + std::to_string(static_cast<int>(opts.fmt))
                        + " is not a format");
  if (!opts.file.empty()) {
    // Checked here, with the other options, so that a typo is a
    // configuration error before anything starts; and the directory must
    // exist (spdlog would create any path it is given).
    auto bad = [&](const std::string& why) {
      return make_error(errc::invalid_configuration, "validate log options", {}, 0,
                        "file: \"" + opts.file + "\" " + why);
    };
    auto slash = opts.file.find_last_of('/');
    auto dir = slash == std::string::npos ? std::string{"."}
               : slash == 0               ? std::string{"/"}
                                          : opts.file.substr(0, slash);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return bad("is in a directory that does not exist (" + dir + ")");
    if (::stat(opts.file.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode))
        return bad("is a directory");
      if (::access(opts.file.c_str(), W_OK) != 0)
        return bad("is not writable");
    } else if (::access(dir.c_str(), W_OK) != 0) {
      return bad("cannot be created (" + dir + " is not writable)");
    }
  }
  return caf::none;
}

caf::expected<level> parse_level(std::string_view str) {
  for (auto x : {level::trace, level::debug, level::info, level::warn,
                 level::error, level::off})
    if (iequals(str, to_string(x)))
      return x;
  return make_error(errc::invalid_configuration, "parse log level", {}, 0,
                    "min_level: unknown level \"" + std::string{str}
                      + "\" (expected trace, debug, info, warn, error or off)");
}

caf::expected<format> parse_format(std::string_view str) {
  for (auto x : {format::text, format::json})
    if (iequals(str, to_string(x)))
      return x;
  return make_error(errc::invalid_configuration, "parse log format", {}, 0,
                    "fmt: unknown format \"" + std::string{str}
                      + "\" (expected text or json)");
}

caf::error configure(const options& opts) {
  if (auto err = validate(opts))
    return err;
  std::shared_ptr<spdlog::logger> fresh;
  try {
    fresh = make_logger(opts.file);
  } catch (const std::exception& ex) {
    return make_error(errc::invalid_configuration, "configure log", {}, 0,
                      "file: cannot open \"" + opts.file + "\": " + ex.what());
  }
  auto& s = global();
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    fresh.swap(s.out);
    s.fmt = static_cast<uint8_t>(opts.fmt);
    s.min_level = static_cast<uint8_t>(opts.min_level);
  }
  // `fresh` now holds the previous logger: closing its file outside the lock.
  return caf::none;
}

level min_level() noexcept {
  return static_cast<level>(global().min_level.load(std::memory_order_relaxed));
}

void set_min_level(level lvl) noexcept {
  global().min_level.store(static_cast<uint8_t>(lvl), std::memory_order_relaxed);
}

bool enabled(level lvl) noexcept {
  return lvl < level::off
         && static_cast<uint8_t>(lvl)
              >= global().min_level.load(std::memory_order_relaxed);
}

void set_capture(std::function<void(std::string_view line)> fn) {
  auto& s = global();
  std::lock_guard<std::mutex> guard{s.mtx};
  s.capture.swap(fn);
}

// -- output -------------------------------------------------------------------

std::string format_line(format fmt, std::chrono::system_clock::time_point ts,
                        level lvl, std::string_view source,
                        std::string_view event,
                        std::initializer_list<field> fields) {
  std::string result;
  append_line(result, fmt, ts, lvl, source, event, fields);
  return result;
}

void write(level lvl, std::string_view source, std::string_view event,
           std::initializer_list<field> fields) noexcept {
  if (!enabled(lvl))
    return;
  try {
    auto& s = global();
    // Formatted outside the lock, into a buffer each thread reuses.
    thread_local std::string line;
    line.clear();
    auto fmt = static_cast<format>(s.fmt.load(std::memory_order_relaxed));
    append_line(line, fmt, std::chrono::system_clock::now(), lvl, source,
                event, fields);
    {
      std::lock_guard<std::mutex> guard{s.mtx};
      if (!s.out)
        s.out = make_logger({});
      s.out->log(to_spdlog(lvl),
                 spdlog::string_view_t{line.data(), line.size()});
      if (s.capture)
        s.capture(line);
    }
    // Keep the memory of one odd huge event from staying with the thread.
    if (line.capacity() > 64 * 1024)
      std::string{}.swap(line);
  } catch (...) {
    // A log line is never worth failing the caller for.
  }
}

} // namespace ghostnet::log
