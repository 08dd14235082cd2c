#include "ghostnet/supervision/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include <caf/event_based_actor.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/backoff.hpp"
#include "ghostnet/actors/detail/broker_cleanup.hpp"
#include "ghostnet/actors/log.hpp"

namespace ghostnet::supervision {

namespace {

// Messages a supervisor sends itself; never part of its public interface.
using restart_timer_atom = caf::atom_constant<caf::atom("gsrestart")>;
using stop_timer_atom = caf::atom_constant<caf::atom("gsstoptmr")>;
using deadline_atom = caf::atom_constant<caf::atom("gsdeadline")>;
using job_timer_atom = caf::atom_constant<caf::atom("gsjobtmr")>;

using time_point = caf::actor_clock::time_point;

bool is_normal_exit(const caf::error& reason) {
  return !reason || reason == caf::exit_reason::normal
         || reason == caf::exit_reason::user_shutdown;
}

bool should_restart(restart_type type, const caf::error& reason) {
  switch (type) {
    case restart_type::permanent: return true;
    case restart_type::transient: return !is_normal_exit(reason);
    case restart_type::temporary: return false;
  }
  return false;
}

std::string format_duration(caf::timespan d) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(d).count();
  return std::to_string(ms) + "ms";
}

/// The supervisor proper. It monitors its children (a child's exit arrives
/// as a down_msg) rather than linking to them: in CAF 0.17 an actor that
/// receives an exit_msg unlinks from its sender, so a child told to stop
/// would vanish without notice. Any exit_msg the supervisor receives comes
/// from its parent (or another owner) and means "stop the tree". If the
/// supervisor dies without stopping its children (killed), `on_exit` kills
/// them, as OTP's links would. Everything that stops children is asynchronous (a "stop
/// job"); requests that would change children while a stop job runs are
/// deferred until it ends, so that each operation sees a settled tree.
template <class Base>
class supervisor_impl : public Base {
public:
  // Base is a dependent type: name what we use of it.
  using Base::clock;
  using Base::delayed_send;
  using Base::fail_state;
  using Base::make_response_promise;
  using Base::monitor;
  using Base::quit;
  using Base::send;
  using Base::send_exit;
  using Base::set_default_handler;
  using Base::set_down_handler;
  using Base::set_exit_handler;
  using Base::system;

  supervisor_impl(caf::actor_config& cfg, supervisor_spec spec)
    : Base(cfg), spec_(std::move(spec)),
      source_("supervisor:" + spec_.name) {
    // nop
  }

  const char* name() const override {
    return "ghostnet.supervisor";
  }

  caf::behavior make_behavior() override;

  void on_exit() override {
    if constexpr (std::is_base_of_v<caf::io::abstract_broker, Base>)
      ghostnet::detail::close_mailbox_on_exit(*this);
    // Normally every child is gone by now. If we were killed, take the
    // children along so that no orphan outlives its supervisor.
    for (auto& kvp : children_)
      if (kvp.second.actor)
        caf::anon_send_exit(kvp.second.actor, caf::exit_reason::kill);
    children_.clear();
    by_actor_.clear();
    subscribers_.clear();
    // Promises hold a reference to this actor: answer and drop them, or the
    // supervisor would keep itself alive (and its requesters would wait).
    auto reason = fail_state() ? fail_state()
                               : caf::error{caf::exit_reason::normal};
    for (auto& rp : shutdown_promises_)
      if (rp.pending())
        rp.deliver(reason);
    shutdown_promises_.clear();
    job_.reset();
    deferred_.clear();
  }

private:
  struct child {
    uint64_t key = 0;
    std::shared_ptr<const child_spec> spec; ///< dynamic children share one
    caf::message args; ///< simple_one_for_one start arguments
    caf::actor actor;
    child_state state = child_state::stopped;
    uint64_t restarts = 0;
    caf::error last_exit;
    time_point started_at;
    uint32_t consecutive_failures = 0;
    uint64_t generation = 0;             ///< invalidates stale timers
    std::vector<uint64_t> restart_group; ///< who restarts with this child
  };

  struct stop_job {
    uint64_t id = 0;
    std::deque<uint64_t> queue;         ///< children still to be asked
    std::unordered_set<uint64_t> waiting; ///< asked, not yet gone
    bool parallel = false;
    std::function<void()> done;
  };

  bool dynamic() const noexcept {
    return spec_.flags.how == strategy::simple_one_for_one;
  }

  // -- starting ---------------------------------------------------------------

  /// A static child: its own spec, found by id.
  child& add_record(child_spec spec, caf::message args) {
    auto key = next_key_++;
    auto& c = children_.emplace_hint(children_.end(), key, child{})->second;
    c.key = key;
    c.spec = std::make_shared<const child_spec>(std::move(spec));
    c.args = std::move(args);
    by_id_[c.spec->id] = key;
    return c;
  }

  /// A simple_one_for_one child: it shares the template (a connections
  /// supervisor has thousands: no copy of the spec, no id string per child;
  /// the id "<template>#<key>" is made when something shows it).
  child& add_dynamic_record(caf::message args) {
    if (!template_)
      template_ = std::make_shared<const child_spec>(spec_.children.front());
    auto key = next_key_++;
    auto& c = children_.emplace_hint(children_.end(), key, child{})->second;
    c.key = key;
    c.spec = template_;
    c.args = std::move(args);
    return c;
  }

  void remove_record(uint64_t key) {
    auto i = children_.find(key);
    if (i == children_.end())
      return;
    if (!dynamic())
      by_id_.erase(i->second.spec->id);
    if (i->second.actor)
      by_actor_.erase(i->second.actor.address());
    children_.erase(i);
  }

  std::string id_of(const child& c) const {
    if (!dynamic())
      return c.spec->id;
    return c.spec->id + "#" + std::to_string(c.key);
  }

  caf::error start(child& c) {
    caf::expected<caf::actor> res{caf::actor{}};
    try {
      res = c.spec->start(system(), c.args);
    } catch (const std::exception& ex) {
      res = make_error(errc::start_failed, "start child", id_of(c), 0,
                       std::string{"start function threw: "} + ex.what());
    } catch (...) {
      res = make_error(errc::start_failed, "start child", id_of(c), 0,
                       "start function threw a non-standard exception");
    }
    if (res && !*res)
      res = make_error(errc::start_failed, "start child", id_of(c), 0,
                       "start function returned an invalid actor");
    if (!res) {
      auto err = code_of(res.error())
                   ? res.error()
                   : make_error(errc::start_failed, "start child", id_of(c),
                                0, describe(res.error()));
      publish(event_kind::start_failed, c, err);
      return err;
    }
    c.actor = std::move(*res);
    c.state = child_state::running;
    c.started_at = clock().now();
    ++c.generation;
    by_actor_[c.actor.address()] = c.key;
    monitor(c.actor);
    return caf::none;
  }

  // -- events -----------------------------------------------------------------

  void publish(event_kind kind, const child& c, const caf::error& reason = {},
               caf::timespan delay = caf::timespan{0}) {
    auto lvl = level_of(kind, reason, c.spec->routine_exits);
    // Nothing to do for nobody: no event is built (a connections supervisor
    // publishes two per connection).
    if (subscribers_.empty() && !log::enabled(lvl))
      return;
    supervisor_event ev;
    ev.kind = kind;
    ev.supervisor = spec_.name;
    ev.child = id_of(c);
    ev.actor = c.actor.address();
    ev.reason = reason;
    ev.restarts = c.restarts;
    ev.delay = delay;
    emit(std::move(ev), lvl);
  }

  /// Starts and orderly stops are routine (a connection supervisor has
  /// thousands): debug. Failures stand out, unless the child's spec says that
  /// its abnormal exits are routine too (a connection reset by its peer).
  static log::level level_of(event_kind kind, const caf::error& reason,
                             bool routine_exits = false) {
    switch (kind) {
      case event_kind::child_started:
      case event_kind::child_terminated:
        return log::level::debug;
      case event_kind::child_exited:
        return is_normal_exit(reason) || routine_exits ? log::level::debug
                                                       : log::level::warn;
      case event_kind::gave_up:
      case event_kind::start_failed:
        return log::level::error;
      default:
        return log::level::info;
    }
  }

  void emit(supervisor_event ev) {
    auto lvl = level_of(ev.kind, ev.reason);
    emit(std::move(ev), lvl);
  }

  void emit(supervisor_event ev, log::level lvl) {
    if (log::enabled(lvl)) {
      if (ev.child.empty())
        log::write(lvl, source_, to_string(ev.kind),
                   {log::kv("reason", describe(ev.reason))});
      else
        log::write(lvl, source_, to_string(ev.kind),
                   {log::kv("child", ev.child),
                    log::kv("reason", describe(ev.reason)),
                    log::kv("restarts", ev.restarts),
                    log::kv("delay", format_duration(ev.delay))});
    }
    for (auto& sub : subscribers_)
      send(sub, ev);
  }

  // -- exits ------------------------------------------------------------------

  void on_down(caf::down_msg& msg) {
    auto i = by_actor_.find(msg.source);
    if (i == by_actor_.end()) {
      // A subscriber went away.
      subscribers_.erase(std::remove_if(subscribers_.begin(),
                                        subscribers_.end(),
                                        [&](const caf::actor& x) {
                                          return x.address() == msg.source;
                                        }),
                         subscribers_.end());
      return;
    }
    auto key = i->second;
    by_actor_.erase(i);
    auto& c = children_.at(key);
    c.actor = nullptr;
    c.last_exit = msg.reason;
    if (c.state == child_state::stopping) {
      c.state = child_state::stopped;
      publish(event_kind::child_terminated, c, msg.reason);
      if (c.spec->restart == restart_type::temporary || dynamic())
        remove_record(key);
      stop_progress(key);
      return;
    }
    c.state = child_state::stopped;
    publish(event_kind::child_exited, c, msg.reason);
    if (terminating_ || (job_ && job_->waiting.count(key) > 0)) {
      stop_progress(key);
      return;
    }
    if (job_) {
      // Settle the running stop job first; then decide about this child.
      deferred_.emplace_back([this, key, reason = msg.reason] {
        if (children_.count(key) > 0)
          handle_exit(key, reason);
      });
      return;
    }
    handle_exit(key, msg.reason);
  }

  void handle_exit(uint64_t key, const caf::error& reason) {
    if (terminating_)
      return;
    auto& c = children_.at(key);
    if (!should_restart(c.spec->restart, reason)) {
      bool significant = c.spec->significant;
      if (c.spec->restart == restart_type::temporary || dynamic())
        remove_record(key);
      if (significant)
        check_auto_shutdown();
      return;
    }
    if (!count_restart()) {
      give_up(c, reason);
      return;
    }
    if (clock().now() - c.started_at >= c.spec->backoff.reset_after)
      c.consecutive_failures = 1;
    else
      ++c.consecutive_failures;
    auto group = restart_group(key);
    // Stop the others of the group (reverse start order), then restart all.
    std::vector<uint64_t> to_stop;
    for (auto k : group)
      if (k != key)
        to_stop.push_back(k);
    std::reverse(to_stop.begin(), to_stop.end());
    stop_children(std::move(to_stop), false, [this, key, group] {
      auto i = children_.find(key);
      if (i == children_.end())
        return;
      for (auto k : group)
        if (auto j = children_.find(k); j != children_.end())
          j->second.state = child_state::restarting;
      schedule_restart(i->second, group);
    });
  }

  /// Children restarted together with `key`, in start order.
  std::vector<uint64_t> restart_group(uint64_t key) const {
    std::vector<uint64_t> result;
    switch (spec_.flags.how) {
      case strategy::one_for_one:
      case strategy::simple_one_for_one:
        result.push_back(key);
        break;
      case strategy::one_for_all:
        for (auto& kvp : children_)
          result.push_back(kvp.first);
        break;
      case strategy::rest_for_one:
        for (auto i = children_.find(key); i != children_.end(); ++i)
          result.push_back(i->first);
        break;
    }
    return result;
  }

  /// Records one restart; false if that exceeds the intensity.
  bool count_restart() {
    auto now = clock().now();
    restart_times_.push_back(now);
    while (!restart_times_.empty()
           && now - restart_times_.front() > spec_.flags.period)
      restart_times_.pop_front();
    return restart_times_.size() <= spec_.flags.intensity;
  }

  caf::timespan backoff_delay(const child& c) {
    const auto& b = c.spec->backoff;
    if (b.min <= caf::timespan{0} || c.consecutive_failures == 0)
      return caf::timespan{0};
    return ghostnet::backoff_delay(b.min, b.max, c.consecutive_failures,
                                   b.random_factor);
  }

  void schedule_restart(child& c, std::vector<uint64_t> group) {
    if (terminating_)
      return;
    auto delay = backoff_delay(c);
    c.restart_group = std::move(group);
    ++c.generation;
    if (delay > caf::timespan{0}) {
      publish(event_kind::restart_scheduled, c, c.last_exit, delay);
      delayed_send(this, delay, restart_timer_atom::value, c.key, c.generation);
    } else {
      restart_now(c.key);
    }
  }

  void on_restart_timer(uint64_t key, uint64_t generation) {
    auto i = children_.find(key);
    if (i == children_.end() || i->second.generation != generation
        || i->second.state != child_state::restarting || terminating_)
      return;
    run_when_idle([this, key] { restart_now(key); });
  }

  void restart_now(uint64_t key) {
    auto i = children_.find(key);
    if (i == children_.end() || terminating_)
      return;
    auto group = std::move(i->second.restart_group);
    if (group.empty())
      group.push_back(key);
    for (auto k : group) {
      auto j = children_.find(k);
      if (j == children_.end() || j->second.state != child_state::restarting)
        continue;
      auto& c = j->second;
      if (auto err = start(c)) {
        // A failed restart counts as another failure, as in OTP.
        c.state = child_state::restarting;
        c.last_exit = err;
        if (!count_restart()) {
          give_up(c, err);
          return;
        }
        ++c.consecutive_failures;
        std::vector<uint64_t> rest(std::find(group.begin(), group.end(), k),
                                   group.end());
        auto delay = backoff_delay(c);
        c.restart_group = std::move(rest);
        ++c.generation;
        publish(event_kind::restart_scheduled, c, err, delay);
        delayed_send(this, delay, restart_timer_atom::value, c.key,
                     c.generation);
        return;
      }
      ++c.restarts;
      publish(event_kind::child_restarted, c);
    }
  }

  void give_up(const child& c, const caf::error& reason) {
    auto err = make_error(errc::restart_intensity_exceeded, "restart",
                          spec_.name, 0,
                          "more than " + std::to_string(spec_.flags.intensity)
                            + " restarts in "
                            + format_duration(spec_.flags.period)
                            + "; last: " + id_of(c) + " exited with "
                            + describe(reason));
    supervisor_event ev;
    ev.kind = event_kind::gave_up;
    ev.supervisor = spec_.name;
    ev.child = id_of(c);
    ev.actor = c.actor.address();
    ev.reason = err;
    ev.restarts = c.restarts;
    emit(std::move(ev));
    terminate_self(err);
  }

  void check_auto_shutdown() {
    switch (spec_.flags.shutdown_when) {
      case auto_shutdown::never:
        return;
      case auto_shutdown::any_significant:
        terminate_self(caf::exit_reason::user_shutdown);
        return;
      case auto_shutdown::all_significant:
        for (auto& kvp : children_)
          if (kvp.second.spec->significant
              && kvp.second.state != child_state::stopped)
            return;
        terminate_self(caf::exit_reason::user_shutdown);
        return;
    }
  }

  // -- stopping ---------------------------------------------------------------

  void stop_children(std::vector<uint64_t> keys, bool parallel,
                     std::function<void()> done) {
    job_.emplace();
    job_->id = ++job_ids_;
    job_->queue.assign(keys.begin(), keys.end());
    job_->parallel = parallel;
    job_->done = std::move(done);
    advance_job();
  }

  /// Asks one child to stop; false if it is not running. With `own_timer`
  /// false the caller arms one timer for a whole group instead.
  bool ask_stop(uint64_t key, bool own_timer = true) {
    auto i = children_.find(key);
    if (i == children_.end())
      return false;
    auto& c = i->second;
    if (!c.actor) {
      if (c.state == child_state::restarting)
        c.state = child_state::stopped;
      return false;
    }
    if (c.state == child_state::stopping)
      return true; // already asked; wait for it
    c.state = child_state::stopping;
    ++c.generation;
    switch (c.spec->shutdown.how) {
      case shutdown_policy::mode::brutal_kill:
        send_exit(c.actor, caf::exit_reason::kill);
        break;
      case shutdown_policy::mode::timeout:
        send_exit(c.actor, caf::exit_reason::user_shutdown);
        if (own_timer)
          delayed_send(this, c.spec->shutdown.timeout, stop_timer_atom::value,
                       c.key, c.generation);
        break;
      case shutdown_policy::mode::infinity:
        send_exit(c.actor, caf::exit_reason::user_shutdown);
        break;
    }
    return true;
  }

  void on_stop_timer(uint64_t key, uint64_t generation) {
    auto i = children_.find(key);
    if (i == children_.end() || i->second.generation != generation
        || i->second.state != child_state::stopping || !i->second.actor)
      return;
    log::write(log::level::warn, source_, "shutdown_timeout",
               {log::kv("child", id_of(i->second)),
                log::kv("timeout",
                        format_duration(i->second.spec->shutdown.timeout))});
    send_exit(i->second.actor, caf::exit_reason::kill);
  }

  void on_job_timer(uint64_t id) {
    if (!job_ || job_->id != id)
      return;
    for (auto k : job_->waiting) {
      auto i = children_.find(k);
      if (i != children_.end() && i->second.actor) {
        log::write(log::level::warn, source_, "shutdown_timeout",
                   {log::kv("child", id_of(i->second)),
                    log::kv("timeout",
                            format_duration(i->second.spec->shutdown.timeout))});
        send_exit(i->second.actor, caf::exit_reason::kill);
      }
    }
  }

  void stop_progress(uint64_t key) {
    if (job_ && job_->waiting.erase(key) > 0)
      advance_job();
  }

  void advance_job() {
    while (job_) {
      if (job_->parallel) {
        // Dynamic children share one template, hence one shutdown policy:
        // one timer for the whole group keeps stopping N children O(N).
        for (auto k : job_->queue)
          if (ask_stop(k, false))
            job_->waiting.insert(k);
        job_->queue.clear();
        const auto& policy = spec_.children.front().shutdown;
        if (!job_->waiting.empty()
            && policy.how == shutdown_policy::mode::timeout)
          delayed_send(this, policy.timeout, job_timer_atom::value, job_->id);
      } else {
        while (!job_->queue.empty() && job_->waiting.empty()) {
          auto k = job_->queue.front();
          job_->queue.pop_front();
          if (ask_stop(k))
            job_->waiting.insert(k);
        }
      }
      if (!job_->queue.empty() || !job_->waiting.empty())
        return;
      auto done = std::move(job_->done);
      job_.reset();
      if (done)
        done();
      drain_deferred();
      return;
    }
  }

  void run_when_idle(std::function<void()> f) {
    if (job_)
      deferred_.emplace_back(std::move(f));
    else
      f();
  }

  void drain_deferred() {
    while (!job_ && !deferred_.empty()) {
      auto f = std::move(deferred_.front());
      deferred_.pop_front();
      f();
    }
  }

  /// Stops every child in reverse start order, then exits with `reason`.
  void terminate_self(caf::error reason) {
    if (terminating_)
      return;
    terminating_ = true;
    exit_reason_ = std::move(reason);
    std::vector<uint64_t> keys;
    for (auto i = children_.rbegin(); i != children_.rend(); ++i)
      keys.push_back(i->first);
    // A job in flight is superseded: its children are in `keys` too, and
    // those already asked to stop are waited for rather than asked again.
    // Its continuation still runs (it may owe a reply), before we finish.
    std::function<void()> pending;
    if (job_)
      pending = std::move(job_->done);
    job_.reset();
    stop_children(std::move(keys), dynamic(),
                  [this, pending = std::move(pending)] {
                    if (pending)
                      pending();
                    finish();
                  });
  }

  void finish() {
    supervisor_event ev;
    ev.kind = event_kind::supervisor_stopped;
    ev.supervisor = spec_.name;
    ev.reason = exit_reason_;
    emit(std::move(ev));
    for (auto& rp : shutdown_promises_)
      rp.deliver(caf::ok_atom::value);
    shutdown_promises_.clear();
    // Requests deferred behind the shutdown are answered, never dropped.
    for (auto& f : deferred_)
      f();
    deferred_.clear();
    quit(exit_reason_);
  }

  void on_deadline() {
    if (!terminating_)
      return;
    for (auto& kvp : children_)
      if (kvp.second.actor) {
        log::write(log::level::warn, source_, "shutdown_deadline_kill",
                   {log::kv("child", id_of(kvp.second))});
        send_exit(kvp.second.actor, caf::exit_reason::kill);
      }
  }

  caf::error refuse_if_terminating(const char* operation) {
    if (terminating_)
      return make_error(errc::invalid_state, operation, spec_.name, 0,
                        "supervisor is shutting down");
    return caf::none;
  }

  // -- request handlers -------------------------------------------------------

  void do_start_static(child_spec spec, caf::response_promise rp) {
    if (auto err = refuse_if_terminating("start_child")) {
      rp.deliver(err);
      return;
    }
    if (dynamic()) {
      rp.deliver(make_error(errc::invalid_state, "start_child", spec_.name, 0,
                            "simple_one_for_one takes start arguments, "
                            "not a child spec"));
      return;
    }
    if (auto err = validate(spec)) {
      rp.deliver(err);
      return;
    }
    if (by_id_.count(spec.id) > 0) {
      rp.deliver(make_error(errc::duplicate_child, "start_child", spec_.name,
                            0, "duplicate child id '" + spec.id + "'"));
      return;
    }
    auto& c = add_record(std::move(spec), caf::message{});
    if (auto err = start(c)) {
      remove_record(c.key);
      rp.deliver(err);
      return;
    }
    publish(event_kind::child_started, c);
    rp.deliver(c.actor);
  }

  void do_start_dynamic(caf::message args, caf::response_promise rp) {
    if (auto err = refuse_if_terminating("start_child")) {
      rp.deliver(err);
      return;
    }
    if (!dynamic()) {
      rp.deliver(make_error(errc::invalid_state, "start_child", spec_.name, 0,
                            "only simple_one_for_one takes start arguments"));
      return;
    }
    auto& c = add_dynamic_record(std::move(args));
    if (auto err = start(c)) {
      remove_record(c.key);
      rp.deliver(err);
      return;
    }
    publish(event_kind::child_started, c);
    rp.deliver(c.actor);
  }

  /// Takes over a child that someone else spawned (a listener spawns its
  /// connections itself, on its own thread, and hands them over with one
  /// one-way message). From here on it is a child like the others: monitored,
  /// stopped on shutdown and by terminate_child. Only simple_one_for_one with
  /// a temporary template: a supervisor cannot restart what it did not start.
  /// A child that already exited is adopted too and its exit arrives at once
  /// (a monitor on a dead actor reports it), so it is counted exactly once.
  caf::error do_adopt(caf::actor who) {
    if (!dynamic())
      return make_error(errc::invalid_state, "adopt_child", spec_.name, 0,
                        "only a simple_one_for_one supervisor adopts children");
    if (spec_.children.front().restart != restart_type::temporary)
      return make_error(errc::invalid_state, "adopt_child", spec_.name, 0,
                        "the template must be temporary: an adopted child "
                        "cannot be restarted");
    if (!who)
      return make_error(errc::invalid_state, "adopt_child", spec_.name, 0,
                        "no actor to adopt");
    if (by_actor_.count(who.address()) > 0)
      return make_error(errc::duplicate_child, "adopt_child", spec_.name, 0,
                        "the actor is a child already");
    auto& c = add_dynamic_record(caf::message{});
    c.actor = std::move(who);
    c.state = child_state::running;
    c.started_at = clock().now();
    ++c.generation;
    by_actor_[c.actor.address()] = c.key;
    monitor(c.actor);
    publish(event_kind::child_started, c);
    if (!terminating_)
      return caf::none;
    // Adopted while stopping everything: it is stopped like the others, and
    // the shutdown waits for it (its deadline and group timer apply).
    if (job_) {
      if (ask_stop(c.key, !job_->parallel))
        job_->waiting.insert(c.key);
    } else {
      send_exit(c.actor, caf::exit_reason::kill);
    }
    return make_error(errc::invalid_state, "adopt_child", spec_.name, 0,
                      "supervisor is shutting down; the child is stopped");
  }

  void do_terminate(uint64_t key, caf::response_promise rp) {
    if (auto err = refuse_if_terminating("terminate_child")) {
      rp.deliver(err);
      return;
    }
    stop_children({key}, false, [this, key, rp]() mutable {
      auto i = children_.find(key);
      if (i != children_.end()) {
        auto& c = i->second;
        c.state = child_state::stopped;
        if (c.spec->restart == restart_type::temporary || dynamic())
          remove_record(key);
      }
      rp.deliver(caf::ok_atom::value);
    });
  }

  std::optional<uint64_t> key_of(const std::string& id) const {
    if (dynamic()) {
      // "<template id>#<key>", see id_of().
      const auto& prefix = spec_.children.front().id;
      if (id.size() <= prefix.size() + 1 || id.compare(0, prefix.size(), prefix) != 0
          || id[prefix.size()] != '#')
        return std::nullopt;
      auto digits = id.substr(prefix.size() + 1);
      if (digits.find_first_not_of("0123456789") != std::string::npos
          || digits.size() > 19)
        return std::nullopt;
      auto key = std::stoull(digits);
      if (children_.count(key) == 0)
        return std::nullopt;
      return key;
    }
    auto i = by_id_.find(id);
    if (i == by_id_.end())
      return std::nullopt;
    return i->second;
  }

  caf::error unknown(const char* operation, const std::string& id) const {
    return make_error(errc::unknown_child, operation, spec_.name, 0,
                      "no child with id '" + id + "'");
  }

  void do_restart(const std::string& id, caf::response_promise rp) {
    if (auto err = refuse_if_terminating("restart_child")) {
      rp.deliver(err);
      return;
    }
    auto key = key_of(id);
    if (!key) {
      rp.deliver(unknown("restart_child", id));
      return;
    }
    auto& c = children_.at(*key);
    if (c.state != child_state::stopped) {
      rp.deliver(make_error(errc::invalid_state, "restart_child", spec_.name,
                            0, "child '" + id + "' is " + to_string(c.state)));
      return;
    }
    if (auto err = start(c)) {
      rp.deliver(err);
      return;
    }
    ++c.restarts;
    publish(event_kind::child_restarted, c);
    rp.deliver(c.actor);
  }

  void do_delete(const std::string& id, caf::response_promise rp) {
    if (auto err = refuse_if_terminating("delete_child")) {
      rp.deliver(err);
      return;
    }
    auto key = key_of(id);
    if (!key) {
      rp.deliver(unknown("delete_child", id));
      return;
    }
    auto& c = children_.at(*key);
    if (c.state != child_state::stopped) {
      rp.deliver(make_error(errc::invalid_state, "delete_child", spec_.name,
                            0, "child '" + id + "' is " + to_string(c.state)));
      return;
    }
    remove_record(*key);
    rp.deliver(caf::ok_atom::value);
  }

  std::vector<child_info> which_children() const {
    std::vector<child_info> result;
    result.reserve(children_.size());
    for (auto& kvp : children_) {
      auto& c = kvp.second;
      result.push_back(child_info{id_of(c), c.actor, c.spec->kind,
                                  c.spec->restart, c.state, c.restarts,
                                  c.last_exit});
    }
    return result;
  }

  child_counts count_children() const {
    child_counts result;
    for (auto& kvp : children_) {
      auto& c = kvp.second;
      ++result.specs;
      if (c.actor)
        ++result.active;
      if (c.spec->kind == child_kind::supervisor)
        ++result.supervisors;
      else
        ++result.workers;
    }
    return result;
  }

  // -- state ------------------------------------------------------------------

  supervisor_spec spec_;
  std::string source_;
  std::map<uint64_t, child> children_; ///< ordered by key = start order
  std::unordered_map<std::string, uint64_t> by_id_; ///< static children
  std::shared_ptr<const child_spec> template_;       ///< simple_one_for_one
  std::unordered_map<caf::actor_addr, uint64_t> by_actor_;
  uint64_t next_key_ = 1;
  uint64_t job_ids_ = 0;
  std::deque<time_point> restart_times_;
  std::optional<stop_job> job_;
  std::deque<std::function<void()>> deferred_;
  std::vector<caf::actor> subscribers_;
  std::vector<caf::response_promise> shutdown_promises_;
  bool terminating_ = false;
  caf::error exit_reason_;
};

template <class Base>
caf::behavior supervisor_impl<Base>::make_behavior() {
  set_exit_handler([this](caf::exit_msg& msg) {
    // Our parent (or another owner) tells us to stop.
    terminate_self(msg.reason);
  });
  set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  set_default_handler([this](caf::scheduled_actor*, caf::message_view& x)
                        -> caf::result<caf::message> {
    log::write(log::level::warn, source_, "unexpected_message",
               {log::kv("message", caf::to_string(x.copy_content_to_message()))});
    return make_error(errc::invalid_state, "handle message", spec_.name, 0,
                      "unexpected message");
  });
  for (auto& sub : spec_.subscribers)
    if (sub) {
      monitor(sub);
      subscribers_.push_back(sub);
    }
  log::write(log::level::info, source_, "supervisor_started",
             {log::kv("strategy", to_string(spec_.flags.how)),
              log::kv("intensity", spec_.flags.intensity),
              log::kv("period", format_duration(spec_.flags.period))});
  if (!dynamic()) {
    for (auto& spec : spec_.children) {
      auto& c = add_record(spec, caf::message{});
      if (auto err = start(c)) {
        terminate_self(make_error(errc::start_failed, "start child",
                                  spec_.name, 0,
                                  "child '" + spec.id
                                    + "' failed to start: " + describe(err)));
        break;
      }
      publish(event_kind::child_started, c);
    }
  }
  return {
    [this](start_child_atom, child_spec& spec) -> caf::result<caf::actor> {
      auto rp = make_response_promise();
      run_when_idle([this, spec = std::move(spec), rp]() mutable {
        do_start_static(std::move(spec), rp);
      });
      return rp;
    },
    [this](start_child_atom, caf::message& args) -> caf::result<caf::actor> {
      auto rp = make_response_promise();
      run_when_idle([this, args = std::move(args), rp]() mutable {
        do_start_dynamic(std::move(args), rp);
      });
      return rp;
    },
    [this](adopt_child_atom, caf::actor& who) -> caf::result<caf::ok_atom> {
      if (auto err = do_adopt(std::move(who)))
        return err;
      return caf::ok_atom::value;
    },
    [this](adopt_child_atom,
           std::vector<caf::actor>& who) -> caf::result<caf::ok_atom> {
      caf::error first;
      for (auto& x : who)
        if (auto err = do_adopt(std::move(x)); err && !first)
          first = std::move(err);
      if (first)
        return first;
      return caf::ok_atom::value;
    },
    [this](terminate_child_atom, std::string& id) -> caf::result<caf::ok_atom> {
      auto rp = make_response_promise();
      run_when_idle([this, id, rp]() mutable {
        if (auto key = key_of(id))
          do_terminate(*key, rp);
        else
          rp.deliver(unknown("terminate_child", id));
      });
      return rp;
    },
    [this](terminate_child_atom, caf::actor& who) -> caf::result<caf::ok_atom> {
      auto rp = make_response_promise();
      run_when_idle([this, who, rp]() mutable {
        auto i = by_actor_.find(who.address());
        if (i != by_actor_.end())
          do_terminate(i->second, rp);
        else
          rp.deliver(make_error(errc::unknown_child, "terminate_child",
                                spec_.name, 0, "actor is not a running child"));
      });
      return rp;
    },
    [this](restart_child_atom, std::string& id) -> caf::result<caf::actor> {
      auto rp = make_response_promise();
      run_when_idle([this, id, rp]() mutable { do_restart(id, rp); });
      return rp;
    },
    [this](delete_child_atom, std::string& id) -> caf::result<caf::ok_atom> {
      auto rp = make_response_promise();
      run_when_idle([this, id, rp]() mutable { do_delete(id, rp); });
      return rp;
    },
    [this](which_children_atom) { return which_children(); },
    [this](count_children_atom) { return count_children(); },
    [this](subscribe_atom, caf::actor& who) {
      if (!who || std::find(subscribers_.begin(), subscribers_.end(), who)
                    != subscribers_.end())
        return; // subscribing twice still delivers each event once
      monitor(who);
      subscribers_.push_back(std::move(who));
    },
    [this](unsubscribe_atom, caf::actor& who) {
      subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(),
                                     who),
                         subscribers_.end());
    },
    [this](shutdown_atom, caf::timespan deadline) -> caf::result<caf::ok_atom> {
      auto rp = make_response_promise();
      shutdown_promises_.push_back(rp);
      if (deadline > caf::timespan{0})
        delayed_send(this, deadline, deadline_atom::value);
      terminate_self(caf::exit_reason::user_shutdown);
      return rp;
    },
    [this](restart_timer_atom, uint64_t key, uint64_t generation) {
      on_restart_timer(key, generation);
    },
    [this](stop_timer_atom, uint64_t key, uint64_t generation) {
      on_stop_timer(key, generation);
    },
    [this](deadline_atom) { on_deadline(); },
    [this](job_timer_atom, uint64_t id) { on_job_timer(id); },
  };
}

} // namespace

caf::expected<supervisor_actor> spawn_supervisor(caf::actor_system& sys,
                                                 supervisor_spec spec) {
  if (auto err = validate(spec))
    return err;
  if (spec.io_thread) {
    if (!sys.has_middleman())
      return make_error(errc::invalid_configuration, "spawn supervisor",
                        spec.name, 0,
                        "io_thread: the actor system has no middleman");
    caf::actor_config cfg{&sys.middleman().backend()};
    auto handle
      = sys.spawn_class<supervisor_impl<caf::io::broker>, caf::no_spawn_options>(
        cfg, std::move(spec));
    return caf::actor_cast<supervisor_actor>(handle);
  }
  auto handle = sys.spawn<supervisor_impl<caf::event_based_actor>>(std::move(spec));
  return caf::actor_cast<supervisor_actor>(handle);
}

} // namespace ghostnet::supervision
