#include "ghostnet/transports/tcp_listener.hpp"

#include <cerrno>
#include <sys/socket.h>

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/transports/detail/broker_cleanup.hpp"
#include "ghostnet/transports/detail/fd_watcher.hpp"

namespace ghostnet::transports {

namespace {

using caf::io::network::operation;
using resume_atom_t = caf::atom_constant<caf::atom("gnresume")>;

bool is_resource_error(int e) {
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/// A broker, so that the fd_watcher callbacks and its messages share the
/// multiplexer thread.
class listener_broker final : public caf::io::broker {
public:
  listener_broker(caf::actor_config& cfg, socket_handle sock,
                  listener_options opts,
                  supervision::supervisor_actor connections)
    : caf::io::broker(cfg), sock_(std::move(sock)), opts_(std::move(opts)),
      connections_(std::move(connections)) {
    resume_below_ = opts_.resume_below > 0 ? opts_.resume_below
                                           : opts_.max_connections * 9 / 10;
    backoff_ = opts_.accept_backoff_min;
  }

  const char* name() const override {
    return "ghostnet.tcp_listener";
  }

  void on_exit() override {
    detail::close_mailbox_on_exit(*this);
    stop_accepting();
  }

  caf::behavior make_behavior() override {
    info_.bound = local_endpoint_of(sock_.get());
    source_ = "tcp_listener:" + info_.bound.to_string();
    auto& mpx = static_cast<caf::io::network::default_multiplexer&>(
      system().middleman().backend());
    auto* self = this; // the watcher is closed in on_exit, before we die
    watcher_ = detail::fd_watcher::make(mpx, sock_.take(),
                                        [self](operation op) {
                                          self->on_ready(op);
                                        });
    watcher_->want_read(true);
    monitor(connections_);
    set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
    log::info(source_, "listening",
              {log::kv("max_connections", opts_.max_connections)});
    return {
      [this](info_atom) {
        auto result = info_;
        result.accepting = watcher_ && watcher_->reading();
        return result;
      },
      [this](drain_atom) {
        log::info(source_, "draining", {log::kv("active", info_.active)});
        stop_accepting();
        return caf::ok_atom::value;
      },
      [this](resume_atom_t) {
        resume_pending_ = false;
        update_accepting();
      },
    };
  }

private:
  void stop_accepting() {
    drained_ = true;
    if (watcher_) {
      watcher_->close();
      watcher_.reset();
    }
  }

  /// Accepting is on unless drained, backing off, or at the limit.
  void update_accepting() {
    if (!watcher_)
      return;
    auto open = info_.active + starting_;
    if (paused_at_limit_ && open <= resume_below_)
      paused_at_limit_ = false;
    if (opts_.at_limit == limit_policy::pause
        && open >= opts_.max_connections)
      paused_at_limit_ = true;
    watcher_->want_read(!drained_ && !resume_pending_ && !paused_at_limit_);
  }

  void on_ready(operation op) {
    if (op != operation::read || !watcher_)
      return;
    for (size_t i = 0; i < opts_.max_accepts_per_event && watcher_; ++i) {
      socket_address peer;
      peer.length = sizeof(peer.storage);
      int fd = ::accept4(watcher_->fd(), peer.get(), &peer.length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        auto e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
          return;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO)
          continue; // that peer gave up; the next may not
        on_accept_error(e);
        return;
      }
      backoff_ = opts_.accept_backoff_min;
      // accept4 tells the peer for free: the connection never needs
      // getpeername (which fails once the peer has reset).
      on_accepted(socket_handle{fd}, to_endpoint(peer));
    }
  }

  void on_accept_error(int e) {
    ++info_.accept_errors;
    // Level-triggered epoll would report the pending connection again at
    // once: stop watching, back off, resume — never spin.
    log::warn(source_, "accept_failed",
              {log::kv("reason", make_os_error(e, "accept", info_.bound.to_string())),
               log::kv("resource_exhausted", is_resource_error(e)),
               log::kv("backoff", backoff_)});
    resume_pending_ = true;
    update_accepting();
    delayed_send(this, backoff_, resume_atom_t::value);
    backoff_ = std::min(backoff_ * 2, opts_.accept_backoff_max);
  }

  void on_accepted(socket_handle sock, endpoint peer) {
    if (info_.active + starting_ >= opts_.max_connections) {
      ++info_.rejected;
      log::warn(source_, "connection_rejected",
                {log::kv("reason", "max_connections"),
                 log::kv("max_connections", opts_.max_connections),
                 log::kv("rejected", info_.rejected)});
      return; // dropping the handle closes the socket
    }
    ++starting_;
    ++info_.accepted;
    update_accepting();
    request(connections_, caf::infinite, start_child_atom::value,
            caf::make_message(std::move(sock), std::move(peer)))
      .then(
        [this](caf::actor& conn) {
          --starting_;
          ++info_.active;
          monitor(conn);
        },
        [this](caf::error& err) {
          --starting_;
          ++info_.start_failures;
          log::warn(source_, "connection_start_failed",
                    {log::kv("reason", err)});
          update_accepting();
        });
  }

  void on_down(const caf::down_msg& msg) {
    if (msg.source == connections_.address()) {
      // Without its supervisor the listener is useless: rest_for_one
      // restarts both.
      quit(make_error(errc::invalid_state, "accept", info_.bound.to_string(),
                      0, "connections supervisor is gone"));
      return;
    }
    if (info_.active > 0)
      --info_.active;
    update_accepting();
  }

  socket_handle sock_;
  listener_options opts_;
  supervision::supervisor_actor connections_;
  detail::fd_watcher_ptr watcher_;
  listener_info info_;
  std::string source_;
  uint64_t starting_ = 0;
  size_t resume_below_ = 0;
  caf::timespan backoff_;
  bool resume_pending_ = false;
  bool paused_at_limit_ = false;
  bool drained_ = false;
};

} // namespace

caf::expected<tcp_listener_actor>
spawn_tcp_listener(caf::actor_system& sys, socket_handle listening,
                   const listener_options& opts,
                   supervision::supervisor_actor connections) {
  if (auto err = validate(opts))
    return err;
  if (!listening || !connections)
    return make_error(errc::invalid_state, "spawn listener",
                      opts.bind.to_string(), 0,
                      "needs a listening socket and a connections supervisor");
  if (!sys.has_middleman())
    return make_error(errc::invalid_configuration, "spawn listener",
                      opts.bind.to_string(), 0,
                      "the actor system has no middleman (load it)");
  caf::actor_config cfg{&sys.middleman().backend()};
  auto hdl = sys.spawn_class<listener_broker, caf::no_spawn_options>(
    cfg, std::move(listening), opts, std::move(connections));
  return caf::actor_cast<tcp_listener_actor>(hdl);
}

} // namespace ghostnet::transports
