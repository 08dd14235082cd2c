#pragma once

// The typed interface of a connection actor (one per TCP connection).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/transports/endpoint.hpp"
#include "ghostnet/transports/tcp_options.hpp"

namespace ghostnet::transports {

enum class connection_state : uint8_t {
  connecting, ///< outbound not yet connected, or the TLS handshake runs
  connected,  ///< established
  draining,   ///< graceful close: flushing, then waiting for the peer
  closed,     ///< gone
};

[[nodiscard]] const char* to_string(connection_state x) noexcept;

/// What the TLS handshake of a connection settled (all empty without TLS or
/// before the handshake completed).
struct tls_info {
  std::string version;     ///< "TLSv1.2" / "TLSv1.3"
  std::string alpn;        ///< the agreed application protocol, or empty
  std::string peer_subject; ///< the peer certificate's subject, or empty
  bool resumed = false;    ///< the handshake resumed an earlier session
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tls_info& x) {
  return f(caf::meta::type_name("tls_info"), x.version, x.alpn,
           x.peer_subject, x.resumed);
}

struct connection_info {
  /// The connection actor's id: `conn=` in every log line about it.
  uint64_t id = 0;
  endpoint local;
  endpoint remote;
  connection_state state = connection_state::connecting;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;   ///< bytes accepted for sending (incl. framing)
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t pending_out = 0; ///< accepted for sending, not yet on the wire
  tls_info tls;             ///< TLS connections, once established
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_info& x) {
  return f(caf::meta::type_name("connection_info"), x.id, x.local, x.remote, x.state,
           x.bytes_in, x.bytes_out, x.frames_in, x.frames_out, x.pending_out,
           x.tls);
}

/// Requests a connection answers:
/// - send: one frame (framed by the connection's framer). ok once accepted;
///   errc::backpressure above the high-water mark (nothing was accepted:
///   retry later), errc::transport_closed after close.
/// - close: graceful close; answered once the connection is gone.
/// - abort: drops the connection at once (reset).
/// - info: addresses, state and counters.
/// - timeouts: replaces the connection's timeouts.
/// - connect: answered once the connection is established (at once if it
///   is), or with the error that ended it (connect failure, timeout).
/// - demand: grants its handler `n` more frames (actor_flow's window).
/// - set_receiver: the connection's received/closed messages go to this
///   actor from now on (gen_tcp's controlling_process), e.g. from a pool to
///   the holder of a lease; frames the connection handled before the
///   request went to the old receiver. errc::invalid_state if the
///   connection's handler is not an actor handler.
/// - layer_request: a request of the protocol on top that this interface
///   has no word for, from its typed facade (websocket_actor's text,
///   close(code, reason)); errc::invalid_state where the protocol takes
///   none. Applications use the facade, not this.
using connection_actor = caf::typed_actor<
  caf::replies_to<connect_atom>::with<connection_info>,
  caf::replies_to<send_atom, std::vector<char>>::with<caf::ok_atom>,
  caf::replies_to<close_atom>::with<caf::ok_atom>,
  caf::reacts_to<abort_atom>,
  caf::replies_to<info_atom>::with<connection_info>,
  caf::replies_to<timeouts_atom, connection_timeouts>::with<caf::ok_atom>,
  caf::reacts_to<demand_atom, uint32_t>,
  caf::replies_to<set_receiver_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<layer_request_atom, caf::message>::with<caf::ok_atom>>;

/// Messages a handler actor receives from its connection (actor mode):
///   (opened_atom, connection_actor, connection_info)
///   (received_atom, connection_actor, std::vector<char> frame)
///   (closed_atom, connection_actor, caf::error reason) — none = clean close
using ghostnet::opened_atom; // defined in ghostnet/actors/atoms.hpp

} // namespace ghostnet::transports
