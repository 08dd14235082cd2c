#include "ghostnet/transports/tls_layer.hpp"

#include <atomic>
#include <chrono>

#include <chrono>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/metrics.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/transports/detail/layer_slot.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "ghostnet/transports/tls_session.hpp"

namespace ghostnet::transports {

namespace {

metrics::counter& handshakes_done() {
  static auto& c = metrics::global().counter("ghostnet_tls_handshakes_total",
                                             "TLS handshakes completed");
  return c;
}

/// A handshake that failed: counted by reason, and visible at info as one
/// line per second at most with how many failed since the last line (a
/// scan or a misconfigured client must not flood the log, nor go unseen).
void handshake_failed(const caf::error& reason, const std::string& peer) {
  auto code = code_of(reason);
  metrics::global()
    .counter("ghostnet_tls_handshake_failures_total",
             "TLS handshakes that failed, by reason (timeout, tls_handshake_failed, ...)",
             {{"reason", code ? to_string(*code) : "other"}})
    .inc();
  static std::atomic<int64_t> last_line{0};
  static std::atomic<uint64_t> since{0};
  ++since;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now().time_since_epoch())
               .count();
  auto last = last_line.load();
  if (now > last && last_line.compare_exchange_strong(last, now))
    log::info("tls", "handshakes_failed",
              {log::kv("count", since.exchange(0)), log::kv("last_peer", peer),
               log::kv("last_reason", reason)});
}

/// The decrypted bytes of one read: per thread, since they are handed up
/// (and what is not consumed copied) before the call returns.
std::vector<char>& shared_plaintext_in() {
  thread_local std::vector<char> buf;
  return buf;
}

/// TLS's largest record payload.
constexpr size_t max_record_plaintext = 16 * 1024;

/// With tls_options::release_buffers, a session's record buffers go back
/// this long after its last call: a busy connection keeps them (no free and
/// malloc of ~36 KB per read and write), an idle one holds none.
constexpr auto release_delay = std::chrono::milliseconds(50);

class tls_layer final : public upper_layer, public lower_layer {
public:
  tls_layer(const tls_layer_options& opts, std::string default_server_name,
            layer_factory above)
    : opts_(opts), default_server_name_(std::move(default_server_name)),
      above_(std::move(above)) {
    // nop
  }

  // -- upper_layer: what the transport calls ----------------------------------

  caf::error start(lower_layer& down) override {
    down_ = &down;
    // One load of the holder: a reload in between must not pair the server
    // name default of one context with a session of another.
    auto ctx = opts_.context->current();
    tls_session_options so;
    so.endpoint = down.full_info().remote.to_string();
    so.server_name = opts_.server_name;
    if (so.server_name.empty() && ctx->options().server_name.empty())
      so.server_name = default_server_name_;
    auto session = make_tls_session(std::move(ctx), std::move(so));
    if (!session)
      return std::move(session.error());
    session_ = std::move(*session);
    // Deferred only once open: during the handshake the session gives its
    // buffers back after every flight, as a slow or stalled peer's should.
    defer_release_ = session_->context().options().release_buffers;
    deadline_ = down.now() + opts_.handshake_timeout;
    auto& out = down.begin_output();
    auto err = session_->start(out);
    down.end_output();
    used_session();
    return err;
  }

  caf::expected<size_t> consume(byte_view ciphertext) override {
    auto& plain = shared_plaintext_in();
    plain.clear();
    auto& out = down_->begin_output();
    auto err = session_->consume(ciphertext, plain, out);
    down_->end_output();
    used_session();
    if (err)
      return err; // the alert that tells the peer why is in the output
    if (!opened_ && session_->handshake_done())
      if (auto err = open_above())
        return err;
    if (!plain.empty())
      if (auto err = up_.deliver(*this, byte_view{plain.data(), plain.size()}))
        return err;
    if (session_->peer_closed() && !eof_told_) {
      // close_notify: the plaintext stream ended.
      eof_told_ = true;
      if (auto err = up_->on_eof())
        return err;
    }
    return ciphertext.size(); // OpenSSL keeps partial records itself
  }

  caf::error on_eof() override {
    auto err = session_ ? session_->on_eof()
                        : make_error(errc::tls_handshake_failed,
                                     "tls handshake", "", 0,
                                     "peer closed the connection during the "
                                     "handshake");
    if (!opened_ || eof_told_)
      return err;
    // A stream cut short still ends for the layer above; the truncation
    // becomes the close reason.
    eof_told_ = true;
    auto above = up_->on_eof();
    return err ? err : above;
  }

  void request_close() override {
    if (opened_)
      up_->request_close();
    else
      close(); // no secure channel yet: nothing to finish
  }

  void on_writable() override {
    if (opened_)
      up_->on_writable();
  }

  std::optional<layer_time> next_deadline() const override {
    std::optional<layer_time> own;
    if (!opened_)
      own = session_ ? std::optional<layer_time>{deadline_} : std::nullopt;
    else
      own = up_->next_deadline();
    if (release_at_ && (!own || *release_at_ < *own))
      return release_at_;
    return own;
  }

  caf::error on_timeout(layer_time now) override {
    if (release_at_ && now >= *release_at_) {
      if (now - last_use_ >= release_delay) {
        release_at_.reset();
        session_->release_buffers();
      } else {
        release_at_ = last_use_ + release_delay; // used since: later
      }
    }
    if (!opened_) {
      if (session_ && now >= deadline_)
        return make_error(errc::timeout, "tls handshake",
                          down_->full_info().remote.to_string(), 0,
                          "not completed within "
                            + format_duration(opts_.handshake_timeout));
      return caf::none;
    }
    return up_->on_timeout(now);
  }

  caf::error prepare_send() override {
    if (redeliver_) {
      redeliver_ = false;
      if (auto err = up_.redeliver(*this))
        return err;
    }
    if (up_.unsettled())
      if (auto err = up_.settle(*this))
        return err;
    if (opened_)
      if (auto err = up_->prepare_send())
        return err;
    return encrypt_pending();
  }

  void on_close(const caf::error& reason) override {
    if (!opened_ && reason && down_ != nullptr) // started, not finished
      handshake_failed(reason, down_->full_info().remote.to_string());
    if (up_.empty()) {
      // Ended before the handshake completed: the layer above still learns
      // why (as an application does of a connect that failed).
      up_.reset(above_ ? above_("") : nullptr);
      if (up_.empty())
        return;
    }
    up_->on_close(reason);
  }

  caf::error on_send(byte_view payload) override {
    if (!opened_)
      return make_error(errc::invalid_state, "send", "", 0,
                        "not established yet (wait for the connect reply)");
    return up_->on_send(payload);
  }

  void on_demand(uint32_t n) override {
    if (opened_)
      up_->on_demand(n);
  }

  caf::error on_request(const caf::message& msg) override {
    if (!opened_)
      return make_error(errc::invalid_state, "layer request", "", 0,
                        "not established yet (wait for the connect reply)");
    return up_->on_request(msg);
  }

  caf::error on_set_receiver(caf::actor receiver) override {
    if (!opened_)
      return make_error(errc::invalid_state, "set receiver", "", 0,
                        "not established yet (wait for the connect reply)");
    return up_->on_set_receiver(std::move(receiver));
  }

  const char* operation() const noexcept override {
    if (!opened_)
      return "tls handshake";
    return up_->operation();
  }

  const char* name() const noexcept override {
    return "tls";
  }

  // -- lower_layer: what the layer above calls --------------------------------

  std::vector<char>& begin_output() override {
    return plain_out_;
  }

  void end_output() override {
    // Encrypted in prepare_send: one record for the turn. A full record's
    // worth goes at once, so that the broker's queue (and can_send_more)
    // sees a large output while it is being written.
    if (plain_out_.size() >= max_record_plaintext)
      if (auto err = encrypt_pending())
        down_->abort(std::move(err));
  }

  bool can_send_more() const noexcept override {
    return down_->can_send_more();
  }

  void pause_reading() override {
    up_.pause();
    down_->pause_reading();
  }

  void resume_reading() override {
    if (up_.resume())
      redeliver_ = true;
    down_->resume_reading();
  }

  void established() override {
    down_->established();
  }

  void close() override {
    if (closing_)
      return;
    closing_ = true;
    if (auto err = encrypt_pending()) {
      down_->abort(std::move(err));
      return;
    }
    auto& out = down_->begin_output();
    auto err = session_ ? session_->close(out) : caf::none; // close_notify
    down_->end_output();
    used_session();
    if (err)
      down_->abort(std::move(err));
    else
      down_->close();
  }

  void abort(caf::error reason) override {
    down_->abort(std::move(reason));
  }

  void switch_protocol(layer_ptr next) override {
    up_.switch_to(std::move(next));
  }

  void ask(const caf::actor& dest, caf::timespan timeout, caf::message msg,
           caf::behavior on_reply) override {
    down_->ask(dest, timeout, std::move(msg), std::move(on_reply));
  }

  void in_turn(const std::function<void()>& f) override {
    down_->in_turn(f); // the end of the turn runs prepare_send: encrypted
  }

  layer_time now() const noexcept override {
    return down_->now();
  }

  connection_info& info() override {
    return down_->info();
  }

  const connection_info& full_info() override {
    return down_->full_info();
  }

  connection_state state() const noexcept override {
    return down_->state();
  }

  connection_actor self() const override {
    return down_->self();
  }

private:
  caf::error open_above() {
    opened_ = true;
    handshakes_done().inc();
    session_->defer_release(defer_release_);
    auto& tls = down_->info().tls;
    tls.version = std::string{session_->tls_version()};
    tls.alpn = std::string{session_->alpn_selected()};
    tls.peer_subject = session_->peer_certificate_subject();
    tls.resumed = session_->session_reused();
    up_.reset(above_ ? above_(tls.alpn) : nullptr);
    return up_.start(*this);
  }

  caf::error encrypt_pending() {
    if (plain_out_.empty())
      return caf::none;
    auto& out = down_->begin_output();
    auto err = session_->encrypt(byte_view{plain_out_.data(), plain_out_.size()},
                                 out);
    down_->end_output();
    used_session();
    plain_out_.clear();
    if (plain_out_.capacity() > 16 * 1024)
      std::vector<char>{}.swap(plain_out_); // a burst's memory goes back
    return err;
  }

  /// After a session call: the buffers' release is due a moment after the
  /// last one. The deadline moves only when it passes (no timer re-armed
  /// per turn).
  void used_session() {
    if (!defer_release_ || !opened_ || !session_)
      return;
    last_use_ = down_->now();
    if (!release_at_)
      release_at_ = last_use_ + release_delay;
  }

  tls_layer_options opts_;
  std::string default_server_name_;
  layer_factory above_;
  std::unique_ptr<tls_session> session_;
  lower_layer* down_ = nullptr;
  detail::layer_slot up_;
  std::vector<char> plain_out_; ///< what the layer above wrote this turn
  layer_time deadline_;         ///< of the handshake
  std::optional<layer_time> release_at_; ///< when the buffers may go
  layer_time last_use_{};       ///< the last session call
  bool defer_release_ = false;  ///< release_buffers, done here when idle
  bool opened_ = false;         ///< handshake done, layer above started
  bool eof_told_ = false;
  bool closing_ = false;
  bool redeliver_ = false;
};

} // namespace

layer_ptr make_tls_layer(const tls_layer_options& opts,
                         std::string default_server_name, layer_factory above) {
  return std::make_unique<tls_layer>(opts, std::move(default_server_name),
                                     std::move(above));
}

} // namespace ghostnet::transports
