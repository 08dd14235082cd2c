#pragma once

// The connections a listener spawned that have not ended yet, shared by the
// listener (which counts them against max_connections), an exit hook on each
// connection (which removes it, on whatever thread it exits) and a hook on
// the connections supervisor (which kills what is left when the supervisor
// is gone). It replaces a down_msg per connection, and a connection whose
// adoption message reached a supervisor that had already exited cannot
// outlive it unsupervised.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/attachable.hpp>

#include "ghostnet/actors/atoms.hpp"

namespace ghostnet::transports::detail {


class connection_registry {
public:
  /// Records `conn`; false once the supervisor is gone (then the caller
  /// must stop `conn` itself).
  bool add(const caf::actor& conn);

  /// Called by the connection's exit hook, on the thread where it exits.
  /// Tells the listener once if it asked (notify_on_end).
  void remove(caf::actor_id id);

  /// The supervisor is gone: nothing is adopted any more; kill the rest.
  void close();

  size_t size() const noexcept {
    return size_.load(std::memory_order_relaxed);
  }

  /// Whether the next end sends conn_ended_atom to the listener.
  void notify_on_end(bool flag) noexcept {
    notify_.store(flag);
  }

  /// Set before any connection exists.
  void set_listener(caf::actor_addr hdl) {
    listener_ = std::move(hdl);
  }

private:
  std::mutex mtx_;
  std::unordered_map<caf::actor_id, caf::actor_addr> live_;
  bool closed_ = false;
  std::atomic<size_t> size_{0};
  std::atomic<bool> notify_{false};
  caf::actor_addr listener_;
};

using registry_ptr = std::shared_ptr<connection_registry>;

/// Attached to the connections supervisor: closes the registry when the
/// supervisor exits. Detachable by the registry's address.
class supervisor_hook final : public caf::attachable {
public:
  explicit supervisor_hook(registry_ptr reg) : reg_(std::move(reg)) {
    // nop
  }

  void actor_exited(const caf::error&, caf::execution_unit*) override;

  bool matches(const token& what) override;

private:
  registry_ptr reg_;
};

} // namespace ghostnet::transports::detail
