#include "member_route.hpp"

#include <vector>

#include <caf/send.hpp>

namespace ghostnet::pool::detail {

member_route::member_route(uint64_t id) : state_(std::make_shared<state>(id)) {
  // nop
}

void member_route::set_target(caf::actor x) {
  std::lock_guard<std::mutex> guard{state_->mtx};
  state_->target = std::move(x);
}

caf::actor member_route::target() const {
  std::lock_guard<std::mutex> guard{state_->mtx};
  return state_->target;
}

void member_route::reset() {
  set_target(caf::actor{});
}

namespace {

class forwarder final : public transports::connection_handler {
public:
  explicit forwarder(member_route route) : route_(std::move(route)) {
    // nop
  }

  void on_open(transports::connection_context& ctx) override {
    self_ = ctx.self();
    if (auto target = route_.target())
      caf::anon_send(target, member_up_atom::value, route_.member(), self_);
  }

  void on_frame(transports::connection_context&,
                transports::byte_view frame) override {
    if (auto target = route_.target())
      caf::anon_send(target, received_atom::value, self_,
                     std::vector<char>(frame.begin(), frame.end()));
  }

  void on_close(const caf::error& reason) override {
    if (!self_)
      return; // never opened: the pool learns from the connect reply
    if (auto target = route_.target())
      caf::anon_send(target, closed_atom::value, self_, reason);
  }

private:
  member_route route_;
  transports::connection_actor self_;
};

} // namespace

transports::handler_factory forward_to(member_route route) {
  return [route] { return std::make_unique<forwarder>(route); };
}

} // namespace ghostnet::pool::detail
