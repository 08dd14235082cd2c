// The pool: idle timers and health checks of idle members.

#include "pool_impl.hpp"

namespace ghostnet::pool::detail {

void pool_impl::arm_idle_timers(member& m) {
  auto now = clock().now();
  if (!m.idle_timer) {
    m.idle_timer = true;
    auto left = opts_.idle_timeout - (now - m.idle_since);
    delayed_send(this, not_negative(left), pool_idle_timer_atom::value, m.id);
  }
  if (opts_.health.interval > caf::timespan{0} && !m.health_timer) {
    m.health_timer = true;
    delayed_send(this,
                 not_negative(opts_.health.interval - (now - m.last_good)),
                 pool_health_timer_atom::value, m.id);
  }
}

void pool_impl::on_idle_timer(uint64_t id) {
  auto* m = find(id);
  if (m == nullptr)
    return;
  m->idle_timer = false;
  if (m->state != member_state::idle)
    return; // re-armed when idle again
  auto idle_for = clock().now() - m->idle_since;
  if (idle_for >= opts_.idle_timeout
      && count(member_state::idle) > static_cast<uint64_t>(opts_.min_idle)) {
    ++evictions_;
    log::debug(source_, "idle_evicted",
               {log::kv("member", id), log::kv("idle_for", idle_for)});
    close_member(*m, true, "idle_timeout");
    return;
  }
  // Not yet (or needed for min_idle: check again one timeout later).
  m->idle_timer = true;
  auto left = opts_.idle_timeout - idle_for;
  delayed_send(this, left > caf::timespan{0} ? left : opts_.idle_timeout,
               pool_idle_timer_atom::value, id);
}

void pool_impl::on_health_timer(uint64_t id) {
  auto* m = find(id);
  if (m == nullptr)
    return;
  m->health_timer = false;
  if (m->state != member_state::idle)
    return;
  auto since = clock().now() - m->last_good;
  if (since < opts_.health.interval) {
    m->health_timer = true;
    delayed_send(this, opts_.health.interval - since,
                 pool_health_timer_atom::value, id);
    return;
  }
  start_probe(*m);
}

void pool_impl::start_probe(member& m) {
  set_state(m, member_state::probing);
  ++health_checks_;
  auto gen = ++m.probe_gen;
  auto id = m.id;
  m.probe_reply.clear();
  const auto& h = opts_.health;
  if (h.request.empty()) {
    request(m.conn, h.timeout, info_atom::value)
      .then(
        [this, id, gen](tp::connection_info& info) {
          if (info.state == tp::connection_state::connected)
            probe_passed(id, gen);
          else
            probe_failed(id, gen,
                         make_error(errc::transport_closed, "health check",
                                    info.remote.to_string(), 0,
                                    std::string{"connection is "}
                                      + to_string(info.state)));
        },
        [this, id, gen](caf::error& err) { probe_failed(id, gen, err); });
    return;
  }
  // One-way: a refused send (backpressure, closed) shows as no answer.
  caf::anon_send(m.conn, send_atom::value, h.request);
  delayed_send(this, h.timeout, pool_probe_timer_atom::value, id, gen);
}

void pool_impl::on_probe_frame(member& m, const std::vector<char>& frame) {
  const auto& want = opts_.health.expected_reply;
  if (want.empty()) {
    probe_failed(m.id, m.probe_gen,
                 make_error(errc::protocol_error, "health check",
                            eps_[m.ep].remote.to_string(), 0,
                            "data during a TCP-level check"));
    return;
  }
  m.probe_reply.insert(m.probe_reply.end(), frame.begin(), frame.end());
  auto n = std::min(m.probe_reply.size(), want.size());
  if (m.probe_reply.size() > want.size()
      || !std::equal(m.probe_reply.begin(), m.probe_reply.begin() + n,
                     want.begin())) {
    probe_failed(m.id, m.probe_gen,
                 make_error(errc::protocol_error, "health check",
                            eps_[m.ep].remote.to_string(), 0,
                            "unexpected reply to the probe"));
    return;
  }
  if (m.probe_reply.size() == want.size())
    probe_passed(m.id, m.probe_gen);
}

void pool_impl::probe_passed(uint64_t id, uint64_t gen) {
  auto* m = find(id);
  if (m == nullptr || m->state != member_state::probing
      || m->probe_gen != gen)
    return;
  ++m->probe_gen; // ignore the probe timer
  m->probe_reply.clear();
  m->last_good = clock().now();
  make_available(*m, true);
  pump();
}

void pool_impl::probe_failed(uint64_t id, uint64_t gen, const caf::error& why) {
  auto* m = find(id);
  if (m == nullptr || m->state != member_state::probing
      || m->probe_gen != gen)
    return;
  ++m->probe_gen;
  ++health_failures_;
  ++evictions_;
  log::warn(source_, "health_check_failed",
            {log::kv("member", id),
             log::kv("endpoint", eps_[m->ep].remote.to_string()),
             log::kv("reason", why)});
  close_member(*m, false, "health check failed");
  pump();
}

} // namespace ghostnet::pool::detail
