#include "ghostnet/transports/detail/connection_registry.hpp"

#include <caf/send.hpp>

namespace ghostnet::transports::detail {

bool connection_registry::add(const caf::actor& conn) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_)
    return false;
  live_.emplace(conn.id(), conn.address());
  size_.store(live_.size(), std::memory_order_relaxed);
  return true;
}

void connection_registry::remove(caf::actor_id id) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (live_.erase(id) == 0)
      return;
    size_.store(live_.size(), std::memory_order_relaxed);
  }
  // The listener asked to hear about ends (it is paused at the limit): one
  // message, then it asks again if it still has to wait.
  if (notify_.exchange(false))
    if (auto hdl = caf::actor_cast<caf::actor>(listener_))
      caf::anon_send(hdl, conn_ended_atom::value);
}

void connection_registry::close() {
  std::unordered_map<caf::actor_id, caf::actor_addr> rest;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    rest.swap(live_);
    size_.store(0, std::memory_order_relaxed);
  }
  for (auto& kvp : rest)
    if (auto hdl = caf::actor_cast<caf::actor>(kvp.second))
      caf::anon_send_exit(hdl, caf::exit_reason::kill);
}

void supervisor_hook::actor_exited(const caf::error&, caf::execution_unit*) {
  reg_->close();
}

bool supervisor_hook::matches(const token& what) {
  return what.subtype == token::anonymous && what.ptr == reg_.get();
}

} // namespace ghostnet::transports::detail
