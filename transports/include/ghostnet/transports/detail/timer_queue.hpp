#pragma once

// Timers for brokers, kept on the multiplexer thread: one timerfd per
// multiplexer, and expired timers call their owner directly.
//
// Why not delayed_send: a message scheduled with CAF 0.17's actor clock holds
// a strong reference to its receiver until it fires, and cannot be
// cancelled. A connection that closed while its idle, drain or handshake timer
// ran therefore stayed in memory until that timer fired (seconds to minutes):
// under connection churn, thousands of dead brokers. Here a timer is a map
// entry with a raw pointer, and the owner cancels it when it is done.
//
// Thread rule (as fd_watcher): use a queue only on its multiplexer's thread,
// i.e. from a broker or a multiplexer callback.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "ghostnet/transports/detail/fd_watcher.hpp"

namespace ghostnet::transports::detail {

/// Receives the timers it armed.
class timer_client {
public:
  /// The timer of `kind` expired; it is no longer armed.
  virtual void on_timer(uint8_t kind) = 0;

protected:
  ~timer_client() = default;
};

class timer_queue : public std::enable_shared_from_this<timer_queue> {
public:
  using clock_type = std::chrono::steady_clock; // CLOCK_MONOTONIC on Linux
  using time_point = clock_type::time_point;

  struct entry {
    timer_client* client;
    uint8_t kind;
  };

  using map_type = std::multimap<time_point, entry>;
  using handle = map_type::iterator;

  /// The queue of `mpx`, made on first use and shared by its brokers; it
  /// lives while one of them holds it.
  static std::shared_ptr<timer_queue>
  of(caf::io::network::default_multiplexer& mpx);

  explicit timer_queue(caf::io::network::default_multiplexer& mpx);
  ~timer_queue();

  timer_queue(const timer_queue&) = delete;
  timer_queue& operator=(const timer_queue&) = delete;

  /// Calls `client.on_timer(kind)` at `due` (or at once, on the next loop
  /// turn, if `due` has passed). The handle stays valid until the timer
  /// fires or is cancelled.
  handle arm(time_point due, timer_client& client, uint8_t kind);

  void cancel(handle h);

private:
  void on_expired();
  void program(time_point due);

  caf::io::network::default_multiplexer* mpx_;
  fd_watcher_ptr watcher_;
  map_type entries_;
  time_point programmed_ = time_point::max();
};

/// Up to N timers of one owner (one per kind, 0 <= kind < N). Arming a kind
/// again replaces its timer. The owner calls fired(kind) first thing in its
/// on_timer, cancel_all() when it is done, and release() (or destroys this)
/// on the multiplexer thread, e.g. in on_exit().
template <size_t N>
class timer_slots {
public:
  void arm(caf::io::network::default_multiplexer& mpx, timer_client& owner,
           uint8_t kind, timer_queue::time_point due) {
    if (!queue_)
      queue_ = timer_queue::of(mpx);
    cancel(kind);
    slots_[kind] = queue_->arm(due, owner, kind);
    armed_ |= bit(kind);
  }

  void cancel(uint8_t kind) {
    if (armed(kind)) {
      queue_->cancel(slots_[kind]);
      armed_ &= ~bit(kind);
    }
  }

  void fired(uint8_t kind) {
    armed_ &= ~bit(kind);
  }

  [[nodiscard]] bool armed(uint8_t kind) const {
    return (armed_ & bit(kind)) != 0;
  }

  void cancel_all() {
    for (uint8_t k = 0; k < N; ++k)
      cancel(k);
  }

  /// Cancels every timer and lets go of the queue.
  void release() {
    cancel_all();
    queue_.reset();
  }

  ~timer_slots() {
    release();
  }

private:
  static_assert(N <= 32, "one bit per kind");

  static constexpr uint32_t bit(uint8_t kind) noexcept {
    return uint32_t{1} << kind;
  }

  // A handle and a bit per kind, not an optional per kind: every idle
  // connection carries these (8 bytes a kind instead of 16).
  std::shared_ptr<timer_queue> queue_;
  std::array<timer_queue::handle, N> slots_{};
  uint32_t armed_ = 0;
};

} // namespace ghostnet::transports::detail
