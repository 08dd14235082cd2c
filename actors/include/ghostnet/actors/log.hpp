#pragma once

// Structured logging: one line per event, either
//   2026-11-25T10:00:00.123Z INFO  supervisor:root child_restarted id=echo restarts=2
// or the same event as a JSON object on one line. A source names the actor or
// component, an event is a fixed snake_case name, and everything variable goes
// into key=value fields, so that logs can be grepped and parsed.
//
// Thread safety: every function may be called from any thread at any time.
// Lines are written whole; lines from different threads never interleave.
// Cost: an event below the configured level is dropped after one atomic load,
// and building its fields allocates nothing (fields view their arguments).

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace ghostnet::log {

/// Severity of an event. `off` as a minimum level disables logging.
enum class level : uint8_t { trace, debug, info, warn, error, off };

/// Line format.
enum class format : uint8_t { text, json };

/// Returns "trace", "debug", "info", "warn", "error" or "off".
[[nodiscard]] const char* to_string(level x) noexcept;

/// Returns "text" or "json".
[[nodiscard]] const char* to_string(format x) noexcept;

/// Where and how events are written.
struct options {
  level min_level = level::info; ///< events below are dropped; default info
  format fmt = format::text;     ///< line format; default text (key=value)
  std::string file;              ///< path appended to; empty (default): stderr
};

/// Checks `opts`; returns errc::invalid_configuration naming the bad option.
[[nodiscard]] caf::error validate(const options& opts);

/// Parses "trace", "debug", "info", "warn", "error" or "off" in any case;
/// anything else is errc::invalid_configuration.
[[nodiscard]] caf::expected<level> parse_level(std::string_view str);

/// Parses "text" or "json" in any case; anything else is
/// errc::invalid_configuration.
[[nodiscard]] caf::expected<format> parse_format(std::string_view str);

/// Validates `opts`, opens the sink (the file, or stderr) and replaces the
/// current one. Until the first call, events of level info and above go to
/// stderr as text. On error, the previous configuration stays in effect.
[[nodiscard]] caf::error configure(const options& opts);

/// True if events of level `lvl` are written.
[[nodiscard]] bool enabled(level lvl) noexcept;

/// The minimum level in effect.
[[nodiscard]] level min_level() noexcept;

/// Changes the minimum level at run time (the admin API, the dashboard);
/// the sink and format stay.
void set_min_level(level lvl) noexcept;

namespace detail {

template <class>
constexpr bool is_duration = false;

template <class Rep, class Period>
constexpr bool is_duration<std::chrono::duration<Rep, Period>> = true;

template <class>
constexpr bool unsupported = false;

} // namespace detail

/// One key=value pair of an event.
///
/// A field views what it was built from (string literals, lvalue strings,
/// lvalue errors) and owns only what it was moved (rvalue strings and errors):
/// build fields inside the logging call, as in
/// `log::info("pool:db", "lease_timed_out", {{"waited", 250ms}, {"err", e}})`,
/// and never keep them beyond it.
///
/// Accepted values: bool, integers, floating point numbers, std::chrono
/// durations (written as e.g. "250ms"), strings (char*, std::string,
/// std::string_view, char) and caf::error (written with ghostnet::describe).
struct field {
  /// A duration in nanoseconds, kept apart from integers for its unit suffix.
  struct nanoseconds {
    int64_t count;
  };

  using value_type
    = std::variant<bool, int64_t, uint64_t, double, std::string_view,
                   std::string, nanoseconds, const caf::error*, caf::error>;

  template <class T>
  field(std::string_view k, T&& x)
    : key(k), value(make_value(std::forward<T>(x))) {
    // nop
  }

  std::string_view key; ///< an identifier: no spaces, quotes or '='
  value_type value;

private:
  template <class T>
  static value_type make_value(T&& x) {
    using U = std::decay_t<T>;
    if constexpr (std::is_same_v<U, bool>) {
      return value_type{std::in_place_type<bool>, x};
    } else if constexpr (std::is_same_v<U, char>) {
      return value_type{std::in_place_type<std::string>, size_t{1}, x};
    } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
      return value_type{std::in_place_type<int64_t>, x};
    } else if constexpr (std::is_integral_v<U>) {
      return value_type{std::in_place_type<uint64_t>, x};
    } else if constexpr (std::is_floating_point_v<U>) {
      return value_type{std::in_place_type<double>, x};
    } else if constexpr (detail::is_duration<U>) {
      using std::chrono::duration_cast;
      auto ns = duration_cast<std::chrono::nanoseconds>(x).count();
      return value_type{std::in_place_type<nanoseconds>,
                        nanoseconds{static_cast<int64_t>(ns)}};
    } else if constexpr (std::is_same_v<U, caf::error>) {
      if constexpr (std::is_lvalue_reference_v<T>)
        return value_type{std::in_place_type<const caf::error*>, &x};
      else
        return value_type{std::in_place_type<caf::error>, std::move(x)};
    } else if constexpr (std::is_same_v<U, std::string>
                         && !std::is_lvalue_reference_v<T>) {
      // Moving a string never allocates; viewing a temporary would dangle
      // if the field outlived the call.
      return value_type{std::in_place_type<std::string>, std::move(x)};
    } else if constexpr (std::is_array_v<std::remove_reference_t<T>>) {
      return value_type{std::in_place_type<std::string_view>,
                        std::string_view{x}};
    } else if constexpr (std::is_same_v<U, const char*>
                         || std::is_same_v<U, char*>) {
      return value_type{std::in_place_type<std::string_view>,
                        x != nullptr ? std::string_view{x}
                                     : std::string_view{}};
    } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
      return value_type{std::in_place_type<std::string_view>,
                        std::string_view{x}};
    } else {
      static_assert(detail::unsupported<U>,
                    "log::field: unsupported value type, pass a string");
    }
  }
};

/// Builds a field: `kv("port", 80)`, `kv("err", err)`, `kv("after", 5s)`.
template <class T>
[[nodiscard]] field kv(std::string_view key, T&& value) {
  return field{key, std::forward<T>(value)};
}

/// Writes one event if `lvl` is enabled. `source` is the actor or component
/// (e.g. "supervisor:root"), `event` a snake_case name. Never throws: an event
/// that cannot be written is dropped.
void write(level lvl, std::string_view source, std::string_view event,
           std::initializer_list<field> fields = {}) noexcept;

inline void trace(std::string_view source, std::string_view event,
                  std::initializer_list<field> fields = {}) noexcept {
  write(level::trace, source, event, fields);
}

inline void debug(std::string_view source, std::string_view event,
                  std::initializer_list<field> fields = {}) noexcept {
  write(level::debug, source, event, fields);
}

inline void info(std::string_view source, std::string_view event,
                 std::initializer_list<field> fields = {}) noexcept {
  write(level::info, source, event, fields);
}

inline void warn(std::string_view source, std::string_view event,
                 std::initializer_list<field> fields = {}) noexcept {
  write(level::warn, source, event, fields);
}

inline void error(std::string_view source, std::string_view event,
                  std::initializer_list<field> fields = {}) noexcept {
  write(level::error, source, event, fields);
}

/// Renders one event as `write` would, without the newline. Pure: the
/// timestamp is a parameter, so tests compare exact strings.
[[nodiscard]] std::string
format_line(format fmt, std::chrono::system_clock::time_point ts, level lvl,
            std::string_view source, std::string_view event,
            std::initializer_list<field> fields = {});

/// Sends every written line (without its newline) to `fn` as well as to the
/// sink; nullptr removes it. Calls are serialized with all other output, so
/// `fn` needs no lock of its own; it must not log. Meant for tests.
void set_capture(std::function<void(std::string_view line)> fn);

} // namespace ghostnet::log
