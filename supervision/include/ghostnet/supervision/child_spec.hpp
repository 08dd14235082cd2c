#pragma once

// What a supervisor needs to know about one child: how to start it, when to
// restart it, how to stop it. Mirrors OTP's child_spec() map, plus backoff.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/meta/omittable.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace ghostnet::supervision {

/// When a child that exited is restarted (OTP's restart types).
enum class restart_type : uint8_t {
  permanent, ///< always restarted
  transient, ///< restarted only after an abnormal exit (not normal/shutdown)
  temporary, ///< never restarted; its spec is removed when it exits
};

/// Whether a child is a worker or itself a supervisor (affects defaults only:
/// a supervisor child gets `shutdown_policy::infinity()` by default).
enum class child_kind : uint8_t { worker, supervisor };

/// How a child is stopped: killed at once, asked to stop with a deadline after
/// which it is killed, or asked and waited for without limit.
struct shutdown_policy {
  enum class mode : uint8_t { brutal_kill, timeout, infinity };
  mode how = mode::timeout;
  caf::timespan timeout = std::chrono::seconds(5); ///< used with mode::timeout

  static shutdown_policy brutal_kill() { return {mode::brutal_kill, {}}; }
  static shutdown_policy after(caf::timespan t) { return {mode::timeout, t}; }
  static shutdown_policy infinity() { return {mode::infinity, {}}; }
};

/// Delay between a child's exit and its restart (Akka-style backoff). With
/// `min == 0` (the default) restarts are immediate, as in OTP.
struct backoff_policy {
  caf::timespan min{0};                        ///< first delay; 0 = no backoff
  caf::timespan max = std::chrono::seconds(30); ///< delays double up to this
  /// Adds up to this fraction of the (capped) delay as jitter, so a delay
  /// may exceed `max` by that much: children that fail together do not
  /// all come back at the same instant.
  double random_factor = 0.2;
  /// A child that ran at least this long before failing starts over at `min`.
  caf::timespan reset_after = std::chrono::seconds(10);
};

/// Starts a child and returns it. Runs inside the supervisor; must not block.
/// `args` are the extra arguments of a simple_one_for_one `start_child`
/// (empty for static children). Errors and exceptions become
/// `errc::start_failed` for the caller, never a crash of the supervisor.
using start_function =
  std::function<caf::expected<caf::actor>(caf::actor_system&, const caf::message& args)>;

struct child_spec {
  std::string id;                       ///< unique among the supervisor's children
  start_function start;                 ///< required
  restart_type restart = restart_type::permanent;
  shutdown_policy shutdown = shutdown_policy::after(std::chrono::seconds(5));
  child_kind kind = child_kind::worker;
  /// If set, this child's (non-restarted) exit may end its supervisor, per the
  /// supervisor's auto_shutdown setting. Only transient/temporary children.
  bool significant = false;
  backoff_policy backoff;
  /// If set, an abnormal exit of this child is routine (a connection reset by
  /// its peer, an idle timeout): the supervisor logs it at debug, not warn.
  /// Subscribers get the same events either way.
  bool routine_exits = false;
  /// How long the child may take to confirm its start (the start
  /// handshake). A child has started when the start function returned it
  /// AND it has run its initialisation: made its first behaviour and handled
  /// what the start function sent it. The supervisor checks that with a
  /// request that CAF answers for every event-based actor, typed actor and
  /// broker (a child of kind `supervisor` is asked `await_start` instead and
  /// answers once its own children have started). A child that dies first,
  /// or does not confirm in time (it is killed), failed to START: a first
  /// start answers `start_failed` naming the child and burns no restart
  /// intensity (a failed RE-start counts as a restart, as in OTP). Zero turns
  /// the handshake off (the child counts as started when the start function
  /// returns): needed for blocking actors, which never answer it.
  caf::timespan start_timeout = std::chrono::seconds(5);
};

/// A worker child started by `start` (which gets no args, or the
/// simple_one_for_one args if it accepts them).
[[nodiscard]] child_spec worker(std::string id, start_function start,
                                restart_type restart = restart_type::permanent);

/// Checks one spec on its own: id and start function present, shutdown
/// timeout and backoff bounds sane, `significant` only on non-permanent
/// children. Returns `errc::invalid_configuration` naming the field.
[[nodiscard]] caf::error validate(const child_spec& spec);

[[nodiscard]] const char* to_string(restart_type x) noexcept;
[[nodiscard]] const char* to_string(child_kind x) noexcept;

/// Serializes the declarative part of a spec (the start function is local).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_spec& x) {
  return f(caf::meta::type_name("child_spec"), x.id);
}

} // namespace ghostnet::supervision
