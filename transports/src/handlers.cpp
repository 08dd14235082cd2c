#include "ghostnet/transports/connection_handler.hpp"


#include <caf/send.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/transports/detail/credit_window.hpp"

namespace ghostnet::transports {

namespace {

class echo final : public connection_handler {
public:
  void on_frame(connection_context& ctx, byte_view frame) override {
    // An echo that cannot keep up drops the connection rather than grow:
    // backpressure already stopped reading, so this only triggers when a
    // single read exceeds the high-water mark on its own.
    if (auto err = ctx.send(frame))
      ctx.abort(std::move(err));
  }
};

class forward_to_actor final : public connection_handler {
public:
  forward_to_actor(caf::actor app, actor_flow flow)
    : app_(std::move(app)),
      flow_(flow.window, [this](std::vector<char> frame) { forward(std::move(frame)); }) {
    // nop
  }

  void on_open(connection_context& ctx) override {
    self_ = ctx.self();
    caf::anon_send(app_, opened_atom::value, self_, ctx.info());
  }

  void on_frame(connection_context& ctx, byte_view frame) override {
    if (flow_.offer(std::vector<char>(frame.begin(), frame.end())))
      ctx.pause_reading();
  }

  void on_demand(connection_context& ctx, uint32_t n) override {
    if (flow_.grant(n))
      ctx.resume_reading();
  }

  caf::error on_set_receiver(connection_context&, caf::actor receiver) override {
    app_ = std::move(receiver); // not null: the connection checked
    return caf::none;
  }

  void on_close(const caf::error& reason) override {
    // Frames still waiting for demand are the handler's too: they go first.
    flow_.flush();
    caf::anon_send(app_, closed_atom::value, self_, reason);
  }

private:
  void forward(std::vector<char> frame) {
    caf::anon_send(app_, received_atom::value, self_, std::move(frame));
  }

  caf::actor app_;
  connection_actor self_;
  detail::credit_window<std::vector<char>> flow_;
};

} // namespace

caf::error connection_handler::on_set_receiver(connection_context& ctx,
                                               caf::actor) {
  return make_error(errc::invalid_state, "set receiver",
                    ctx.info().remote.to_string(), 0,
                    "the connection's handler sends to no actor");
}

handler_factory echo_handler() {
  return [] { return std::make_unique<echo>(); };
}

handler_factory actor_handler(caf::actor app, actor_flow flow) {
  return [app, flow] { return std::make_unique<forward_to_actor>(app, flow); };
}

} // namespace ghostnet::transports
