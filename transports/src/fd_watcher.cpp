#include "ghostnet/transports/detail/fd_watcher.hpp"

#include <unistd.h>

#include <caf/io/network/default_multiplexer.hpp>

namespace ghostnet::transports::detail {

using caf::io::network::operation;

fd_watcher::fd_watcher(caf::io::network::default_multiplexer& mpx, int fd,
                       callback fn)
  : event_handler(mpx, caf::io::network::invalid_native_socket),
    fn_(std::move(fn)) {
  // Constructed without the descriptor and given it here: for a valid one,
  // event_handler's constructor makes three system calls (fcntl twice,
  // setsockopt TCP_NODELAY) that every ghostnet socket does not need — it
  // is made non-blocking at creation and gets its options from the owner.
  fd_ = fd;
}

fd_watcher_ptr fd_watcher::make(caf::io::network::default_multiplexer& mpx,
                                int fd, callback fn) {
  return fd_watcher_ptr{new fd_watcher(mpx, fd, std::move(fn)), false};
}

fd_watcher::~fd_watcher() {
  // event_handler's destructor closes fd_ unless it was released.
}

// Lifetime: the multiplexer keeps a raw pointer to a registered handler,
// also in its queue of pending epoll changes. We hold one extra reference
// while registered and give it back (on a later loop turn, via post) once
// the multiplexer has applied a mask of 0 — or at close() if no mask was
// ever applied (an add and a del squashed into nothing).

void fd_watcher::register_ref() {
  if (!registered_) {
    registered_ = true;
    ref();
  }
}

void fd_watcher::release_registration_ref() {
  if (!registered_)
    return;
  registered_ = false;
  auto self = fd_watcher_ptr{this, false}; // adopt the registration ref
  backend().post([self] {});
}

void fd_watcher::want_read(bool enable) {
  if (closed_ || enable == want_read_)
    return;
  want_read_ = enable;
  if (enable) {
    register_ref();
    backend().add(operation::read, fd(), this);
  } else {
    backend().del(operation::read, fd(), this);
  }
}

void fd_watcher::want_write(bool enable) {
  if (closed_ || enable == want_write_)
    return;
  want_write_ = enable;
  if (enable) {
    register_ref();
    backend().add(operation::write, fd(), this);
  } else {
    backend().del(operation::write, fd(), this);
  }
}

void fd_watcher::stop_watching() {
  want_read(false);
  want_write(false);
  if (eventbf() == 0)
    release_registration_ref();
}

void fd_watcher::close() {
  if (closed_)
    return;
  stop_watching();
  closed_ = true;
  fn_ = nullptr;
  if (eventbf() == 0 && fd_ != caf::io::network::invalid_native_socket) {
    // Not in the epoll set, and any queued add was squashed by the del:
    // nothing refers to the descriptor any more, close it now.
    ::close(fd_);
    fd_ = caf::io::network::invalid_native_socket;
  }
}

void fd_watcher::handle_event(operation op) {
  if (closed_ || !fn_)
    return;
  if (op == operation::propagate_error) {
    // The multiplexer drops both registrations itself after this event.
    want_read_ = false;
    want_write_ = false;
  } else if ((op == operation::read && !want_read_)
             || (op == operation::write && !want_write_)) {
    return; // stale event from the same epoll batch
  }
  auto fn = fn_; // the callback may close() us
  fn(op);
}

void fd_watcher::removed_from_loop(operation) {
  if (eventbf() == 0)
    release_registration_ref();
}

void fd_watcher::graceful_shutdown() {
  close();
}

} // namespace ghostnet::transports::detail
