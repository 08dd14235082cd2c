#pragma once

// HTTP/2 settings and limits of the HTTP server (http_server_options::http2).
// The same routes serve HTTP/1.1 and HTTP/2: over TLS, ALPN picks one on
// the same port (offer "h2" in tls_options::alpn); over plain TCP, a client
// that starts with the HTTP/2 preface (prior knowledge, h2c) gets HTTP/2.
// See docs/http2.md.

#include <cstddef>
#include <cstdint>

namespace ghostnet::transports::http {

struct http2_options {
  /// Serve HTTP/2 at all (ALPN "h2" and the h2c preface). Default on.
  bool enabled = true;
  /// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS):
  /// a client that opens more gets RST_STREAM(REFUSED_STREAM). Default 100.
  uint32_t max_concurrent_streams = 100;
  /// The flow-control window of each request body
  /// (SETTINGS_INITIAL_WINDOW_SIZE) and of the connection; window updates
  /// go out as the application takes the body. Default 256 KiB.
  uint32_t window_size = 256 * 1024;
  /// Frames of a request's header block at most: the HEADERS frame and
  /// this many CONTINUATION frames; more: the connection is cut off
  /// (GOAWAY ENHANCE_YOUR_CALM), the CONTINUATION-flood defence. Default 16.
  uint32_t max_continuations = 16;
  /// RST_STREAM frames a client may send: a burst of this many, refilled
  /// at max_resets_per_second; beyond, the connection is cut off (GOAWAY
  /// ENHANCE_YOUR_CALM), the rapid-reset defence (CVE-2023-44487).
  /// Defaults 200 and 100.
  uint32_t max_reset_burst = 200;
  uint32_t max_resets_per_second = 100;
};

/// How often this process cut a connection off for a flood, since start.
struct http2_defence_counts {
  uint64_t rapid_reset = 0;  ///< RST_STREAM beyond max_reset_burst / rate
  uint64_t continuation = 0; ///< a header block beyond max_continuations
};

[[nodiscard]] http2_defence_counts http2_defences() noexcept;

} // namespace ghostnet::transports::http
