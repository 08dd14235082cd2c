#include "ghostnet/actors/backoff.hpp"

#include <algorithm>
#include <chrono>
#include <random>

namespace ghostnet {

caf::timespan backoff_delay(caf::timespan min, caf::timespan max, uint32_t n,
                            double jitter) {
  auto delay = min;
  for (uint32_t i = 1; i < n && delay < max; ++i)
    delay *= 2;
  return add_jitter(std::min(delay, max), jitter);
}

caf::timespan add_jitter(caf::timespan delay, double factor) {
  if (factor <= 0.0 || delay <= caf::timespan{0})
    return delay;
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist{0.0, factor};
  return delay + std::chrono::duration_cast<caf::timespan>(delay * dist(rng));
}

} // namespace ghostnet
