#pragma once

// Pool options from the node's configuration (INI file, GHOSTNET_*
// environment variables, --flags; see node_options.hpp). Every field of
// pool_options (but `connection`) is a key under the pool's section:
//
//   --db.endpoints=10.0.0.5:5432,10.0.0.6:5432  --db.max-connections=50
//   --db.idle-timeout=30s  --db.balancing=least_outstanding
//
// Keys: endpoints, max-connections, max-idle, min-idle, max-waiters,
// idle-timeout, connect-timeout, connect-retries, connect-backoff-min,
// connect-backoff-max, max-lifetime, acquire-timeout, max-lease, reuse,
// balancing, health-interval, health-timeout, health-request, health-reply,
// breaker-failures, breaker-cooldown. Durations take a unit (250ms, 10s).

#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "ghostnet/pool/pool_options.hpp"
#include "ghostnet/supervision/node_options.hpp"

namespace ghostnet::pool {

/// Declares the keys of a pool under `section` (e.g. "db"), with the values
/// of `defaults` as their defaults.
[[nodiscard]] caf::error declare_pool_options(node_options_parser& parser,
                                              const std::string& section,
                                              const pool_options& defaults
                                              = {});

/// Reads the keys declared above into a copy of `base` (which supplies what
/// has no key: name, connection options) and validates the result.
/// Errors: errc::invalid_configuration naming the key or field.
[[nodiscard]] caf::expected<pool_options>
pool_options_from(const node_options& opts, const std::string& section,
                  pool_options base = {});

} // namespace ghostnet::pool
