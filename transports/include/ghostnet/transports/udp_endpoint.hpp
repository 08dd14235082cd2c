#pragma once

// A UDP datagram endpoint: an actor that owns one bound UDP socket, sends
// datagrams on request and hands every received datagram, with its sender's
// address, to a handler actor.
//
// The endpoint is a broker (it runs on CAF's multiplexer thread) that owns
// its socket itself instead of using CAF's datagram servant: CAF 0.17's
// servant hides the peer address of received datagrams and has shutdown and
// lifetime bugs (#1133, #1174). See docs/udp.md.
//
// Lifetime: the endpoint lives until it gets close_atom, an exit message, or
// its handler terminates (it monitors the handler and then exits with
// exit_reason::normal). On close, on a handler's exit and on a (non-kill)
// exit message, the socket is closed BEFORE the endpoint's down/exit
// message goes out, so whoever watches the endpoint (a supervisor) may bind
// the same port again at once. After exit_reason::kill the socket is closed
// on the next turn of the I/O loop (microseconds later). Like any actor, an
// open endpoint keeps actor_system's destructor waiting: close it, or let
// its handler terminate, before the actor system goes out of scope.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/supervision/child_spec.hpp"
#include "ghostnet/transports/endpoint.hpp"
#include "ghostnet/transports/udp_options.hpp"

namespace ghostnet::transports {

/// What an endpoint reports about itself (`info_atom`). Counters start at 0
/// when the endpoint is spawned.
struct udp_info {
  endpoint local;              ///< the bound address, with the port the OS chose
  uint64_t datagrams_in = 0;   ///< datagrams delivered to the handler
  uint64_t bytes_in = 0;       ///< payload bytes delivered to the handler
  uint64_t datagrams_out = 0;  ///< datagrams the OS accepted for sending
  uint64_t bytes_out = 0;      ///< payload bytes the OS accepted for sending
  /// Received datagrams larger than max_datagram_size, dropped.
  uint64_t dropped_oversized = 0;
  /// Datagrams the kernel dropped for this socket, mostly because its
  /// receive buffer was full (SO_MEMINFO's drop counter; checksum errors
  /// count too). Never seen by ghostnet: UDP loses them silently.
  uint64_t dropped_by_kernel = 0;
  uint64_t send_failures = 0;  ///< send_to requests answered with an error
  uint64_t receive_errors = 0; ///< failed receive calls (errno logged)
  int send_buffer = 0;         ///< SO_SNDBUF in bytes as the kernel set it
  int receive_buffer = 0;      ///< SO_RCVBUF in bytes as the kernel set it
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, udp_info& x) {
  return f(caf::meta::type_name("udp_info"), x.local, x.datagrams_in,
           x.bytes_in, x.datagrams_out, x.bytes_out, x.dropped_oversized,
           x.dropped_by_kernel, x.send_failures, x.receive_errors,
           x.send_buffer, x.receive_buffer);
}

/// The typed interface of a UDP endpoint.
using udp_endpoint_actor = caf::typed_actor<
  // Sends `payload` as one datagram to `to` (a numeric address; an IPv4
  // address on an IPv6 socket is sent v4-mapped). Replies ok once the OS
  // accepted the datagram (UDP: not a delivery receipt). Errors:
  // - errc::backpressure: the socket's send buffer is full (EAGAIN,
  //   ENOBUFS); the datagram was NOT sent, retry later or drop it;
  // - errc::invalid_address: `to` is not a numeric address, has port 0, or
  //   is IPv6 on an IPv4 socket;
  // - errc::protocol_error: payload larger than max_datagram_size;
  // - errc::transport_closed: the endpoint is closing;
  // - any other OS error as make_os_error (errno and `to` in the context).
  caf::replies_to<send_to_atom, endpoint, std::vector<char>>::with<caf::ok_atom>,
  // Reports the local address and counters.
  caf::replies_to<info_atom>::with<udp_info>,
  // Closes the socket and exits with exit_reason::normal.
  caf::reacts_to<close_atom>>;

/// What the handler of an endpoint receives, one message per datagram, in
/// the order the socket delivered them:
/// `(datagram_atom, endpoint that received it, sender, payload)`. A sender
/// on a dual-stack IPv6 socket that is really IPv4 is reported as IPv4
/// ("127.0.0.1", not "::ffff:127.0.0.1"), so replies work either way.
/// Handlers may be dynamically typed (`caf::actor`) or implement this.
using udp_handler_actor = caf::typed_actor<
  caf::reacts_to<datagram_atom, udp_endpoint_actor, endpoint, std::vector<char>>>;

/// Validates `opts`, creates and binds the socket in the calling thread (so
/// that bind errors come back at once), then spawns the endpoint on the
/// multiplexer of `sys` (needs `cfg.load<caf::io::middleman>()` and the
/// default network backend). Does not block: creating and binding a UDP
/// socket never waits, so this may be called from inside an actor (e.g. a
/// supervisor's start function).
///
/// Errors (the context names the operation, the bind endpoint and errno):
/// - errc::invalid_configuration: `opts` failed validate(), `handler` is
///   null, or the actor system has no middleman / a non-default backend;
/// - errc::invalid_address: bind address not numeric, or not local
///   (EADDRNOTAVAIL);
/// - errc::address_in_use: the address is taken (EADDRINUSE) and not both
///   sockets use reuse_address / reuse_port;
/// - any other OS error as make_os_error (socket, setsockopt, bind).
/// The socket is closed on every error path.
[[nodiscard]] caf::expected<udp_endpoint_actor>
spawn_udp_endpoint(caf::actor_system& sys, const udp_options& opts,
                   caf::actor handler);

/// A supervisor child running a UDP endpoint with a fixed handler. Restart
/// type transient by default: an endpoint that exits normally (closed, or
/// its handler terminated) stays down — restarting it with a dead handler
/// would only exit again; one that failed (socket error, killed) is
/// restarted with a new socket on the same options. With a fixed port,
/// consider `reuse_address`: after a kill the old socket is closed one I/O
/// loop turn after the supervisor hears of the exit.
[[nodiscard]] supervision::child_spec
udp_endpoint_child(std::string id, udp_options opts, caf::actor handler,
                   supervision::restart_type restart
                   = supervision::restart_type::transient);

} // namespace ghostnet::transports
