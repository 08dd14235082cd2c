#include "member_handler.hpp"

#include <vector>

#include <caf/send.hpp>

#include "ghostnet/actors/atoms.hpp"

namespace ghostnet::pool::detail {

namespace {

class member final : public transports::connection_handler {
public:
  member(uint64_t id, caf::actor pool, uint32_t window)
    : id_(id), receiver_(std::move(pool)), window_(window), credit_(window) {
    // nop
  }

  void on_open(transports::connection_context& ctx) override {
    self_ = ctx.self();
    caf::anon_send(receiver_, member_up_atom::value, id_, self_);
  }

  void on_frame(transports::connection_context& ctx,
                transports::byte_view frame) override {
    std::vector<char> copy(frame.begin(), frame.end());
    if (window_ == 0) {
      forward(std::move(copy));
      return;
    }
    if (credit_ == 0) {
      waiting_.push_back(std::move(copy)); // the rest of the read
      return;
    }
    --credit_;
    forward(std::move(copy));
    if (credit_ == 0)
      ctx.pause_reading();
  }

  void on_demand(transports::connection_context& ctx, uint32_t n) override {
    if (window_ == 0)
      return;
    credit_ += n;
    size_t sent = 0;
    while (credit_ > 0 && sent < waiting_.size()) {
      --credit_;
      forward(std::move(waiting_[sent++]));
    }
    waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<ptrdiff_t>(sent));
    if (credit_ > 0)
      ctx.resume_reading();
  }

  void on_writable(transports::connection_context&) override {
    // A send of the holder's was refused (backpressure): it may retry.
    caf::anon_send(receiver_, writable_atom::value, self_);
  }

  caf::error on_set_receiver(transports::connection_context& ctx,
                             caf::actor receiver) override {
    // What waited for credit belongs to the receiver it arrived for (the
    // pool then sees data while idle and evicts, as it must); the new one
    // starts with a full window.
    flush();
    receiver_ = std::move(receiver); // not null: the connection checked
    if (window_ > 0) {
      credit_ = window_;
      ctx.resume_reading();
    }
    return caf::none;
  }

  void on_close(const caf::error& reason) override {
    if (!self_)
      return; // never opened: the pool learns from the member's exit
    flush();
    caf::anon_send(receiver_, closed_atom::value, self_, reason);
    receiver_ = nullptr; // no cycle pool → member → pool once closed
  }

private:
  /// Everything that waited for credit, in order. (A vector, not a deque:
  /// libstdc++'s deque allocates ~600 bytes up front, per member.)
  void flush() {
    for (auto& frame : waiting_)
      forward(std::move(frame));
    waiting_.clear();
  }

  void forward(std::vector<char> frame) {
    caf::anon_send(receiver_, received_atom::value, self_, std::move(frame));
  }

  uint64_t id_;
  caf::actor receiver_;
  transports::connection_actor self_;
  uint32_t window_;
  uint32_t credit_;
  std::vector<std::vector<char>> waiting_; ///< not a deque: see flush()
};

} // namespace

transports::handler_factory member_handler(uint64_t id, caf::actor pool,
                                           uint32_t window) {
  return [id, pool, window] {
    return std::make_unique<member>(id, pool, window);
  };
}

} // namespace ghostnet::pool::detail
