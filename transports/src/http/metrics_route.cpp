#include "ghostnet/transports/http/metrics_route.hpp"

namespace ghostnet::transports::http {

caf::error add_metrics_route(http_router& router, std::string path,
                             metrics::registry& reg) {
  return router.add("GET", std::move(path), [&reg](http_request&, http_response& res) {
    res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.body = reg.prometheus_text();
  });
}

} // namespace ghostnet::transports::http
