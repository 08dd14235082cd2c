// The pool: opening members (start, up, greeting, connect failures),
// closing them, and frames that arrive while no holder has them.

#include "pool_impl.hpp"

namespace ghostnet::pool::detail {

void pool_impl::start_member(size_t ep, time_point now) {
  auto& m = add_member(ep);
  if (eps_[ep].breaker.on_attempt(now))
    log::info(source_, "breaker_half_open",
              {log::kv("endpoint", eps_[ep].remote.to_string())});
  auto id = m.id;
  auto args = caf::make_message(static_cast<uint32_t>(ep), id, self_);
  request(members_sup_, start_timeout, start_child_atom::value,
          std::move(args))
    .then([this, id](caf::actor& conn) { on_started(id, std::move(conn)); },
          [this, id](caf::error& err) { on_start_failed(id, err); });
}

void pool_impl::on_started(uint64_t id, caf::actor conn) {
  auto* m = find(id);
  if (m == nullptr)
    return; // the pool stopped; its supervisor stops this one
  attach(*m, caf::actor_cast<tp::connection_actor>(conn));
  if (m->state == member_state::closing) {
    caf::anon_send(m->conn, abort_atom::value);
    return;
  }
  set_state(*m, member_state::connecting);
  if (m->up_early) {
    if (m->greeting_left == 0)
      on_connected(id);
    else // its greeting deadline may have passed while it was starting
      delayed_send(this, opts_.connect_timeout, pool_connect_deadline_atom::value,
                   id);
    return;
  }
  // The connection bounds each attempt itself; this only catches a
  // connection that neither comes up nor ends.
  delayed_send(this, connect_wait_, pool_connect_deadline_atom::value, id);
}

void pool_impl::attach(member& m, tp::connection_actor conn) {
  if (m.conn)
    return; // known since its member_up
  m.conn = std::move(conn);
  by_addr_.emplace(m.conn.address(), m.id);
  monitor(m.conn);
}

void pool_impl::on_member_up(uint64_t id, const tp::connection_actor& conn) {
  auto* m = find(id);
  if (m == nullptr
      || (m->state != member_state::starting
          && m->state != member_state::connecting))
    return;
  // Known from now on: a greeting may come before the start reply.
  attach(*m, conn);
  m->greeting_left = opts_.greeting_frames;
  if (m->greeting_left > 0)
    delayed_send(this, opts_.connect_timeout, pool_connect_deadline_atom::value,
                 id);
  if (m->state == member_state::starting)
    m->up_early = true; // the start reply is still on its way
  else if (m->greeting_left == 0)
    on_connected(id);
}

void pool_impl::on_connect_deadline(uint64_t id) {
  auto* m = find(id);
  if (m == nullptr || m->state != member_state::connecting)
    return;
  auto why = m->greeting_left > 0
               ? "connected, but " + std::to_string(m->greeting_left)
                   + " greeting frame(s) missing after "
                   + format_duration(opts_.connect_timeout)
               : "neither connected nor failed within " + format_duration(connect_wait_);
  connect_failed(m->ep, make_error(errc::timeout, "connect",
                                   eps_[m->ep].remote.to_string(), 0, why));
  set_state(*m, member_state::closing);
  send_exit(m->conn, caf::exit_reason::kill);
  pump();
}

void pool_impl::on_start_failed(uint64_t id, const caf::error& err) {
  auto* m = find(id);
  if (m == nullptr)
    return;
  if (state_ == pool_state::running)
    connect_failed(m->ep, err);
  remove_member(id);
  pump();
  check_drained();
}

void pool_impl::on_connected(uint64_t id) {
  auto* m = find(id);
  if (m == nullptr || m->state != member_state::connecting)
    return;
  auto& e = eps_[m->ep];
  m->connected = true;
  ++created_;
  ++e.created;
  if (e.breaker.on_success())
    log::info(source_, "breaker_closed",
              {log::kv("endpoint", e.remote.to_string())});
  m->last_good = clock().now();
  if (opts_.max_lifetime > caf::timespan{0})
    delayed_send(this, opts_.max_lifetime, pool_lifetime_atom::value, id);
  log::debug(source_, "member_connected",
             {log::kv("member", id),
              log::kv("endpoint", e.remote.to_string())});
  make_available(*m);
  pump();
}

void pool_impl::connect_failed(size_t ep, const caf::error& err) {
  auto& e = eps_[ep];
  ++failed_connects_;
  ++e.failed_connects;
  last_connect_error_ = err;
  auto now = clock().now();
  if (e.breaker.on_failure(now)) {
    log::warn(source_, "breaker_opened",
              {log::kv("endpoint", e.remote.to_string()),
               log::kv("failures", e.breaker.consecutive_failures()),
               log::kv("cooldown", opts_.breaker.cooldown),
               log::kv("reason", err)});
    delayed_send(this, opts_.breaker.cooldown, pool_breaker_timer_atom::value);
    return;
  }
  log::info(source_, "connect_failed",
            {log::kv("endpoint", e.remote.to_string()),
             log::kv("failures", e.breaker.consecutive_failures()),
             log::kv("reason", err)});
}

void pool_impl::close_member(member& m, bool graceful, const char* why) {
  if (m.state == member_state::closing)
    return;
  auto was = m.state;
  log::debug(source_, "member_closing",
             {log::kv("member", m.id), log::kv("why", why),
              log::kv("state", to_string(was))});
  set_state(m, member_state::closing);
  // A leased member keeps its receiver: the holder gets the closed
  // message. Every other member sends to the pool already.
  if (!m.conn)
    return; // still starting: aborted once started
  // Anonymous one-way messages: a request to a broker that is gone is
  // never answered in CAF 0.17.6 (and would pin this actor in its mailbox).
  if (graceful && was != member_state::connecting) {
    caf::anon_send(m.conn, close_atom::value);
    delayed_send(this, close_wait_, pool_close_deadline_atom::value, m.id);
  } else {
    caf::anon_send(m.conn, abort_atom::value);
  }
}

void pool_impl::on_member_down(uint64_t id, const caf::error& reason) {
  auto* m = find(id);
  if (m == nullptr)
    return;
  switch (m->state) {
    case member_state::starting:
      break;
    case member_state::connecting:
      connect_failed(m->ep,
                     reason ? reason
                            : make_error(errc::transport_closed, "connect",
                                         eps_[m->ep].remote.to_string(), 0,
                                         "ended before it was established"));
      break;
    case member_state::idle:
      log::info(source_, "idle_member_lost",
                {log::kv("member", id), log::kv("reason", reason)});
      break;
    case member_state::leased:
      log::info(source_, "leased_member_lost",
                {log::kv("member", id), log::kv("lease", m->lease_id),
                 log::kv("reason", reason)});
      break;
    case member_state::probing:
      ++health_failures_;
      log::info(source_, "member_lost_during_probe",
                {log::kv("member", id), log::kv("reason", reason)});
      break;
    case member_state::closing:
      break;
  }
  if (m->connected)
    ++closed_;
  remove_member(id);
  pump();
  check_drained();
}

void pool_impl::on_holder_down(const caf::actor_addr& holder, const caf::error& reason) {
  holders_.erase(holder); // its monitor went with it
  waiters_.erase_if(
    [&](const waiter& w) { return w.holder.address() == holder; });
  for (auto& [lease_id, rec] : leases_.release_all_of(holder)) {
    auto member_id = rec.member;
    ++reclaimed_;
    log::warn(source_, "lease_reclaimed",
              {log::kv("lease", lease_id), log::kv("holder_exit", reason)});
    // The holder may have died mid-request: the connection's state is
    // unknown (a half-sent request, an answer still coming), so it is
    // closed rather than reused.
    auto* m = find(member_id);
    if (m != nullptr && m->state == member_state::leased
        && m->lease_id == lease_id) {
      m->lease_id = 0;
      route_to(*m, self_);
      close_member(*m, false, "holder died");
    }
  }
  pump();
  check_drained();
}

void pool_impl::on_frame(const tp::connection_actor& conn,
                         const std::vector<char>& frame) {
  auto i = by_addr_.find(conn.address());
  if (i == by_addr_.end())
    return; // a member already gone
  auto& m = members_.at(i->second);
  switch (m.state) {
    case member_state::probing:
      if (opts_.health.request.empty()
          && opts_.idle_data == idle_data_policy::discard) {
        // A TCP-level probe expects no data: treat it as data while idle.
        idle_frame(m, frame);
        return;
      }
      on_probe_frame(m, frame);
      return;
    case member_state::starting:
    case member_state::connecting:
      if (m.greeting_left > 0) {
        idle_frame(m, frame);
        if (--m.greeting_left == 0 && m.state == member_state::connecting)
          on_connected(m.id);
        return;
      }
      [[fallthrough]];
    case member_state::idle:
    case member_state::leased:
      // Idle: an answer to nobody (released before the reply came), or
      // the peer talks on its own. Leased: the frame was on its way to us
      // before the lease; the holder would miss it. Either way the
      // connection's state is unknown, unless the policy says the server
      // may talk on its own.
      idle_frame(m, frame);
      if (opts_.idle_data == idle_data_policy::discard) {
        log::debug(source_, "idle_frame_discarded",
                   {log::kv("member", m.id),
                    log::kv("state", to_string(m.state)),
                    log::kv("bytes", frame.size())});
        return;
      }
      ++evictions_;
      log::warn(source_, "unsolicited_frame",
                {log::kv("member", m.id),
                 log::kv("state", to_string(m.state)),
                 log::kv("bytes", frame.size())});
      close_member(m, false, "unsolicited frame");
      pump();
      return;
    default:
      return;
  }
}

void pool_impl::idle_frame(const member& m, const std::vector<char>& frame) {
  ++idle_frames_;
  if (!opts_.on_idle_frame)
    return;
  try {
    opts_.on_idle_frame(eps_[m.ep].remote, frame);
  } catch (const std::exception& e) {
    log::warn(source_, "idle_frame_handler_threw",
              {log::kv("member", m.id), log::kv("what", e.what())});
  } catch (...) {
    log::warn(source_, "idle_frame_handler_threw",
              {log::kv("member", m.id), log::kv("what", "?")});
  }
}

} // namespace ghostnet::pool::detail
