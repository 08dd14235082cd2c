#pragma once

// A circuit breaker for one endpoint, sans-IO: no clock, no actor. Time is a
// parameter, so every transition is tested with made-up time points.
//
//            N consecutive failures              cool-down passed and a
//   closed ───────────────────────────▶ open ──────────────────────────▶ half_open
//     ▲                                  ▲      connect is attempted        │
//     │           probe failed           └──────────────────────────────────┤
//     └─────────────────────────────────────────────────────────────────────┘
//                                    probe succeeded
//
// Only connect attempts are gated; established connections are not.
// Not thread-safe: one breaker belongs to one pool actor.

#include <chrono>
#include <cstdint>

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace ghostnet::pool {

enum class breaker_state : uint8_t {
  closed,    ///< connects go through
  open,      ///< connects are refused until the cool-down passed
  half_open, ///< one probe connect is under way; others are refused
};

[[nodiscard]] const char* to_string(breaker_state x) noexcept;

struct breaker_options {
  /// Consecutive failed connects that open the breaker; default 5, >= 1.
  int32_t failure_threshold = 5;
  /// How long it stays open before one probe is let through; default 5 s.
  caf::timespan cooldown = std::chrono::seconds(5);
};

class circuit_breaker {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit circuit_breaker(breaker_options opts = {}) noexcept;

  [[nodiscard]] breaker_state state() const noexcept {
    return state_;
  }

  /// True if a connect may start at `now`: closed, or open with the
  /// cool-down passed (that connect becomes the half-open probe).
  [[nodiscard]] bool allows(time_point now) const noexcept;

  /// Records that a connect starts at `now`. Precondition: allows(now).
  /// Returns true if it is the half-open probe.
  bool on_attempt(time_point now) noexcept;

  /// A connect succeeded: closed, failure count reset. Returns true if this
  /// closed a breaker that was open or half-open.
  bool on_success() noexcept;

  /// A connect failed at `now`. Returns true if this opened the breaker
  /// (threshold reached, or the half-open probe failed).
  bool on_failure(time_point now) noexcept;

  /// Consecutive failures since the last success.
  [[nodiscard]] uint32_t consecutive_failures() const noexcept {
    return failures_;
  }

  /// When open: the earliest time a probe is allowed.
  [[nodiscard]] time_point retry_at() const noexcept {
    return retry_at_;
  }

  /// How often it opened / let a probe through, since construction.
  [[nodiscard]] uint64_t times_opened() const noexcept {
    return opened_;
  }

  [[nodiscard]] uint64_t times_half_opened() const noexcept {
    return half_opened_;
  }

private:
  void open(time_point now) noexcept;

  breaker_options opts_;
  breaker_state state_ = breaker_state::closed;
  uint32_t failures_ = 0;
  time_point retry_at_{};
  uint64_t opened_ = 0;
  uint64_t half_opened_ = 0;
};

} // namespace ghostnet::pool
