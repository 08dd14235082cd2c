#include "ghostnet/transports/tcp_connection.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/io/typed_broker.hpp>
#include <caf/send.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/unexpected_message.hpp"
#include "ghostnet/actors/middleman.hpp"
#include "ghostnet/actors/backoff.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/metrics.hpp"
#include "ghostnet/actors/detail/broker_cleanup.hpp"
#include "ghostnet/transports/detail/layer_slot.hpp"
#include "ghostnet/transports/detail/resolver.hpp"
#include "ghostnet/transports/detail/fd_watcher.hpp"
#include "ghostnet/transports/detail/socket_ops.hpp"
#include "ghostnet/transports/detail/timer_queue.hpp"
#include "ghostnet/transports/framing_layer.hpp"
#include "ghostnet/transports/tls_layer.hpp"

namespace ghostnet::transports {

namespace {

using caf::io::network::operation;

enum class timer_kind : uint8_t {
  idle,
  read,
  write,
  drain,
  connect,
  retry, ///< the next connect attempt
  layer, ///< the stack's next deadline
};

constexpr size_t timer_kinds = 7;

const char* operation_of(timer_kind k) {
  switch (k) {
    case timer_kind::idle: return "idle";
    case timer_kind::read: return "read";
    case timer_kind::write: return "write";
    case timer_kind::drain: return "drain";
    case timer_kind::connect: return "connect";
    case timer_kind::retry: return "connect retry";
    case timer_kind::layer: return "layer deadline";
  }
  return "?";
}

/// One receive buffer per multiplexer thread, shared by all its connections:
/// an idle connection holds no read buffer at all.
/// What every connection counts (one series each, all connections).
struct connection_metrics {
  metrics::gauge& open = metrics::global().gauge(
    "ghostnet_connections_open", "TCP connections established and not yet closed");
  metrics::counter& bytes_in = metrics::global().counter(
    "ghostnet_bytes_received_total", "bytes read from TCP connections");
  metrics::counter& bytes_out = metrics::global().counter(
    "ghostnet_bytes_sent_total", "bytes written to TCP connections");

  /// Closed connections by reason: none (a clean close) or the error's code.
  void closed(const caf::error& reason) {
    auto code = code_of(reason);
    const char* name = !reason ? "none" : code ? to_string(*code) : "other";
    metrics::global()
      .counter("ghostnet_connections_closed_total",
               "TCP connections closed, by reason (none: a clean close)",
               {{"reason", name}})
      .inc();
  }
};

connection_metrics& conn_metrics() {
  static connection_metrics instance;
  return instance;
}

std::vector<char>& shared_read_buffer(size_t size) {
  thread_local std::vector<char> buf;
  if (buf.size() < size)
    buf.resize(size);
  return buf;
}

/// What only an outbound connection needs (accepted ones carry none of it).
struct outbound {
  explicit outbound(connect_options opts) : options(std::move(opts)) {
    // nop
  }
  connect_options options;
  std::vector<endpoint> candidates; ///< the remote's addresses, this attempt
  size_t next_candidate = 0;
  uint64_t resolve_token = 0;
  bool resolving = false;
  uint32_t attempts = 0;
};

/// The interface of the broker: the public one and what it sends itself.
using connection_broker_actor = connection_actor::extend<
  caf::reacts_to<connection_stop_atom, caf::error>,
  caf::reacts_to<resolved_atom, uint64_t, std::vector<endpoint>>,
  caf::reacts_to<resolved_atom, uint64_t, caf::error>>;

template <class>
struct typed_broker_of;

template <class... Sigs>
struct typed_broker_of<caf::typed_actor<Sigs...>> {
  using type = caf::io::typed_broker<Sigs...>;
};

using connection_broker_base = typed_broker_of<connection_broker_actor>::type;

/// The connection actor: the transport at the bottom of the layer stack
/// (layer.hpp). A broker, so that it runs on the multiplexer thread
/// together with its fd_watcher: readiness callbacks and messages are never
/// concurrent. It does its own recv/send (no CAF scribe): reads go to the
/// shared buffer and up the stack, writes go straight to the socket while
/// the kernel takes them and queue only when it does not. It knows nothing
/// of any protocol: TLS, framing and HTTP are layers above it.
class connection_broker final : public connection_broker_base,
                                private lower_layer,
                                private detail::timer_client {
public:
  connection_broker(caf::actor_config& cfg, socket_handle sock,
                    std::shared_ptr<const detail::connection_config> config,
                    std::unique_ptr<outbound> connect, bool options_inherited,
                    std::optional<endpoint> peer)
    : connection_broker_base(cfg), sock_(std::move(sock)),
      config_(std::move(config)), timeouts_(config_->options.timeouts),
      connect_(std::move(connect)), options_inherited_(options_inherited) {
    if (peer)
      info_.remote = std::move(*peer);
  }

  const char* name() const override {
    return "ghostnet.tcp_connection";
  }

  behavior_type make_behavior() override;

  void on_exit() override {
    ghostnet::detail::close_mailbox_on_exit(*this);
    close_socket();
    timers_.release();
    write_queue_.clear();
    files_.reset(); // closes the files nobody else holds
    stack_.clear();
    // Given back on a later loop turn: this broker may be in one of its own
    // callbacks still (on_exit runs from quit()).
    if (self_ref_)
      system().middleman().backend().post([ref = std::move(self_ref_)] {});
  }

private:
  // -- lower_layer: what the bottom layer calls -------------------------------

  std::vector<char>& begin_output() override {
    return out_buf_;
  }

  void end_output() override {
    // Sent at the end of the turn.
  }

  bool send_file(file_range range) override {
    if (done_ || fd() < 0 || range.length == 0)
      return true; // nothing to send, or nowhere to send it
    // The bytes before the file go first: into the queue, which is then
    // sent in order (bytes, the file, the bytes appended after it).
    write_queue_.insert(write_queue_.end(), out_buf_.begin(), out_buf_.end());
    out_buf_.clear();
    if (!files_)
      files_ = std::make_unique<file_queue>();
    files_->bytes += range.length;
    files_->ranges.push_back(queued_file{write_queue_.size(), std::move(range)});
    watcher_->want_write(true);
    if (queued_bytes() >= opts().high_water_mark && watcher_->reading()) {
      watcher_->want_read(false); // backpressure, as in flush
      paused_ = true;
    }
    return true;
  }

  void ask(const caf::actor& dest, caf::timespan timeout, caf::message msg,
           caf::behavior on_reply) override {
    auto handle = request(dest, timeout, std::move(msg));
    add_multiplexed_response_handler(handle.id(), std::move(on_reply));
  }

  void in_turn(const std::function<void()>& f) override {
    turn([&] { f(); });
  }

  bool can_send_more() const noexcept override {
    if (queued_bytes() < hard_limit())
      return true;
    notify_writable_ = true;
    return false;
  }

  void pause_reading() override {
    stack_.pause();
    handler_paused_ = true;
    if (watcher_)
      watcher_->want_read(false);
  }

  void resume_reading() override {
    if (stack_.resume())
      redeliver_ = true;
    if (!handler_paused_)
      return;
    handler_paused_ = false;
    if (watcher_ && transport_up_ && !paused_ && !done_
        && !(peer_closed_ && !shut_down_))
      watcher_->want_read(!peer_closed_);
  }

  void established() override {
    if (established_)
      return;
    established_ = true;
    info_.state = connection_state::connected;
    last_activity_ = last_read_ = last_write_ = turn_time();
    arm_configured_timeouts();
    if (promises_.empty())
      return;
    fill_endpoints(); // the reply names the port the kernel picked
    auto rest = std::remove_if(promises_.begin(), promises_.end(),
                               [this](auto& p) {
                                 if (p.first != promise_kind::connect)
                                   return false;
                                 p.second.deliver(info_);
                                 return true;
                               });
    promises_.erase(rest, promises_.end());
  }

  void close() override {
    close_pending_ = true; // at the end of the turn: see end_turn()
  }

  void abort(caf::error reason) override {
    if (fd() >= 0)
      detail::set_abortive_close(fd());
    finish(std::move(reason));
  }

  void switch_protocol(layer_ptr next) override {
    stack_.switch_to(std::move(next));
  }

  layer_time now() const noexcept override {
    return now_;
  }

  connection_info& info() override {
    return info_;
  }

  const connection_info& full_info() override {
    fill_endpoints();
    return info_;
  }

  connection_state state() const noexcept override {
    return info_.state;
  }

  connection_actor self() const override {
    return caf::actor_cast<connection_actor>(
      caf::actor_cast<caf::actor>(const_cast<connection_broker*>(this)));
  }

  // -- the stack --------------------------------------------------------------

  /// The layer above the transport: TLS (then the protocol above it once
  /// the handshake is done) or the protocol itself.
  layer_ptr make_stack() {
    auto above = [this](std::string_view alpn) { return make_protocol(alpn); };
    if (opts().tls.context)
      return make_tls_layer(opts().tls, connect_ ? connect_->options.remote.host : "",
                            std::move(above));
    return make_protocol("");
  }

  layer_ptr make_protocol(std::string_view alpn) {
    if (opts().protocol)
      return opts().protocol(alpn);
    auto handler = config_->make_handler ? config_->make_handler() : nullptr;
    if (!handler)
      return nullptr;
    return make_framing_layer(opts().framing, std::move(handler));
  }

  /// Every call into the stack runs as a turn: one clock reading, and at
  /// its end the output of all layers leaves in one send(). Runs `fn` from
  /// a multiplexer callback (readiness, timer) or a message, outside CAF's
  /// exception handling for actors: a throwing layer or handler must end
  /// this connection, not the loop.
  template <class F>
  void turn(F fn) {
    turn_at(layer_clock::now(), std::move(fn));
  }

  /// A turn whose time was read already.
  template <class F>
  void turn_at(layer_time now, F fn) {
    if (done_)
      return;
    if (in_turn_) {
      fn();
      return;
    }
    in_turn_ = true;
    now_ = now;
    try {
      fn();
      if (!done_)
        end_turn();
    } catch (const std::exception& ex) {
      in_turn_ = false;
      finish(make_error(errc::protocol_error, "handle data", where(), 0,
                        std::string{"handler threw: "} + ex.what()));
    } catch (...) {
      in_turn_ = false;
      finish(make_error(errc::protocol_error, "handle data", where(), 0,
                        "handler threw"));
    }
    in_turn_ = false;
  }

  /// The current turn's time, or the clock outside a turn.
  layer_time turn_time() const noexcept {
    return in_turn_ ? now_ : layer_clock::now();
  }

  void end_turn() {
    // Bytes a layer left while paused go up again once it resumed (bounded:
    // a layer that resumes and pauses forever must not spin here).
    for (int i = 0; i < 8 && redeliver_ && !done_ && !stack_.paused(); ++i) {
      redeliver_ = false;
      if (auto err = stack_.redeliver(*this))
        return fail(std::move(err));
    }
    if (stack_.unsettled())
      if (auto err = stack_.settle(*this))
        return fail(std::move(err));
    if (started_)
      if (auto err = stack_->prepare_send())
        return fail(std::move(err));
    flush();
    if (done_)
      return;
    if (close_pending_) {
      close_pending_ = false;
      begin_close();
      if (done_)
        return;
    }
    update_layer_deadline();
  }

  /// A layer failed: send what it wrote (a 400, a TLS alert), then close.
  void fail(caf::error err) {
    if (started_ && !failing_) {
      failing_ = true;
      (void) stack_->prepare_send();
    }
    flush();
    finish(with_endpoint(std::move(err)));
  }

  /// Layers do not know the peer's address: errors get it here.
  /// Why a request for the protocol on top (`operation`) cannot be served
  /// now; none once established and until the close began.
  caf::error unless_connected(const char* operation) {
    if (info_.state == connection_state::connecting)
      return make_error(errc::invalid_state, operation, where(), 0,
                        "not established yet (wait for the connect reply)");
    if (info_.state != connection_state::connected)
      return make_error(errc::transport_closed, operation, where());
    return caf::none;
  }

  caf::error with_endpoint(caf::error err) {
    if (!code_of(err))
      return err;
    auto ctx = context_of(err);
    if (!ctx.endpoint.empty())
      return err;
    return make_error(*code_of(err), std::move(ctx.operation), where(),
                      ctx.os_errno, std::move(ctx.detail));
  }

  /// The operation to name in a socket error.
  const char* current_operation() const noexcept {
    auto* op = started_ ? stack_->operation() : nullptr;
    return op ? op : "read";
  }

  void update_layer_deadline() {
    auto next = started_ ? stack_->next_deadline() : std::nullopt;
    auto due = next ? *next : layer_time::max();
    if (due == layer_deadline_)
      return;
    layer_deadline_ = due;
    if (next)
      timers_.arm(mpx(), *this, static_cast<uint8_t>(timer_kind::layer), due);
    else
      cancel(timer_kind::layer);
  }

  // -- socket -----------------------------------------------------------------

  const connection_options& opts() const noexcept {
    return config_->options;
  }

  int fd() const noexcept {
    return watcher_ ? watcher_->fd() : -1;
  }

  /// The peer as "host:port" for errors and logs, looked up on first use
  /// (a system call most connections never need) and formatted on demand:
  /// an idle connection keeps no string for it.
  std::string where() {
    if (info_.remote.port == 0 && fd() >= 0)
      info_.remote = remote_endpoint_of(fd());
    return info_.remote.to_string();
  }

  /// Fills the addresses of info_ (lazily, like where()).
  void fill_endpoints() {
    if (fd() < 0)
      return;
    if (info_.local.port == 0)
      info_.local = local_endpoint_of(fd());
    if (info_.remote.port == 0)
      info_.remote = remote_endpoint_of(fd());
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
    return write_queue_.size() - write_offset_ + out_buf_.size()
           + (files_ ? files_->bytes : 0);
  }

  size_t hard_limit() const noexcept {
    // The answers to one read may always be sent: see docs/transports.md.
    return opts().high_water_mark + opts().max_read_size;
  }

  void on_ready(operation op) {
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
    if (done_)
      return;
    auto err = detail::pending_socket_error(fd());
    if (!transport_up_) {
      connect_failed(make_os_error(err != 0 ? err : ECONNREFUSED, "connect",
                                   where()));
      return;
    }
    finish(make_os_error(err != 0 ? err : ECONNRESET, current_operation(),
                         where()));
  }

  void on_readable() {
    if (done_)
      return;
    auto& buf = shared_read_buffer(opts().max_read_size);
    auto n = ::recv(fd(), buf.data(), read_size_, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return;
      finish(make_os_error(errno, current_operation(), where()));
      return;
    }
    if (n == 0) {
      on_peer_closed();
      return;
    }
    auto len = static_cast<size_t>(n);
    conn_metrics().bytes_in.inc(len);
    // One clock reading for the whole turn (activity, layers' now()).
    auto now = layer_clock::now();
    last_read_ = last_activity_ = now;
    // Grow the read size while reads fill it (bulk transfer); the buffer is
    // shared, so a large read size costs nothing per idle connection.
    if (len == read_size_ && read_size_ < opts().max_read_size)
      read_size_ = std::min(read_size_ * 2, opts().max_read_size);
    turn_at(now, [&] {
      if (auto err = stack_.deliver(*this, byte_view{buf.data(), len}))
        fail(std::move(err));
    });
  }

  /// Sends what the layers produced: straight to the socket while nothing
  /// is queued, so the common case costs one send() and no epoll change.
  void flush() {
    if (out_buf_.empty() || fd() < 0)
      return;
    if (write_queue_.size() == write_offset_ && !files_) {
      auto n = ::send(fd(), out_buf_.data(), out_buf_.size(),
                      MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        finish(make_os_error(errno, "write", where()));
        return;
      }
      auto sent = n > 0 ? static_cast<size_t>(n) : 0;
      conn_metrics().bytes_out.inc(sent);
      if (sent > 0)
        last_write_ = last_activity_ = turn_time();
      if (sent == out_buf_.size()) {
        out_buf_.clear();
        // A layer that was told "no more" this turn waits for on_writable:
        // the socket took everything, so it is writable now; let the
        // watcher say so rather than re-enter the stack from here.
        if (notify_writable_)
          watcher_->want_write(true);
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
    if (queued_bytes() >= opts().high_water_mark && watcher_->reading()) {
      watcher_->want_read(false); // backpressure: stop taking more work
      paused_ = true;
    }
  }

  /// Sends from the queue, in order: bytes up to the next file, the file
  /// (sendfile), the bytes after it. False once the kernel takes no more,
  /// after an error (finished) or after `file_budget` bytes of files in
  /// one call (other connections of this thread get their turn).
  bool send_queued() {
    size_t file_budget = 2 * 1024 * 1024;
    for (;;) {
      auto limit = !files_ ? write_queue_.size() : files_->ranges.front().at;
      if (write_offset_ < limit) {
        auto n = ::send(fd(), write_queue_.data() + write_offset_,
                        limit - write_offset_, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            finish(make_os_error(errno, "write", where()));
          return false;
        }
        write_offset_ += static_cast<size_t>(n);
        conn_metrics().bytes_out.inc(static_cast<size_t>(n));
        last_write_ = last_activity_ = layer_clock::now();
        if (write_offset_ < limit)
          return false; // the socket's buffer is full
        continue;
      }
      if (!files_)
        return true;
      if (file_budget == 0)
        return false;
      auto& next = files_->ranges.front().range;
      auto off = static_cast<off_t>(next.offset);
      auto want = static_cast<size_t>(std::min<uint64_t>(next.length, file_budget));
      auto n = ::sendfile(fd(), next.file->fd(), &off, want);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
          return false;
        finish(make_os_error(errno, "sendfile", where()));
        return false;
      }
      if (n == 0) {
        // The file is shorter than the Content-Length that went out: the
        // peer cannot be given a whole response any more.
        finish(make_error(errc::io_error, "sendfile", where(), 0,
                          "the file ended before its length (truncated "
                          "while being sent?)"));
        return false;
      }
      auto sent = static_cast<size_t>(n);
      conn_metrics().bytes_out.inc(sent);
      next.offset += sent;
      next.length -= sent;
      files_->bytes -= sent;
      file_budget -= sent;
      last_write_ = last_activity_ = layer_clock::now();
      if (next.length == 0)
        files_->ranges.erase(files_->ranges.begin());
      if (files_->ranges.empty())
        files_.reset(); // the common state: no file, no memory
    }
  }

  void on_writable() {
    if (done_)
      return;
    bool all_sent = send_queued();
    if (done_)
      return;
    if (all_sent) {
      write_queue_.clear();
      write_offset_ = 0;
      if (write_queue_.capacity() > opts().max_read_size)
        std::vector<char>{}.swap(write_queue_);
      watcher_->want_write(false);
      if (info_.state == connection_state::draining) {
        shutdown_write();
        return;
      }
    }
    if (paused_ && queued_bytes() <= opts().low_water_mark) {
      paused_ = false;
      if (!handler_paused_)
        watcher_->want_read(true);
    }
    if (notify_writable_ && queued_bytes() < opts().high_water_mark
        && started_) {
      notify_writable_ = false;
      turn([&] { stack_->on_writable(); });
    }
  }

  void on_peer_closed() {
    // The peer sent FIN: it sends nothing more.
    peer_closed_ = true;
    watcher_->want_read(false);
    if (info_.state == connection_state::draining) {
      if (queued_bytes() == 0)
        finish(caf::none);
      return; // finishes once what we owe is out (shutdown_write)
    }
    turn([&] {
      // The layers finish what they owe, then close (bounded by drain).
      if (auto err = stack_->on_eof()) {
        if (!established_)
          return fail(std::move(err));
        if (!close_reason_)
          close_reason_ = with_endpoint(std::move(err));
      }
      arm_drain_bound();
    });
  }

  // -- closing ----------------------------------------------------------------

  /// A graceful close from outside (a close request, the supervisor's
  /// shutdown): the layers finish what is in flight, then close down to
  /// here; the drain timeout bounds all of it.
  void request_close() {
    if (done_ || close_requested_
        || info_.state == connection_state::draining)
      return;
    if (!established_) {
      finish(make_error(errc::transport_closed, "connect", where(), 0,
                        "closed before the connection was established"));
      return;
    }
    close_requested_ = true;
    arm_drain_bound();
    turn([&] { stack_->request_close(); });
  }

  void arm_drain_bound() {
    if (!drain_armed_ && timeouts_.drain > caf::timespan{0}) {
      drain_armed_ = true;
      arm(timer_kind::drain, timeouts_.drain);
    }
  }

  /// The stack closed down to the transport: flush, shut down the write
  /// side, then wait (bounded by the drain timeout) for the peer's FIN.
  void begin_close() {
    if (done_ || info_.state == connection_state::draining)
      return;
    if (!established_) {
      finish(make_error(errc::transport_closed, "connect", where(), 0,
                        "closed before the connection was established"));
      return;
    }
    info_.state = connection_state::draining;
    flush();
    if (done_)
      return;
    if (queued_bytes() == 0 && peer_closed_) {
      shutdown_write(); // nothing to wait for: closes at once
      return;
    }
    arm_drain_bound();
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
    // Keep reading (the layers discard it) until the peer's FIN.
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
    if (transport_up_) {
      conn_metrics().open.add(-1);
      conn_metrics().closed(reason);
    }
    if (reason && log::enabled(log::level::debug)) // no strings otherwise
      log::debug("tcp_connection:" + where(), "connection_failed",
                 {log::kv("conn", info_.id), log::kv("reason", reason)});
    if (!stack_.empty()) {
      try {
        stack_->on_close(reason);
      } catch (...) {
        // The connection is gone either way.
      }
    }
    for (auto& [kind, rp] : promises_) {
      if (kind == promise_kind::connect)
        rp.deliver(reason ? reason
                          : make_error(errc::transport_closed, "connect",
                                       where()));
      else
        rp.deliver(caf::ok_atom::value);
    }
    promises_.clear();
    close_socket();
    timers_.cancel_all();
    // finish() often runs in a readiness callback, outside the actor's own
    // message handling, where quit() would only take effect on the next
    // message: send that message ourselves.
    caf::anon_send(caf::actor_cast<caf::actor>(this), connection_stop_atom::value,
                   std::move(reason));
  }

  // -- establishing -----------------------------------------------------------

  /// The TCP connection is up (accepted, or connected): set the socket up
  /// and start the stack (TLS starts its handshake, a protocol layer calls
  /// established()).
  void start_connected() {
    transport_up_ = true;
    conn_metrics().open.add(1);
    // Accepted sockets inherit their options from the listening socket
    // (Linux), so that accepting costs no setsockopt per connection.
    if (!options_inherited_)
      if (auto err = apply_socket_options(fd(), opts().socket, where())) {
        finish(std::move(err));
        return;
      }
    watcher_->want_read(!handler_paused_);
    turn([&] {
      started_ = true;
      if (auto err = stack_.start(*this))
        fail(std::move(err));
    });
  }

  /// One attempt: a lookup if the host is a name, then each address in
  /// turn until one connects, all within one connect timeout.
  void start_connect_attempt() {
    ++connect_->attempts;
    arm(timer_kind::connect, connect_->options.timeout);
    connect_->candidates.clear();
    connect_->next_candidate = 0;
    if (detail::needs_lookup(connect_->options.remote)) {
      connect_->resolving = true;
      detail::resolve_async(this->address(), ++connect_->resolve_token, connect_->options.remote);
      return;
    }
    connect_->candidates.push_back(connect_->options.remote);
    connect_next_candidate();
  }

  void on_resolved(uint64_t token, caf::expected<std::vector<endpoint>> eps) {
    if (!connect_->resolving || token != connect_->resolve_token)
      return; // an attempt that timed out or was given up
    connect_->resolving = false;
    if (!eps) {
      connect_failed(std::move(eps.error()));
      return;
    }
    connect_->candidates = std::move(*eps);
    connect_next_candidate();
  }

  void connect_next_candidate() {
    auto ep = connect_->candidates[connect_->next_candidate++];
    info_.remote = ep; // the address, not the name it was looked up by
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
    if (connect_->next_candidate < connect_->candidates.size()) {
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
    connect_->resolving = false; // a late answer of the lookup is ignored
    auto code = code_of(err);
    bool retry = connect_->attempts <= connect_->options.retries && code && is_temporary(*code);
    if (!retry) {
      finish(std::move(err));
      return;
    }
    auto delay = backoff_delay(connect_->options.backoff_min, connect_->options.backoff_max,
                               connect_->attempts, connect_->options.backoff_jitter);
    log::debug("tcp_connection:" + where(), "connect_retry",
               {log::kv("attempt", connect_->attempts), log::kv("delay", delay),
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
    // Forget timers armed with older settings.
    for (auto k : {timer_kind::idle, timer_kind::read, timer_kind::write})
      cancel(k);
    const auto& t = timeouts_;
    if (t.idle > caf::timespan{0})
      arm(timer_kind::idle, t.idle);
    if (t.read > caf::timespan{0})
      arm(timer_kind::read, t.read);
    if (t.write > caf::timespan{0})
      arm(timer_kind::write, t.write);
    if (drain_armed_) {
      cancel(timer_kind::drain);
      drain_armed_ = false;
      arm_drain_bound();
    }
  }

  void on_timer(uint8_t kind) override {
    timers_.fired(kind);
    if (done_)
      return;
    auto k = static_cast<timer_kind>(kind);
    if (k == timer_kind::layer) {
      layer_deadline_ = layer_time::max();
      turn([&] {
        if (auto err = stack_->on_timeout(now_))
          fail(std::move(err));
      });
      return;
    }
    try {
      on_timer(k);
    } catch (...) {
      finish(make_error(errc::protocol_error, "handle data", where(), 0,
                        "handler threw"));
    }
  }

  /// One timer per kind is outstanding; when it fires early (there was
  /// activity), it re-arms itself for the remaining time.
  void on_timer(timer_kind kind) {
    auto now = clock().now();
    auto check = [&](caf::timespan limit, caf::actor_clock::time_point since) {
      auto elapsed = now - since;
      if (elapsed >= limit)
        timed_out(kind, limit);
      else
        arm(kind, std::chrono::duration_cast<caf::timespan>(limit - elapsed));
    };
    const auto& t = timeouts_;
    switch (kind) {
      case timer_kind::idle:
        check(t.idle, last_activity_);
        break;
      case timer_kind::read:
        check(t.read, last_read_);
        break;
      case timer_kind::write:
        // Only pending output can make no progress.
        if (queued_bytes() == 0)
          arm(kind, t.write);
        else
          check(t.write, last_write_);
        break;
      case timer_kind::drain:
        drain_armed_ = false;
        timed_out(kind, t.drain);
        break;
      case timer_kind::connect:
        if (!transport_up_)
          connect_failed(make_error(errc::timeout, "connect",
                                    connect_->options.remote.to_string(), 0,
                                    connect_->resolving ? "the host name lookup took "
                                                 "longer than the connect "
                                                 "timeout"
                                               : "no answer within the "
                                                 "connect timeout"));
        break;
      case timer_kind::retry:
        start_connect_attempt();
        break;
      case timer_kind::layer:
        break; // see on_timer(uint8_t)
    }
  }

  void timed_out(timer_kind kind, caf::timespan limit) {
    if (kind == timer_kind::drain) {
      if (info_.state == connection_state::draining) {
        // We flushed what we owed; the peer just did not close in time.
        detail::set_abortive_close(fd());
        finish(caf::none);
        return;
      }
      // A layer did not finish closing (in-flight work) within the bound.
      detail::set_abortive_close(fd());
      finish(make_error(errc::timeout, "drain", where(), 0,
                        "the protocol did not finish closing within "
                          + format_duration(limit)));
      return;
    }
    finish(make_error(errc::timeout, operation_of(kind), where(), 0,
                      "no progress for " + format_duration(limit)));
  }

  // -- state ------------------------------------------------------------------

  socket_handle sock_; ///< until adopted
  std::shared_ptr<const detail::connection_config> config_; ///< shared
  connection_timeouts timeouts_; ///< this connection's (timeouts_atom)
  std::unique_ptr<outbound> connect_; ///< null for accepted connections
  detail::layer_slot stack_; ///< the bottom layer and its unconsumed bytes
  detail::fd_watcher_ptr watcher_;
  connection_info info_;
  caf::strong_actor_ptr self_ref_; ///< from make_behavior to on_exit
  std::vector<char> out_buf_;     ///< what the layers wrote in this turn
  std::vector<char> write_queue_; ///< what the kernel did not take yet
  size_t write_offset_ = 0;
  /// A file range to send once write_queue_ is sent up to `at`.
  struct queued_file {
    size_t at;
    file_range range;
  };
  struct file_queue {
    std::vector<queued_file> ranges; ///< in the order they go out
    uint64_t bytes = 0;              ///< what they still have to send
  };
  /// Only while files are queued: an idle connection pays one pointer
  /// (and no deque, whose libstdc++ version allocates ~600 B up front).
  std::unique_ptr<file_queue> files_;
  size_t read_size_ = 0;
  layer_time now_;
  layer_time layer_deadline_ = layer_time::max(); ///< armed for; max: none
  bool in_turn_ = false;
  bool started_ = false; ///< the stack runs
  bool redeliver_ = false;
  bool failing_ = false;
  bool close_pending_ = false;   ///< a layer closed down to us this turn
  bool close_requested_ = false; ///< request_close asked the layers
  bool drain_armed_ = false;
  mutable bool notify_writable_ = false;
  bool paused_ = false;         ///< by backpressure (the send queue)
  bool handler_paused_ = false; ///< by a layer (pause_reading)
  bool peer_closed_ = false;
  bool shut_down_ = false;
  bool done_ = false;
  bool transport_up_ = false; ///< TCP connected (or accepted)
  bool established_ = false;  ///< open for the application (after TLS)
  bool options_inherited_ = false; ///< accepted: options came with accept
  // (16 bools: one 16-byte block, no padding; mind it when adding one)
  caf::error close_reason_;   ///< reported when a graceful close ends
  caf::error final_reason_;   ///< why it closed (none: cleanly)
  detail::timer_slots<timer_kinds> timers_;
  caf::actor_clock::time_point last_activity_;
  caf::actor_clock::time_point last_read_;
  caf::actor_clock::time_point last_write_;
  enum class promise_kind : uint8_t { connect, close };
  /// connect requests (answered when established or failed) and close
  /// requests (answered when gone): one vector, usually empty.
  std::vector<std::pair<promise_kind, caf::response_promise>> promises_;
};

connection_broker::behavior_type connection_broker::make_behavior() {
  info_.id = id();
  // A running connection owns itself, as a process does: it ends when it
  // closes, not when the last handle to it is dropped. Without this, the
  // requester that a failure wakes could drop the last handle while the
  // broker is still in that failure's callback.
  self_ref_ = caf::actor_cast<caf::strong_actor_ptr>(this);
  read_size_ = opts().min_read_size;
  stack_.reset(make_stack());
  if (stack_.empty()) {
    quit(make_error(errc::invalid_configuration, "start connection", "", 0,
                    "the handler factory returned no handler"));
    return behavior_type::make_empty_behavior();
  }
  set_default_handler([this](caf::scheduled_actor*, caf::message_view& x) {
    // A stray message (a reply nobody asked for) must not end a connection.
    return reject_unexpected_message("tcp_connection:" + where(), where(), x);
  });
  set_exit_handler([this](caf::exit_msg& msg) {
    // Our supervisor asks us to stop: finish what we were asked to send.
    if (msg.reason == caf::exit_reason::user_shutdown && !done_) {
      request_close();
      if (!done_ && !close_requested_
          && info_.state != connection_state::draining)
        finish(msg.reason);
      return;
    }
    finish(msg.reason);
  });
  if (connect_) {
    info_.remote = connect_->options.remote;
    start_connect_attempt();
  } else {
    adopt(std::move(sock_));
    start_connected();
  }
  return {
    [this](send_atom, std::vector<char>& frame) -> caf::result<caf::ok_atom> {
      if (auto refused = unless_connected("send"))
        return refused;
      caf::error err;
      turn([&] { err = stack_->on_send(byte_view{frame.data(), frame.size()}); });
      if (err)
        return with_endpoint(std::move(err));
      return caf::ok_atom::value;
    },
    [this](close_atom) -> caf::result<caf::ok_atom> {
      if (done_)
        return caf::ok_atom::value;
      auto rp = make_response_promise();
      promises_.emplace_back(promise_kind::close, rp);
      request_close();
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
      timeouts_ = t;
      // While connecting, the connect timer and the layers' deadlines run;
      // established() arms these.
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
      promises_.emplace_back(promise_kind::connect, rp);
      return rp;
    },
    [this](demand_atom, uint32_t n) {
      if (started_)
        turn([&] { stack_->on_demand(n); });
    },
    [this](set_receiver_atom, caf::actor& receiver) -> caf::result<caf::ok_atom> {
      if (done_)
        return make_error(errc::transport_closed, "set receiver", where());
      // Checked once here, for every layer and handler below.
      if (!receiver)
        return config_error("set receiver", where(), "receiver",
                            "must not be null");
      caf::error err;
      turn([&] { err = stack_->on_set_receiver(std::move(receiver)); });
      if (err)
        return with_endpoint(std::move(err));
      return caf::ok_atom::value;
    },
    [this](layer_request_atom, caf::message& msg) -> caf::result<caf::ok_atom> {
      if (auto refused = unless_connected("layer request"))
        return refused;
      caf::error err;
      turn([&] { err = stack_->on_request(msg); });
      if (err)
        return with_endpoint(std::move(err));
      return caf::ok_atom::value;
    },
    [this](connection_stop_atom, caf::error& reason) { quit(std::move(reason)); },
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
spawn_broker(caf::actor_system& sys, socket_handle sock,
             std::optional<endpoint> peer, detail::connection_config_ptr config,
             std::unique_ptr<outbound> connect, bool options_inherited,
             const std::string& where) {
  auto mm = middleman_of(sys, connect ? "connect" : "spawn connection", where);
  if (!mm)
    return std::move(mm.error());
  caf::actor_config cfg{&(*mm)->backend()};
  auto hdl = sys.spawn_class<connection_broker, caf::no_spawn_options>(
    cfg, std::move(sock), std::move(config), std::move(connect),
    options_inherited, std::move(peer));
  return caf::actor_cast<connection_actor>(hdl);
}

} // namespace

caf::expected<connection_actor>
spawn_connection(caf::actor_system& sys, socket_handle sock,
                 const connection_options& opts, handler_factory make_handler) {
  auto config = detail::make_connection_config(opts, std::move(make_handler));
  if (!config)
    return std::move(config.error());
  if (!sock)
    return make_error(errc::invalid_state, "spawn connection", "", 0,
                      "no socket");
  // A caller's socket may be blocking; accepted ones come non-blocking.
  int flags = ::fcntl(sock.get(), F_GETFL, 0);
  if (flags < 0 || ::fcntl(sock.get(), F_SETFL, flags | O_NONBLOCK) < 0)
    return make_os_error(errno, "spawn connection",
                         remote_endpoint_of(sock.get()).to_string());
  return spawn_broker(sys, std::move(sock), std::nullopt, std::move(*config),
                      nullptr, false, "");
}

namespace detail {

caf::expected<connection_config_ptr>
make_connection_config(connection_options opts, handler_factory make_handler) {
  if (auto err = validate(opts))
    return err;
  return std::make_shared<const connection_config>(
    connection_config{std::move(opts), std::move(make_handler)});
}

caf::expected<connection_actor>
spawn_accepted_connection(caf::actor_system& sys, socket_handle sock,
                          const endpoint& peer,
                          const connection_config_ptr& config) {
  if (!sock || !config)
    return make_error(errc::invalid_state, "spawn connection",
                      peer.to_string(), 0, "no socket or no configuration");
  return spawn_broker(sys, std::move(sock), peer, config, nullptr, true, "");
}

} // namespace detail

caf::expected<connection_actor> connect(caf::actor_system& sys,
                                        const connect_options& opts,
                                        handler_factory make_handler) {
  if (auto err = validate(opts))
    return err;
  auto config = detail::make_connection_config(opts.connection,
                                               std::move(make_handler));
  if (!config)
    return std::move(config.error());
  return spawn_broker(sys, socket_handle{}, std::nullopt, std::move(*config),
                      std::make_unique<outbound>(opts), false,
                      opts.remote.to_string());
}

} // namespace ghostnet::transports
