#include "ghostnet/supervision/detail/restart_intensity.hpp"

namespace ghostnet::supervision::detail {

bool restart_intensity::record(time_point now) {
  times_.push_back(now);
  expire(now);
  if (times_.size() <= max_)
    return true;
  // Only the newest max_ + 1 can matter for the next decision.
  while (times_.size() > static_cast<size_t>(max_) + 1)
    times_.pop_front();
  return false;
}

size_t restart_intensity::in_window(time_point now) {
  expire(now);
  return times_.size();
}

void restart_intensity::expire(time_point now) {
  while (!times_.empty() && now - times_.front() > period_)
    times_.pop_front();
}

} // namespace ghostnet::supervision::detail
