#include "ghostnet/pool/circuit_breaker.hpp"

namespace ghostnet::pool {

const char* to_string(breaker_state x) noexcept {
  switch (x) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half_open";
  }
  return "?";
}

circuit_breaker::circuit_breaker(breaker_options opts) noexcept
  : opts_(opts) {
  if (opts_.failure_threshold < 1)
    opts_.failure_threshold = 1;
}

bool circuit_breaker::allows(time_point now) const noexcept {
  switch (state_) {
    case breaker_state::closed: return true;
    case breaker_state::open: return now >= retry_at_;
    case breaker_state::half_open: return false;
  }
  return false;
}

bool circuit_breaker::on_attempt(time_point now) noexcept {
  if (state_ != breaker_state::open || now < retry_at_)
    return false;
  state_ = breaker_state::half_open;
  ++half_opened_;
  return true;
}

bool circuit_breaker::on_success() noexcept {
  bool was_tripped = state_ != breaker_state::closed;
  state_ = breaker_state::closed;
  failures_ = 0;
  return was_tripped;
}

bool circuit_breaker::on_failure(time_point now) noexcept {
  ++failures_;
  switch (state_) {
    case breaker_state::closed:
      if (failures_ >= static_cast<uint32_t>(opts_.failure_threshold)) {
        open(now);
        return true;
      }
      return false;
    case breaker_state::half_open:
      open(now);
      return true;
    case breaker_state::open:
      // A connect that started before the breaker opened: it is open already.
      return false;
  }
  return false;
}

void circuit_breaker::open(time_point now) noexcept {
  state_ = breaker_state::open;
  retry_at_ = now + opts_.cooldown;
  ++opened_;
}

} // namespace ghostnet::pool
