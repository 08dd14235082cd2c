#pragma once

// An HTTP/1.1 client on connection pools: one pool per origin (scheme, host,
// port), so keep-alive connections are reused and each host has its own
// connection limit, breaker and waiters. TLS (https) verifies the server by
// default and sends SNI. The protocol itself is the sans-IO
// transports::http::response_parser; this actor only moves bytes between it
// and leased connections and keeps the deadlines.
//
//   auto client = pool::spawn_http_client(sys, {});
//   self->request(*client, caf::infinite, pool::http_get("http://127.0.0.1:8080/hello"))
//     .then([](const pool::http_client_response& res) { ... },
//           [](const caf::error& err) { ... });
//
// Errors, all in ghostnet's category, with the URL as the endpoint:
//   pool_exhausted  the host's pool has max_waiters acquires waiting
//   circuit_open    the host is unhealthy: its connects keep failing
//   timeout         connect, response header or the whole request (the
//                   operation names which)
//   protocol_error  the server's answer is not HTTP/1.1 or breaks a limit;
//                   also too many redirects
//   transport_closed / connection_refused / ... what the connection met
//   invalid_address a URL that does not parse (or a redirect to one)
//   invalid_configuration a malformed request (method, header with CR/LF)

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/pool/pool_actor.hpp"
#include "ghostnet/transports/http/response_parser.hpp"
#include "ghostnet/transports/tls_options.hpp"

namespace ghostnet::pool {

struct http_client_request {
  std::string method = "GET";
  std::string url; ///< absolute http:// or https:// URL
  /// Sent as given, after Host and before Content-Length; Host,
  /// Content-Length and Transfer-Encoding are the client's.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body; ///< sent with a Content-Length (if not empty or the
                    ///< method is POST/PUT/PATCH)
  /// Overrides the client's request_timeout (0: the client's).
  caf::timespan timeout{0};
  /// Set: the final response's body is streamed to this actor as it
  /// arrives instead of coming in the reply: each piece is a request
  /// `(http_body_atom, std::string) -> ok`, the next one sent once the
  /// last is answered, and while pieces wait the connection stops reading
  /// (the server is slowed down, nothing piles up: a few reads at most).
  /// The reply follows the last piece's answer, with an empty body. A sink
  /// that answers an error or is gone fails the request (io_error) and
  /// the connection is closed. No max_body limit applies to such a body.
  caf::actor body_sink;
  /// Set: the request body comes from this actor instead of `body`, sent
  /// chunked as it is produced: the client asks `(http_body_atom) ->
  /// std::string` for one piece at a time (empty: the end) and asks for
  /// the next only once the connection took the last, so a slow server
  /// slows the source down. Such a request is sent once: no retry on
  /// another connection, no redirect followed (the 3xx is the response). A
  /// source that answers an error or is gone fails the request (io_error).
  caf::actor body_source;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_client_request& x) {
  return f(caf::meta::type_name("http_client_request"), x.method, x.url,
           x.headers, x.body, x.timeout, x.body_sink, x.body_source);
}

struct http_client_response {
  unsigned status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers; ///< as received
  std::string body;      ///< decoded (chunked), whole
  std::string url;       ///< the URL that answered (after redirects)
  uint32_t redirects = 0; ///< redirects followed
  bool reused = false;   ///< the final request went over a kept-alive
                         ///< connection

  /// The first header called `name` (case-insensitive), or empty.
  [[nodiscard]] std::string header(std::string_view name) const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_client_response& x) {
  return f(caf::meta::type_name("http_client_response"), x.status, x.reason,
           x.headers, x.body, x.url, x.redirects, x.reused);
}

/// A GET of `url`.
[[nodiscard]] http_client_request http_get(std::string url);

struct http_client_options {
  /// Names the client's pools in logs ("<name> <origin>"); default "http".
  std::string name = "http";
  /// Connections per origin at most (the pool's max_connections);
  /// default 16.
  int32_t max_connections_per_host = 16;
  /// Idle connections kept per origin; default 4.
  int32_t max_idle_per_host = 4;
  /// Requests waiting for a connection per origin; more: pool_exhausted.
  /// Default 256.
  int32_t max_waiters_per_host = 256;
  /// An idle kept-alive connection is closed after this long; default 30 s.
  caf::timespan idle_timeout = std::chrono::seconds(30);
  /// TCP connect plus TLS handshake; default 10 s.
  caf::timespan connect_timeout = std::chrono::seconds(10);
  /// From the request's last byte to the end of the response header;
  /// default 30 s.
  caf::timespan response_header_timeout = std::chrono::seconds(30);
  /// The whole request: waiting for a connection, connecting, sending,
  /// receiving, redirects; default 60 s.
  caf::timespan request_timeout = std::chrono::seconds(60);
  /// Redirects (301, 302, 303, 307, 308) followed at most; 0 = none (the
  /// 3xx is the response). Default 5. 303, and 301/302 of a POST, turn
  /// into a GET without body, as browsers do.
  uint32_t max_redirects = 5;
  /// Per-origin breaker: after this many failed connects in a row the host
  /// counts as unhealthy and requests fail at once with circuit_open (the
  /// detail names the connect error) until a probe after the cool-down
  /// succeeds. Default 3 failures, 2 s.
  breaker_options breaker{3, std::chrono::seconds(2)};
  /// Limits on what a server may send.
  transports::http::response_limits limits;
  /// https: the client's TLS (CA, versions, client certificate). Role and
  /// verification are the client's: verification is on unless
  /// tls.verify_peer is false. ALPN is "http/1.1".
  transports::tls_options tls;
  /// The User-Agent header (if the request has none); empty: none.
  std::string user_agent = "ghostnet";
};

/// Checks `opts` (field names in the detail, as pool_options).
[[nodiscard]] caf::error validate(const http_client_options& opts);

/// Requests the client answers:
/// - http_client_request: the response (any status), or an error above.
///   Every request is answered by its timeout, so the request needs no
///   timeout of its own (caf::infinite).
/// - stats: the pools' figures, one per origin used so far.
/// - close: closes every pool; answered once they are gone; the client
///   exits. Requests under way fail with transport_closed.
using http_client_actor = caf::typed_actor<
  caf::replies_to<http_client_request>::with<http_client_response>,
  caf::replies_to<stats_atom>::with<std::vector<std::pair<std::string, pool_stats>>>,
  caf::replies_to<close_atom>::with<caf::ok_atom>>;

/// Validates `opts` and spawns a client. Needs the middleman. Not linked to
/// the caller; when the client exits (closed or killed), its pools close.
[[nodiscard]] caf::expected<http_client_actor>
spawn_http_client(caf::actor_system& sys, http_client_options opts);

} // namespace ghostnet::pool
