#pragma once

// OTP's restart intensity: at most `max_restarts` restarts within `period`.
// Time is a parameter, so the window is tested without a clock.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>

#include <caf/timespan.hpp>

namespace ghostnet::supervision::detail {

using time_point = std::chrono::steady_clock::time_point;

/// The sliding window of recent restarts. The edge is inclusive, as in
/// OTP's supervisor.erl: a restart exactly `period` before `now` is still in
/// the window. With `max_restarts == 0` the first restart is one too many.
class restart_intensity {
public:
  restart_intensity(uint32_t max_restarts, caf::timespan period) noexcept
    : max_(max_restarts), period_(period) {
    // nop
  }

  /// Records a restart at `now`. False if that makes more than
  /// `max_restarts` within the period: the supervisor must give up.
  [[nodiscard]] bool record(time_point now);

  /// Restarts in the window that ends at `now`.
  [[nodiscard]] size_t in_window(time_point now);

private:
  void expire(time_point now);

  uint32_t max_;
  caf::timespan period_;
  std::deque<time_point> times_; ///< oldest first; at most max_ + 1 entries
};

} // namespace ghostnet::supervision::detail
