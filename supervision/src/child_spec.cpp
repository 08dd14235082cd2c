#include "ghostnet/supervision/child_spec.hpp"

#include <unordered_set>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/supervisor.hpp"
#include "ghostnet/supervision/supervisor_messages.hpp"
#include "ghostnet/supervision/supervisor_spec.hpp"

namespace ghostnet::supervision {

namespace {

caf::error bad_spec(const std::string& where, std::string what) {
  return make_error(errc::invalid_configuration, "validate child spec", where,
                    0, std::move(what));
}

} // namespace

child_spec worker(std::string id, start_function start, restart_type restart) {
  child_spec result;
  result.id = std::move(id);
  result.start = std::move(start);
  result.restart = restart;
  return result;
}

caf::error validate(const child_spec& spec) {
  if (spec.id.empty())
    return bad_spec("<unnamed>", "id must not be empty");
  if (!spec.start)
    return bad_spec(spec.id, "start function is missing");
  if (spec.shutdown.how == shutdown_policy::mode::timeout
      && spec.shutdown.timeout <= caf::timespan{0})
    return bad_spec(spec.id, "shutdown timeout must be > 0");
  const auto& b = spec.backoff;
  if (b.min < caf::timespan{0} || b.max < caf::timespan{0}
      || b.reset_after < caf::timespan{0})
    return bad_spec(spec.id, "backoff durations must not be negative");
  if (b.min > b.max)
    return bad_spec(spec.id, "backoff min must not exceed backoff max");
  if (!(b.random_factor >= 0.0 && b.random_factor <= 10.0))
    return bad_spec(spec.id, "backoff random_factor must be in [0, 10]");
  if (spec.start_timeout < caf::timespan{0})
    return bad_spec(spec.id, "start timeout must not be negative (0: no handshake)");
  if (spec.significant && spec.restart == restart_type::permanent)
    return bad_spec(spec.id, "a significant child must be transient or temporary");
  return caf::none;
}

caf::error validate(const supervisor_spec& spec) {
  const auto& f = spec.flags;
  if (f.period <= caf::timespan{0})
    return make_error(errc::invalid_configuration, "validate supervisor spec",
                      spec.name, 0, "period must be > 0");
  if (f.how == strategy::simple_one_for_one) {
    if (spec.children.size() != 1)
      return make_error(errc::invalid_configuration, "validate supervisor spec",
                        spec.name, 0,
                        "simple_one_for_one needs exactly one child template");
    if (f.shutdown_when != auto_shutdown::never)
      return make_error(errc::invalid_configuration, "validate supervisor spec",
                        spec.name, 0,
                        "auto_shutdown is not supported with simple_one_for_one");
  }
  if (spec.max_in_flight == 0)
    return make_error(errc::invalid_configuration, "validate supervisor spec",
                      spec.name, 0, "max_in_flight must be > 0");
  std::unordered_set<std::string> ids;
  for (const auto& child : spec.children) {
    if (auto err = validate(child))
      return err;
    if (auto err = validate_significance(child, f.shutdown_when, spec.name))
      return err;
    if (!ids.insert(child.id).second)
      return make_error(errc::duplicate_child, "validate supervisor spec",
                        spec.name, 0, "duplicate child id '" + child.id + "'");
  }
  return caf::none;
}

caf::error validate_significance(const child_spec& child, auto_shutdown when,
                                 const std::string& supervisor) {
  if (child.significant && when == auto_shutdown::never)
    return make_error(errc::invalid_configuration, "validate child spec",
                      supervisor, 0,
                      "child '" + child.id
                        + "' is significant, but auto_shutdown is never: "
                          "its exit could not end the supervisor");
  return caf::none;
}

child_spec supervisor_child(std::string id, supervisor_spec spec,
                            restart_type restart) {
  child_spec result;
  result.id = std::move(id);
  result.restart = restart;
  result.kind = child_kind::supervisor;
  result.shutdown = shutdown_policy::infinity();
  result.start = [spec = std::move(spec)](caf::actor_system& sys,
                                          const caf::message&)
    -> caf::expected<caf::actor> {
    auto sup = spawn_supervisor(sys, spec);
    if (!sup)
      return sup.error();
    return caf::actor_cast<caf::actor>(*sup);
  };
  return result;
}

const char* to_string(restart_type x) noexcept {
  switch (x) {
    case restart_type::permanent: return "permanent";
    case restart_type::transient: return "transient";
    case restart_type::temporary: return "temporary";
  }
  return "?";
}

const char* to_string(child_kind x) noexcept {
  return x == child_kind::worker ? "worker" : "supervisor";
}

const char* to_string(strategy x) noexcept {
  switch (x) {
    case strategy::one_for_one: return "one_for_one";
    case strategy::one_for_all: return "one_for_all";
    case strategy::rest_for_one: return "rest_for_one";
    case strategy::simple_one_for_one: return "simple_one_for_one";
  }
  return "?";
}

const char* to_string(auto_shutdown x) noexcept {
  switch (x) {
    case auto_shutdown::never: return "never";
    case auto_shutdown::any_significant: return "any_significant";
    case auto_shutdown::all_significant: return "all_significant";
  }
  return "?";
}

const char* to_string(child_state x) noexcept {
  switch (x) {
    case child_state::starting: return "starting";
    case child_state::running: return "running";
    case child_state::restarting: return "restarting";
    case child_state::stopping: return "stopping";
    case child_state::stopped: return "stopped";
  }
  return "?";
}

const char* to_string(event_kind x) noexcept {
  switch (x) {
    case event_kind::child_started: return "child_started";
    case event_kind::child_exited: return "child_exited";
    case event_kind::restart_scheduled: return "restart_scheduled";
    case event_kind::child_restarted: return "child_restarted";
    case event_kind::child_terminated: return "child_terminated";
    case event_kind::start_failed: return "start_failed";
    case event_kind::gave_up: return "gave_up";
    case event_kind::supervisor_stopped: return "supervisor_stopped";
    case event_kind::child_abandoned: return "child_abandoned";
  }
  return "?";
}

} // namespace ghostnet::supervision
