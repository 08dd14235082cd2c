#pragma once

// Readiness notifications for a socket that ghostnet owns itself (listening
// sockets, UDP sockets, sockets still connecting), delivered by CAF's own
// multiplexer thread — the thread that runs every broker. CAF 0.17 has no
// public way to watch an arbitrary descriptor: its doorman spins on EMFILE,
// its datagram servant hides the peer address. This is the one place that
// plugs into caf::io::network::event_handler.
//
// Thread rule: create, arm and close a watcher only on the multiplexer thread,
// i.e. from inside a broker (brokers run there) or a multiplexer dispatch.
// The callback runs on that thread too, never concurrently with a broker.
//
// Owner rule: the owning broker closes its watcher in on_exit() (and
// wherever it is done with the socket). A registered descriptor is closed one
// loop turn later, once CAF's epoll set no longer refers to it. After a
// propagate_error callback the watcher is finished: close it.
//
// There is deliberately no way to take the descriptor back out: CAF may
// still have an epoll change queued for it, which would then hit a closed or
// reused descriptor.

#include <functional>

#include <caf/intrusive_ptr.hpp>
#include <caf/io/network/event_handler.hpp>
#include <caf/io/network/operation.hpp>
#include <caf/ref_counted.hpp>

namespace caf::io::network {
class default_multiplexer;
} // namespace caf::io::network

namespace ghostnet::transports::detail {

class fd_watcher final : public caf::ref_counted,
                         public caf::io::network::event_handler {
public:
  /// Called with operation::read, ::write or ::propagate_error (socket error;
  /// the watcher has stopped watching by then).
  using callback = std::function<void(caf::io::network::operation)>;

  /// Takes ownership of `fd`, which must be non-blocking already (created
  /// with SOCK_NONBLOCK / accept4). Changes no socket option (unlike CAF's
  /// own handlers, which force TCP_NODELAY). Watches nothing yet.
  static caf::intrusive_ptr<fd_watcher>
  make(caf::io::network::default_multiplexer& mpx, int fd, callback fn);

  ~fd_watcher() override;

  /// Starts or stops watching for readability / writability.
  void want_read(bool enable);
  void want_write(bool enable);

  [[nodiscard]] bool reading() const noexcept { return want_read_; }
  [[nodiscard]] bool writing() const noexcept { return want_write_; }

  /// Stops watching and closes the descriptor: at once if the multiplexer
  /// has not registered it, else once it has let go of it (next loop turn).
  /// Idempotent. The callback is never called after this.
  void close();

  // -- event_handler ----------------------------------------------------------
  void handle_event(caf::io::network::operation op) override;
  void removed_from_loop(caf::io::network::operation op) override;
  void graceful_shutdown() override;

private:
  fd_watcher(caf::io::network::default_multiplexer& mpx, int fd, callback fn);

  void stop_watching();
  void register_ref();
  void release_registration_ref();

  callback fn_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool closed_ = false;
  bool registered_ = false; ///< holds a reference for the multiplexer
};

using fd_watcher_ptr = caf::intrusive_ptr<fd_watcher>;

} // namespace ghostnet::transports::detail
