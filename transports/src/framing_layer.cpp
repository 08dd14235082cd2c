#include "ghostnet/transports/framing_layer.hpp"

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

namespace {

/// Bytes to frames to the handler, and the handler's sends to frames. Is
/// the handler's connection_context.
class framing final : public upper_layer,
                      private connection_context,
                      private frame_sink {
public:
  framing(const framing_options& opts,
          std::unique_ptr<connection_handler> handler)
    : framer_(make_framer(opts)), handler_(std::move(handler)) {
    // nop
  }

  // -- upper_layer ------------------------------------------------------------

  caf::error start(lower_layer& down) override {
    down_ = &down;
    info_ = &down.info(); // stable for the connection's life: no call per frame
    down.established();
    handler_->on_open(*this);
    return caf::none;
  }

  caf::expected<size_t> consume(byte_view input) override {
    // Count each byte once, when it first shows up at the end of `input`.
    info_->bytes_in += input.size() - carried_;
    auto used = framer_->decode(input, *this);
    if (!used)
      return used;
    carried_ = input.size() - *used;
    return used;
  }

  caf::error on_eof() override {
    // The answers to what the peer sent are written already: close.
    down_->close();
    return caf::none;
  }

  void request_close() override {
    if (down_)
      down_->close();
  }

  void on_writable() override {
    if (!notify_writable_)
      return;
    notify_writable_ = false;
    handler_->on_writable(*this);
  }

  void on_close(const caf::error& reason) override {
    handler_->on_close(reason);
  }

  caf::error on_send(byte_view payload) override {
    return send(payload);
  }

  void on_demand(uint32_t n) override {
    if (down_)
      handler_->on_demand(*this, n);
  }

  caf::error on_set_receiver(caf::actor receiver) override {
    return handler_->on_set_receiver(*this, std::move(receiver));
  }

  const char* name() const noexcept override {
    return "framing";
  }

private:
  // -- connection_context -----------------------------------------------------

  caf::error send(byte_view payload) override {
    auto state = info_ ? info_->state : connection_state::connecting;
    if (state == connection_state::connecting)
      return make_error(errc::invalid_state, "send", where(), 0,
                        "not established yet (wait for the connect reply)");
    if (state != connection_state::connected)
      return make_error(errc::transport_closed, "send", where());
    if (!down_->can_send_more()) {
      notify_writable_ = true;
      return make_error(errc::backpressure, "send", where(), 0,
                        "the bytes waiting to be sent are above the "
                        "high-water mark");
    }
    auto& out = down_->begin_output();
    auto before = out.size();
    if (auto err = framer_->encode(payload, out)) {
      out.resize(before);
      down_->end_output();
      return err;
    }
    info_->bytes_out += out.size() - before;
    ++info_->frames_out;
    down_->end_output();
    return caf::none;
  }

  void close() override {
    down_->close();
  }

  void abort(caf::error reason) override {
    down_->abort(std::move(reason));
  }

  const connection_info& info() const noexcept override {
    return down_->full_info();
  }

  connection_actor self() const override {
    return down_->self();
  }

  void pause_reading() override {
    down_->pause_reading();
  }

  void resume_reading() override {
    down_->resume_reading();
  }

  // -- frame_sink -------------------------------------------------------------

  void on_frame(byte_view frame) override {
    ++info_->frames_in;
    // While draining, what the peer still sends is read (so that its FIN
    // arrives) but not handed on: nothing could be answered any more.
    if (info_->state == connection_state::connected)
      handler_->on_frame(*this, frame);
  }

  std::string where() const {
    return down_ ? down_->full_info().remote.to_string() : std::string{};
  }

  std::unique_ptr<framer> framer_;
  std::unique_ptr<connection_handler> handler_;
  lower_layer* down_ = nullptr;
  connection_info* info_ = nullptr; ///< down_->info(), looked up once
  size_t carried_ = 0; ///< bytes of the last input not consumed
  bool notify_writable_ = false;
};

} // namespace

layer_ptr make_framing_layer(const framing_options& opts,
                             std::unique_ptr<connection_handler> handler) {
  return std::make_unique<framing>(opts, std::move(handler));
}

layer_factory framing_layer(framing_options opts, handler_factory make_handler) {
  return [opts = std::move(opts),
          make_handler = std::move(make_handler)](std::string_view) -> layer_ptr {
    auto handler = make_handler ? make_handler() : nullptr;
    if (!handler)
      return nullptr;
    return make_framing_layer(opts, std::move(handler));
  };
}

} // namespace ghostnet::transports
