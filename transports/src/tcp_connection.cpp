#include "ghostnet/transports/tcp_connection.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/io/broker.hpp>
#include <caf/send.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/middleman.hpp"
#include "ghostnet/actors/backoff.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/detail/broker_cleanup.hpp"
#include "ghostnet/transports/detail/resolver.hpp"
#include "ghostnet/transports/detail/fd_watcher.hpp"
#include "ghostnet/transports/detail/socket_ops.hpp"
#include "ghostnet/transports/detail/timer_queue.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "ghostnet/transports/tls_session.hpp"

namespace ghostnet::transports {

namespace {

using caf::io::network::operation;

enum class timer_kind : uint8_t {
  idle,
  read,
  write,
  drain,
  connect,
  handshake,
  retry, ///< the next connect attempt
};

constexpr size_t timer_kinds = 7;

const char* operation_of(timer_kind k) {
  switch (k) {
    case timer_kind::idle: return "idle";
    case timer_kind::read: return "read";
    case timer_kind::write: return "write";
    case timer_kind::drain: return "drain";
    case timer_kind::connect: return "connect";
    case timer_kind::handshake: return "tls handshake";
    case timer_kind::retry: return "connect retry";
  }
  return "?";
}

/// One receive buffer per multiplexer thread, shared by all its connections:
/// an idle connection holds no read buffer at all.
std::vector<char>& shared_read_buffer(size_t size) {
  thread_local std::vector<char> buf;
  if (buf.size() < size)
    buf.resize(size);
  return buf;
}

/// Decrypted bytes of one read, and the framed bytes of one send before
/// encryption: per thread as well, since a TLS session keeps nothing for its
/// caller between calls.
std::vector<char>& shared_plaintext_in() {
  thread_local std::vector<char> buf;
  return buf;
}

std::vector<char>& shared_plaintext_out() {
  thread_local std::vector<char> buf;
  return buf;
}

/// The connection actor. A broker, so that it runs on the multiplexer
/// thread together with its fd_watcher: readiness callbacks and messages are
/// never concurrent. It does its own recv/send (no CAF scribe): reads go to
/// the shared buffer, writes go straight to the socket while the kernel
/// takes them and queue only when it does not.
class connection_broker final : public caf::io::broker,
                                private connection_context,
                                private frame_sink,
                                private detail::timer_client {
public:
  connection_broker(caf::actor_config& cfg, socket_handle sock,
                    connection_options opts, handler_factory make_handler,
                    std::optional<connect_options> connect,
                    bool options_inherited, std::optional<endpoint> peer)
    : caf::io::broker(cfg), sock_(std::move(sock)), opts_(std::move(opts)),
      make_handler_(std::move(make_handler)), connect_(std::move(connect)),
      framer_(make_framer(opts_.framing)),
      options_inherited_(options_inherited) {
    if (peer) {
      info_.remote = std::move(*peer);
      where_ = info_.remote.to_string();
    }
    // nop
  }

  const char* name() const override {
    return "ghostnet.tcp_connection";
  }

  caf::behavior make_behavior() override;

  void on_exit() override {
    ghostnet::detail::close_mailbox_on_exit(*this);
    close_socket();
    timers_.release();
    pending_in_.clear();
    write_queue_.clear();
    handler_.reset();
    tls_.reset();
  }

private:
  // -- connection_context -----------------------------------------------------

  caf::error send(byte_view payload) override {
    if (info_.state == connection_state::connecting)
      return make_error(errc::invalid_state, "send", where(), 0,
                        "not established yet (wait for the connect reply)");
    if (info_.state != connection_state::connected)
      return make_error(errc::transport_closed, "send", where());
    if (queued_bytes() >= hard_limit()) {
      notify_writable_ = true;
      return make_error(errc::backpressure, "send", where(), 0,
                        std::to_string(queued_bytes())
                          + " bytes wait to be sent");
    }
    if (tls_) {
      if (auto err = send_encrypted(payload))
        return err;
    } else {
      auto before = out_buf_.size();
      if (auto err = framer_->encode(payload, out_buf_)) {
        out_buf_.resize(before);
        return err;
      }
      info_.bytes_out += out_buf_.size() - before;
    }
    ++info_.frames_out;
    if (!in_callback_)
      flush();
    return caf::none;
  }

  void close() override {
    begin_close();
  }

  void abort(caf::error reason) override {
    if (fd() >= 0)
      detail::set_abortive_close(fd());
    finish(std::move(reason));
  }

  const connection_info& info() const noexcept override {
    // Addresses are looked up on first use (see where()).
    const_cast<connection_broker*>(this)->fill_endpoints();
    return info_;
  }

  void pause_reading() override {
    handler_paused_ = true;
    if (watcher_)
      watcher_->want_read(false);
  }

  void resume_reading() override {
    if (!handler_paused_)
      return;
    handler_paused_ = false;
    if (watcher_ && transport_up_ && !paused_ && !done_)
      watcher_->want_read(true);
  }

  connection_actor self() const override {
    return caf::actor_cast<connection_actor>(
      caf::actor_cast<caf::actor>(const_cast<connection_broker*>(this)));
  }

  caf::error send_encrypted(byte_view payload) {
    auto& plain = shared_plaintext_out();
    plain.clear();
    if (auto err = framer_->encode(payload, plain))
      return err;
    if (auto err = tls_->encrypt(byte_view{plain.data(), plain.size()},
                                 out_buf_))
      return err;
    info_.bytes_out += plain.size();
    return caf::none;
  }

  // -- frame_sink -------------------------------------------------------------

  void on_frame(byte_view frame) override {
    ++info_.frames_in;
    // While draining, what the peer still sends is read (so that its FIN
    // arrives) but not handed on: nothing could be answered any more.
    if (handler_ && info_.state == connection_state::connected)
      handler_->on_frame(*this, frame);
  }

  // -- socket -----------------------------------------------------------------

  int fd() const noexcept {
    return watcher_ ? watcher_->fd() : -1;
  }

  /// The peer as "host:port", looked up on first use: most connections
  /// never need it, and it costs a system call.
  const std::string& where() {
    if (where_.empty() && fd() >= 0) {
      info_.remote = remote_endpoint_of(fd());
      where_ = info_.remote.to_string();
    }
    return where_;
  }

  /// Fills the addresses of info_ (lazily, like where()).
  void fill_endpoints() {
    if (fd() < 0)
      return;
    if (info_.local.port == 0)
      info_.local = local_endpoint_of(fd());
    where();
  }

  caf::io::network::default_multiplexer& mpx() {
    return static_cast<caf::io::network::default_multiplexer&>(
      system().middleman().backend());
  }

  void adopt(socket_handle sock) {
    // The raw `this` is safe: the watcher is closed (callback dropped) in
    // finish() and on_exit(), before this broker can be destroyed.
    auto* self = this;
    watcher_ = detail::fd_watcher::make(mpx(), sock.take(),
                                        [self](operation op) {
                                          self->on_ready(op);
                                        });
  }

  void close_socket() {
    if (watcher_) {
      watcher_->close();
      watcher_.reset();
    }
  }

  size_t queued_bytes() const noexcept {
    return write_queue_.size() - write_offset_ + out_buf_.size();
  }

  size_t hard_limit() const noexcept {
    // The frames of one read may always be answered: see docs/transports.md.
    return opts_.high_water_mark + opts_.max_read_size;
  }

  void on_ready(operation op) {
    guarded([&] { dispatch_ready(op); });
  }

  /// Runs `fn` from a multiplexer callback (readiness, timer), outside CAF's
  /// exception handling for actors: a throwing handler must end this
  /// connection, not the loop.
  template <class F>
  void guarded(F fn) {
    if (done_)
      return;
    try {
      fn();
    } catch (const std::exception& ex) {
      in_callback_ = false;
      finish(make_error(errc::protocol_error, "handle data", where(), 0,
                        std::string{"handler threw: "} + ex.what()));
    } catch (...) {
      in_callback_ = false;
      finish(make_error(errc::protocol_error, "handle data", where(), 0,
                        "handler threw"));
    }
  }

  void dispatch_ready(operation op) {
    switch (op) {
      case operation::read:
        on_readable();
        break;
      case operation::write:
        if (!transport_up_)
          on_connect_result();
        else
          on_writable();
        break;
      case operation::propagate_error:
        on_socket_error();
        break;
    }
  }

  void on_socket_error() {
    auto err = detail::pending_socket_error(fd());
    if (!transport_up_) {
      connect_failed(make_os_error(err != 0 ? err : ECONNREFUSED, "connect",
                                   where()));
      return;
    }
    finish(make_os_error(err != 0 ? err : ECONNRESET,
                         handshaking() ? "tls handshake" : "read", where()));
  }

  void on_readable() {
    auto& buf = shared_read_buffer(opts_.max_read_size);
    auto n = ::recv(fd(), buf.data(), read_size_, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return;
      finish(make_os_error(errno, handshaking() ? "tls handshake" : "read",
                           where()));
      return;
    }
    if (n == 0) {
      on_peer_closed();
      return;
    }
    auto len = static_cast<size_t>(n);
    last_read_ = last_activity_ = clock().now();
    // Grow the read size while reads fill it (bulk transfer); the buffer is
    // shared, so a large read size costs nothing per idle connection.
    if (len == read_size_ && read_size_ < opts_.max_read_size)
      read_size_ = std::min(read_size_ * 2, opts_.max_read_size);
    if (tls_) {
      decrypt(byte_view{buf.data(), len});
    } else {
      info_.bytes_in += len;
      consume(byte_view{buf.data(), len});
    }
    if (!done_)
      flush();
  }

  /// TLS: ciphertext in, handshake progress and plaintext out.
  void decrypt(byte_view ciphertext) {
    auto& plain = shared_plaintext_in();
    plain.clear();
    if (auto err = tls_->consume(ciphertext, plain, out_buf_)) {
      flush(); // the alert that tells the peer why
      finish(std::move(err));
      return;
    }
    if (!established_ && tls_->handshake_done()) {
      established();
      if (done_)
        return;
    }
    if (!plain.empty()) {
      info_.bytes_in += plain.size();
      consume(byte_view{plain.data(), plain.size()});
      if (done_)
        return;
    }
    // close_notify: the peer sends nothing more; answer in kind.
    if (tls_->peer_closed() && !peer_closed_) {
      peer_closed_ = true;
      begin_close();
    }
  }

  void consume(byte_view data) {
    in_callback_ = true;
    caf::expected<size_t> used{size_t{0}};
    if (pending_in_.empty()) {
      used = framer_->decode(data, *this);
      if (used && *used < data.size())
        pending_in_.assign(data.begin() + *used, data.end());
    } else {
      pending_in_.insert(pending_in_.end(), data.begin(), data.end());
      used = framer_->decode(byte_view{pending_in_.data(), pending_in_.size()},
                             *this);
      if (used)
        pending_in_.erase(pending_in_.begin(),
                          pending_in_.begin() + static_cast<ptrdiff_t>(*used));
      if (pending_in_.empty() && pending_in_.capacity() > 4096)
        std::vector<char>{}.swap(pending_in_); // give a burst's memory back
    }
    in_callback_ = false;
    if (!used) {
      auto ctx = context_of(used.error());
      finish(make_error(errc::protocol_error, ctx.operation, where(), 0,
                        ctx.detail));
    }
  }

  /// Sends what handlers produced: straight to the socket while nothing is
  /// queued, so the common case costs one send() and no epoll change.
  void flush() {
    if (out_buf_.empty() || fd() < 0)
      return;
    if (write_queue_.size() == write_offset_) {
      auto n = ::send(fd(), out_buf_.data(), out_buf_.size(),
                      MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        finish(make_os_error(errno, "write", where()));
        return;
      }
      auto sent = n > 0 ? static_cast<size_t>(n) : 0;
      if (sent > 0)
        last_write_ = last_activity_ = clock().now();
      if (sent == out_buf_.size()) {
        out_buf_.clear();
        return;
      }
      write_queue_.clear();
      write_offset_ = 0;
      write_queue_.insert(write_queue_.end(), out_buf_.begin() + sent,
                          out_buf_.end());
    } else {
      write_queue_.insert(write_queue_.end(), out_buf_.begin(), out_buf_.end());
    }
    out_buf_.clear();
    watcher_->want_write(true);
    if (queued_bytes() >= opts_.high_water_mark && watcher_->reading()) {
      watcher_->want_read(false); // backpressure: stop taking more work
      paused_ = true;
    }
  }

  void on_writable() {
    auto pending = write_queue_.size() - write_offset_;
    if (pending > 0) {
      auto n = ::send(fd(), write_queue_.data() + write_offset_, pending,
                      MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
          return;
        finish(make_os_error(errno, "write", where()));
        return;
      }
      write_offset_ += static_cast<size_t>(n);
      last_write_ = last_activity_ = clock().now();
    }
    if (write_offset_ == write_queue_.size()) {
      write_queue_.clear();
      write_offset_ = 0;
      if (write_queue_.capacity() > opts_.max_read_size)
        std::vector<char>{}.swap(write_queue_);
      watcher_->want_write(false);
      if (info_.state == connection_state::draining) {
        shutdown_write();
        return;
      }
    }
    if (paused_ && queued_bytes() <= opts_.low_water_mark) {
      paused_ = false;
      if (!handler_paused_)
        watcher_->want_read(true);
    }
    if (notify_writable_ && queued_bytes() < opts_.high_water_mark
        && handler_) {
      notify_writable_ = false;
      in_callback_ = true;
      handler_->on_writable(*this);
      in_callback_ = false;
      flush();
    }
  }

  void on_peer_closed() {
    // The peer sent FIN. Whatever we still owe it goes out, then we close.
    if (tls_) {
      // Without close_notify first, the stream may have been cut short
      // (truncation): still flush what we owe, but report it.
      if (auto err = tls_->on_eof()) {
        if (!established_) {
          finish(std::move(err));
          return;
        }
        close_reason_ = std::move(err);
      }
    }
    peer_closed_ = true;
    watcher_->want_read(false);
    if (info_.state == connection_state::draining && queued_bytes() == 0) {
      finish(caf::none);
      return;
    }
    begin_close();
  }

  // -- closing ----------------------------------------------------------------

  /// Graceful close: stop taking sends, flush, shut down the write side,
  /// then wait (bounded by the drain timeout) for the peer's FIN.
  void begin_close() {
    if (done_ || info_.state == connection_state::draining)
      return;
    if (info_.state == connection_state::connecting) {
      finish(make_error(errc::transport_closed, "connect", where(), 0,
                        "closed before the connection was established"));
      return;
    }
    info_.state = connection_state::draining;
    if (tls_)
      if (auto err = tls_->close(out_buf_)) { // close_notify
        finish(std::move(err));
        return;
      }
    flush();
    if (done_)
      return;
    if (queued_bytes() == 0 && peer_closed_) {
      shutdown_write(); // nothing to wait for: closes at once
      return;
    }
    if (opts_.timeouts.drain > caf::timespan{0})
      arm(timer_kind::drain, opts_.timeouts.drain);
    if (queued_bytes() == 0)
      shutdown_write();
  }

  void shutdown_write() {
    if (!shut_down_)
      ::shutdown(fd(), SHUT_WR);
    shut_down_ = true;
    if (peer_closed_) {
      finish(caf::none);
      return;
    }
    // Keep reading (and discarding into the handler) until the peer's FIN.
    if (!paused_ && !handler_paused_)
      watcher_->want_read(true);
  }

  void finish(caf::error reason) {
    if (done_)
      return;
    done_ = true;
    info_.state = connection_state::closed;
    if (!reason && close_reason_)
      reason = std::move(close_reason_);
    final_reason_ = reason;
    if (reason && log::enabled(log::level::debug)) // no strings otherwise
      log::debug("tcp_connection:" + where(), "connection_failed",
                 {log::kv("reason", reason)});
    if (handler_)
      handler_->on_close(reason);
    for (auto& rp : connect_promises_)
      rp.deliver(reason ? reason
                        : make_error(errc::transport_closed, "connect", where()));
    connect_promises_.clear();
    for (auto& rp : close_promises_)
      rp.deliver(caf::ok_atom::value);
    close_promises_.clear();
    close_socket();
    timers_.cancel_all();
    // finish() often runs in a readiness callback, outside the actor's own
    // message handling, where quit() would only take effect on the next
    // message: send that message ourselves.
    caf::anon_send(caf::actor_cast<caf::actor>(this), connection_stop_atom::value,
                   std::move(reason));
  }

  // -- establishing -----------------------------------------------------------

  /// The TCP connection is up (accepted, or connected): set the socket up,
  /// then run the TLS handshake or go straight to established().
  void start_connected() {
    transport_up_ = true;
    // Accepted sockets inherit their options from the listening socket
    // (Linux), so that accepting costs no setsockopt per connection.
    if (!options_inherited_)
      if (auto err = apply_socket_options(fd(), opts_.socket, where())) {
        finish(std::move(err));
        return;
      }
    watcher_->want_read(!handler_paused_);
    if (opts_.tls.context) {
      start_tls();
      return;
    }
    established();
  }

  void start_tls() {
    // One load of the holder: a reload in between must not pair the server
    // name default of one context with a session of another.
    auto ctx = opts_.tls.context->current();
    tls_session_options so;
    so.endpoint = where();
    so.server_name = opts_.tls.server_name;
    if (connect_ && so.server_name.empty()
        && ctx->options().server_name.empty())
      so.server_name = connect_->remote.host; // as curl does
    auto session = make_tls_session(std::move(ctx), std::move(so));
    if (!session) {
      finish(std::move(session.error()));
      return;
    }
    tls_ = std::move(*session);
    arm(timer_kind::handshake, opts_.tls.handshake_timeout);
    if (auto err = tls_->start(out_buf_)) {
      flush();
      finish(std::move(err));
      return;
    }
    flush();
  }

  /// Ready for the application: plain TCP connected, or TLS handshake done.
  void established() {
    established_ = true;
    info_.state = connection_state::connected;
    if (tls_) {
      info_.tls.version = std::string{tls_->tls_version()};
      info_.tls.alpn = std::string{tls_->alpn_selected()};
      info_.tls.peer_subject = tls_->peer_certificate_subject();
      info_.tls.resumed = tls_->session_reused();
    }
    last_activity_ = last_read_ = last_write_ = clock().now();
    arm_configured_timeouts(); // also cancels the handshake timer
    if (!connect_promises_.empty())
      fill_endpoints(); // the reply names the port the kernel picked
    for (auto& rp : connect_promises_)
      rp.deliver(info_);
    connect_promises_.clear();
    in_callback_ = true;
    handler_->on_open(*this);
    in_callback_ = false;
    flush();
  }

  /// One attempt: a lookup if the host is a name, then each address in
  /// turn until one connects, all within one connect timeout.
  void start_connect_attempt() {
    ++attempts_;
    arm(timer_kind::connect, connect_->timeout);
    candidates_.clear();
    next_candidate_ = 0;
    if (detail::needs_lookup(connect_->remote)) {
      resolving_ = true;
      detail::resolve_async(this->address(), ++resolve_token_, connect_->remote);
      return;
    }
    candidates_.push_back(connect_->remote);
    connect_next_candidate();
  }

  void on_resolved(uint64_t token, caf::expected<std::vector<endpoint>> eps) {
    if (!resolving_ || token != resolve_token_)
      return; // an attempt that timed out or was given up
    resolving_ = false;
    if (!eps) {
      connect_failed(std::move(eps.error()));
      return;
    }
    candidates_ = std::move(*eps);
    connect_next_candidate();
  }

  void connect_next_candidate() {
    auto ep = candidates_[next_candidate_++];
    info_.remote = ep; // the address, not the name it was looked up by
    where_ = ep.to_string();
    bool in_progress = false;
    auto sock = detail::start_tcp_connect(ep, in_progress);
    if (!sock) {
      candidate_failed(std::move(sock.error()));
      return;
    }
    adopt(std::move(*sock));
    if (!in_progress) {
      cancel(timer_kind::connect);
      start_connected();
      return;
    }
    watcher_->want_write(true);
  }

  /// The next address, if the name had more; else the attempt failed.
  void candidate_failed(caf::error err) {
    if (next_candidate_ < candidates_.size()) {
      close_socket();
      connect_next_candidate();
      return;
    }
    connect_failed(std::move(err));
  }

  void on_connect_result() {
    auto err = detail::pending_socket_error(fd());
    watcher_->want_write(false);
    if (err != 0) {
      candidate_failed(make_os_error(err, "connect", where()));
      return;
    }
    cancel(timer_kind::connect);
    start_connected();
  }

  void connect_failed(caf::error err) {
    close_socket();
    cancel(timer_kind::connect);
    resolving_ = false; // a late answer of the lookup is ignored
    auto code = code_of(err);
    bool retry = attempts_ <= connect_->retries && code && is_temporary(*code);
    if (!retry) {
      finish(std::move(err));
      return;
    }
    auto delay = backoff_delay(connect_->backoff_min, connect_->backoff_max,
                               attempts_, connect_->backoff_jitter);
    log::debug("tcp_connection:" + where(), "connect_retry",
               {log::kv("attempt", attempts_), log::kv("delay", delay),
                log::kv("reason", err)});
    arm(timer_kind::retry, delay);
  }

  // -- timeouts ---------------------------------------------------------------

  /// Timers live in the multiplexer's timer queue (detail/timer_queue.hpp),
  /// not in CAF's clock, so that a closed connection leaves at once.
  void arm(timer_kind kind, caf::timespan after) {
    timers_.arm(mpx(), *this, static_cast<uint8_t>(kind),
                detail::timer_queue::clock_type::now() + after);
  }

  void cancel(timer_kind kind) {
    timers_.cancel(static_cast<uint8_t>(kind));
  }

  void arm_configured_timeouts() {
    // Forget timers armed with older settings (and the handshake timer).
    for (auto k : {timer_kind::idle, timer_kind::read, timer_kind::write,
                   timer_kind::drain, timer_kind::handshake})
      cancel(k);
    const auto& t = opts_.timeouts;
    if (t.idle > caf::timespan{0})
      arm(timer_kind::idle, t.idle);
    if (t.read > caf::timespan{0})
      arm(timer_kind::read, t.read);
    if (t.write > caf::timespan{0})
      arm(timer_kind::write, t.write);
    if (info_.state == connection_state::draining
        && t.drain > caf::timespan{0})
      arm(timer_kind::drain, t.drain);
  }

  void on_timer(uint8_t kind) override {
    timers_.fired(kind);
    guarded([&] { on_timer(static_cast<timer_kind>(kind)); });
  }

  /// One timer per kind is outstanding; when it fires early (there was
  /// activity), it re-arms itself for the remaining time.
  void on_timer(timer_kind kind) {
    auto now = clock().now();
    auto check = [&](caf::timespan limit, caf::actor_clock::time_point since,
                     bool applies) {
      if (!applies)
        return;
      auto elapsed = now - since;
      if (elapsed >= limit)
        timed_out(kind, limit);
      else
        arm(kind, std::chrono::duration_cast<caf::timespan>(limit - elapsed));
    };
    const auto& t = opts_.timeouts;
    switch (kind) {
      case timer_kind::idle:
        check(t.idle, last_activity_, true);
        break;
      case timer_kind::read:
        check(t.read, last_read_, true);
        break;
      case timer_kind::write:
        // Only pending output can make no progress.
        if (queued_bytes() == 0)
          arm(kind, t.write);
        else
          check(t.write, last_write_, true);
        break;
      case timer_kind::drain:
        if (info_.state == connection_state::draining)
          timed_out(kind, t.drain);
        break;
      case timer_kind::connect:
        if (!transport_up_)
          connect_failed(make_error(errc::timeout, "connect",
                                    connect_->remote.to_string(), 0,
                                    resolving_ ? "the host name lookup took "
                                                 "longer than the connect "
                                                 "timeout"
                                               : "no answer within the "
                                                 "connect timeout"));
        break;
      case timer_kind::retry:
        start_connect_attempt();
        break;
      case timer_kind::handshake:
        if (handshaking())
          finish(make_error(errc::timeout, "tls handshake", where(), 0,
                            "not completed within "
                              + std::to_string(std::chrono::duration_cast<
                                                 std::chrono::milliseconds>(
                                                 opts_.tls.handshake_timeout)
                                                 .count())
                              + "ms"));
        break;
    }
  }

  void timed_out(timer_kind kind, caf::timespan limit) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(limit).count();
    if (kind == timer_kind::drain) {
      // We flushed what we owed; the peer just did not close in time.
      detail::set_abortive_close(fd());
      finish(caf::none);
      return;
    }
    finish(make_error(errc::timeout, operation_of(kind), where(), 0,
                      "no progress for " + std::to_string(ms) + "ms"));
  }

  /// The TLS handshake runs (the application is not open yet).
  bool handshaking() const noexcept {
    return tls_ && !established_;
  }

  // -- state ------------------------------------------------------------------

  socket_handle sock_; ///< until adopted
  connection_options opts_;
  handler_factory make_handler_;
  std::optional<connect_options> connect_;
  std::vector<endpoint> candidates_; ///< the remote's addresses, this attempt
  size_t next_candidate_ = 0;
  uint64_t resolve_token_ = 0;
  bool resolving_ = false;
  std::unique_ptr<framer> framer_;
  std::unique_ptr<connection_handler> handler_;
  std::unique_ptr<tls_session> tls_; ///< null without TLS
  detail::fd_watcher_ptr watcher_;
  connection_info info_;
  std::string where_; ///< the peer, for logs and errors (lazy)
  std::vector<char> pending_in_;  ///< an incomplete frame
  std::vector<char> out_buf_;     ///< frames produced in this turn
  std::vector<char> write_queue_; ///< what the kernel did not take yet
  size_t write_offset_ = 0;
  size_t read_size_ = 0;
  bool in_callback_ = false;
  bool notify_writable_ = false;
  bool paused_ = false;         ///< by backpressure (the send queue)
  bool handler_paused_ = false; ///< by the handler (pause_reading)
  bool peer_closed_ = false;
  bool shut_down_ = false;
  bool done_ = false;
  bool transport_up_ = false; ///< TCP connected (or accepted)
  bool established_ = false;  ///< open for the application (after TLS)
  caf::error close_reason_;   ///< reported when a graceful close ends
  caf::error final_reason_;   ///< why it closed (none: cleanly)
  bool options_inherited_ = false; ///< accepted: options came with accept
  uint32_t attempts_ = 0;
  detail::timer_slots<timer_kinds> timers_;
  caf::actor_clock::time_point last_activity_;
  caf::actor_clock::time_point last_read_;
  caf::actor_clock::time_point last_write_;
  std::vector<caf::response_promise> connect_promises_;
  std::vector<caf::response_promise> close_promises_;
};

caf::behavior connection_broker::make_behavior() {
  read_size_ = opts_.min_read_size;
  handler_ = make_handler_ ? make_handler_() : nullptr;
  if (!handler_) {
    quit(make_error(errc::invalid_configuration, "start connection", "", 0,
                    "the handler factory returned no handler"));
    return {};
  }
  set_exit_handler([this](caf::exit_msg& msg) {
    // Our supervisor asks us to stop: finish what we were asked to send.
    if (msg.reason == caf::exit_reason::user_shutdown && !done_) {
      begin_close();
      if (info_.state != connection_state::draining)
        finish(msg.reason);
      return;
    }
    finish(msg.reason);
  });
  if (connect_) {
    where_ = connect_->remote.to_string();
    info_.remote = connect_->remote;
    start_connect_attempt();
  } else {
    adopt(std::move(sock_));
    start_connected();
  }
  return {
    [this](send_atom, std::vector<char>& frame) -> caf::result<caf::ok_atom> {
      if (auto err = send(byte_view{frame.data(), frame.size()}))
        return err;
      return caf::ok_atom::value;
    },
    [this](close_atom) -> caf::result<caf::ok_atom> {
      if (done_)
        return caf::ok_atom::value;
      auto rp = make_response_promise();
      close_promises_.push_back(rp);
      begin_close();
      return rp;
    },
    [this](abort_atom) {
      abort(make_error(errc::transport_closed, "abort", where(), 0,
                       "aborted on request"));
    },
    [this](info_atom) {
      fill_endpoints();
      auto result = info_;
      result.pending_out = queued_bytes();
      return result;
    },
    [this](timeouts_atom, connection_timeouts& t) {
      opts_.timeouts = t;
      // While connecting, the connect/handshake timers run; established()
      // arms these.
      if (established_)
        arm_configured_timeouts();
      return caf::ok_atom::value;
    },
    [this](connect_atom) -> caf::result<connection_info> {
      if (done_ && final_reason_)
        return final_reason_; // failed before this request came
      if (info_.state != connection_state::connecting) {
        fill_endpoints();
        return info_;
      }
      auto rp = make_response_promise();
      connect_promises_.push_back(rp);
      return rp;
    },
    [this](connection_stop_atom, caf::error& reason) { quit(std::move(reason)); },
    [this](demand_atom, uint32_t n) {
      guarded([&] {
        if (!handler_)
          return;
        in_callback_ = true;
        handler_->on_demand(*this, n);
        in_callback_ = false;
        flush();
      });
    },
    [this](resolved_atom, uint64_t token, std::vector<endpoint>& eps) {
      on_resolved(token, std::move(eps));
    },
    [this](resolved_atom, uint64_t token, caf::error& err) {
      on_resolved(token, std::move(err));
    },
  };
}

} // namespace

namespace {

caf::expected<connection_actor>
spawn_adopted(caf::actor_system& sys, socket_handle sock,
              std::optional<endpoint> peer, const connection_options& opts,
              handler_factory make_handler, bool options_inherited) {
  if (auto err = validate(opts))
    return err;
  if (!sock)
    return make_error(errc::invalid_state, "spawn connection", "", 0,
                      "no socket");
  // Accepted sockets come non-blocking from accept4; a caller's may not.
  if (!options_inherited) {
    int flags = ::fcntl(sock.get(), F_GETFL, 0);
    if (flags < 0 || ::fcntl(sock.get(), F_SETFL, flags | O_NONBLOCK) < 0)
      return make_os_error(errno, "spawn connection",
                           remote_endpoint_of(sock.get()).to_string());
  }
  auto mm = middleman_of(sys, "spawn connection", "");
  if (!mm)
    return std::move(mm.error());
  caf::actor_config cfg{&(*mm)->backend()};
  auto hdl = sys.spawn_class<connection_broker, caf::no_spawn_options>(
    cfg, std::move(sock), opts, std::move(make_handler),
    std::optional<connect_options>{}, options_inherited, std::move(peer));
  return caf::actor_cast<connection_actor>(hdl);
}

} // namespace

caf::expected<connection_actor>
spawn_connection(caf::actor_system& sys, socket_handle sock,
                 const connection_options& opts, handler_factory make_handler) {
  return spawn_adopted(sys, std::move(sock), std::nullopt, opts,
                       std::move(make_handler), false);
}

namespace detail {

caf::expected<connection_actor>
spawn_accepted_connection(caf::actor_system& sys, socket_handle sock,
                          const endpoint& peer,
                          const connection_options& opts,
                          handler_factory make_handler) {
  return spawn_adopted(sys, std::move(sock), peer, opts,
                       std::move(make_handler), true);
}

} // namespace detail

caf::expected<connection_actor> connect(caf::actor_system& sys,
                                        const connect_options& opts,
                                        handler_factory make_handler) {
  if (auto err = validate(opts))
    return err;
  auto mm = middleman_of(sys, "connect", opts.remote.to_string());
  if (!mm)
    return std::move(mm.error());
  caf::actor_config cfg{&(*mm)->backend()};
  auto hdl = sys.spawn_class<connection_broker, caf::no_spawn_options>(
    cfg, socket_handle{}, opts.connection, std::move(make_handler),
    std::optional<connect_options>{opts}, false, std::nullopt);
  return caf::actor_cast<connection_actor>(hdl);
}

} // namespace ghostnet::transports
