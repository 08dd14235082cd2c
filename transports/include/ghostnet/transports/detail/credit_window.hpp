#pragma once

// actor_flow's bookkeeping, for every handler that sends a connection's
// messages to an actor (framed TCP, WebSocket): at most `window` messages
// outstanding, the rest of the current read kept until demand grants more.

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>

namespace ghostnet::transports::detail {

template <class T>
class credit_window {
public:
  /// `window` 0: no limit, every message is forwarded at once.
  credit_window(uint32_t window, std::function<void(T)> forward)
    : window_(window), credit_(window), forward_(std::move(forward)) {
    // nop
  }

  /// Forwards `x` if credit is left, else keeps it. True if that used up
  /// the credit: the caller pauses reading.
  bool offer(T x) {
    if (window_ == 0) {
      forward_(std::move(x));
      return false;
    }
    if (credit_ == 0) {
      waiting_.push_back(std::move(x)); // reading is paused already
      return false;
    }
    --credit_;
    forward_(std::move(x));
    return credit_ == 0;
  }

  /// Grants `n` more and forwards what waited. True if credit is left:
  /// the caller resumes reading.
  bool grant(uint32_t n) {
    if (window_ == 0)
      return false;
    credit_ += n;
    while (credit_ > 0 && !waiting_.empty()) {
      --credit_;
      forward_(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    return credit_ > 0;
  }

  /// Forwards everything that waits (the connection closed: the messages
  /// are the handler's still, and go before the closed message).
  void flush() {
    while (!waiting_.empty()) {
      forward_(std::move(waiting_.front()));
      waiting_.pop_front();
    }
  }

private:
  uint32_t window_;
  uint32_t credit_;
  std::function<void(T)> forward_;
  std::deque<T> waiting_;
};

} // namespace ghostnet::transports::detail
