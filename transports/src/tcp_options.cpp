#include "ghostnet/transports/detail/resolver.hpp"
#include "ghostnet/transports/tcp_options.hpp"

#include "ghostnet/actors/error.hpp"
#include "ghostnet/transports/connection_actor.hpp"
#include "ghostnet/transports/tls_context.hpp"

namespace ghostnet::transports {

namespace {

caf::error bad(const char* component, const std::string& field,
               std::string why) {
  return config_error(std::string{"validate "} + component, "", field,
                      std::move(why));
}

bool negative(caf::timespan x) {
  return x < caf::timespan{0};
}

/// A TLS layer must have the role of its end of the connection.
caf::error check_tls_role(const char* component, const tls_layer_options& tls,
                          tls_role expected) {
  if (!tls.context)
    return caf::none;
  auto role = tls.context->current()->role();
  if (role != expected)
    return bad(component, "connection.tls.context",
               std::string{"needs a "} + to_string(expected)
                 + " context, got a " + to_string(role) + " context");
  return caf::none;
}

} // namespace

caf::error validate(const connection_options& opts) {
  if (auto err = validate(opts.framing))
    return err;
  const auto& t = opts.timeouts;
  if (negative(t.idle) || negative(t.read) || negative(t.write)
      || negative(t.drain))
    return bad("connection options", "timeouts", "must not be negative");
  if (opts.high_water_mark == 0)
    return bad("connection options", "high_water_mark", "must be > 0");
  if (opts.low_water_mark > opts.high_water_mark)
    return bad("connection options", "low_water_mark",
               "must not exceed high_water_mark");
  if (opts.min_read_size == 0 || opts.min_read_size > opts.max_read_size)
    return bad("connection options", "min_read_size",
               "must be > 0 and <= max_read_size");
  if (opts.max_read_size > 16 * 1024 * 1024)
    return bad("connection options", "max_read_size", "must be <= 16 MiB");
  if (opts.socket.send_buffer < 0 || opts.socket.receive_buffer < 0)
    return bad("connection options", "socket buffers", "must not be negative");
  if (opts.tls.context && opts.tls.handshake_timeout <= caf::timespan{0})
    return bad("connection options", "tls.handshake_timeout", "must be > 0");
  return caf::none;
}

caf::error validate(const listener_options& opts) {
  if (auto addr = to_socket_address(opts.bind); !addr)
    return std::move(addr.error());
  if (opts.backlog <= 0)
    return bad("listener options", "backlog", "must be > 0");
  if (opts.max_connections == 0)
    return bad("listener options", "max_connections", "must be > 0");
  if (opts.resume_below > opts.max_connections)
    return bad("listener options", "resume_below",
               "must not exceed max_connections");
  if (opts.accept_backoff_min <= caf::timespan{0}
      || opts.accept_backoff_max < opts.accept_backoff_min)
    return bad("listener options", "accept_backoff",
               "need 0 < accept_backoff_min <= accept_backoff_max");
  if (opts.max_accepts_per_event == 0)
    return bad("listener options", "max_accepts_per_event", "must be > 0");
  if (opts.connection_shutdown <= caf::timespan{0})
    return bad("listener options", "connection_shutdown", "must be > 0");
  if (auto err = check_tls_role("listener options", opts.connection.tls,
                                tls_role::server))
    return err;
  return validate(opts.connection);
}

caf::error validate(const connect_options& opts) {
  if (detail::needs_lookup(opts.remote) && !detail::is_host_name(opts.remote.host))
    return make_error(errc::invalid_address, "connect",
                      opts.remote.to_string(), 0,
                      "neither a numeric IPv4/IPv6 address nor a host name");
  if (opts.remote.port == 0)
    return bad("connect options", "remote", "port must not be 0");
  if (opts.timeout <= caf::timespan{0})
    return bad("connect options", "timeout", "must be > 0");
  if (negative(opts.backoff_min) || opts.backoff_max < opts.backoff_min)
    return bad("connect options", "backoff",
               "need 0 <= backoff_min <= backoff_max");
  if (!(opts.backoff_jitter >= 0.0 && opts.backoff_jitter <= 1.0))
    return bad("connect options", "backoff_jitter", "must be in [0, 1]");
  if (auto err = check_tls_role("connect options", opts.connection.tls,
                                tls_role::client))
    return err;
  return validate(opts.connection);
}

const char* to_string(connection_state x) noexcept {
  switch (x) {
    case connection_state::connecting: return "connecting";
    case connection_state::connected: return "connected";
    case connection_state::draining: return "draining";
    case connection_state::closed: return "closed";
  }
  return "?";
}

} // namespace ghostnet::transports
