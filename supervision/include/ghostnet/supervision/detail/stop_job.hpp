#pragma once

// Stopping a set of children: serially (OTP's order, each waited for before
// the next is asked) or in parallel (dynamic children), each killed when its
// shutdown timeout passes, all killed at an overall deadline, and abandoned
// when even the kill does not end them within a grace period. Bookkeeping
// only: the supervisor sends the exit messages; time is a parameter.
//
// A parallel stop asks in waves: at most `window` children that have not
// gone yet, one more for each that goes, and another wave every `interval`
// whatever the others do (so children that take their time to stop, such as
// draining connections, still stop side by side). Asking 50,000 children at
// once puts 50,000 jobs in one scheduler queue, and CAF 0.17's work stealing
// walks that queue from its head for every steal: the stop became quadratic.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include <caf/timespan.hpp>

#include "ghostnet/supervision/detail/restart_intensity.hpp"

namespace ghostnet::supervision::detail {

/// How a parallel stop paces its asks (see above).
struct stop_pacing {
  size_t window = 512;
  caf::timespan interval = std::chrono::milliseconds(1);
};

class stop_job {
public:
  enum class order : uint8_t { serial, parallel };

  using pacing = stop_pacing;

  /// `keys` in the order to stop them (reverse start order).
  stop_job(std::vector<uint64_t> keys, order how, pacing pace = {});

  /// Children to ask now: serially the next one once none is waited for,
  /// in parallel as many as the window has room for. Each key is returned
  /// once; a child the caller finds not running is reported `gone` at once.
  [[nodiscard]] std::vector<uint64_t> take_next(time_point now);

  /// `key` was asked to stop; if it is not gone by `kill_at`, `poll` names
  /// it for a kill. No `kill_at`: wait (shutdown infinity or brutal kill).
  void asked(uint64_t key, std::optional<time_point> kill_at);

  /// `key` is gone. A child that exits on its own while still queued is
  /// part of this stop too (it is not asked any more). False if the key is
  /// not part of this job.
  bool gone(uint64_t key);

  /// Queued or waited for.
  [[nodiscard]] bool contains(uint64_t key) const;

  /// Adds a child to a running job (a child adopted during the shutdown).
  void add(uint64_t key);

  /// Everything must end by `deadline`: then all still queued or waited for
  /// are to be killed, and those still there `grace` later are abandoned.
  void set_deadline(time_point deadline, caf::timespan grace);

  struct due {
    std::vector<uint64_t> ask;     ///< the next wave of a parallel stop
    std::vector<uint64_t> kill;    ///< send each a kill (once)
    std::vector<uint64_t> abandon; ///< stop waiting for these
  };

  /// What is due at `now`. Abandoned keys leave the job.
  [[nodiscard]] due poll(time_point now);

  /// The earliest time at which `poll` has something to do, if any.
  [[nodiscard]] std::optional<time_point> next_deadline() const;

  [[nodiscard]] bool done() const noexcept {
    return queue_.empty() && waiting_.empty();
  }

  [[nodiscard]] size_t waiting() const noexcept {
    return waiting_.size();
  }

private:
  struct asked_child {
    std::optional<std::multimap<time_point, uint64_t>::iterator> timer;
    bool killed = false;
  };

  void cancel_timer(asked_child& x);

  /// Moves up to `n` queued keys to `waiting_` (all of them for SIZE_MAX)
  /// and keeps the wave timer running while keys are left.
  void take(size_t n, time_point now, std::vector<uint64_t>& out);

  order how_;
  pacing pace_;
  std::optional<time_point> next_wave_;
  std::deque<uint64_t> queue_; ///< not yet asked, in stop order
  std::unordered_map<uint64_t, asked_child> waiting_;
  std::multimap<time_point, uint64_t> kill_at_; ///< per-child timeouts
  std::optional<time_point> deadline_;
  caf::timespan grace_{0};
  bool deadline_passed_ = false;
};

} // namespace ghostnet::supervision::detail
