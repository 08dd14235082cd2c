// The pool: choosing a member, leases and waiters, the control loop that
// opens members for unmet demand, and the timers of waiters and leases.

#include "pool_impl.hpp"

namespace ghostnet::pool::detail {

member* pool_impl::take_idle() {
  if (idle_.empty())
    return nullptr;
  candidates_.clear();
  for (size_t i = 0; i < eps_.size(); ++i)
    if (eps_[i].at(member_state::idle) > 0)
      candidates_.push_back(candidate{i, outstanding(i)});
  auto ep = candidates_[balancer_.pick(candidates_)].endpoint;
  auto matches = [&](const std::pair<time_point, uint64_t>& x) {
    return members_.at(x.second).ep == ep;
  };
  if (opts_.reuse == reuse_order::lifo) {
    auto i = std::find_if(idle_.rbegin(), idle_.rend(), matches);
    return i != idle_.rend() ? find(i->second) : nullptr;
  }
  auto i = std::find_if(idle_.begin(), idle_.end(), matches);
  return i != idle_.end() ? find(i->second) : nullptr;
}

std::optional<size_t> pool_impl::connect_endpoint(time_point now) {
  candidates_.clear();
  for (size_t i = 0; i < eps_.size(); ++i)
    if (eps_[i].breaker.allows(now))
      candidates_.push_back(candidate{i, outstanding(i)});
  if (candidates_.empty())
    return std::nullopt;
  return candidates_[balancer_.pick(candidates_)].endpoint;
}

void pool_impl::route_to(member& m, const caf::actor& to) {
  if (m.conn)
    caf::anon_send(m.conn, set_receiver_atom::value, to);
}

lease pool_impl::grant(member& m, const caf::actor& holder) {
  auto id = leases_.issue(m.id, holder.address(), clock().now());
  auto earlier = m.times_leased;
  if (m.times_leased > 0)
    ++reuses_;
  ++m.times_leased;
  ++acquired_;
  set_state(m, member_state::leased);
  m.lease_id = id;
  // The connection switches before the holder learns of the lease: the
  // request is in its mailbox before any the holder can send, so every
  // frame the holder can cause reaches it.
  route_to(m, holder);
  watch(holder);
  if (opts_.max_lease > caf::timespan{0} && !lease_timer_armed_) {
    lease_timer_armed_ = true;
    delayed_send(this, opts_.max_lease, pool_lease_timer_atom::value);
  }
  return lease{id, m.conn, eps_[m.ep].remote,
               static_cast<uint32_t>(std::min<uint64_t>(earlier, UINT32_MAX))};
}

void pool_impl::serve_first_waiter(member& m) {
  auto w = waiters_.pop_front();
  w.rp.deliver(grant(m, w.holder));
}

void pool_impl::make_available(member& m, bool keep_idle_since) {
  if (state_ != pool_state::running) {
    close_member(m, true, "pool draining");
    return;
  }
  if (m.expired) {
    ++evictions_;
    close_member(m, true, "max_lifetime");
    return;
  }
  if (!waiters_.empty()) {
    serve_first_waiter(m);
    return;
  }
  if (count(member_state::idle) >= static_cast<uint64_t>(opts_.max_idle)) {
    ++evictions_;
    close_member(m, true, "max_idle");
    return;
  }
  if (!keep_idle_since)
    m.idle_since = clock().now();
  set_state(m, member_state::idle);
  arm_idle_timers(m);
}

caf::result<lease> pool_impl::acquire(caf::timespan timeout) {
  if (timeout < caf::timespan{0})
    return make_error(errc::invalid_configuration, "acquire", opts_.name, 0,
                      "timeout: must not be negative, got " + format_duration(timeout));
  if (state_ != pool_state::running)
    return refused("acquire");
  auto holder = caf::actor_cast<caf::actor>(current_sender());
  if (!holder)
    return make_error(errc::invalid_state, "acquire", opts_.name, 0,
                      "an anonymous message cannot hold a lease");
  // FIFO: an idle member goes to a new acquire only if nobody waits.
  if (waiters_.empty())
    if (auto* m = take_idle()) {
      auto l = grant(*m, holder);
      pump(); // min_idle: replace the idle one just taken
      return l;
    }
  if (timeout == caf::timespan{0}) {
    ++timeouts_;
    return make_error(errc::timeout, "acquire", opts_.name, 0,
                      "no idle connection and the timeout is 0");
  }
  if (waiters_.size() >= static_cast<size_t>(opts_.max_waiters)) {
    ++rejected_;
    return make_error(errc::pool_exhausted, "acquire", opts_.name, 0,
                      std::to_string(count(member_state::leased))
                        + " connections leased, "
                        + std::to_string(waiters_.size())
                        + " acquires waiting (max_waiters "
                        + std::to_string(opts_.max_waiters) + ")");
  }
  auto rp = make_response_promise();
  auto now = clock().now();
  // A timeout too large to add (caf::infinite, ...) means no deadline.
  auto deadline = timeout < time_point::max() - now ? now + timeout
                                                    : time_point::max();
  waiters_.push(waiter{rp, holder}, deadline);
  watch(holder);
  if (deadline != time_point::max()
      && (armed_.empty() || deadline < *armed_.begin()))
    arm_waiter_timer(deadline);
  pump();
  return rp;
}

caf::error pool_impl::release(uint64_t id, bool healthy) {
  auto rec = leases_.release(id);
  if (!rec)
    return make_error(errc::invalid_state, "release", opts_.name, 0,
                      "unknown lease " + std::to_string(id)
                        + ": never issued, already released or reclaimed");
  auto* m = find(rec->member);
  if (m != nullptr && m->state == member_state::leased
      && m->lease_id == id) {
    m->lease_id = 0;
    route_to(*m, self_);
    if (!healthy) {
      ++discarded_;
      close_member(*m, false, "released unhealthy");
    } else {
      m->last_good = clock().now();
      make_available(*m);
    }
  }
  pump();
  check_drained();
  return caf::none;
}

caf::result<caf::ok_atom> pool_impl::on_release(uint64_t id, bool healthy) {
  auto err = release(id, healthy);
  auto* e = current_mailbox_element();
  if (e != nullptr && !e->mid.is_request()) {
    if (err)
      log::warn(source_, "release_failed",
                {log::kv("lease", id), log::kv("reason", err)});
    return caf::delegated<caf::ok_atom>{};
  }
  if (err)
    return err;
  return caf::ok_atom::value;
}

caf::error pool_impl::refused(const char* operation) const {
  return make_error(errc::invalid_state, operation, opts_.name, 0,
                    state_ == pool_state::draining ? "the pool is draining"
                                                   : "the pool is closed");
}

void pool_impl::pump() {
  if (state_ != pool_state::running)
    return;
  while (!waiters_.empty()) {
    auto* m = take_idle();
    if (m == nullptr)
      break;
    serve_first_waiter(*m);
  }
  auto now = clock().now();
  auto pending = count(member_state::starting)
                 + count(member_state::connecting);
  auto ready = count(member_state::idle) + count(member_state::probing);
  auto min_idle = static_cast<uint64_t>(opts_.min_idle);
  auto want = waiters_.size() + (min_idle > ready ? min_idle - ready : 0);
  auto max = static_cast<size_t>(opts_.max_connections);
  while (want > pending && members_.size() < max) {
    auto ep = connect_endpoint(now);
    if (!ep)
      break;
    start_member(*ep, now);
    ++pending;
  }
  if (!waiters_.empty() && pending == 0 && count(member_state::leased) == 0
      && count(member_state::probing) == 0
      && count(member_state::closing) == 0)
    fail_unreachable(now);
}

void pool_impl::fail_unreachable(time_point now) {
  auto last = last_connect_error_ ? describe(last_connect_error_)
                                  : std::string{"none"};
  auto next = eps_.front().breaker.retry_at();
  for (auto& e : eps_)
    next = std::min(next, e.breaker.retry_at());
  auto err = make_error(errc::circuit_open, "acquire", opts_.name, 0,
                        "no endpoint can be reached: every circuit breaker "
                        "is open (next probe in "
                          + format_duration(not_negative(next - now))
                          + "); last connect error: " + last);
  unreachable_ += waiters_.size();
  fail_waiters(err);
}

void pool_impl::fail_waiters(const caf::error& err) {
  for (auto& w : waiters_.take_all())
    w.rp.deliver(err);
}

void pool_impl::arm_waiter_timer(time_point deadline) {
  armed_.insert(deadline);
  delayed_send(this, not_negative(deadline - clock().now()),
               pool_waiter_timer_atom::value,
               static_cast<int64_t>(deadline.time_since_epoch().count()));
}

void pool_impl::on_waiter_timer(int64_t armed_for) {
  armed_.erase(time_point{time_point::duration{armed_for}});
  waiters_.expire(clock().now(), [this](waiter& w) {
    ++timeouts_;
    w.rp.deliver(make_error(errc::timeout, "acquire", opts_.name, 0,
                            "no connection came free in time ("
                              + std::to_string(count(member_state::leased))
                              + " leased, "
                              + std::to_string(members_.size()) + " open)"));
  });
  if (auto next = waiters_.next_deadline();
      next && (armed_.empty() || *next < *armed_.begin()))
    arm_waiter_timer(*next);
}

void pool_impl::on_lifetime(uint64_t id) {
  auto* m = find(id);
  if (m == nullptr)
    return;
  if (m->state == member_state::idle) {
    ++evictions_;
    close_member(*m, true, "max_lifetime");
    pump();
    return;
  }
  m->expired = true; // closed when released or after its probe
}

void pool_impl::on_lease_timer() {
  lease_timer_armed_ = false;
  auto now = clock().now();
  auto next = leases_.report_overdue(now, opts_.max_lease, [&](
                                       uint64_t id,
                                       const lease_list::record& rec) {
    ++long_leases_;
    auto held = now - rec.issued_at;
    auto* m = find(rec.member);
    log::warn(source_, "lease_held_too_long",
              {log::kv("lease", id),
               log::kv("held", std::chrono::duration_cast<
                                 std::chrono::milliseconds>(held)),
               log::kv("max_lease", opts_.max_lease),
               log::kv("endpoint", m != nullptr
                                     ? eps_[m->ep].remote.to_string()
                                     : std::string{"(connection gone)"})});
  });
  if (next) {
    lease_timer_armed_ = true;
    delayed_send(this, not_negative(*next - now), pool_lease_timer_atom::value);
  }
}

} // namespace ghostnet::pool::detail
