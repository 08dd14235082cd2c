#include "ghostnet/supervision/node.hpp"

#include <caf/scheduler/abstract_coordinator.hpp>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/supervision/supervisor.hpp"

namespace ghostnet {

namespace sv = supervision;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view source = "node";

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

/// Waits up to `timeout` for SIGINT or SIGTERM; returns it, or 0.
int wait_for_signal(caf::timespan timeout) {
  auto set = stop_signals();
  if (timeout < caf::timespan{0})
    timeout = caf::timespan{0};
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout);
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
  for (;;) {
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0)
      return sig;
    if (errno == EAGAIN)
      return 0;
    if (errno != EINTR) {
      log::error(source, "sigtimedwait_failed",
                 {log::kv("errno", errno), log::kv("what", std::strerror(errno))});
      return 0;
    }
    // EINTR: another signal's handler ran; the remaining time is not
    // reported, so wait once more with the full slice (callers loop anyway).
  }
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "?";
  }
}

bool is_orderly(const caf::error& reason) {
  return !reason || reason == caf::exit_reason::normal
         || reason == caf::exit_reason::user_shutdown;
}

caf::timespan left_until(steady::time_point deadline) {
  auto left = deadline - steady::now();
  return std::chrono::duration_cast<caf::timespan>(
    std::max(left, steady::duration{0}));
}

} // namespace

/// Records the exit of the root; written by an attachable on a CAF thread,
/// read by the node's thread.
struct node::root_watch {
  std::mutex mtx;
  std::condition_variable cv;
  bool down = false;
  caf::error reason;

  void set_down(const caf::error& x) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      down = true;
      reason = x;
    }
    cv.notify_all();
  }

  bool is_down() {
    std::lock_guard<std::mutex> guard{mtx};
    return down;
  }

  bool wait_until(steady::time_point t) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_until(guard, t, [this] { return down; });
  }

  caf::error exit_reason() {
    std::lock_guard<std::mutex> guard{mtx};
    return reason;
  }
};

// -- construction -------------------------------------------------------------

node::node(node_options opts)
  : options_(std::move(opts)), watch_(std::make_shared<root_watch>()) {
  // Before the actor system exists: its threads inherit this mask, so that
  // SIGINT/SIGTERM stay pending until run() takes them with sigtimedwait.
  auto set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // An ignored signal is discarded even while blocked, so sigtimedwait would
  // never see it: shells start background jobs with SIGINT ignored. As Go's
  // signal.Notify does, take such a signal back (the default action cannot
  // run while the signal is blocked). Handlers the program installed stay.
  for (int sig : {SIGINT, SIGTERM}) {
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) {
      struct sigaction dfl{};
      dfl.sa_handler = SIG_DFL;
      sigemptyset(&dfl.sa_mask);
      sigaction(sig, &dfl, nullptr);
    }
  }
  init_error_ = options_.validate();
  if (!init_error_)
    init_error_ = log::configure(
      log::options{options_.log_level, options_.log_format, options_.log_file});
  register_error_category(cfg_);
  cfg_.load<caf::io::middleman>();
  if (!init_error_ && options_.scheduler_threads > 0)
    cfg_.set("scheduler.max-threads",
             static_cast<int64_t>(options_.scheduler_threads));
  // One read per socket event: brokers yield to each other sooner and an
  // echo cycle makes fewer system calls (CAF017.md, "Asio-class speed").
  cfg_.set("middleman.max-consecutive-reads", 1);
  system_ = std::make_unique<caf::actor_system>(cfg_);
  if (init_error_)
    log::error(source, "invalid_configuration", {log::kv("err", init_error_)});
}

node::~node() {
  if (root_) {
    if (stop_tree(options_.shutdown_timeout, false)
        == stop_outcome::missed_deadline)
      log::error(source, "stop_missed_deadline",
                 {log::kv("deadline", options_.shutdown_timeout)});
  }
  // The tree is gone before CAF's shutdown (which races with detached
  // actors in 0.17, #1196).
  system_.reset();
}

// -- starting -----------------------------------------------------------------

caf::error node::start(std::vector<sv::child_spec> services,
                       std::vector<caf::actor> subscribers) {
  if (init_error_)
    return init_error_;
  if (root_)
    return make_error(errc::invalid_state, "start node", "root", 0,
                      "already started");
  sv::supervisor_spec spec;
  spec.name = "root";
  spec.flags.how = sv::strategy::one_for_one;
  spec.flags.intensity = 3;
  spec.flags.period = std::chrono::seconds(5);
  spec.children = services;
  caf::scoped_actor events{system()};
  spec.subscribers.push_back(caf::actor{events});
  for (auto& sub : subscribers)
    spec.subscribers.push_back(std::move(sub));
  auto sup = sv::spawn_supervisor(system(), std::move(spec));
  if (!sup) {
    log::error(source, "start_failed", {log::kv("err", sup.error())});
    return std::move(sup.error());
  }
  root_ = std::move(*sup);
  watch_ = std::make_shared<root_watch>();
  root_->attach_functor(
    [w = watch_](const caf::error& reason) { w->set_down(reason); });
  if (auto err = await_started(events)) {
    // The root stops by itself after a failed start; a timeout needs a stop.
    stop_tree(options_.shutdown_timeout, false);
    return err;
  }
  log::info(source, "node_started",
            {log::kv("services", services.size()),
             log::kv("scheduler_threads", system_->scheduler().num_workers())});
  return caf::none;
}

caf::error node::await_started(caf::scoped_actor& events) {
  // The start handshake: the root answers once every service has confirmed
  // its start (a supervisor service once its own children have), or with
  // the cause of the first failure. Nothing is restarted: a child that
  // fails to START ends the root's start.
  caf::error err;
  caf::scoped_actor self{system()};
  self->request(root_, options_.start_timeout, await_start_atom::value)
    .receive([](caf::ok_atom) {}, [&](caf::error& x) { err = std::move(x); });
  if (!err)
    return caf::none;
  if (err == caf::sec::request_receiver_down) {
    // The root failed and stopped before the handshake reached it: its exit
    // reason is the cause.
    watch_->wait_until(steady::now() + options_.start_timeout);
    err = watch_->exit_reason();
    if (!err)
      err = make_error(errc::start_failed, "start node", "root", 0,
                       "root supervisor stopped during start");
  }
  if (err == caf::sec::request_timeout)
    err = make_error(errc::timeout, "start node", "root", 0,
                     "services not started within "
                       + format_duration(options_.start_timeout));
  // Which service failed: the root's start_failed event names it.
  std::string service;
  bool more = true;
  while (more)
    events->receive(
      [&](sv::supervisor_event& ev) {
        if (ev.kind == sv::event_kind::start_failed && service.empty())
          service = ev.child;
      },
      caf::after(caf::timespan{0}) >> [&] { more = false; });
  log::error(source, "start_failed",
             {log::kv("service", service.empty() ? "-" : service),
              log::kv("err", err)});
  return err;
}

// -- stopping -----------------------------------------------------------------

node::stop_outcome node::stop_tree(caf::timespan deadline, bool watch_signals) {
  if (!root_)
    return stop_outcome::not_running;
  auto outcome = stop_outcome::stopped;
  if (!watch_->is_down()) {
    log::info(source, "stopping", {log::kv("deadline", deadline)});
    // The root answers within the deadline plus its abandon grace, even if
    // a child is stuck in a handler (it is then abandoned and reported).
    caf::scoped_actor stopper{system()};
    // A root that is gone already (it stops itself after a failed start)
    // answers nothing: its down message ends the wait instead.
    stopper->monitor(root_);
    stopper->send(root_, shutdown_atom::value, deadline);
    auto limit = steady::now() + deadline + sv::abandon_grace + 1s;
    bool interrupted = false;
    bool answered = false;
    while (!answered && steady::now() < limit) {
      auto slice = std::min<caf::timespan>(left_until(limit), 50ms);
      stopper->receive(
        [&](sv::shutdown_report& report) {
          answered = true;
          if (!report.clean()) {
            std::string ids;
            for (auto& id : report.abandoned)
              ids += (ids.empty() ? "" : ",") + id;
            log::error(source, "children_abandoned",
                       {log::kv("count", report.abandoned.size()),
                        log::kv("children", ids)});
            outcome = stop_outcome::abandoned;
          }
        },
        [&](caf::error&) { answered = true; },
        [&](caf::down_msg&) { answered = true; },
        caf::after(watch_signals ? slice : left_until(limit)) >> [] {});
      if (!answered && watch_signals)
        if (int sig = wait_for_signal(caf::timespan{0})) {
          log::warn(source, "second_signal",
                    {log::kv("signal", signal_name(sig))});
          interrupted = true;
          break;
        }
    }
    if (answered) {
      watch_->wait_until(steady::now() + 5s);
    } else {
      if (!interrupted)
        log::error(source, "stop_missed_deadline",
                   {log::kv("deadline", deadline)});
      // The root's on_exit kills its children, and theirs theirs.
      caf::anon_send_exit(root_, caf::exit_reason::kill);
      if (!watch_->wait_until(steady::now() + 5s))
        log::error(source, "root_survived_kill");
      outcome = interrupted ? stop_outcome::interrupted
                            : stop_outcome::missed_deadline;
    }
  }
  log::info(source, "stopped",
            {log::kv("root_exit", watch_->exit_reason())});
  root_ = nullptr;
  remove_ready_file();
  return outcome;
}

caf::error node::stop(caf::timespan deadline) {
  switch (stop_tree(deadline, false)) {
    case stop_outcome::missed_deadline:
    case stop_outcome::interrupted:
      return make_error(errc::timeout, "stop node", "root", 0,
                        "root did not stop within "
                          + format_duration(deadline) + " + 1s; killed");
    case stop_outcome::abandoned:
      return make_error(errc::timeout, "stop node", "root", 0,
                        "children abandoned at the deadline of "
                          + format_duration(deadline) + " (see the log)");
    default:
      return caf::none;
  }
}

int node::run() {
  if (init_error_ || !root_) {
    log::error(source, "run_without_start",
               {log::kv("err", init_error_ ? init_error_
                                           : make_error(errc::invalid_state,
                                                        "run node"))});
    return 1;
  }
  for (;;) {
    if (watch_->is_down()) {
      auto reason = watch_->exit_reason();
      root_ = nullptr;
      remove_ready_file();
      if (is_orderly(reason)) {
        log::info(source, "root_stopped", {log::kv("reason", reason)});
        return 0;
      }
      log::error(source, "root_exited", {log::kv("reason", reason)});
      return 1;
    }
    if (int sig = wait_for_signal(100ms)) {
      log::info(source, "signal_received", {log::kv("signal", signal_name(sig))});
      break;
    }
  }
  switch (stop_tree(options_.shutdown_timeout, true)) {
    case stop_outcome::interrupted:
      return 130;
    case stop_outcome::missed_deadline:
      return 1;
    case stop_outcome::abandoned:
      return exit_code_abandoned;
    default:
      return 0;
  }
}

// -- ready file ---------------------------------------------------------------

caf::error
node::write_ready_file(const std::map<std::string, std::string>& bound) {
  const auto& path = options_.ready_file;
  if (path.empty())
    return caf::none;
  std::string json = "{";
  for (auto& [name, address] : bound) {
    if (json.size() > 1)
      json += ", ";
    append_json_string(json, name);
    json += ": ";
    append_json_string(json, address);
  }
  json += "}\n";
  auto tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const char* what) {
    auto os_errno = errno;
    ::unlink(tmp.c_str());
    return make_error(errc::io_error, what, path, os_errno,
                      "writing the ready file");
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail("open");
  size_t written = 0;
  while (written < json.size()) {
    auto n = ::write(fd, json.data() + written, json.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      auto err = fail("write");
      ::close(fd);
      return err;
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0)
    return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail("rename");
  wrote_ready_file_ = true;
  log::info(source, "ready", {log::kv("file", path)});
  return caf::none;
}

void node::remove_ready_file() {
  if (!wrote_ready_file_)
    return;
  wrote_ready_file_ = false;
  if (::unlink(options_.ready_file.c_str()) != 0 && errno != ENOENT)
    log::warn(source, "ready_file_not_removed",
              {log::kv("file", options_.ready_file), log::kv("errno", errno)});
}

} // namespace ghostnet
