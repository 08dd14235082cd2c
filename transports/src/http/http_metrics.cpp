#include "http_metrics.hpp"

#include <string>
#include <unordered_map>

#include "ghostnet/actors/metrics.hpp"

namespace ghostnet::transports::http::detail {

namespace {

struct series {
  metrics::counter* requests;
  metrics::histogram* duration;
};

} // namespace

void count_request(std::string_view protocol, std::string_view route, unsigned status,
                   double seconds) {
  // The registry locks; a request must not. Each thread keeps the series it
  // has used (routes and statuses are few).
  thread_local std::unordered_map<std::string, series> cache;
  std::string key;
  key.reserve(protocol.size() + route.size() + 6);
  key.append(protocol).append(1, '\0').append(route).append(1, '\0');
  key.append(std::to_string(status));
  auto i = cache.find(key);
  if (i == cache.end()) {
    std::string r = route.empty() ? std::string{"unmatched"} : std::string{route};
    auto& m = metrics::global();
    metrics::labels l{{"protocol", std::string{protocol}}, {"route", r}};
    series s;
    s.requests = &m.counter("ghostnet_http_requests_total",
                            "HTTP requests answered, by protocol, route and status",
                            {l[0], l[1], {"status", std::to_string(status)}});
    s.duration = &m.histogram("ghostnet_http_request_duration_seconds",
                              "from a complete request to its response, by protocol and route",
                              metrics::latency_buckets(), l);
    i = cache.emplace(std::move(key), s).first;
  }
  i->second.requests->inc();
  i->second.duration->observe(seconds);
}

} // namespace ghostnet::transports::http::detail
