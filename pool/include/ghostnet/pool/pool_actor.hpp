#pragma once

// The typed interface of a connection pool, and the values it answers with.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/pool/circuit_breaker.hpp"
#include "ghostnet/transports/connection_actor.hpp"
#include "ghostnet/transports/endpoint.hpp"

namespace ghostnet::pool {

/// The right to use one member connection until released.
///
/// While leased, the holder (the actor that sent `acquire`) talks to
/// `connection` directly: `send_atom` requests, and it receives
///   (received_atom, connection_actor, std::vector<char> frame)
///   (closed_atom, connection_actor, caf::error reason)
/// exactly as an actor_handler() application does. Frames arriving after the
/// release go to the pool (see docs/pool.md: release only after the last
/// answer arrived, or release unhealthy).
struct lease {
  uint64_t id = 0; ///< unique per pool, never reused; 0 is never issued
  transports::connection_actor connection;
  transports::endpoint remote; ///< the endpoint this connection goes to
  /// Leases this connection had before this one: 0 = fresh. A request on a
  /// reused connection can meet the server closing it while idle (the
  /// keep-alive race), so a client may retry it once on another.
  uint32_t earlier_leases = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease& x) {
  return f(caf::meta::type_name("lease"), x.id, x.connection, x.remote,
           x.earlier_leases);
}

/// Per-endpoint figures.
struct endpoint_stats {
  transports::endpoint remote;
  breaker_state breaker = breaker_state::closed;
  uint32_t consecutive_failures = 0;
  uint64_t size = 0;            ///< members to this endpoint, any state
  uint64_t idle = 0;
  uint64_t in_use = 0;
  uint64_t created = 0;         ///< connections established
  uint64_t failed_connects = 0;
  uint64_t breaker_opened = 0;  ///< times the breaker opened
  uint64_t breaker_probes = 0;  ///< times it went half-open (probe connects)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, endpoint_stats& x) {
  return f(caf::meta::type_name("endpoint_stats"), x.remote, x.breaker,
           x.consecutive_failures, x.size, x.idle, x.in_use, x.created,
           x.failed_connects, x.breaker_opened, x.breaker_probes);
}

/// What the pool is doing. Gauges first, then counters since the start.
struct pool_stats {
  // -- gauges ----------------------------------------------------------------
  uint64_t size = 0;       ///< members holding or about to hold a socket:
                           ///< connecting + idle + in_use + probing + closing
  uint64_t connecting = 0; ///< start or connect under way
  uint64_t idle = 0;       ///< ready to be leased
  uint64_t in_use = 0;     ///< leased
  uint64_t probing = 0;    ///< idle, under a health check
  uint64_t closing = 0;    ///< asked to close, not gone yet
  uint64_t waiters = 0;    ///< acquires waiting
  uint64_t leases = 0;     ///< leases not yet released (in_use plus leases
                           ///< whose connection died under the holder)
  uint64_t peak_size = 0;  ///< the largest `size` ever
  bool draining = false;   ///< drain was requested: no more leases
  // -- counters --------------------------------------------------------------
  uint64_t created = 0;         ///< connections established
  uint64_t closed = 0;          ///< established connections gone (any reason)
  uint64_t failed_connects = 0; ///< connects that failed (after retries)
  uint64_t acquired = 0;        ///< leases handed out
  uint64_t reuses = 0;          ///< ... on a connection leased before
  uint64_t timeouts = 0;        ///< acquires that timed out
  uint64_t rejected = 0;        ///< acquires refused: pool_exhausted
  uint64_t unreachable = 0;     ///< acquires failed at once: every breaker
                                ///< open and nothing could come free
  uint64_t evictions = 0;       ///< closed by policy: idle_timeout,
                                ///< max_lifetime, max_idle, failed health
                                ///< check, data while idle
  uint64_t discarded = 0;       ///< released as unhealthy (then closed)
  uint64_t reclaimed = 0;       ///< leases taken back from dead holders
  uint64_t long_leases = 0;     ///< leases reported past max_lease
  uint64_t health_checks = 0;   ///< probes started
  uint64_t health_failures = 0; ///< probes failed (member evicted)
  uint64_t idle_frames = 0;     ///< frames that reached the pool instead of
                                ///< a holder (greetings, data while idle)
  std::vector<endpoint_stats> endpoints; ///< in the order of the options
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_stats& x) {
  return f(caf::meta::type_name("pool_stats"), x.size, x.connecting, x.idle,
           x.in_use, x.probing, x.closing, x.waiters, x.leases, x.peak_size,
           x.draining, x.created, x.closed, x.failed_connects, x.acquired,
           x.reuses, x.timeouts, x.rejected, x.unreachable, x.evictions,
           x.discarded, x.reclaimed, x.long_leases, x.health_checks,
           x.health_failures, x.idle_frames, x.endpoints);
}

/// Requests a pool answers:
/// - acquire [timeout]: a lease, at once if a connection is idle, else
///   after waiting in FIFO order for one (released or newly connected), at
///   most `timeout` (the pool's acquire_timeout without one; 0 = do not
///   wait). Errors: pool_exhausted (max_waiters already wait), timeout,
///   invalid_state (draining or closed), invalid_configuration (negative
///   timeout); when no endpoint can be reached (every breaker open, nothing
///   leased or connecting that could come free) circuit_open at once (its
///   detail names the last connect error). The pool answers every acquire
///   by its deadline (and when it stops), so the request needs no timeout
///   of its own: in CAF 0.17.6 a request timeout is a clock entry that is
///   never cancelled and a stale message later. The sender becomes the
///   holder and is monitored: if it dies, its leases are reclaimed and their
///   connections closed (their state is unknown).
/// - release id healthy: returns the lease. healthy = false closes the
///   connection. ok also when the connection died meanwhile. invalid_state
///   for an id never issued or already released (the pool is unaffected).
///   Any actor may release a lease: its id is the capability. Sent one-way
///   (send, anon_send) it is not answered (a failed one is logged): the
///   holder need not wait, and the pool still handles it before the same
///   sender's next acquire.
/// - stats: figures as they are now.
/// - drain: no more leases (waiters fail with invalid_state), idle
///   connections close, leased ones close when released; answered once no
///   connection is left. The pool stays up (answering stats) until closed.
/// - close: fails waiters, closes every connection (holders get closed),
///   answers once they are gone, then the pool exits (reason normal).
using pool_actor = caf::typed_actor<
  caf::replies_to<acquire_atom>::with<lease>,
  caf::replies_to<acquire_atom, caf::timespan>::with<lease>,
  caf::replies_to<release_atom, uint64_t, bool>::with<caf::ok_atom>,
  caf::replies_to<stats_atom>::with<pool_stats>,
  caf::replies_to<drain_atom>::with<caf::ok_atom>,
  caf::replies_to<close_atom>::with<caf::ok_atom>>;

} // namespace ghostnet::pool
