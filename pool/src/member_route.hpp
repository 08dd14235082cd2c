#pragma once

// How a member connection reaches its current application end. The handler
// inside the connection actor (on the multiplexer thread) forwards every
// frame and the close to the route's target; the pool actor switches the
// target: itself while the member is idle, the holder while it is leased.
// The connection actor's API has no "switch handler" request, so the switch
// is a shared, mutex-guarded actor handle (private to the pool module).
//
// The handler also tells the pool when the connection is up:
// (member_up_atom, member id, connection_actor). The pool learns of a
// failed connect from the member's down_msg; it never sends the connection
// a request it might not answer (see docs/pool.md, CAF 0.17 brokers).

#include <cstdint>
#include <memory>
#include <mutex>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/transports/connection_handler.hpp"

namespace ghostnet::pool::detail {


class member_route {
public:
  /// A route for member `id` with no target yet.
  explicit member_route(uint64_t id = 0);

  [[nodiscard]] uint64_t member() const noexcept {
    return state_->member;
  }

  /// Frames and the close go to `x` from now on (none: dropped).
  void set_target(caf::actor x);

  [[nodiscard]] caf::actor target() const;

  /// Forgets the target (breaks the reference cycle pool → route → pool).
  void reset();

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, member_route&) {
    // Local only: a route means nothing on another node.
    return f(caf::meta::type_name("member_route"));
  }

private:
  struct state {
    explicit state(uint64_t id) : member(id) {
      // nop
    }
    const uint64_t member;
    mutable std::mutex mtx;
    caf::actor target;
  };
  std::shared_ptr<state> state_;
};

/// Handlers that forward (received_atom, connection_actor, frame) and
/// (closed_atom, connection_actor, reason) to the route's current target.
[[nodiscard]] transports::handler_factory forward_to(member_route route);

} // namespace ghostnet::pool::detail
