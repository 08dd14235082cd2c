#pragma once

// What the HTTP/1.1 and HTTP/2 layers count per request (docs/metrics.md).

#include <string_view>

namespace ghostnet::transports::http::detail {

/// One answered request: ghostnet_http_requests_total{protocol, route,
/// status} and ghostnet_http_request_duration_seconds{protocol, route}
/// (from the complete request to its response handed to the connection).
/// `route` is the matched pattern, empty for none ("unmatched").
void count_request(std::string_view protocol, std::string_view route, unsigned status,
                   double seconds);

} // namespace ghostnet::transports::http::detail
