#include "member_handler.hpp"

#include <vector>

#include <caf/send.hpp>

#include "ghostnet/actors/atoms.hpp"

namespace ghostnet::pool::detail {

namespace {

class member final : public transports::connection_handler {
public:
  member(uint64_t id, caf::actor pool) : id_(id), receiver_(std::move(pool)) {
    // nop
  }

  void on_open(transports::connection_context& ctx) override {
    self_ = ctx.self();
    caf::anon_send(receiver_, member_up_atom::value, id_, self_);
  }

  void on_frame(transports::connection_context&,
                transports::byte_view frame) override {
    caf::anon_send(receiver_, received_atom::value, self_,
                   std::vector<char>(frame.begin(), frame.end()));
  }

  caf::error on_set_receiver(transports::connection_context&,
                             caf::actor receiver) override {
    receiver_ = std::move(receiver); // not null: the connection checked
    return caf::none;
  }

  void on_close(const caf::error& reason) override {
    if (!self_)
      return; // never opened: the pool learns from the member's exit
    caf::anon_send(receiver_, closed_atom::value, self_, reason);
    receiver_ = nullptr; // no cycle pool → member → pool once closed
  }

private:
  uint64_t id_;
  caf::actor receiver_;
  transports::connection_actor self_;
};

} // namespace

transports::handler_factory member_handler(uint64_t id, caf::actor pool) {
  return [id, pool] { return std::make_unique<member>(id, pool); };
}

} // namespace ghostnet::pool::detail
