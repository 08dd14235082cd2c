#include "ghostnet/supervision/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/backoff.hpp"
#include "ghostnet/actors/detail/broker_cleanup.hpp"
#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/middleman.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/metrics.hpp"
#include "ghostnet/actors/unexpected_message.hpp"
#include "ghostnet/supervision/detail/child_table.hpp"
#include "ghostnet/supervision/detail/event_stream.hpp"
#include "ghostnet/supervision/detail/exit_rules.hpp"
#include "ghostnet/supervision/detail/restart_intensity.hpp"
#include "ghostnet/supervision/detail/stop_job.hpp"
#include "ghostnet/actors/format.hpp"

namespace ghostnet::supervision {

namespace {

using detail::child_record;
using detail::time_point;

// The supervisor's one timer message; carries the token of the timer armed
// last, so that an earlier, superseded one is ignored.

/// A reason in a few words, for an error's detail: no nested quoting.
std::string short_reason(const caf::error& err) {
  auto code = code_of(err);
  if (!code)
    return describe(err);
  auto ctx = context_of(err);
  std::string result = to_string(*code);
  if (!ctx.operation.empty())
    result += " in " + ctx.operation;
  if (!ctx.endpoint.empty())
    result += " at " + ctx.endpoint;
  return result;
}

/// The supervisor proper: a shell around its child table, restart
/// intensity, stop job and event stream (each in detail/). It monitors its
/// children rather than linking to them: in CAF 0.17 an actor that receives
/// an exit_msg unlinks from its sender, so a child told to stop would vanish
/// without notice. If the supervisor dies without stopping its children
/// (killed), `on_exit` kills them, as OTP's links would.
///
/// One thing at a time, as in OTP (whose supervisor blocks while it starts
/// or stops): while a stop job or a start job runs, exits of children that
/// are not part of it and requests that change children wait in `deferred_`
/// and run in arrival order when it ends, each checked against the child's
/// generation. The exit of a child that the running stop job was going to
/// stop is part of that stop. Dynamic start_child requests are the one
/// exception: their start handshakes overlap (a connections supervisor
/// starts many children at once).
template <class Base>
class supervisor_impl : public Base {
public:
  using Base::clock;
  using Base::current_sender;
  using Base::delayed_send;
  using Base::fail_state;
  using Base::make_response_promise;
  using Base::monitor;
  using Base::quit;
  using Base::request;
  using Base::send;
  using Base::send_exit;
  using Base::set_default_handler;
  using Base::set_down_handler;
  using Base::set_exit_handler;
  using Base::system;

  supervisor_impl(caf::actor_config& cfg, supervisor_spec spec)
    : Base(cfg),
      spec_(std::move(spec)),
      table_(spec_.flags.how == strategy::simple_one_for_one),
      intensity_(spec_.flags.intensity, spec_.flags.period),
      events_(spec_.name),
      parent_(spec_.parent) {
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
    for (auto& kvp : table_)
      if (kvp.second.actor)
        caf::anon_send_exit(kvp.second.actor, caf::exit_reason::kill);
    table_.clear();
    events_.clear();
    timers_.clear();
    start_deadlines_.clear();
    // Promises hold a reference to this actor: answer and drop them, or the
    // supervisor would keep itself alive (and its requesters would wait).
    auto reason = fail_state() ? fail_state()
                               : caf::error{caf::exit_reason::normal};
    for (auto& rp : shutdown_promises_)
      if (rp.pending())
        rp.deliver(reason);
    for (auto& rp : ready_promises_)
      if (rp.pending())
        rp.deliver(reason);
    for (auto& kvp : start_waiters_)
      if (kvp.second.pending())
        kvp.second.deliver(reason);
    for (auto& x : start_backlog_)
      if (x.second.pending())
        x.second.deliver(reason);
    start_backlog_.clear();
    for (auto& kvp : terminate_waiters_)
      for (auto& rp : kvp.second)
        if (rp.pending())
          rp.deliver(reason);
    shutdown_promises_.clear();
    ready_promises_.clear();
    start_waiters_.clear();
    terminate_waiters_.clear();
    if (start_ && start_->rp.pending())
      start_->rp.deliver(reason);
    start_.reset();
    stop_.reset();
    stop_done_ = nullptr;
    deferred_.clear();
  }

private:
  /// Children started one after the other, each confirmed (the start
  /// handshake) before the next: the initial start, a group restart, one
  /// static start_child or restart_child.
  struct start_job {
    enum class purpose : uint8_t { initial, restart, single };
    purpose why = purpose::initial;
    std::deque<uint64_t> todo; ///< still to start, in start order
    uint64_t current = 0;      ///< started, awaiting its confirmation
    caf::response_promise rp;  ///< single: the requester
    bool manual = false;       ///< single: by restart_child
  };

  enum class timer_kind : uint8_t { restart, start_deadline };

  struct timer_entry {
    timer_kind kind;
    uint64_t key;
    uint64_t token; ///< restart: the leader's restart_token; else generation
  };

  bool dynamic() const noexcept {
    return spec_.flags.how == strategy::simple_one_for_one;
  }

  bool busy() const noexcept {
    return stop_.has_value() || start_.has_value();
  }

  time_point now() {
    return clock().now();
  }

  // -- events -----------------------------------------------------------------

  void publish(event_kind kind, const child_record& c,
               const caf::error& reason = {}, caf::timespan delay = {},
               bool reported = false) {
    count(kind, c, reason);
    auto lvl = detail::event_stream::level_of(kind, reason,
                                              c.spec->routine_exits, reported);
    if (!events_.wanted(lvl))
      return;
    supervisor_event ev;
    ev.kind = kind;
    ev.supervisor = spec_.name;
    ev.child = table_.id_of(c);
    ev.actor = c.actor.address();
    ev.reason = reason;
    ev.restarts = c.restarts;
    ev.delay = delay;
    events_.emit(this, ev, lvl);
  }

  /// The metrics of an event, counted whether anyone listens or not.
  void count(event_kind kind, const child_record& c, const caf::error& reason) {
    auto& m = metrics::global();
    switch (kind) {
      case event_kind::child_restarted:
        m.counter("ghostnet_supervisor_restarts_total", "children restarted",
                  {{"supervisor", spec_.name}, {"child", table_.id_of(c)}})
          .inc();
        break;
      case event_kind::gave_up:
        m.counter("ghostnet_supervisor_give_ups_total",
                  "supervisors that exceeded their restart intensity and exited",
                  {{"supervisor", spec_.name}})
          .inc();
        break;
      case event_kind::child_exited:
        if (reason) {
          auto code = code_of(reason);
          m.counter("ghostnet_supervisor_child_failures_total",
                    "children that exited abnormally, by reason",
                    {{"supervisor", spec_.name},
                     {"reason", code ? to_string(*code) : "other"}})
            .inc();
        }
        break;
      default:
        break;
    }
  }

  void publish_own(event_kind kind, const caf::error& reason) {
    supervisor_event ev;
    ev.kind = kind;
    ev.supervisor = spec_.name;
    ev.reason = reason;
    events_.emit(this, ev, detail::event_stream::level_of(kind, reason));
  }

  // -- timers -----------------------------------------------------------------

  void add_timer(time_point at, timer_entry entry) {
    timers_.emplace(at, entry);
    arm_timer();
  }

  /// Keeps one delayed message in CAF's clock, for the earliest thing due.
  void arm_timer() {
    std::optional<time_point> next;
    if (!timers_.empty())
      next = timers_.begin()->first;
    if (stop_)
      if (auto t = stop_->next_deadline(); t && (!next || *t < *next))
        next = t;
    if (!next || (armed_ && armed_at_ <= *next))
      return;
    armed_ = true;
    armed_at_ = *next;
    auto delay = std::max(caf::timespan{0}, *next - now());
    delayed_send(this, delay, supervisor_tick_atom::value, ++armed_token_);
  }

  void on_tick(uint64_t token) {
    if (!armed_ || token != armed_token_)
      return; // superseded by an earlier timer
    armed_ = false;
    auto t = now();
    while (!timers_.empty() && timers_.begin()->first <= t) {
      auto entry = timers_.begin()->second;
      timers_.erase(timers_.begin());
      if (entry.kind == timer_kind::restart)
        on_restart_due(entry.key, entry.token);
      else
        on_start_deadline(entry.key, entry.token);
    }
    if (stop_)
      on_stop_due(stop_->poll(t));
    arm_timer();
  }

  // -- starting ---------------------------------------------------------------

  caf::error start_error(const child_record& c, std::string detail) {
    return make_error(errc::start_failed, "start child",
                      spec_.name + "/" + table_.id_of(c), 0, std::move(detail));
  }

  /// A start failure is reported as its cause where the cause is a ghostnet
  /// error (it names its endpoint: "bind 127.0.0.1:7007, errno 98"), else as
  /// start_failed naming the child.
  caf::error start_failure(const child_record& c, const caf::error& cause,
                           const char* what) {
    if (code_of(cause))
      return cause;
    return start_error(c, std::string{what} + ": " + describe(cause));
  }

  /// Runs the start function and, if it returned an actor, begins the start
  /// handshake. Returns an error if the start function failed; otherwise the
  /// child is `starting` (or `running` if it needs no handshake).
  caf::error begin_start(child_record& c) {
    caf::expected<caf::actor> res{caf::actor{}};
    try {
      res = c.spec->start(system(), c.args);
    } catch (const std::exception& ex) {
      res = start_error(c, std::string{"start function threw: "} + ex.what());
    } catch (...) {
      res = start_error(c, "start function threw a non-standard exception");
    }
    if (res && !*res)
      res = start_error(c, "start function returned an invalid actor");
    if (!res)
      return start_failure(c, res.error(), "start function failed");
    // A temporary child is never started again: keep nothing of its args.
    if (c.spec->restart == restart_type::temporary)
      c.args = caf::message{};
    table_.bind(c, std::move(*res));
    c.started_at = now();
    monitor(c.actor);
    if (c.spec->start_timeout <= caf::timespan{0}) {
      c.state = child_state::running;
      return caf::none;
    }
    c.state = child_state::starting;
    auto key = c.key;
    auto gen = c.generation;
    if (c.spec->kind == child_kind::supervisor) {
      // No request timeout: CAF 0.17 never cancels one (it would sit in
      // the clock for its whole duration); our own timer bounds it. A dead
      // child's mailbox bounces the request at once.
      request(caf::actor_cast<supervisor_actor>(c.actor), caf::infinite,
              await_start_atom::value)
        .then([this, key, gen](caf::ok_atom) { on_start_outcome(key, gen, {}); },
              [this, key, gen](caf::error& err) {
                on_start_outcome(key, gen, std::move(err));
              });
    } else {
      // A one-way system message: CAF answers it (after the child's
      // initialisation) with a one-way reply that on_info_reply matches by
      // the instance. Not a request: CAF 0.17 keeps pending requests in a
      // flat map with linear lookup, and a supervisor starting 50,000
      // children at once would pay for that quadratically.
      send(c.actor, caf::sys_atom::value, caf::get_atom::value,
           std::string{"info"});
    }
    start_deadlines_[key]
      = timers_.emplace(c.started_at + c.spec->start_timeout,
                        timer_entry{timer_kind::start_deadline, key, gen});
    arm_timer();
    return caf::none;
  }

  /// A child's answer to the start handshake (see begin_start).
  void on_info_reply(const caf::strong_actor_ptr& who) {
    if (!who)
      return;
    if (auto* c = table_.find(who->address());
        c && c->state == child_state::starting)
      decide_start(*c, {});
  }

  void on_start_deadline(uint64_t key, uint64_t gen) {
    start_deadlines_.erase(key);
    auto* c = table_.find(key);
    if (!c || c->generation != gen || c->state != child_state::starting)
      return;
    on_start_outcome(key, gen,
                     start_error(*c, "did not confirm its start within "
                                       + format_duration(c->spec->start_timeout)));
  }

  /// The handshake's answer, the child's exit during its start, or the
  /// start deadline: whichever comes first decides; the others are stale.
  void on_start_outcome(uint64_t key, uint64_t gen, caf::error err) {
    auto* c = table_.find(key);
    if (c && c->generation == gen && c->state == child_state::starting)
      decide_start(*c, std::move(err));
  }

  /// Decides the start of `c`, which is `starting`.
  void decide_start(child_record& c, caf::error err) {
    // The handshake bounced off a dead child: its down message, which we
    // get too, carries the reason.
    if (err == caf::sec::request_receiver_down)
      return;
    if (auto i = start_deadlines_.find(c.key); i != start_deadlines_.end()) {
      timers_.erase(i->second);
      start_deadlines_.erase(i);
    }
    if (!err) {
      c.state = child_state::running;
      start_confirmed(c);
      return;
    }
    // Dead (request bounced, or its down arrived) or too slow: give up on
    // this instance. A slow one is killed; its later exit is not matched.
    if (c.actor)
      send_exit(c.actor, caf::exit_reason::kill);
    table_.unbind(c);
    c.state = child_state::stopped;
    auto failure = start_failure(c, err, "exited during its start");
    c.last_exit = failure;
    start_failed(c, failure);
  }

  void start_confirmed(child_record& c) {
    if (start_ && start_->current == c.key) {
      start_->current = 0;
      confirmed_in_job(c);
      advance_start();
      return;
    }
    // A dynamic child started on request.
    publish(event_kind::child_started, c);
    answer_start_waiter(c.key, c.actor);
  }

  void start_failed(child_record& c, const caf::error& err) {
    if (start_ && start_->current == c.key) {
      start_->current = 0;
      failed_in_job(c, err);
      return;
    }
    publish(event_kind::start_failed, c, err, {}, true);
    auto key = c.key;
    table_.remove(key);
    answer_start_waiter(key, err);
  }

  /// Answers the requester of a dynamic start; its slot in the start window
  /// goes to the next start waiting in the backlog.
  template <class Answer>
  void answer_start_waiter(uint64_t key, const Answer& answer) {
    auto i = start_waiters_.find(key);
    if (i == start_waiters_.end())
      return;
    i->second.deliver(answer);
    start_waiters_.erase(i);
    start_from_backlog();
  }

  void start_from_backlog() {
    if (pulling_backlog_)
      return; // the loop below is already running further up the stack
    // Refill in halves: a burst of starts in one turn, rather than one
    // start per confirmation (each a turn of the supervisor).
    if (start_waiters_.size() > spec_.max_in_flight / 2)
      return;
    pulling_backlog_ = true;
    while (!start_backlog_.empty() && start_waiters_.size() < spec_.max_in_flight
           && !busy() && !terminating_) {
      auto next = std::move(start_backlog_.front());
      start_backlog_.pop_front();
      start_dynamic_now(std::move(next.first), std::move(next.second));
    }
    pulling_backlog_ = false;
  }

  void confirmed_in_job(child_record& c) {
    switch (start_->why) {
      case start_job::purpose::initial:
        publish(event_kind::child_started, c);
        break;
      case start_job::purpose::restart:
        ++c.restarts;
        publish(event_kind::child_restarted, c);
        break;
      case start_job::purpose::single:
        if (start_->manual) {
          ++c.manual_restarts;
          publish(event_kind::child_restarted, c);
        } else {
          publish(event_kind::child_started, c);
        }
        start_->rp.deliver(c.actor);
        break;
    }
  }

  void failed_in_job(child_record& c, const caf::error& err) {
    auto job = std::move(*start_);
    start_.reset();
    switch (job.why) {
      case start_job::purpose::initial:
        // Reported to the parent (the handshake) or to whoever monitors us.
        publish(event_kind::start_failed, c, err, {}, true);
        start_error_ = err;
        terminate_self(err);
        return;
      case start_job::purpose::single:
        publish(event_kind::start_failed, c, err, {}, true);
        if (!job.manual)
          table_.remove(c.key); // start_child adds no spec that cannot start
        job.rp.deliver(err);
        drain_deferred();
        return;
      case start_job::purpose::restart:
        publish(event_kind::start_failed, c, err);
        // A failed restart is another failure, as in OTP: counted, and the
        // group of the child that failed is restarted again (one_for_all:
        // everyone, so what was restarted already is stopped first).
        c.state = child_state::stopped;
        if (!intensity_.record(now())) {
          give_up(c, err);
          return;
        }
        ++c.consecutive_failures;
        restart_group_of(c);
        return;
    }
  }

  void advance_start() {
    while (start_ && start_->current == 0) {
      if (start_->todo.empty()) {
        complete_start_job();
        return;
      }
      auto key = start_->todo.front();
      start_->todo.pop_front();
      auto* c = table_.find(key);
      if (!c
          || (start_->why == start_job::purpose::restart
              && c->state != child_state::restarting))
        continue; // removed, terminated or started meanwhile
      c->restart_leader = 0;
      start_->current = key;
      if (auto err = begin_start(*c)) {
        c->state = child_state::stopped;
        c->last_exit = err;
        start_failed(*c, err);
        return;
      }
      if (c->state == child_state::running) { // no handshake
        start_->current = 0;
        confirmed_in_job(*c);
      }
    }
  }

  void complete_start_job() {
    auto why = start_->why;
    start_.reset();
    if (why == start_job::purpose::initial) {
      started_ = true;
      for (auto& rp : ready_promises_)
        rp.deliver(caf::ok_atom::value);
      ready_promises_.clear();
    }
    drain_deferred();
  }

  // -- exits ------------------------------------------------------------------

  void on_down(caf::down_msg& msg) {
    auto* c = table_.find(msg.source);
    if (!c) {
      // A subscriber went away, or an instance we gave up on (a start that
      // timed out, an abandoned child): nothing to match.
      events_.remove(msg.source);
      return;
    }
    table_.unbind(*c);
    c->last_exit = msg.reason;
    auto key = c->key;
    switch (c->state) {
      case child_state::starting:
        on_start_outcome(key, c->generation,
                         msg.reason ? msg.reason
                                    : start_error(*c, "exited normally before "
                                                      "confirming its start"));
        return;
      case child_state::stopping:
        c->state = child_state::stopped;
        publish(event_kind::child_terminated, *c, msg.reason);
        if (c->spec->restart == restart_type::temporary || dynamic())
          table_.remove(key);
        child_gone(key);
        return;
      default:
        break;
    }
    c->state = child_state::stopped;
    publish(event_kind::child_exited, *c, msg.reason);
    if (stop_ && stop_->contains(key)) {
      // The stop was coming for it: its exit is part of that stop, not a
      // new failure (the group is restarted once, as in OTP).
      child_gone(key);
      return;
    }
    if (terminating_)
      return;
    if (busy()) {
      // Decided when the running job is done, if this instance is still the
      // latest (a group restart may have replaced it meanwhile).
      deferred_.emplace_back(
        [this, key, gen = c->generation, reason = msg.reason] {
          auto* x = table_.find(key);
          if (x && x->generation == gen && x->state == child_state::stopped
              && !x->actor)
            handle_exit(*x, reason);
        });
      return;
    }
    handle_exit(*c, msg.reason);
  }

  void handle_exit(child_record& c, const caf::error& reason) {
    if (terminating_)
      return;
    if (!detail::should_restart(c.spec->restart, reason)) {
      bool significant = c.spec->significant;
      if (c.spec->restart == restart_type::temporary || dynamic())
        table_.remove(c.key);
      if (significant)
        check_auto_shutdown();
      return;
    }
    if (!intensity_.record(now())) {
      give_up(c, reason);
      return;
    }
    if (now() - c.started_at >= c.spec->backoff.reset_after)
      c.consecutive_failures = 1;
    else
      ++c.consecutive_failures;
    restart_group_of(c);
  }

  /// Children restarted together with `key`, in start order.
  std::vector<uint64_t> group_of(uint64_t key) const {
    switch (spec_.flags.how) {
      case strategy::one_for_all:
        return table_.keys();
      case strategy::rest_for_one:
        return table_.keys(key);
      default:
        return {key};
    }
  }

  /// Stops the others of the group of `c` (reverse start order), then
  /// restarts the group, after `c`'s backoff delay if it has one.
  void restart_group_of(child_record& c) {
    auto leader = c.key;
    auto group = group_of(leader);
    // This group takes over restarts that were pending for its members.
    for (auto k : group)
      if (auto* m = table_.find(k); m && m->state == child_state::restarting)
        cancel_pending_restart(*m, child_state::stopped);
    std::vector<uint64_t> to_stop;
    for (auto i = group.rbegin(); i != group.rend(); ++i)
      if (*i != leader)
        to_stop.push_back(*i);
    stop_children(std::move(to_stop), detail::stop_job::order::serial,
                  [this, leader, group] { schedule_restart(leader, group); });
  }

  void schedule_restart(uint64_t leader, const std::vector<uint64_t>& group) {
    auto* l = table_.find(leader);
    if (!l || terminating_)
      return;
    std::vector<uint64_t> members;
    for (auto k : group) {
      auto* m = table_.find(k);
      if (!m)
        continue;
      // Temporary children are never restarted, not even with a group.
      if (k != leader && m->spec->restart == restart_type::temporary) {
        table_.remove(k);
        continue;
      }
      m->state = child_state::restarting;
      m->restart_leader = leader;
      members.push_back(k);
    }
    l->restart_group = std::move(members);
    auto delay = backoff_delay(*l);
    l->restart_token = ++tokens_;
    if (delay > caf::timespan{0}) {
      publish(event_kind::restart_scheduled, *l, l->last_exit, delay);
      add_timer(now() + delay, {timer_kind::restart, leader, l->restart_token});
    } else {
      run_restart(leader, l->restart_token);
    }
  }

  caf::timespan backoff_delay(const child_record& c) const {
    const auto& b = c.spec->backoff;
    if (b.min <= caf::timespan{0} || c.consecutive_failures == 0)
      return caf::timespan{0};
    return ghostnet::backoff_delay(b.min, b.max, c.consecutive_failures,
                                   b.random_factor);
  }

  void on_restart_due(uint64_t leader, uint64_t token) {
    run_when_idle([this, leader, token] { run_restart(leader, token); });
  }

  void run_restart(uint64_t leader, uint64_t token) {
    auto* l = table_.find(leader);
    if (!l || l->restart_token != token || token == 0 || terminating_)
      return; // cancelled or superseded
    l->restart_token = 0;
    start_.emplace();
    start_->why = start_job::purpose::restart;
    auto group = std::move(l->restart_group);
    start_->todo.assign(group.begin(), group.end());
    advance_start();
  }

  /// Takes `c` out of the restart it waits for; `c` and, if it leads that
  /// restart, the rest of its group end up in `state`.
  void cancel_pending_restart(child_record& c, child_state state) {
    if (c.restart_leader == c.key) {
      for (auto k : c.restart_group)
        if (auto* m = table_.find(k);
            m && m != &c && m->state == child_state::restarting) {
          m->state = state;
          m->restart_leader = 0;
        }
      c.restart_group.clear();
      c.restart_token = 0;
    } else if (auto* l = table_.find(c.restart_leader)) {
      auto& g = l->restart_group;
      g.erase(std::remove(g.begin(), g.end(), c.key), g.end());
    }
    c.restart_leader = 0;
    c.state = state;
  }

  void give_up(const child_record& c, const caf::error& reason) {
    auto err = make_error(errc::restart_intensity_exceeded, "restart",
                          spec_.name, 0,
                          "more than " + std::to_string(spec_.flags.intensity)
                            + " restarts in "
                            + format_duration(spec_.flags.period) + "; last: "
                            + table_.id_of(c) + " exited with "
                            + short_reason(reason));
    publish(event_kind::gave_up, c, err);
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
        for (auto& kvp : table_)
          if (kvp.second.spec->significant
              && kvp.second.state != child_state::stopped)
            return;
        terminate_self(caf::exit_reason::user_shutdown);
        return;
    }
  }

  // -- stopping ---------------------------------------------------------------

  void stop_children(std::vector<uint64_t> keys, detail::stop_job::order how,
                     std::function<void()> done) {
    stop_.emplace(std::move(keys), how, pacing());
    stop_done_ = std::move(done);
    advance_stop();
  }

  detail::stop_pacing pacing() const {
    detail::stop_pacing result;
    result.window = spec_.max_in_flight;
    return result;
  }

  /// Asks one child to stop; false if it has no instance to stop.
  bool ask_stop(uint64_t key) {
    auto* c = table_.find(key);
    if (!c)
      return false;
    if (!c->actor) {
      if (c->state == child_state::restarting)
        cancel_pending_restart(*c, child_state::stopped);
      return false;
    }
    std::optional<time_point> kill_at;
    if (c->spec->shutdown.how == shutdown_policy::mode::timeout)
      kill_at = now() + c->spec->shutdown.timeout;
    if (c->state == child_state::stopping) {
      stop_->asked(key, kill_at); // asked by an earlier job: wait for it
      return true;
    }
    if (c->state == child_state::starting) {
      // Stopped before it confirmed its start: its requester hears of it.
      answer_start_waiter(key, make_error(errc::invalid_state, "start_child",
                                          spec_.name, 0,
                                          "stopped during its start"));
    }
    c->state = child_state::stopping;
    if (c->spec->shutdown.how == shutdown_policy::mode::brutal_kill)
      send_exit(c->actor, caf::exit_reason::kill);
    else
      send_exit(c->actor, caf::exit_reason::user_shutdown);
    stop_->asked(key, kill_at);
    return true;
  }

  void advance_stop() {
    while (stop_) {
      for (;;) {
        auto next = stop_->take_next(now());
        if (next.empty())
          break;
        ask_stop_all(next);
      }
      if (!stop_->done()) {
        arm_timer();
        return;
      }
      auto done = std::move(stop_done_);
      stop_done_ = nullptr;
      stop_.reset();
      if (done)
        done();
      if (!busy())
        drain_deferred();
      return;
    }
  }

  /// Asks each to stop; one without an instance is gone at once.
  void ask_stop_all(const std::vector<uint64_t>& keys) {
    for (auto k : keys)
      if (!ask_stop(k)) {
        stop_->gone(k);
        answer_terminate_waiters(k);
      }
  }

  void child_gone(uint64_t key) {
    answer_terminate_waiters(key);
    if (stop_ && stop_->gone(key))
      advance_stop();
  }

  void answer_terminate_waiters(uint64_t key) {
    auto i = terminate_waiters_.find(key);
    if (i == terminate_waiters_.end())
      return;
    for (auto& rp : i->second)
      rp.deliver(caf::ok_atom::value);
    terminate_waiters_.erase(i);
  }

  void on_stop_due(detail::stop_job::due due) {
    ask_stop_all(due.ask);
    for (auto k : due.kill)
      if (auto* c = table_.find(k); c && c->actor) {
        log::warn(events_.source(), terminating_ && deadline_passed()
                                      ? "shutdown_deadline_kill"
                                      : "shutdown_timeout",
                  {log::kv("child", table_.id_of(*c)),
                   log::kv("timeout", c->spec->shutdown.timeout)});
        send_exit(c->actor, caf::exit_reason::kill);
      }
    for (auto k : due.abandon)
      if (auto* c = table_.find(k)) {
        // Blocked inside a handler: even the kill waits for it to return.
        abandoned_.push_back(table_.id_of(*c));
        publish(event_kind::child_abandoned, *c,
                make_error(errc::timeout, "shutdown", spec_.name, 0,
                           "still running " + format_duration(abandon_grace)
                             + " after its kill at the shutdown deadline"));
        table_.unbind(*c);
        c->state = child_state::stopped;
        answer_terminate_waiters(k);
      }
    if (stop_ && stop_->done())
      advance_stop();
  }

  bool deadline_passed() {
    return deadline_ && now() >= *deadline_;
  }

  /// A template, not a std::function: the common case (not busy) runs at
  /// once and allocates nothing.
  template <class F>
  void run_when_idle(F&& f) {
    if (busy())
      deferred_.emplace_back(std::forward<F>(f));
    else
      f();
  }

  void drain_deferred() {
    while (!busy() && !deferred_.empty()) {
      auto f = std::move(deferred_.front());
      deferred_.pop_front();
      f();
    }
    start_from_backlog();
  }

  /// Stops every child in reverse start order, then exits with `reason`.
  void terminate_self(caf::error reason, caf::timespan deadline = {}) {
    if (!terminating_) {
      terminating_ = true;
      exit_reason_ = std::move(reason);
      if (start_) {
        if (start_->rp.pending())
          start_->rp.deliver(make_error(errc::invalid_state, "start child",
                                        spec_.name, 0,
                                        "supervisor is shutting down"));
        start_.reset();
      }
      for (auto& x : start_backlog_)
        x.second.deliver(refuse_if_terminating("start_child"));
      start_backlog_.clear();
      // A stop in flight is superseded (its continuation, a group restart,
      // is moot): those it asked already are waited for, not asked again.
      std::vector<uint64_t> keys = table_.keys();
      std::reverse(keys.begin(), keys.end());
      stop_.emplace(std::move(keys),
                    dynamic() ? detail::stop_job::order::parallel
                              : detail::stop_job::order::serial,
                    pacing());
      stop_done_ = [this] { finish(); };
    }
    if (deadline > caf::timespan{0} && stop_) {
      auto at = now() + deadline;
      if (!deadline_ || at < *deadline_)
        deadline_ = at;
      stop_->set_deadline(*deadline_, abandon_grace);
    }
    advance_stop();
  }

  void finish() {
    if (!abandoned_.empty())
      log::error(events_.source(), "children_abandoned",
                 {log::kv("count", abandoned_.size()),
                  log::kv("first", abandoned_.front())});
    publish_own(event_kind::supervisor_stopped, exit_reason_);
    shutdown_report report{abandoned_};
    for (auto& rp : shutdown_promises_)
      rp.deliver(report);
    shutdown_promises_.clear();
    auto not_started = start_error_
                         ? start_error_
                         : make_error(errc::invalid_state, "await start",
                                      spec_.name, 0,
                                      "stopped before its start completed");
    for (auto& rp : ready_promises_)
      rp.deliver(not_started);
    ready_promises_.clear();
    // Requests deferred behind the shutdown are answered, never dropped.
    auto deferred = std::move(deferred_);
    for (auto& f : deferred)
      f();
    quit(exit_reason_);
  }

  caf::error refuse_if_terminating(const char* operation) {
    if (terminating_)
      return make_error(errc::invalid_state, operation, spec_.name, 0,
                        "supervisor is shutting down");
    return caf::none;
  }

  // -- the exit rule ----------------------------------------------------------

  void on_exit_msg(caf::exit_msg& msg) {
    // anon_send_exit puts the receiver itself as the source: an explicit
    // order from whoever holds our handle.
    if (msg.source == this->address() || (parent_ && msg.source == parent_)) {
      terminate_self(msg.reason);
      return;
    }
    log::warn(events_.source(), "exit_ignored",
              {log::kv("from", caf::to_string(msg.source)),
               log::kv("reason", msg.reason)});
  }

  // -- request handlers -------------------------------------------------------

  caf::result<caf::ok_atom> on_await_start() {
    if (!parent_)
      if (auto& sender = current_sender())
        parent_ = sender->address();
    if (started_)
      return caf::ok_atom::value;
    if (start_error_)
      return start_error_;
    if (terminating_)
      return make_error(errc::invalid_state, "await start", spec_.name, 0,
                        "supervisor is shutting down");
    auto rp = make_response_promise();
    ready_promises_.push_back(rp);
    return rp;
  }

  void do_start_static(child_spec spec, caf::response_promise rp) {
    if (auto err = refuse_if_terminating("start_child"))
      return rp.deliver(err), void();
    if (dynamic())
      return rp.deliver(make_error(errc::invalid_state, "start_child",
                                   spec_.name, 0,
                                   "simple_one_for_one takes start arguments, "
                                   "not a child spec")),
             void();
    if (auto err = validate(spec))
      return rp.deliver(err), void();
    if (auto err = validate_significance(spec, spec_.flags.shutdown_when,
                                         spec_.name))
      return rp.deliver(err), void();
    if (table_.find(spec.id))
      return rp.deliver(make_error(errc::duplicate_child, "start_child",
                                   spec_.name, 0,
                                   "duplicate child id '" + spec.id + "'")),
             void();
    auto& c = table_.add(std::make_shared<const child_spec>(std::move(spec)),
                         caf::message{});
    start_single(c.key, std::move(rp), false);
  }

  void do_start_dynamic(caf::message args, caf::response_promise rp) {
    if (auto err = refuse_if_terminating("start_child"))
      return rp.deliver(err), void();
    if (!dynamic())
      return rp.deliver(make_error(errc::invalid_state, "start_child",
                                   spec_.name, 0,
                                   "only simple_one_for_one takes start "
                                   "arguments")),
             void();
    if (!template_)
      template_ = std::make_shared<const child_spec>(spec_.children.front());
    if (start_waiters_.size() >= spec_.max_in_flight || !start_backlog_.empty()) {
      start_backlog_.emplace_back(std::move(args), std::move(rp));
      return;
    }
    start_dynamic_now(std::move(args), std::move(rp));
  }

  void start_dynamic_now(caf::message args, caf::response_promise rp) {
    auto& c = table_.add(template_, std::move(args));
    if (auto err = begin_start(c)) {
      publish(event_kind::start_failed, c, err, {}, true);
      table_.remove(c.key);
      rp.deliver(err);
      return;
    }
    if (c.state == child_state::running) {
      publish(event_kind::child_started, c);
      rp.deliver(c.actor);
      return;
    }
    start_waiters_.emplace(c.key, std::move(rp));
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
    if (table_.find(who.address()))
      return make_error(errc::duplicate_child, "adopt_child", spec_.name, 0,
                        "the actor is a child already");
    if (!template_)
      template_ = std::make_shared<const child_spec>(spec_.children.front());
    auto& c = table_.add(template_, caf::message{});
    table_.bind(c, std::move(who));
    c.state = child_state::running;
    c.started_at = now();
    monitor(c.actor);
    publish(event_kind::child_started, c);
    if (!terminating_)
      return caf::none;
    // Adopted while stopping everything: it is stopped like the others, and
    // the shutdown waits for it (its deadline applies).
    if (stop_) {
      stop_->add(c.key);
      advance_stop();
    } else {
      send_exit(c.actor, caf::exit_reason::kill);
    }
    return make_error(errc::invalid_state, "adopt_child", spec_.name, 0,
                      "supervisor is shutting down; the child is stopped");
  }

  void do_terminate(child_record& c, caf::response_promise rp) {
    if (auto err = refuse_if_terminating("terminate_child"))
      return rp.deliver(err), void();
    auto key = c.key;
    if (c.state == child_state::restarting) {
      // Its restart is called off; if it led a group restart, the rest of
      // the group stays stopped too (restart_child brings each back).
      cancel_pending_restart(c, child_state::stopped);
      if (c.spec->restart == restart_type::temporary || dynamic())
        table_.remove(key);
      rp.deliver(caf::ok_atom::value);
      return;
    }
    if (!c.actor) {
      rp.deliver(caf::ok_atom::value); // stopped already: as OTP, ok
      return;
    }
    terminate_waiters_[key].push_back(std::move(rp));
    stop_children({key}, detail::stop_job::order::serial, nullptr);
  }

  /// terminate_child by actor for an actor that is no child (any more): ok
  /// if it is dead (terminated already, as OTP answers), unknown_child if it
  /// is alive. CAF answers the probe itself for any live scheduled actor.
  void terminate_stranger(const caf::actor& who, caf::response_promise rp) {
    if (!who)
      return rp.deliver(make_error(errc::unknown_child, "terminate_child",
                                   spec_.name, 0, "no actor")),
             void();
    auto not_child = make_error(errc::unknown_child, "terminate_child",
                                spec_.name, 0, "actor is not a child");
    request(who, std::chrono::seconds(1), caf::sys_atom::value,
            caf::get_atom::value, std::string{"info"})
      .then(
        [rp, not_child](caf::ok_atom, std::string&, caf::strong_actor_ptr&,
                        std::string&) mutable { rp.deliver(not_child); },
        [rp, not_child](caf::error& err) mutable {
          if (err == caf::sec::request_receiver_down)
            rp.deliver(caf::ok_atom::value);
          else
            rp.deliver(not_child);
        });
  }

  caf::error unknown(const char* operation, const std::string& id) const {
    return make_error(errc::unknown_child, operation, spec_.name, 0,
                      "no child with id '" + id + "'");
  }

  /// The stopped child `id` for restart_child / delete_child, or nullptr
  /// after answering `rp` with why not.
  child_record* stopped_child(const char* operation, const std::string& id,
                              caf::response_promise& rp) {
    if (auto err = refuse_if_terminating(operation))
      return rp.deliver(err), nullptr;
    auto* c = table_.find(id);
    if (!c)
      return rp.deliver(unknown(operation, id)), nullptr;
    if (c->state != child_state::stopped)
      return rp.deliver(make_error(errc::invalid_state, operation, spec_.name,
                                   0,
                                   "child '" + id + "' is "
                                     + to_string(c->state))),
             nullptr;
    return c;
  }

  /// Starts one static child as a start job (start_child, restart_child).
  void start_single(uint64_t key, caf::response_promise rp, bool manual) {
    start_.emplace();
    start_->why = start_job::purpose::single;
    start_->manual = manual;
    start_->rp = std::move(rp);
    start_->todo.push_back(key);
    advance_start();
  }

  void do_restart(const std::string& id, caf::response_promise rp) {
    if (auto* c = stopped_child("restart_child", id, rp))
      start_single(c->key, std::move(rp), true);
  }

  void do_delete(const std::string& id, caf::response_promise rp) {
    if (auto* c = stopped_child("delete_child", id, rp)) {
      table_.remove(c->key);
      rp.deliver(caf::ok_atom::value);
    }
  }

  std::vector<child_info> which_children() const {
    std::vector<child_info> result;
    result.reserve(table_.size());
    for (auto& kvp : table_) {
      auto& c = kvp.second;
      child_info info;
      info.id = table_.id_of(c);
      info.actor = c.actor;
      info.kind = c.spec->kind;
      info.restart = c.spec->restart;
      info.state = c.state;
      info.restarts = c.restarts;
      info.last_exit = c.last_exit;
      info.manual_restarts = c.manual_restarts;
      result.push_back(std::move(info));
    }
    return result;
  }

  child_counts count_children() const {
    child_counts result;
    for (auto& kvp : table_) {
      auto& c = kvp.second;
      ++result.specs;
      if (c.actor)
        ++result.active;
      if (c.spec->kind == child_kind::supervisor)
        ++result.supervisors;
      else
        ++result.workers;
    }
    if (dynamic())
      result.specs = 1; // the template, as in OTP
    return result;
  }

  // -- state ------------------------------------------------------------------

  supervisor_spec spec_;
  detail::child_table table_;
  detail::restart_intensity intensity_;
  detail::event_stream events_;
  std::shared_ptr<const child_spec> template_; ///< simple_one_for_one
  caf::actor_addr parent_;

  std::optional<start_job> start_;
  std::optional<detail::stop_job> stop_;
  std::function<void()> stop_done_;
  std::deque<std::function<void()>> deferred_;

  using timer_map = std::multimap<time_point, timer_entry>;
  timer_map timers_;
  std::unordered_map<uint64_t, typename timer_map::iterator>
    start_deadlines_; ///< per starting child, so a confirmed one leaves timers_
  bool armed_ = false;
  time_point armed_at_;
  uint64_t armed_token_ = 0;
  uint64_t tokens_ = 0;

  bool started_ = false;  ///< the initial start completed
  caf::error start_error_; ///< why the initial start failed
  std::vector<caf::response_promise> ready_promises_;
  std::unordered_map<uint64_t, caf::response_promise> start_waiters_;
  /// Dynamic starts beyond `spec_.max_in_flight`, in arrival order.
  std::deque<std::pair<caf::message, caf::response_promise>> start_backlog_;
  bool pulling_backlog_ = false;
  std::unordered_map<uint64_t, std::vector<caf::response_promise>>
    terminate_waiters_;

  bool terminating_ = false;
  caf::error exit_reason_;
  std::optional<time_point> deadline_;
  std::vector<caf::response_promise> shutdown_promises_;
  std::vector<std::string> abandoned_;
};

template <class Base>
caf::behavior supervisor_impl<Base>::make_behavior() {
  set_exit_handler([this](caf::exit_msg& msg) { on_exit_msg(msg); });
  set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  set_default_handler([this](caf::scheduled_actor*, caf::message_view& x) {
    return reject_unexpected_message(events_.source(), spec_.name, x);
  });
  for (auto& sub : spec_.subscribers)
    if (events_.subscribe(sub))
      monitor(sub);
  log::debug(events_.source(), "supervisor_started",
             {log::kv("strategy", to_string(spec_.flags.how)),
              log::kv("intensity", spec_.flags.intensity),
              log::kv("period", spec_.flags.period)});
  if (dynamic()) {
    started_ = true;
  } else {
    start_.emplace();
    start_->why = start_job::purpose::initial;
    for (auto& spec : spec_.children)
      start_->todo.push_back(
        table_.add(std::make_shared<const child_spec>(spec), caf::message{}).key);
    advance_start();
  }
  return {
    [this](await_start_atom) { return on_await_start(); },
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
        if (auto* c = table_.find(id))
          do_terminate(*c, rp);
        else
          rp.deliver(unknown("terminate_child", id));
      });
      return rp;
    },
    [this](terminate_child_atom, caf::actor& who) -> caf::result<caf::ok_atom> {
      auto rp = make_response_promise();
      run_when_idle([this, who, rp]() mutable {
        if (auto* c = who ? table_.find(who.address()) : nullptr)
          do_terminate(*c, rp);
        else
          terminate_stranger(who, rp);
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
      if (events_.subscribe(who))
        monitor(who);
    },
    [this](unsubscribe_atom, caf::actor& who) { events_.unsubscribe(who); },
    [this](shutdown_atom,
           caf::timespan deadline) -> caf::result<shutdown_report> {
      auto rp = make_response_promise();
      shutdown_promises_.push_back(rp);
      terminate_self(caf::exit_reason::user_shutdown, deadline);
      return rp;
    },
    [this](supervisor_tick_atom, uint64_t token) { on_tick(token); },
    [this](caf::ok_atom, std::string&, caf::strong_actor_ptr& who,
           std::string&) { on_info_reply(who); },
  };
}

} // namespace

caf::expected<supervisor_actor> spawn_supervisor(caf::actor_system& sys,
                                                 supervisor_spec spec) {
  if (auto err = validate(spec))
    return err;
  if (spec.io_thread) {
    auto mm = middleman_of(sys, "spawn supervisor (io_thread)", spec.name);
    if (!mm)
      return std::move(mm.error());
    caf::actor_config cfg{&(*mm)->backend()};
    auto handle
      = sys.spawn_class<supervisor_impl<caf::io::broker>, caf::no_spawn_options>(
        cfg, std::move(spec));
    return caf::actor_cast<supervisor_actor>(handle);
  }
  auto handle = sys.spawn<supervisor_impl<caf::event_based_actor>>(std::move(spec));
  return caf::actor_cast<supervisor_actor>(handle);
}

} // namespace ghostnet::supervision
