#include "websocket_layer.hpp"

#include <algorithm>

#include <openssl/rand.h>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/metrics.hpp"
#include "ghostnet/transports/websocket/utf8_validator.hpp"

namespace ghostnet::transports::ws::detail {

namespace {

/// Messages of every WebSocket connection, and the sends refused.
struct websocket_metrics {
  metrics::counter& in = metrics::global().counter(
    "ghostnet_websocket_messages_total", "WebSocket messages, by direction",
    {{"direction", "in"}});
  metrics::counter& out = metrics::global().counter(
    "ghostnet_websocket_messages_total", "", {{"direction", "out"}});
  metrics::counter& refused_full = metrics::global().counter(
    "ghostnet_websocket_sends_refused_total",
    "WebSocket messages refused for sending (nothing queued), by reason",
    {{"reason", "backpressure"}});
  metrics::counter& refused_closing = metrics::global().counter(
    "ghostnet_websocket_sends_refused_total", "", {{"reason", "closing"}});
};

websocket_metrics& ws_metrics() {
  static websocket_metrics instance;
  return instance;
}

/// A reassembly buffer larger than this is given back after its message
/// (an idle connection holds no burst's memory).
constexpr size_t keep_capacity = 64 * 1024;

class websocket_layer final : public upper_layer, public websocket_context {
public:
  websocket_layer(role self_role, std::shared_ptr<const websocket_options> opts,
                  std::unique_ptr<websocket_handler> handler,
                  std::string subprotocol)
    : role_(self_role),
      opts_(std::move(opts)),
      handler_(std::move(handler)),
      subprotocol_(std::move(subprotocol)) {
    // nop
  }

  // -- upper_layer ------------------------------------------------------------

  caf::error start(lower_layer& down) override {
    down_ = &down;
    last_frame_at_ = down.now();
    arm_keep_alive();
    down.established();
    handler_->on_open(*this);
    return caf::none;
  }

  caf::expected<size_t> consume(byte_view input) override {
    if (done_reading_)
      return input.size(); // after a close frame or a failure
    size_t used = 0;
    auto data = input.data();
    while (used < input.size() && !done_reading_ && !pause_) {
      if (!in_frame_) {
        if (!parse_header(data + used, input.size() - used, hdr_))
          break; // the rest of the header stays below until more arrives
        last_frame_at_ = down_->now();
        ping_outstanding_ = false;
        if (!begin_frame())
          return input.size();
        used += hdr_.size;
        down_->info().bytes_in += hdr_.size;
        in_frame_ = true;
        payload_seen_ = 0;
        if (hdr_.length > 0)
          continue;
      }
      auto avail = static_cast<size_t>(
        std::min<uint64_t>(input.size() - used, hdr_.length - payload_seen_));
      if (avail > 0 && !take_payload(data + used, avail))
        return input.size();
      used += avail;
      payload_seen_ += avail;
      down_->info().bytes_in += avail;
      if (payload_seen_ < hdr_.length)
        break;
      in_frame_ = false;
      if (!end_frame())
        return input.size();
      if (!down_->can_send_more() && !done_reading_) {
        // Answers (echoes) pile up: the next message waits until they
        // drained, so a peer that does not read is not read either.
        held_back_ = true;
        down_->pause_reading();
        break;
      }
    }
    return used;
  }

  caf::error on_eof() override {
    done_reading_ = true;
    if (!close_received_) {
      // The peer went away without a close frame (1006): mid-message, or
      // after ours without answering it.
      closing_error_ = make_error(errc::connection_reset, "websocket",
                                  remote(), 0,
                                  in_frame_ || msg_op_ != 0
                                    ? "connection closed in the middle of a message"
                                    : "connection closed without a close frame");
    }
    down_->close();
    return closing_error_;
  }

  void request_close() override {
    // Drain or a close request of the connection: the close handshake.
    close(close_code::going_away, "going away");
  }

  void on_writable() override {
    if (held_back_) {
      held_back_ = false;
      if (!pause_)
        down_->resume_reading();
    }
    handler_->on_writable(*this);
  }

  std::optional<layer_time> next_deadline() const override {
    if (close_sent_)
      return close_deadline_;
    if (keep_alive_at_ == layer_time{})
      return std::nullopt;
    return keep_alive_at_;
  }

  caf::error on_timeout(layer_time now) override {
    if (close_sent_) {
      if (now >= close_deadline_)
        down_->abort(make_error(errc::timeout, "websocket close", remote(), 0,
                                "no close frame from the peer within "
                                  + format_duration(opts_->close_timeout)));
      return caf::none;
    }
    if (keep_alive_at_ == layer_time{} || now < keep_alive_at_)
      return caf::none;
    if (ping_outstanding_) {
      return make_error(errc::timeout, "websocket keep-alive", remote(), 0,
                        "no frame within "
                          + format_duration(opts_->pong_timeout)
                          + " after a ping");
    }
    auto idle_until = last_frame_at_ + opts_->ping_interval;
    if (now < idle_until) {
      // Frames arrived since the deadline was set: it moves only now, when
      // it passed, not on every frame.
      keep_alive_at_ = idle_until;
      return caf::none;
    }
    write_frame(opcode::ping, {});
    ping_outstanding_ = true;
    keep_alive_at_ = now + opts_->pong_timeout;
    return caf::none;
  }

  void on_close(const caf::error& reason) override {
    ws_close how;
    how.by_peer = by_peer_;
    if (close_received_ || close_sent_) {
      how.code = close_code_;
      how.reason = std::move(close_reason_);
    } // else 1006: no close frame either way
    how.error = closing_error_ ? closing_error_ : reason;
    handler_->on_close(how);
  }

  caf::error on_send(byte_view payload) override {
    return send_binary(payload);
  }

  void on_demand(uint32_t n) override {
    handler_->on_demand(*this, n);
  }

  caf::error on_request(const caf::message& msg) override {
    if (msg.match_elements<text_atom, std::string>())
      return send_text(msg.get_as<std::string>(1));
    if (msg.match_elements<binary_atom, std::vector<char>>()) {
      auto& data = msg.get_as<std::vector<char>>(1);
      return send_binary(byte_view{data.data(), data.size()});
    }
    if (msg.match_elements<close_atom, uint16_t, std::string>()) {
      auto code = msg.get_as<uint16_t>(1);
      if (!is_valid_close_code(code))
        return config_error("websocket close", remote(), "code",
                            std::to_string(code) + " may not be sent");
      close(code, msg.get_as<std::string>(2));
      return caf::none;
    }
    return upper_layer::on_request(msg);
  }

  const char* operation() const noexcept override {
    return "websocket";
  }

  const char* name() const noexcept override {
    return "websocket";
  }

  // -- websocket_context ------------------------------------------------------

  caf::error send_text(std::string_view text) override {
    if (!is_valid_utf8(text))
      return make_error(errc::protocol_error, "websocket send", remote(), 0,
                        "text message is not valid UTF-8");
    return send_message(opcode::text, text);
  }

  caf::error send_binary(byte_view data) override {
    return send_message(opcode::binary, std::string_view{data.data(), data.size()});
  }

  void close(uint16_t code, std::string_view reason) override {
    if (close_sent_ || !down_)
      return;
    send_close(code, reason);
    if (close_received_)
      down_->close(); // we answered the peer's close: the handshake is done
  }

  const connection_info& info() const noexcept override {
    return down_->info();
  }

  std::string_view subprotocol() const noexcept override {
    return subprotocol_;
  }

  websocket_actor self() override {
    if (!facade_)
      facade_ = spawn_facade(down_->self(), caf::actor{}, 0);
    return facade_;
  }

  connection_actor connection() const override {
    return down_->self();
  }

  void pause_reading() override {
    pause_ = true;
    down_->pause_reading();
  }

  void resume_reading() override {
    pause_ = false;
    if (!held_back_)
      down_->resume_reading();
  }

private:
  std::string remote() {
    return down_->full_info().remote.to_string();
  }

  /// Checks the header just parsed; false after failing the connection.
  bool begin_frame() {
    if (auto code = check_header(hdr_, role_)) {
      const char* why = hdr_.rsv != 0          ? "reserved bits set (no extension was agreed)"
                        : hdr_.masked != (role_ == role::server)
                          ? (role_ == role::server ? "client frame not masked"
                                                   : "server frame masked")
                        : hdr_.is_control()
                          && (hdr_.op == 0x8 || hdr_.op == 0x9 || hdr_.op == 0xA)
                          ? "control frame fragmented or longer than 125 bytes"
                          : "reserved opcode or length";
      fail(code, why);
      return false;
    }
    if (hdr_.is_control()) {
      control_.clear();
      return true;
    }
    auto op = static_cast<opcode>(hdr_.op);
    if (op == opcode::continuation && msg_op_ == 0) {
      fail(close_code::protocol_error, "continuation frame without a message");
      return false;
    }
    if (op != opcode::continuation && msg_op_ != 0) {
      fail(close_code::protocol_error,
           "new message before the fragmented one ended");
      return false;
    }
    if (hdr_.length > opts_->max_message_size
        || message_.size() + hdr_.length > opts_->max_message_size) {
      fail(close_code::message_too_big,
           "message longer than " + std::to_string(opts_->max_message_size)
             + " bytes");
      return false;
    }
    if (op != opcode::continuation) {
      msg_op_ = hdr_.op;
      utf8_.reset();
    }
    return true;
  }

  /// Unmasks payload bytes into the message or control buffer; false after
  /// failing the connection (text that cannot be UTF-8).
  bool take_payload(const char* bytes, size_t n) {
    auto& into = hdr_.is_control() ? control_ : message_;
    auto at = into.size();
    into.append(bytes, n);
    if (hdr_.masked)
      apply_mask(into.data() + at, n, hdr_.mask, payload_seen_);
    if (!hdr_.is_control() && msg_op_ == static_cast<uint8_t>(opcode::text)
        && !utf8_.feed(std::string_view{into.data() + at, n})) {
      // Checked as it arrives, across fragments: fail fast (1007).
      fail(close_code::invalid_payload, "text message is not valid UTF-8");
      return false;
    }
    return true;
  }

  /// A frame is complete; false after failing the connection.
  bool end_frame() {
    switch (static_cast<opcode>(hdr_.op)) {
      case opcode::ping:
        if (!close_sent_)
          write_frame(opcode::pong, control_);
        return true;
      case opcode::pong:
        return true; // activity; the keep-alive counted it already
      case opcode::close:
        return on_close_frame();
      default:
        break;
    }
    if (!hdr_.fin)
      return true; // more fragments follow
    bool text = msg_op_ == static_cast<uint8_t>(opcode::text);
    if (text && !utf8_.complete()) {
      fail(close_code::invalid_payload, "text message ends inside a code point");
      return false;
    }
    msg_op_ = 0;
    ++down_->info().frames_in;
    ws_metrics().in.inc();
    if (!close_sent_)
      handler_->on_message(*this, text, message_);
    message_.clear();
    if (message_.capacity() > keep_capacity)
      std::string{}.swap(message_);
    return true;
  }

  bool on_close_frame() {
    auto frame = parse_close_payload(control_);
    if (frame.violation != 0) {
      fail(frame.violation, frame.violation == close_code::invalid_payload
                              ? "close reason is not valid UTF-8"
                              : "close frame with an invalid code");
      return false;
    }
    close_received_ = true;
    done_reading_ = true;
    if (!close_sent_) {
      by_peer_ = true;
      close_code_ = frame.code;
      close_reason_ = std::string{frame.reason};
      // Answered with the peer's code (none if it sent none).
      auto& out = down_->begin_output();
      auto before = out.size();
      if (frame.code == close_code::no_status)
        append_frame(out, opcode::close, true, {}, mask());
      else
        append_frame(out, opcode::close, true,
                     std::string_view{close_payload(frame.code, {}).data(), 2},
                     mask());
      down_->info().bytes_out += out.size() - before;
      down_->end_output();
      close_sent_ = true;
      close_deadline_ = down_->now() + opts_->close_timeout;
    }
    down_->close(); // both close frames are out: the TCP connection ends
    return true;
  }

  /// Fails the connection (RFC 6455, 7.1.7): our close frame with `code`,
  /// then the TCP connection ends. The handler sees the code and a
  /// protocol_error naming the violation.
  void fail(uint16_t code, std::string why) {
    if (log::enabled(log::level::debug))
      log::debug("websocket:" + remote(), "protocol_violation",
                 {log::kv("conn", down_->info().id), log::kv("close_code", code),
                  log::kv("why", why)});
    closing_error_ = make_error(errc::protocol_error, "websocket", remote(), 0,
                                std::to_string(code) + ": " + why);
    done_reading_ = true;
    if (!close_sent_)
      send_close(code, why);
    down_->close();
  }

  void send_close(uint16_t code, std::string_view reason) {
    auto payload = close_payload(code, reason);
    write_frame(opcode::close, std::string_view{payload.data(), payload.size()});
    close_sent_ = true;
    close_code_ = code;
    close_reason_ = std::string{payload.begin() + 2, payload.end()};
    close_deadline_ = down_->now() + opts_->close_timeout;
  }

  caf::error send_message(opcode op, std::string_view payload) {
    if (!down_ || close_sent_) {
      ws_metrics().refused_closing.inc();
      return make_error(errc::transport_closed, "websocket send",
                        down_ ? remote() : std::string{}, 0,
                        "the close handshake began");
    }
    if (!down_->can_send_more()) {
      ws_metrics().refused_full.inc();
      return make_error(errc::backpressure, "websocket send", remote());
    }
    write_frame(op, payload);
    ++down_->info().frames_out;
    ws_metrics().out.inc();
    return caf::none;
  }

  void write_frame(opcode op, std::string_view payload) {
    auto& out = down_->begin_output();
    auto before = out.size();
    append_frame(out, op, true, payload, mask());
    down_->info().bytes_out += out.size() - before;
    down_->end_output();
  }

  /// A fresh masking key for a client frame (RFC 6455, 5.3: unpredictable),
  /// null for a server.
  const mask_key* mask() {
    if (role_ == role::server)
      return nullptr;
    if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1)
      key_ = {0x5a, 0x3c, 0x96, 0xe1}; // the DRBG failed: still a mask
    return &key_;
  }

  void arm_keep_alive() {
    if (opts_->ping_interval > caf::timespan{0})
      keep_alive_at_ = last_frame_at_ + opts_->ping_interval;
  }

  role role_;
  std::shared_ptr<const websocket_options> opts_;
  std::unique_ptr<websocket_handler> handler_;
  std::string subprotocol_;
  lower_layer* down_ = nullptr;
  websocket_actor facade_;

  // Input: the frame being read and the message being reassembled.
  frame_header hdr_;
  bool in_frame_ = false;
  uint64_t payload_seen_ = 0;
  uint8_t msg_op_ = 0; ///< text or binary while a message is open
  std::string message_;
  std::string control_;
  utf8_validator utf8_;
  bool pause_ = false;      ///< the handler paused reading
  bool held_back_ = false;  ///< paused until the send buffer drained
  bool done_reading_ = false;

  // Keep-alive: the deadline moves only when it passes.
  layer_time last_frame_at_{};
  layer_time keep_alive_at_{};
  bool ping_outstanding_ = false;

  // The close handshake.
  bool close_sent_ = false;
  bool close_received_ = false;
  bool by_peer_ = false;
  uint16_t close_code_ = close_code::no_status;
  std::string close_reason_;
  layer_time close_deadline_{};
  caf::error closing_error_;

  mask_key key_{};
};

} // namespace

layer_ptr make_websocket_layer(role self_role,
                               std::shared_ptr<const websocket_options> opts,
                               std::unique_ptr<websocket_handler> handler,
                               std::string subprotocol) {
  return std::make_unique<websocket_layer>(self_role, std::move(opts),
                                           std::move(handler),
                                           std::move(subprotocol));
}

} // namespace ghostnet::transports::ws::detail
