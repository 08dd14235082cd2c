#pragma once

// Backoff delays with jitter, shared by supervisors (restarts) and
// connections (connect retries). The random generator is one per thread,
// seeded once: seeding from std::random_device costs a system call, too much
// to pay per actor (it was 18 % of the CPU time of a connect-rate run when
// every connection seeded its own).

#include <cstdint>

#include <caf/timespan.hpp>

namespace ghostnet {

/// The delay before attempt `n` (n >= 1): `min` doubled n-1 times, capped at
/// `max`, plus up to `jitter` × that of random extra. Thread-safe.
[[nodiscard]] caf::timespan backoff_delay(caf::timespan min, caf::timespan max,
                                          uint32_t n, double jitter);

/// Returns `delay` plus a uniformly random extra of up to `factor` × delay.
/// Thread-safe.
[[nodiscard]] caf::timespan add_jitter(caf::timespan delay, double factor);

} // namespace ghostnet
