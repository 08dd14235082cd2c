#pragma once

// The node's live dashboard, as Erlang's observer is for a VM: the
// supervision tree with every child's state, restarts and last exit, the
// connection and byte counters as charts, and actions on the tree (kill a
// child and watch it restart, restart, terminate, drain a listener, the
// log level). See docs/dashboard.md.
//
// A page at GET `/` (no build step, nothing from the internet) talks to the
// dashboard actor over one WebSocket, `/dashboard/live`: the actor walks
// the tree every `refresh` and pushes it when it changed (no polling from
// the page); the page sends actions back as text commands. The WebSocket is
// guarded as the admin API is: loopback peers only, or a bearer token
// (`?token=` in the page's URL, since browsers cannot set headers there).

#include <chrono>
#include <memory>
#include <mutex>

#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/supervision/child_spec.hpp"
#include "ghostnet/supervision/supervisor_actor.hpp"
#include "ghostnet/transports/http/admin_routes.hpp"
#include "ghostnet/transports/http/http_router.hpp"

namespace ghostnet::transports::http {

/// Where the dashboard finds the tree: set once the root exists (after
/// node::start), read on every walk. Weak: the dashboard is the root's own
/// child, and a strong handle here would make the root keep itself alive.
class dashboard_root {
public:
  void set(const supervision::supervisor_actor& root) {
    std::lock_guard<std::mutex> guard{mtx_};
    root_ = root.address();
  }

  [[nodiscard]] supervision::supervisor_actor get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return caf::actor_cast<supervision::supervisor_actor>(root_);
  }

private:
  mutable std::mutex mtx_;
  caf::actor_addr root_;
};

struct dashboard_options {
  admin_options guard;
  /// How often the tree is walked; a change is pushed at once. Default 250 ms.
  caf::timespan refresh = std::chrono::milliseconds(250);
  std::shared_ptr<dashboard_root> root = std::make_shared<dashboard_root>();
};

/// The dashboard actor as a supervised worker ("dashboard"), registered
/// under the name the routes look it up by.
[[nodiscard]] supervision::child_spec dashboard_child(dashboard_options opts);

/// GET / (the page) and the WebSocket /dashboard/live on `router`, for the
/// dashboard actor of `sys` (which must outlive the routes).
[[nodiscard]] caf::error add_dashboard(http_router& router, caf::actor_system& sys,
                                       dashboard_options opts);

} // namespace ghostnet::transports::http
