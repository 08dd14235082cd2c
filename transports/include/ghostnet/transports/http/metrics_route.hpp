#pragma once

// GET /metrics: a registry in Prometheus' text exposition format
// (docs/metrics.md lists what ghostnet counts).

#include <string>

#include <caf/error.hpp>

#include "ghostnet/actors/metrics.hpp"
#include "ghostnet/transports/http/http_router.hpp"

namespace ghostnet::transports::http {

/// Adds GET `path` serving `reg` (the process's registry by default), in
/// the connection: rendering takes the registry's lock, not an actor hop.
[[nodiscard]] caf::error add_metrics_route(http_router& router,
                                           std::string path = "/metrics",
                                           metrics::registry& reg = metrics::global());

} // namespace ghostnet::transports::http
