#pragma once

// An HTTP server as a layer of the connection stack. HTTP/1.1: Beast's
// sans-IO parser (basic_parser) reads requests, a router picks the handler,
// and the layer writes the responses in order (keep-alive, pipelining).
// HTTP/2 (nghttp2's session, http2_options.hpp): the same router, streams
// served concurrently. Every limit answers with its status (or resets the
// stream) and every timeout is the layer's own deadline (docs/http.md,
// docs/http2.md).
//
//   tcp_service_options svc;
//   svc.listener.connection.protocol = http::http_server(router);

#include <cstdint>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/transports/http/http2_options.hpp"
#include "ghostnet/transports/http/http_router.hpp"
#include "ghostnet/transports/layer_fwd.hpp"

namespace ghostnet::transports::http {

struct http_server_options {
  /// Longest request target; longer: 414. Default 8 KiB.
  size_t max_target = 8 * 1024;
  /// Header fields (names, values, line ends) of one request; more: 431.
  /// Default 16 KiB.
  size_t max_header_bytes = 16 * 1024;
  /// Header fields of one request; more: 431. Default 100.
  size_t max_header_count = 100;
  /// Body of one request (after chunked decoding); more: 413. Default 1 MiB.
  size_t max_body = 1024 * 1024;
  /// From the first byte of a request to the end of its header; then 408
  /// and close (slowloris). Default 10 s.
  caf::timespan header_timeout = std::chrono::seconds(10);
  /// From the end of the header to the end of the body; then 408. For an
  /// upload route, the longest pause between two pieces of the body
  /// instead (a large upload takes as long as it takes). Default 30 s.
  caf::timespan body_timeout = std::chrono::seconds(30);
  /// An idle keep-alive connection is closed (silently) after this long.
  /// Default 15 s.
  caf::timespan keep_alive_timeout = std::chrono::seconds(15);
  /// Body of a request to an upload route (http_router::add_upload),
  /// streamed to its reader, never held here; more: 413. 0 = no limit.
  /// Default 1 GiB.
  uint64_t max_upload = uint64_t{1} << 30;
  /// A handler actor's answer (http_router::add with an actor); none in
  /// time: 504. Default 30 s.
  caf::timespan handler_timeout = std::chrono::seconds(30);
  /// Requests served on one connection before it closes; 0 = no limit.
  size_t max_requests = 0;
  /// The Server header; empty: none.
  std::string server_name = "ghostnet";
  /// HTTP/2 on the same port. max_header_bytes and max_header_count bound
  /// a request's decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE;
  /// more: 431), max_body and max_upload its body, handler_timeout and
  /// keep_alive_timeout (no open stream) apply as they do for HTTP/1.1.
  http2_options http2;
};

[[nodiscard]] caf::error validate(const http_server_options& opts);

/// A layer factory for `connection_options::protocol`: one HTTP server
/// layer per connection, all sharing `router`: HTTP/2 if ALPN agreed on
/// "h2", HTTP/1.1 otherwise (which switches to HTTP/2 on the h2c preface).
[[nodiscard]] layer_factory
http_server(std::shared_ptr<const http_router> router,
            http_server_options opts = {});

} // namespace ghostnet::transports::http
