#pragma once

// Options of a connection pool. Every field has its default and unit;
// validate() names the field that is wrong.
//
// Counts are signed on purpose: a negative value from a config file or a
// computation is reported as such instead of wrapping to a huge limit.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/pool/balancer.hpp"
#include "ghostnet/pool/circuit_breaker.hpp"
#include "ghostnet/transports/endpoint.hpp"
#include "ghostnet/transports/tcp_options.hpp"

namespace ghostnet::pool {

/// Which idle connection an acquire gets.
enum class reuse_order : uint8_t {
  lifo, ///< the most recently released (default): few hot connections, the
        ///< rest age out through idle_timeout
  fifo, ///< the least recently released: spreads use over all of them
};

[[nodiscard]] const char* to_string(reuse_order x) noexcept;

/// Parses "lifo" or "fifo"; anything else is errc::invalid_configuration.
[[nodiscard]] caf::expected<reuse_order>
parse_reuse_order(std::string_view str);

/// What a frame that reaches the pool instead of a holder does: the member
/// is not leased (an answer to nobody, or the server speaking on its own),
/// or the frame was on its way before the member was leased.
enum class idle_data_policy : uint8_t {
  evict,   ///< close the member (default): its state is unknown
  discard, ///< drop the frame, keep the member: for servers that push
           ///< notices or keep-alives the client need not answer
};

[[nodiscard]] const char* to_string(idle_data_policy x) noexcept;

/// Parses "evict" or "discard"; anything else is errc::invalid_configuration.
[[nodiscard]] caf::expected<idle_data_policy>
parse_idle_data_policy(std::string_view str);

/// Sees a frame that reached the pool instead of a holder (a greeting, data
/// while idle) and the endpoint it came from. Runs inside the pool actor:
/// must not block; an exception is logged and ignored.
using idle_frame_handler = std::function<void(const transports::endpoint&,
                                              const std::vector<char>&)>;

/// Periodic checks of idle connections.
struct health_check_options {
  /// An idle connection not known good for this long is probed; 0 (default)
  /// disables health checks. A connection is known good when it was released
  /// healthy or passed a probe.
  caf::timespan interval{0};
  /// A probe must succeed within this long, or the connection is evicted;
  /// default 5 s.
  caf::timespan timeout = std::chrono::seconds(5);
  /// The probe: empty (default) = TCP level (the connection actor still
  /// reports itself connected: catches peers that closed or reset). Else
  /// this payload is sent as one frame and `expected_reply` must come back
  /// (catches peers that stopped answering).
  std::vector<char> request;
  /// With `request`: the bytes the peer must answer with, in one frame or
  /// split over several (raw framing); anything else fails the probe.
  std::vector<char> expected_reply;
};

struct pool_options {
  /// Used in logs and in the members' supervisor name; default "pool".
  std::string name = "pool";
  /// Where connections go (numeric addresses or "localhost"); at least one,
  /// no duplicates. Several endpoints are balanced (see `balancing`).
  std::vector<transports::endpoint> endpoints;
  /// Connections open at most, counting those connecting and closing;
  /// default 100.
  int32_t max_connections = 100;
  /// Idle connections kept at most; a released connection beyond this is
  /// closed; default 10. 1 <= max_idle <= max_connections.
  int32_t max_idle = 10;
  /// Idle connections the pool keeps ready (opened at start and refilled
  /// when used or lost); default 0. min_idle <= max_idle.
  int32_t min_idle = 0;
  /// Acquires waiting at most; one more fails at once with
  /// errc::pool_exhausted; default 1000.
  int32_t max_waiters = 1000;
  /// An idle connection unused for this long is closed (while more than
  /// min_idle are idle); default 60 s.
  caf::timespan idle_timeout = std::chrono::seconds(60);
  /// Per connect attempt; default 30 s.
  caf::timespan connect_timeout = std::chrono::seconds(30);
  /// Further attempts of one connect after the first fails with a temporary
  /// error; default 0 (the breaker and the next acquire retry instead).
  int32_t connect_retries = 0;
  /// Delay before the first retry, doubling up to connect_backoff_max;
  /// defaults 100 ms and 10 s.
  caf::timespan connect_backoff_min = std::chrono::milliseconds(100);
  caf::timespan connect_backoff_max = std::chrono::seconds(10);
  /// Adds up to this fraction to each retry delay; default 0.2, in [0, 1].
  double connect_jitter = 0.2;
  /// A connection older than this is closed when next idle (or released);
  /// default 0 = no limit.
  caf::timespan max_lifetime{0};
  /// Timeout of `acquire` without an explicit one; default 30 s.
  caf::timespan acquire_timeout = std::chrono::seconds(30);
  /// A lease held longer is reported (warn log, stats.long_leases), not
  /// revoked; default 0 = never.
  caf::timespan max_lease{0};
  /// Default lifo.
  reuse_order reuse = reuse_order::lifo;
  /// How an endpoint is picked; default round_robin.
  balancing_policy balancing = balancing_policy::round_robin;
  /// Idle health checks; default off.
  health_check_options health;
  /// Frames the server sends on its own right after a connect (greeting,
  /// banner): a new member counts as connected only once this many frames
  /// have arrived, within connect_timeout (else it fails like a connect), so
  /// no holder ever sees them; they go to `on_idle_frame`. Default 0: the
  /// client speaks first.
  int32_t greeting_frames = 0;
  /// Flow control towards the holder, as transports::actor_flow (gen_tcp's
  /// `{active, N}`): at most this many `received` messages outstanding at
  /// the lease's holder, which grants more with `(demand_atom, n)` to the
  /// connection; without credit the connection stops reading, so a holder
  /// that cannot keep up slows the server instead of growing its mailbox.
  /// Every lease (and the pool itself, between leases) starts with a full
  /// window. Default 0: no limit.
  int32_t receive_window = 0;
  /// Data that reaches the pool instead of a holder; default evict.
  idle_data_policy idle_data = idle_data_policy::evict;
  /// Sees greetings and data while idle before `idle_data` applies; default
  /// none.
  idle_frame_handler on_idle_frame;
  /// Per-endpoint circuit breaker; default 5 failures, 5 s cool-down.
  breaker_options breaker;
  /// Framing, timeouts and buffers of every member connection. Its drain
  /// timeout also bounds a graceful close (the pool then kills the member).
  transports::connection_options connection;
};

/// Checks `opts`; returns errc::invalid_configuration whose detail starts
/// with the field name ("max_connections: must be >= 1, got 0").
[[nodiscard]] caf::error validate(const pool_options& opts);

/// The connect options of a member to endpoint `ep` (from the pool options).
[[nodiscard]] transports::connect_options
connect_options_for(const pool_options& opts, const transports::endpoint& ep);

} // namespace ghostnet::pool
