// The handlers ghostnet ships: the echo, and actor mode.

#include "ghostnet/transports/websocket/websocket_handler.hpp"


#include <caf/send.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/transports/detail/credit_window.hpp"
#include "websocket_layer.hpp"

namespace ghostnet::transports::ws {

namespace {

class echo final : public websocket_handler {
public:
  void on_message(websocket_context& ctx, bool text,
                  std::string_view data) override {
    // The layer pauses reading while echoes pile up, so this refusal only
    // comes from a single message above the high-water mark on its own.
    auto err = text ? ctx.send_text(data)
                    : ctx.send_binary(byte_view{data.data(), data.size()});
    if (err)
      ctx.close(close_code::policy_violation, "cannot keep up");
  }
};

/// Actor mode, with actor_flow's window as for framed connections.
class forward_to_actor final : public websocket_handler {
public:
  forward_to_actor(std::function<caf::actor()> find_app,
                   websocket_actor_options opts)
    : find_app_(std::move(find_app)),
      opts_(opts),
      flow_(opts.flow.window, [this](caf::message msg) { forward(std::move(msg)); }) {
    // nop
  }

  void on_open(websocket_context& ctx) override {
    app_ = find_app_ ? find_app_() : caf::actor{};
    self_ = detail::spawn_facade(ctx.connection(), app_, opts_.app_down_code);
    if (!app_) {
      ctx.close(opts_.app_down_code, "no handler actor");
      return;
    }
    caf::anon_send(app_, opened_atom::value, self_, ctx.info());
  }

  void on_message(websocket_context& ctx, bool text,
                  std::string_view data) override {
    auto msg = text ? caf::make_message(text_atom::value, self_, std::string{data})
                    : caf::make_message(binary_atom::value, self_,
                                        std::vector<char>(data.begin(), data.end()));
    if (flow_.offer(std::move(msg)))
      ctx.pause_reading();
  }

  void on_demand(websocket_context& ctx, uint32_t n) override {
    if (flow_.grant(n))
      ctx.resume_reading();
  }

  void on_close(const ws_close& how) override {
    flow_.flush();
    if (app_)
      caf::anon_send(app_, closed_atom::value, self_, how);
  }

private:
  void forward(caf::message msg) {
    if (app_)
      caf::anon_send(app_, std::move(msg));
  }

  std::function<caf::actor()> find_app_;
  websocket_actor_options opts_;
  caf::actor app_;
  websocket_actor self_;
  transports::detail::credit_window<caf::message> flow_;
};

} // namespace

websocket_handler_factory websocket_echo() {
  return [] { return std::make_unique<echo>(); };
}

websocket_handler_factory
websocket_actor_handler(std::function<caf::actor()> find_app,
                        websocket_actor_options opts) {
  return [find_app = std::move(find_app), opts] {
    return std::make_unique<forward_to_actor>(find_app, opts);
  };
}

caf::error validate(const websocket_options& opts) {
  auto bad = [](const char* field, const char* why) {
    return config_error("validate websocket", "", field, why);
  };
  if (opts.max_message_size == 0)
    return bad("max_message_size", "must be > 0");
  if (opts.ping_interval < caf::timespan{0})
    return bad("ping_interval", "must be >= 0 (0: no keep-alive)");
  if (opts.ping_interval > caf::timespan{0} && opts.pong_timeout <= caf::timespan{0})
    return bad("pong_timeout", "must be > 0");
  if (opts.close_timeout <= caf::timespan{0})
    return bad("close_timeout", "must be > 0");
  for (auto& p : opts.subprotocols)
    if (p.empty() || p.find_first_of(" ,\t\r\n") != std::string::npos)
      return bad("subprotocols", "each must be a non-empty token");
  return caf::none;
}

} // namespace ghostnet::transports::ws
