#include "ghostnet/transports/tcp_service.hpp"

#include <memory>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/supervisor.hpp"
#include "ghostnet/transports/detail/socket_ops.hpp"
#include "ghostnet/transports/tcp_connection.hpp"
#include "ghostnet/transports/tcp_listener.hpp"

namespace ghostnet::transports {

namespace sv = supervision;

namespace {

/// What the two children of a service share: rest_for_one guarantees that
/// the listener (re)starts after the connections supervisor it uses.
struct service_state {
  sv::supervisor_actor connections;
  std::optional<endpoint> bound;
};

sv::child_spec connections_child(const tcp_service_options& opts,
                                 std::shared_ptr<service_state> state) {
  sv::child_spec conn;
  conn.id = "connection";
  conn.restart = sv::restart_type::temporary;
  // A peer's reset or an idle timeout is a connection's everyday end, logged
  // by the connection itself (debug): not a warning per connection.
  conn.routine_exits = true;
  conn.shutdown = sv::shutdown_policy::after(opts.listener.connection_shutdown);
  // The listener spawns connections itself and has them adopted; this start
  // function serves `start_child(socket_handle, endpoint)` requests.
  // Validated by tcp_service() before: cannot fail here, but says so if.
  auto config = detail::make_connection_config(opts.listener.connection,
                                               opts.handler);
  conn.start = [config](caf::actor_system& sys,
                        const caf::message& args) -> caf::expected<caf::actor> {
    if (!config)
      return config.error();
    if (!args.match_elements<socket_handle, endpoint>())
      return make_error(errc::invalid_state, "start connection", "", 0,
                        "expected a socket_handle and the peer endpoint");
    auto sock = args.get_as<socket_handle>(0);
    auto conn = detail::spawn_accepted_connection(
      sys, sock, args.get_as<endpoint>(1), *config);
    if (!conn)
      return std::move(conn.error());
    return caf::actor_cast<caf::actor>(*conn);
  };
  sv::supervisor_spec spec;
  spec.name = opts.name + ".connections";
  spec.flags.how = sv::strategy::simple_one_for_one;
  // On the I/O thread with its connections and the listener: adopting a
  // connection and learning of its end are no thread hop (performance.md).
  spec.io_thread = true;
  spec.children.push_back(std::move(conn));
  sv::child_spec result;
  result.id = "connections";
  result.kind = sv::child_kind::supervisor;
  result.shutdown = sv::shutdown_policy::infinity();
  result.start = [spec, state](caf::actor_system& sys,
                               const caf::message&) -> caf::expected<caf::actor> {
    auto sup = sv::spawn_supervisor(sys, spec);
    if (!sup)
      return std::move(sup.error());
    state->connections = *sup;
    return caf::actor_cast<caf::actor>(*sup);
  };
  return result;
}

sv::child_spec listener_child(const tcp_service_options& opts,
                              std::shared_ptr<service_state> state) {
  sv::child_spec result;
  result.id = "listener";
  result.shutdown = sv::shutdown_policy::after(std::chrono::seconds(5));
  result.start = [lopts = opts.listener, on_bound = opts.on_bound,
                  handler = opts.handler, state](caf::actor_system& sys,
                         const caf::message&) -> caf::expected<caf::actor> {
    auto bind_opts = lopts;
    if (state->bound)
      bind_opts.bind.port = state->bound->port; // keep the port on restart
    auto sock = detail::open_tcp_listener(bind_opts);
    if (!sock)
      return std::move(sock.error());
    auto bound = local_endpoint_of(sock->get());
    bool first = !state->bound;
    state->bound = bound;
    auto listener = spawn_tcp_listener(sys, std::move(*sock), lopts, handler,
                                       state->connections);
    if (!listener)
      return std::move(listener.error());
    if (on_bound && first)
      on_bound(bound);
    return caf::actor_cast<caf::actor>(*listener);
  };
  return result;
}

} // namespace

caf::expected<sv::child_spec> tcp_service(tcp_service_options opts) {
  if (opts.name.empty())
    return make_error(errc::invalid_configuration, "validate tcp service", "",
                      0, "name: must not be empty");
  if (!opts.handler && !opts.listener.connection.protocol)
    return make_error(errc::invalid_configuration, "validate tcp service",
                      opts.name, 0,
                      "handler: is missing (or set listener.connection."
                      "protocol)");
  if (auto err = validate(opts.listener))
    return err;
  auto state = std::make_shared<service_state>();
  sv::supervisor_spec spec;
  spec.name = opts.name;
  spec.flags.how = sv::strategy::rest_for_one;
  spec.flags.intensity = 3;
  spec.flags.period = std::chrono::seconds(5);
  spec.children.push_back(connections_child(opts, state));
  spec.children.push_back(listener_child(opts, state));
  return sv::supervisor_child(opts.name, std::move(spec));
}

} // namespace ghostnet::transports
