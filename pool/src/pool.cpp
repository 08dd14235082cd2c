// The pool actor: its behaviour, draining and closing, stats, and the
// public functions (spawn_pool, pool_child). See pool_impl.hpp for where
// the rest of its methods live.

#include "pool_impl.hpp"

namespace ghostnet::pool {

namespace detail {

sv::supervisor_spec members_spec(const pool_options& opts,
                                 caf::timespan shutdown) {
  std::vector<tp::connect_options> targets;
  for (auto& ep : opts.endpoints)
    targets.push_back(connect_options_for(opts, ep));
  sv::child_spec member;
  member.id = "member";
  member.restart = sv::restart_type::temporary;
  member.shutdown = sv::shutdown_policy::after(shutdown);
  auto window = static_cast<uint32_t>(opts.receive_window);
  member.start = [targets, window](caf::actor_system& sys,
                                   const caf::message& args)
    -> caf::expected<caf::actor> {
    if (!args.match_elements<uint32_t, uint64_t, caf::actor>())
      return make_error(errc::invalid_state, "start member", "", 0,
                        "expected (endpoint index, member id, pool)");
    auto ep = args.get_as<uint32_t>(0);
    if (ep >= targets.size())
      return make_error(errc::invalid_state, "start member", "", 0,
                        "no endpoint " + std::to_string(ep));
    auto conn = tp::connect(sys, targets[ep],
                            detail::member_handler(args.get_as<uint64_t>(1),
                                                   args.get_as<caf::actor>(2),
                                                   window));
    if (!conn)
      return std::move(conn.error());
    return caf::actor_cast<caf::actor>(*conn);
  };
  sv::supervisor_spec spec;
  spec.name = opts.name + ".members";
  spec.flags.how = sv::strategy::simple_one_for_one;
  spec.children.push_back(std::move(member));
  return spec;
}

caf::behavior pool_impl::make_behavior() {
  self_ = caf::actor_cast<caf::actor>(this);
  auto sup = sv::spawn_supervisor(system(),
                                  members_spec(opts_, member_shutdown_));
  if (!sup) {
    quit(std::move(sup.error()));
    return {};
  }
  members_sup_ = std::move(*sup);
  monitor(members_sup_);
  set_down_handler([this](caf::down_msg& msg) {
    if (members_sup_ && msg.source == members_sup_.address()) {
      on_supervisor_down(msg.reason);
      return;
    }
    if (auto i = by_addr_.find(msg.source); i != by_addr_.end()) {
      auto id = i->second;
      by_addr_.erase(i);
      on_member_down(id, msg.reason);
      return;
    }
    if (holders_.count(msg.source) > 0)
      on_holder_down(msg.source, msg.reason);
  });
  set_exit_handler([this](caf::exit_msg& msg) {
    // Our supervisor (or another owner) stops us: close, then exit with its
    // reason.
    begin_close(msg.reason);
  });
  set_default_handler([this](caf::scheduled_actor*, caf::message_view& x) {
    return reject_unexpected_message(source_, opts_.name, x);
  });
  log::info(source_, "pool_started",
            {log::kv("endpoints", opts_.endpoints.size()),
             log::kv("max_connections", opts_.max_connections),
             log::kv("min_idle", opts_.min_idle),
             log::kv("balancing", to_string(opts_.balancing))});
  pump(); // min_idle: pre-warm
  return {
    [this](acquire_atom) -> caf::result<lease> {
      return acquire(opts_.acquire_timeout);
    },
    [this](acquire_atom, caf::timespan timeout) -> caf::result<lease> {
      return acquire(timeout);
    },
    [this](release_atom, uint64_t id, bool healthy)
      -> caf::result<caf::ok_atom> { return on_release(id, healthy); },
    [this](stats_atom) { return make_stats(); },
    [this](drain_atom) -> caf::result<caf::ok_atom> { return drain(); },
    [this](close_atom) -> caf::result<caf::ok_atom> {
      auto rp = make_response_promise();
      close_promises_.push_back(rp);
      begin_close(caf::exit_reason::normal);
      return rp;
    },
    [this](received_atom, const tp::connection_actor& conn,
           const std::vector<char>& frame) { on_frame(conn, frame); },
    [](closed_atom, const tp::connection_actor&, const caf::error&) {
      // The member's down_msg carries the same news.
    },
    [this](pool_waiter_timer_atom, int64_t armed_for) {
      on_waiter_timer(armed_for);
    },
    [this](pool_idle_timer_atom, uint64_t id) { on_idle_timer(id); },
    [this](pool_health_timer_atom, uint64_t id) { on_health_timer(id); },
    [this](pool_probe_timer_atom, uint64_t id, uint64_t gen) {
      probe_failed(id, gen,
                   make_error(errc::timeout, "health check", "", 0,
                              "no answer within " + format_duration(opts_.health.timeout)));
    },
    [this](pool_lifetime_atom, uint64_t id) { on_lifetime(id); },
    [this](pool_lease_timer_atom) { on_lease_timer(); },
    [this](pool_breaker_timer_atom) { pump(); },
    [this](member_up_atom, uint64_t id, const tp::connection_actor& conn) {
      on_member_up(id, conn);
    },
    [this](pool_connect_deadline_atom, uint64_t id) { on_connect_deadline(id); },
    [this](pool_close_deadline_atom, uint64_t id) {
      // Still here after the drain timeout and a margin: kill it.
      if (auto* m = find(id); m != nullptr && m->conn)
        send_exit(m->conn, caf::exit_reason::kill);
    },
  };
}

caf::result<caf::ok_atom> pool_impl::drain() {
  if (state_ == pool_state::closed)
    return refused("drain");
  if (state_ == pool_state::running) {
    state_ = pool_state::draining;
    log::info(source_, "pool_draining",
              {log::kv("in_use", count(member_state::leased)),
               log::kv("idle", count(member_state::idle))});
    fail_waiters(refused("acquire"));
    std::vector<uint64_t> ids;
    for (auto& kvp : members_)
      ids.push_back(kvp.first);
    for (auto id : ids) {
      auto& m = members_.at(id);
      if (m.state == member_state::idle || m.state == member_state::probing)
        close_member(m, true, "pool draining");
      else if (m.state == member_state::starting
               || m.state == member_state::connecting)
        close_member(m, false, "pool draining");
    }
  }
  if (members_.empty())
    return caf::ok_atom::value;
  auto rp = make_response_promise();
  drain_promises_.push_back(rp);
  return rp;
}

void pool_impl::check_drained() {
  if (state_ != pool_state::draining || !members_.empty())
    return;
  for (auto& rp : drain_promises_)
    rp.deliver(caf::ok_atom::value);
  drain_promises_.clear();
}

void pool_impl::begin_close(caf::error reason) {
  if (closing_)
    return;
  closing_ = true;
  state_ = pool_state::closed;
  exit_reason_ = std::move(reason);
  log::info(source_, "pool_closing",
            {log::kv("size", members_.size()),
             log::kv("in_use", count(member_state::leased)),
             log::kv("waiters", waiters_.size())});
  fail_waiters(refused("acquire"));
  request(members_sup_, close_wait_ + std::chrono::seconds(5),
          shutdown_atom::value, close_wait_)
    .then([this](sv::shutdown_report&) { finish(); },
          [this](caf::error& err) {
            log::warn(source_, "members_shutdown_failed",
                      {log::kv("reason", err)});
            finish();
          });
}

void pool_impl::finish() {
  for (auto& rp : drain_promises_)
    rp.deliver(caf::ok_atom::value);
  drain_promises_.clear();
  for (auto& rp : close_promises_)
    rp.deliver(caf::ok_atom::value);
  close_promises_.clear();
  members_sup_ = nullptr; // gone: on_exit need not kill it
  quit(exit_reason_);
}

void pool_impl::on_supervisor_down(const caf::error& reason) {
  if (closing_)
    return; // expected; finish() follows its shutdown reply
  log::error(source_, "members_supervisor_down", {log::kv("reason", reason)});
  members_sup_ = nullptr;
  quit(make_error(errc::invalid_state, "pool", opts_.name, 0,
                  "the members' supervisor exited: " + describe(reason)));
}

pool_stats pool_impl::make_stats() const {
  pool_stats s;
  s.size = members_.size();
  s.connecting = count(member_state::starting)
                 + count(member_state::connecting);
  s.idle = count(member_state::idle);
  s.in_use = count(member_state::leased);
  s.probing = count(member_state::probing);
  s.closing = count(member_state::closing);
  s.waiters = waiters_.size();
  s.leases = leases_.size();
  s.peak_size = peak_size_;
  s.draining = state_ != pool_state::running;
  s.created = created_;
  s.closed = closed_;
  s.failed_connects = failed_connects_;
  s.acquired = acquired_;
  s.reuses = reuses_;
  s.timeouts = timeouts_;
  s.rejected = rejected_;
  s.unreachable = unreachable_;
  s.evictions = evictions_;
  s.discarded = discarded_;
  s.reclaimed = reclaimed_;
  s.long_leases = long_leases_;
  s.health_checks = health_checks_;
  s.health_failures = health_failures_;
  s.idle_frames = idle_frames_;
  for (auto& e : eps_) {
    endpoint_stats x;
    x.remote = e.remote;
    x.breaker = e.breaker.state();
    x.consecutive_failures = e.breaker.consecutive_failures();
    for (auto n : e.count)
      x.size += n;
    x.idle = e.at(member_state::idle);
    x.in_use = e.at(member_state::leased);
    x.created = e.created;
    x.failed_connects = e.failed_connects;
    x.breaker_opened = e.breaker.times_opened();
    x.breaker_probes = e.breaker.times_half_opened();
    s.endpoints.push_back(std::move(x));
  }
  return s;
}

} // namespace detail

using detail::not_negative;
using detail::pool_impl;
namespace sv = supervision;

caf::expected<pool_actor> spawn_pool(caf::actor_system& sys,
                                     pool_options opts) {
  if (auto err = validate(opts))
    return err;
  if (!sys.has_middleman())
    return make_error(errc::invalid_configuration, "spawn pool", opts.name, 0,
                      "the actor system has no middleman (load it)");
  auto hdl = sys.spawn<pool_impl>(std::move(opts));
  return caf::actor_cast<pool_actor>(hdl);
}

caf::expected<sv::child_spec> pool_child(pool_options opts) {
  if (auto err = validate(opts))
    return err;
  sv::child_spec spec;
  spec.id = opts.name;
  spec.restart = sv::restart_type::permanent;
  spec.shutdown = sv::shutdown_policy::after(
    not_negative(opts.connection.timeouts.drain) + std::chrono::seconds(10));
  spec.start = [opts](caf::actor_system& sys,
                      const caf::message&) -> caf::expected<caf::actor> {
    auto pool = spawn_pool(sys, opts);
    if (!pool)
      return std::move(pool.error());
    return caf::actor_cast<caf::actor>(*pool);
  };
  return spec;
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<lease>("ghostnet::pool::lease");
  cfg.add_message_type<endpoint_stats>("ghostnet::pool::endpoint_stats");
  cfg.add_message_type<pool_stats>("ghostnet::pool::pool_stats");
}

} // namespace ghostnet::pool
