#include "ghostnet/transports/tcp_listener.hpp"

#include <cerrno>
#include <memory>
#include <vector>
#include <sys/socket.h>

#include <caf/send.hpp>

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/middleman.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/metrics.hpp"
#include "ghostnet/actors/detail/broker_cleanup.hpp"
#include "ghostnet/transports/detail/connection_registry.hpp"
#include "ghostnet/transports/detail/fd_watcher.hpp"
#include "ghostnet/transports/tcp_connection.hpp"

namespace ghostnet::transports {

namespace {

using caf::io::network::operation;
using detail::connection_registry;
using detail::registry_ptr;
using detail::supervisor_hook;

bool is_resource_error(int e) {
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/// A broker, so that the fd_watcher callbacks and its messages share the
/// multiplexer thread.
class listener_broker final : public caf::io::broker {
public:
  listener_broker(caf::actor_config& cfg, socket_handle sock,
                  listener_options opts, detail::connection_config_ptr config,
                  supervision::supervisor_actor connections)
    : caf::io::broker(cfg), sock_(std::move(sock)), opts_(std::move(opts)),
      config_(std::move(config)),
      connections_(std::move(connections)),
      registry_(std::make_shared<connection_registry>()) {
    resume_below_ = opts_.resume_below > 0 ? opts_.resume_below
                                           : opts_.max_connections * 9 / 10;
    backoff_ = opts_.accept_backoff_min;
  }

  const char* name() const override {
    return "ghostnet.tcp_listener";
  }

  void on_exit() override {
    ghostnet::detail::close_mailbox_on_exit(*this);
    stop_accepting();
    // Connections outlive their listener (they belong to the supervisor).
    // Once none of ours is left, nothing can be unadopted: drop the hook
    // (a restarted listener brings its own).
    if (hooked_ && registry_->size() == 0)
      if (auto* sup = caf::actor_cast<caf::abstract_actor*>(connections_))
        sup->detach(caf::attachable::token{caf::attachable::token::anonymous,
                                           registry_.get()});
  }

  caf::behavior make_behavior() override {
    info_.bound = local_endpoint_of(sock_.get());
    source_ = "tcp_listener:" + info_.bound.to_string();
    auto& m = metrics::global();
    metrics::labels l{{"listener", info_.bound.to_string()}};
    accepted_ = &m.counter("ghostnet_connections_accepted_total",
                           "connections a listener accepted", l);
    rejected_ = &m.counter("ghostnet_connections_rejected_total",
                           "connections a listener closed at once, by reason",
                           {l[0], {"reason", "max_connections"}});
    start_failed_ = &m.counter("ghostnet_connections_rejected_total", "",
                               {l[0], {"reason", "start_failed"}});
    accept_errors_ = &m.counter("ghostnet_accept_errors_total",
                                "accept() failures (EMFILE and the like), each followed by a "
                                "back-off", l);
    registry_->set_listener(address());
    // Runs at once if the supervisor is gone already.
    caf::actor_cast<caf::abstract_actor*>(connections_)
      ->attach(std::make_unique<supervisor_hook>(registry_));
    hooked_ = true;
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
        result.active = registry_->size();
        result.accepting = watcher_ && watcher_->reading();
        return result;
      },
      [this](drain_atom) {
        log::info(source_, "draining",
                  {log::kv("active", registry_->size())});
        stop_accepting();
        return caf::ok_atom::value;
      },
      [this](listener_resume_atom) {
        resume_pending_ = false;
        update_accepting();
      },
      [this](conn_ended_atom) { update_accepting(); },
    };
  }

private:
  void stop_accepting() {
    drained_ = true;
    registry_->notify_on_end(false);
    if (watcher_) {
      // The descriptor is closed only once the multiplexer has dropped it
      // from epoll, a loop turn later. Shut it down now so the port is free
      // the moment our exit is seen: a restarted listener binds the same
      // port at once (Linux takes a listening socket out of LISTEN here).
      ::shutdown(watcher_->fd(), SHUT_RDWR);
      watcher_->close();
      watcher_.reset();
    }
  }

  /// Accepting is on unless drained, backing off, or at the limit.
  void update_accepting() {
    if (!watcher_)
      return;
    auto open = registry_->size();
    if (paused_at_limit_ && open <= resume_below_)
      paused_at_limit_ = false;
    if (opts_.at_limit == limit_policy::pause
        && open >= opts_.max_connections)
      paused_at_limit_ = true;
    if (paused_at_limit_) {
      // Hear about the next connection that ends; a connection that ended
      // in between is caught by looking again.
      registry_->notify_on_end(true);
      if (registry_->size() <= resume_below_) {
        registry_->notify_on_end(false);
        paused_at_limit_ = false;
      }
    }
    watcher_->want_read(!drained_ && !resume_pending_ && !paused_at_limit_);
  }

  void on_ready(operation op) {
    if (op != operation::read || !watcher_)
      return;
    accept_burst();
    if (rejected_in_burst_ > 0) {
      // Once per burst, with the count: a flood at the limit is one line.
      log::warn(source_, "connections_rejected",
                {log::kv("reason", "max_connections"),
                 log::kv("max_connections", opts_.max_connections),
                 log::kv("count", rejected_in_burst_),
                 log::kv("rejected_total", info_.rejected)});
      rejected_in_burst_ = 0;
    }
    // One message to the supervisor per readiness event, not per socket.
    if (adopted_.size() == 1)
      caf::anon_send(connections_, adopt_child_atom::value,
                     std::move(adopted_.front()));
    else if (!adopted_.empty())
      caf::anon_send(connections_, adopt_child_atom::value,
                     std::move(adopted_));
    adopted_.clear();
  }

  void accept_burst() {
    // Stop at the limit in pause mode: the rest waits in the backlog.
    for (size_t i = 0;
         i < opts_.max_accepts_per_event && watcher_ && !paused_at_limit_;
         ++i) {
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
    accept_errors_->inc();
    // Level-triggered epoll would report the pending connection again at
    // once: stop watching, back off, resume — never spin.
    log::warn(source_, "accept_failed",
              {log::kv("reason", make_os_error(e, "accept", info_.bound.to_string())),
               log::kv("resource_exhausted", is_resource_error(e)),
               log::kv("backoff", backoff_)});
    resume_pending_ = true;
    update_accepting();
    delayed_send(this, backoff_, listener_resume_atom::value);
    backoff_ = std::min(backoff_ * 2, opts_.accept_backoff_max);
  }

  /// Spawns the connection here, on the multiplexer thread (no round trip
  /// through the scheduler), counts it in the registry before it can run,
  /// and queues it for adoption by the connections supervisor.
  void on_accepted(socket_handle sock, endpoint peer) {
    if (registry_->size() >= opts_.max_connections) {
      ++info_.rejected;
      ++rejected_in_burst_; // logged once at the end of the burst
      rejected_->inc();
      return; // dropping the handle closes the socket
    }
    auto conn = detail::spawn_accepted_connection(system(), std::move(sock),
                                                  peer, config_);
    if (!conn) {
      ++info_.start_failures;
      start_failed_->inc();
      log::warn(source_, "connection_start_failed",
                {log::kv("reason", conn.error())});
      return;
    }
    auto hdl = caf::actor_cast<caf::actor>(std::move(*conn));
    // The connection starts on this thread after this callback returns, so
    // it cannot have ended yet; the hook runs at once if it had.
    if (!registry_->add(hdl)) {
      // The supervisor is gone: nobody would supervise this connection.
      ++info_.start_failures;
      caf::anon_send_exit(hdl, caf::exit_reason::kill);
      return;
    }
    caf::actor_cast<caf::abstract_actor*>(hdl)->attach_functor(
      [reg = registry_, id = hdl.id()] { reg->remove(id); });
    ++info_.accepted;
    accepted_->inc();
    adopted_.push_back(std::move(hdl));
    if (opts_.at_limit == limit_policy::pause
        && registry_->size() >= opts_.max_connections)
      update_accepting();
  }

  void on_down(const caf::down_msg& msg) {
    if (msg.source == connections_.address()) {
      // Without its supervisor the listener is useless: rest_for_one
      // restarts both.
      quit(make_error(errc::invalid_state, "accept", info_.bound.to_string(),
                      0, "connections supervisor is gone"));
      return;
    }
  }

  socket_handle sock_;
  listener_options opts_;
  detail::connection_config_ptr config_; ///< shared by its connections
  supervision::supervisor_actor connections_;
  registry_ptr registry_;
  std::vector<caf::actor> adopted_; ///< spawned during this event
  detail::fd_watcher_ptr watcher_;
  listener_info info_;
  std::string source_;
  size_t rejected_in_burst_ = 0;
  metrics::counter* accepted_ = nullptr;
  metrics::counter* rejected_ = nullptr;
  metrics::counter* start_failed_ = nullptr;
  metrics::counter* accept_errors_ = nullptr;
  size_t resume_below_ = 0;
  caf::timespan backoff_;
  bool hooked_ = false;
  bool resume_pending_ = false;
  bool paused_at_limit_ = false;
  bool drained_ = false;
};

} // namespace

caf::expected<tcp_listener_actor>
spawn_tcp_listener(caf::actor_system& sys, socket_handle listening,
                   const listener_options& opts, handler_factory make_handler,
                   supervision::supervisor_actor connections) {
  if (auto err = validate(opts))
    return err;
  if (!listening || !connections
      || (!make_handler && !opts.connection.protocol))
    return make_error(errc::invalid_state, "spawn listener",
                      opts.bind.to_string(), 0,
                      "needs a listening socket, a handler factory (or "
                      "connection.protocol) and a connections supervisor");
  auto config = detail::make_connection_config(opts.connection,
                                               std::move(make_handler));
  if (!config)
    return std::move(config.error());
  auto mm = middleman_of(sys, "spawn listener", opts.bind.to_string());
  if (!mm)
    return std::move(mm.error());
  caf::actor_config cfg{&(*mm)->backend()};
  auto hdl = sys.spawn_class<listener_broker, caf::no_spawn_options>(
    cfg, std::move(listening), opts, std::move(*config),
    std::move(connections));
  return caf::actor_cast<tcp_listener_actor>(hdl);
}

} // namespace ghostnet::transports
