#include "ghostnet/transports/connection_handler.hpp"

#include <caf/send.hpp>

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
  explicit forward_to_actor(caf::actor app) : app_(std::move(app)) {}

  void on_open(connection_context& ctx) override {
    self_ = ctx.self();
    caf::anon_send(app_, opened_atom::value, self_, ctx.info());
  }

  void on_frame(connection_context&, byte_view frame) override {
    caf::anon_send(app_, received_atom::value, self_,
                   std::vector<char>(frame.begin(), frame.end()));
  }

  void on_close(const caf::error& reason) override {
    caf::anon_send(app_, closed_atom::value, self_, reason);
  }

private:
  caf::actor app_;
  connection_actor self_;
};

} // namespace

handler_factory echo_handler() {
  return [] { return std::make_unique<echo>(); };
}

handler_factory actor_handler(caf::actor app) {
  return [app] { return std::make_unique<forward_to_actor>(app); };
}

} // namespace ghostnet::transports
