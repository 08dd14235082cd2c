#pragma once

// Options of TCP listeners and connections. Every field has its default and
// unit; validate() says which field is wrong.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/transports/endpoint.hpp"
#include "ghostnet/transports/framing.hpp"
#include "ghostnet/transports/layer_fwd.hpp"

namespace ghostnet::transports {

class tls_context_holder;

/// Per-connection deadlines. Zero disables a timeout. Each one that fires
/// closes the connection with errc::timeout naming the operation.
struct connection_timeouts {
  caf::timespan idle{0};  ///< no byte read or written for this long
  caf::timespan read{0};  ///< no byte read for this long
  caf::timespan write{0}; ///< bytes waiting to be sent made no progress
  caf::timespan drain = std::chrono::seconds(5); ///< graceful close: wait
                                                  ///< this long for the peer
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_timeouts& x) {
  return f(caf::meta::type_name("connection_timeouts"), x.idle, x.read,
           x.write, x.drain);
}

/// Socket options applied to every accepted or connected socket.
struct socket_options {
  bool nodelay = true;     ///< TCP_NODELAY
  bool keepalive = true;   ///< SO_KEEPALIVE
  int linger = -1;         ///< SO_LINGER seconds; -1 = OS default
  int send_buffer = 0;     ///< SO_SNDBUF bytes; 0 = OS default
  int receive_buffer = 0;  ///< SO_RCVBUF bytes; 0 = OS default
};

/// TLS on a connection: a layer between the socket and the framer
/// (docs/tls.md). Off unless `context` is set.
struct tls_layer_options {
  /// The context new connections take their session from (server role for
  /// listeners, client role for connect()); null (default): plain TCP. Keep
  /// a reference to reload certificates while the listener runs.
  std::shared_ptr<tls_context_holder> context;
  /// Client: the server's name (SNI and certificate check). Empty (default):
  /// the context's tls_options::server_name, or else the remote host.
  std::string server_name;
  /// The handshake must finish within this long after the TCP connection is
  /// up, or the connection closes with errc::timeout ("tls handshake");
  /// default 10 s.
  caf::timespan handshake_timeout = std::chrono::seconds(10);
};

struct connection_options {
  framing_options framing;
  connection_timeouts timeouts;
  socket_options socket;
  /// Bytes accepted for sending but not yet on the wire above which the
  /// connection stops reading and refuses sends with errc::backpressure.
  size_t high_water_mark = 1024 * 1024;
  /// ... and below which it resumes.
  size_t low_water_mark = 256 * 1024;
  /// Read buffer bounds: reads start small (an idle connection holds
  /// `min_read_size`) and double while they fill the buffer.
  size_t min_read_size = 512;
  size_t max_read_size = 64 * 1024;
  tls_layer_options tls;
  /// The protocol above the transport (above TLS when it is on), see
  /// layer.hpp. Empty (default): the framing layer (`framing`) with the
  /// handler factory given to the listener or connect().
  layer_factory protocol;
};

[[nodiscard]] caf::error validate(const connection_options& opts);

/// What a listener does once `max_connections` are open.
enum class limit_policy : uint8_t {
  reject, ///< accept and close at once (counted, logged)
  pause,  ///< stop accepting until below `resume_below`
};

struct listener_options {
  endpoint bind;             ///< default 127.0.0.1:0 (any free port)
  int backlog = 1024;        ///< listen(2) backlog
  bool reuse_address = true; ///< SO_REUSEADDR
  bool reuse_port = false;   ///< SO_REUSEPORT
  bool v6_only = false;      ///< IPV6_V6ONLY for IPv6 binds
  size_t max_connections = 10000; ///< open connections at most
  limit_policy at_limit = limit_policy::reject;
  size_t resume_below = 0;   ///< pause policy: resume at this many; 0 = 90 %
  /// Accept errors such as EMFILE pause accepting for this long, doubling up
  /// to accept_backoff_max while they persist.
  caf::timespan accept_backoff_min = std::chrono::milliseconds(10);
  caf::timespan accept_backoff_max = std::chrono::seconds(1);
  size_t max_accepts_per_event = 64; ///< fairness towards other sockets
  /// Connections get this long to finish when the service stops.
  caf::timespan connection_shutdown = std::chrono::seconds(10);
  connection_options connection;
};

[[nodiscard]] caf::error validate(const listener_options& opts);

/// Options of an outbound connection.
struct connect_options {
  endpoint remote;
  caf::timespan timeout = std::chrono::seconds(30); ///< per attempt
  uint32_t retries = 0; ///< further attempts after the first fails
  caf::timespan backoff_min = std::chrono::milliseconds(100);
  caf::timespan backoff_max = std::chrono::seconds(10);
  double backoff_jitter = 0.2; ///< adds up to 20 % to each delay
  connection_options connection;
};

[[nodiscard]] caf::error validate(const connect_options& opts);

/// Applies `opts` to a connected socket.
[[nodiscard]] caf::error apply_socket_options(int fd, const socket_options& opts,
                                              const std::string& where);

} // namespace ghostnet::transports
