#include "ghostnet/transports/detail/timer_queue.hpp"

#include <cerrno>
#include <sys/timerfd.h>
#include <unistd.h>

#include <stdexcept>

#include <caf/io/network/default_multiplexer.hpp>

namespace ghostnet::transports::detail {

using caf::io::network::operation;

std::shared_ptr<timer_queue>
timer_queue::of(caf::io::network::default_multiplexer& mpx) {
  // One multiplexer runs on one thread, so the thread's queue is its queue
  // (the check covers a thread that outlived an actor system).
  thread_local std::weak_ptr<timer_queue> current;
  auto result = current.lock();
  if (!result || result->mpx_ != &mpx) {
    result = std::make_shared<timer_queue>(mpx);
    current = result;
  }
  return result;
}

timer_queue::timer_queue(caf::io::network::default_multiplexer& mpx)
  : mpx_(&mpx) {
  int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("timerfd_create failed"); // out of descriptors
  // The callback's raw `this` is safe: the destructor closes the watcher.
  watcher_ = fd_watcher::make(mpx, fd, [this](operation op) {
    if (op == operation::read)
      on_expired();
  });
  watcher_->want_read(true);
}

timer_queue::~timer_queue() {
  watcher_->close();
}

timer_queue::handle timer_queue::arm(time_point due, timer_client& client,
                                     uint8_t kind) {
  auto h = entries_.emplace(due, entry{&client, kind});
  if (due < programmed_)
    program(due);
  return h;
}

void timer_queue::cancel(handle h) {
  // The timerfd stays programmed: one spurious wake-up is cheaper than a
  // system call per cancellation.
  entries_.erase(h);
}

void timer_queue::on_expired() {
  uint64_t ticks = 0;
  while (::read(watcher_->fd(), &ticks, sizeof(ticks)) < 0 && errno == EINTR)
    ; // nop
  // A callback may drop the last other reference to this queue.
  auto guard = shared_from_this();
  programmed_ = time_point::max();
  auto now = clock_type::now();
  // A callback may arm and cancel timers (also of other owners): take one
  // entry at a time from the front.
  while (!entries_.empty() && entries_.begin()->first <= now) {
    auto e = entries_.begin()->second;
    entries_.erase(entries_.begin());
    e.client->on_timer(e.kind);
  }
  if (!entries_.empty())
    program(entries_.begin()->first);
}

void timer_queue::program(time_point due) {
  programmed_ = due;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
              due.time_since_epoch())
              .count();
  if (ns <= 0)
    ns = 1; // 0 would disarm
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  ::timerfd_settime(watcher_->fd(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

} // namespace ghostnet::transports::detail
