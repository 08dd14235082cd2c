#pragma once

// The HTTP/2 server layer (http2_layer.cpp): made by the server's layer
// factory when ALPN agreed on "h2", or by the HTTP/1.1 layer when a
// connection begins with the HTTP/2 preface (h2c, prior knowledge).

#include <memory>
#include <string_view>

#include "ghostnet/transports/http/http_router.hpp"
#include "ghostnet/transports/http/http_server.hpp"
#include "ghostnet/transports/layer_fwd.hpp"

namespace ghostnet::transports::http::detail {

/// The 24 bytes an HTTP/2 client sends first (RFC 9113, 3.4).
constexpr std::string_view http2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

[[nodiscard]] layer_ptr
make_http2_layer(std::shared_ptr<const http_router> router,
                 std::shared_ptr<const http_server_options> opts);

} // namespace ghostnet::transports::http::detail
