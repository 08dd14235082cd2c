#include "ghostnet/pool/pool.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/delegated.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/send.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/unexpected_message.hpp"
#include "ghostnet/supervision/supervisor.hpp"
#include "ghostnet/transports/tcp_connection.hpp"
#include "ghostnet/pool/detail/lease_table.hpp"
#include "ghostnet/pool/detail/waiter_queue.hpp"
#include "member_handler.hpp"

namespace ghostnet::pool {

namespace {

namespace tp = transports;
namespace sv = supervision;
using time_point = caf::actor_clock::time_point;

// Messages the pool sends itself; never part of its public interface.

/// How long the members' supervisor may take to start one connection actor
/// (it only spawns it: the connect itself is asynchronous).
constexpr auto start_timeout = std::chrono::seconds(10);

/// Where a member is in its life. Every member counts towards
/// max_connections from `starting` until its actor is gone.
enum class member_state : uint8_t {
  starting,   ///< start_child sent to the supervisor, no actor yet
  connecting, ///< actor exists, connect under way
  idle,       ///< ready to be leased
  leased,     ///< held by a lease
  probing,    ///< idle, under a health check
  closing,    ///< asked to close (or failed), waiting for its down_msg
};

constexpr size_t state_count = 6;

size_t index_of(member_state x) {
  return static_cast<size_t>(x);
}

const char* to_string(member_state x) {
  switch (x) {
    case member_state::starting: return "starting";
    case member_state::connecting: return "connecting";
    case member_state::idle: return "idle";
    case member_state::leased: return "leased";
    case member_state::probing: return "probing";
    case member_state::closing: return "closing";
  }
  return "?";
}

caf::timespan not_negative(caf::timespan x) {
  return std::max(x, caf::timespan{0});
}

struct member {
  uint64_t id = 0;
  size_t ep = 0;
  member_state state = member_state::starting;
  tp::connection_actor conn;
  bool connected = false;   ///< was established (counts in created/closed)
  bool up_early = false;    ///< member_up came before the start reply
  int32_t greeting_left = 0; ///< greeting frames still to come (connecting)
  uint64_t lease_id = 0;    ///< while leased
  uint64_t times_leased = 0;
  time_point idle_since{};  ///< when it last became idle (released)
  time_point last_good{};   ///< released healthy or passed a probe
  bool idle_timer = false;  ///< an idle_timer message is on its way
  bool health_timer = false;
  bool expired = false;     ///< max_lifetime passed: close when free
  uint64_t probe_gen = 0;   ///< invalidates stale probe timers and replies
  std::vector<char> probe_reply;
};

/// An acquire waiting for a member (its deadline is the queue's).
struct waiter {
  caf::response_promise rp;
  caf::actor holder;
};

using waiter_queue = detail::waiter_queue<waiter>;
using lease_table = detail::lease_table<caf::actor_addr>;

struct endpoint_slot {
  tp::endpoint remote;
  circuit_breaker breaker;
  std::array<uint64_t, state_count> count{};
  uint64_t created = 0;
  uint64_t failed_connects = 0;

  uint64_t at(member_state x) const {
    return count[index_of(x)];
  }
};

enum class pool_state : uint8_t { running, draining, closed };

/// The pool actor. Dynamically typed inside (it also receives the members'
/// frames and its own timers), exposed as pool_actor. All bookkeeping is
/// single-threaded here; nothing is shared with other threads (a member's
/// frames go where the pool points them with set_receiver, see
/// member_handler.hpp).
class pool_impl : public caf::event_based_actor {
public:
  pool_impl(caf::actor_config& cfg, pool_options opts)
    : caf::event_based_actor(cfg), opts_(std::move(opts)),
      source_("pool:" + opts_.name),
      balancer_(opts_.balancing, std::random_device{}()) {
    for (auto& ep : opts_.endpoints)
      eps_.push_back(
        endpoint_slot{ep, circuit_breaker{opts_.breaker}, {}, 0, 0});
    auto attempts = static_cast<int64_t>(opts_.connect_retries) + 1;
    connect_wait_ = opts_.connect_timeout * attempts
                    + opts_.connect_backoff_max * 2 * opts_.connect_retries
                    + std::chrono::seconds(5);
    auto drain = not_negative(opts_.connection.timeouts.drain);
    member_shutdown_ = drain + std::chrono::seconds(1);
    close_wait_ = drain + std::chrono::seconds(2);
  }

  const char* name() const override {
    return "ghostnet.pool";
  }

  caf::behavior make_behavior() override;

  void on_exit() override {
    // Normally the members' supervisor is gone by now. If we were killed,
    // take it (and the members) along; nobody else would close them.
    if (members_sup_)
      caf::anon_send_exit(members_sup_, caf::exit_reason::kill);
    auto gone = make_error(errc::invalid_state, "acquire", opts_.name, 0,
                           "the pool stopped");
    for (auto& w : waiters_.take_all())
      w.rp.deliver(gone);
    for (auto& rp : drain_promises_)
      rp.deliver(caf::ok_atom::value);
    for (auto& rp : close_promises_)
      rp.deliver(caf::ok_atom::value);
    // A member's handler holds the pool until its connection closes (the
    // members supervisor, killed above, closes them all).
    members_.clear();
    drain_promises_.clear();
    close_promises_.clear();
    holders_.clear();
    leases_.clear();
    self_ = nullptr; // a strong handle to ourselves: a cycle until reset
  }

private:
  // -- bookkeeping ------------------------------------------------------------

  uint64_t count(member_state x) const {
    return count_[index_of(x)];
  }

  /// Leased or about to be: what balancing calls outstanding.
  uint64_t outstanding(size_t ep) const {
    const auto& e = eps_[ep];
    return e.at(member_state::leased) + e.at(member_state::starting)
           + e.at(member_state::connecting);
  }

  member* find(uint64_t id) {
    auto i = members_.find(id);
    return i != members_.end() ? &i->second : nullptr;
  }

  void set_state(member& m, member_state to) {
    if (m.state == member_state::idle)
      idle_.erase({m.idle_since, m.id});
    --count_[index_of(m.state)];
    --eps_[m.ep].count[index_of(m.state)];
    m.state = to;
    ++count_[index_of(to)];
    ++eps_[m.ep].count[index_of(to)];
    if (to == member_state::idle)
      idle_.emplace(m.idle_since, m.id);
  }

  member& add_member(size_t ep) {
    auto id = next_member_++;
    auto& m = members_[id];
    m.id = id;
    m.ep = ep;
    ++count_[index_of(m.state)];
    ++eps_[ep].count[index_of(m.state)];
    peak_size_ = std::max<uint64_t>(peak_size_, members_.size());
    return m;
  }

  void remove_member(uint64_t id) {
    auto i = members_.find(id);
    if (i == members_.end())
      return;
    auto& m = i->second;
    if (m.state == member_state::idle)
      idle_.erase({m.idle_since, m.id});
    --count_[index_of(m.state)];
    --eps_[m.ep].count[index_of(m.state)];
    if (m.conn)
      by_addr_.erase(m.conn.address());
    members_.erase(i);
  }

  /// Holders are monitored from their first acquire until they die:
  /// monitoring and demonitoring per lease would cost more than the lease
  /// itself (a busy holder acquires thousands of times). The entry goes with
  /// the holder's down_msg.
  void watch(const caf::actor& holder) {
    if (holders_.insert(holder.address()).second)
      monitor(holder);
  }

  // -- choosing ---------------------------------------------------------------

  /// An idle member to lease: balancing among the endpoints that have one,
  /// then the reuse order within that endpoint. Null if none is idle.
  member* take_idle() {
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

  /// The endpoint for a new connection, if any breaker lets one through.
  std::optional<size_t> connect_endpoint(time_point now) {
    candidates_.clear();
    for (size_t i = 0; i < eps_.size(); ++i)
      if (eps_[i].breaker.allows(now))
        candidates_.push_back(candidate{i, outstanding(i)});
    if (candidates_.empty())
      return std::nullopt;
    return candidates_[balancer_.pick(candidates_)].endpoint;
  }

  // -- leasing ----------------------------------------------------------------

  /// Points `m`'s frames and close at `to` (one-way: a request to a broker
  /// that is gone is never answered in CAF 0.17.6).
  void route_to(member& m, const caf::actor& to) {
    if (m.conn)
      caf::anon_send(m.conn, set_receiver_atom::value, to);
  }

  lease grant(member& m, const caf::actor& holder) {
    auto id = leases_.issue(m.id, holder.address(), clock().now());
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
    return lease{id, m.conn, eps_[m.ep].remote};
  }

  /// Hands `m` to the first waiter. Precondition: waiters_ not empty.
  void serve_first_waiter(member& m) {
    auto w = waiters_.pop_front();
    w.rp.deliver(grant(m, w.holder));
  }

  /// `m` is free (connected, released healthy, or passed a probe): to the
  /// first waiter, else idle, else closed.
  void make_available(member& m, bool keep_idle_since = false) {
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

  caf::result<lease> acquire(caf::timespan timeout) {
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

  /// Returns the lease `id`: none, or invalid_state for an unknown id.
  caf::error release(uint64_t id, bool healthy) {
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

  /// A release sent as a request is answered (ok or invalid_state). One
  /// sent as a one-way message (`send`, `anon_send`) is not: the holder need
  /// not wait, and no stray ok reaches it; a failed one is logged instead.
  caf::result<caf::ok_atom> on_release(uint64_t id, bool healthy) {
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

  caf::error refused(const char* operation) const {
    return make_error(errc::invalid_state, operation, opts_.name, 0,
                      state_ == pool_state::draining ? "the pool is draining"
                                                     : "the pool is closed");
  }

  // -- the control loop -------------------------------------------------------

  /// Runs after every change: idle members to waiters, connects for unmet
  /// demand (waiters plus the min_idle deficit) while below max_connections
  /// and a breaker lets them through, and fails waiters nothing can serve.
  void pump() {
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

  /// Every breaker is open and nothing could come free: waiting would only
  /// burn the waiters' timeouts. Fail them now with the last connect error.
  void fail_unreachable(time_point now) {
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

  void fail_waiters(const caf::error& err) {
    for (auto& w : waiters_.take_all())
      w.rp.deliver(err);
  }

  // -- members: opening -------------------------------------------------------

  void start_member(size_t ep, time_point now) {
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

  void on_started(uint64_t id, caf::actor conn) {
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

  /// Knows `m` by its actor from now on (its frames, its down_msg).
  void attach(member& m, tp::connection_actor conn) {
    if (m.conn)
      return; // known since its member_up
    m.conn = std::move(conn);
    by_addr_.emplace(m.conn.address(), m.id);
    monitor(m.conn);
  }

  /// The member's handler saw the connection open. With greeting_frames,
  /// it counts as connected only once the greeting has arrived.
  void on_member_up(uint64_t id, const tp::connection_actor& conn) {
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

  void on_connect_deadline(uint64_t id) {
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

  void on_start_failed(uint64_t id, const caf::error& err) {
    auto* m = find(id);
    if (m == nullptr)
      return;
    if (state_ == pool_state::running)
      connect_failed(m->ep, err);
    remove_member(id);
    pump();
    check_drained();
  }

  void on_connected(uint64_t id) {
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

  void connect_failed(size_t ep, const caf::error& err) {
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

  // -- members: closing -------------------------------------------------------

  /// Closes `m`: gracefully (flush, FIN, bounded by the drain timeout) or
  /// at once. Its slot stays taken until its actor is gone.
  void close_member(member& m, bool graceful, const char* why) {
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

  void on_member_down(uint64_t id, const caf::error& reason) {
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

  void on_holder_down(const caf::actor_addr& holder, const caf::error& reason) {
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

  // -- frames while not leased ------------------------------------------------

  void on_frame(const tp::connection_actor& conn,
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

  /// Counts a frame that reached the pool instead of a holder and shows it
  /// to the user's handler.
  void idle_frame(const member& m, const std::vector<char>& frame) {
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

  // -- health checks ----------------------------------------------------------

  void arm_idle_timers(member& m) {
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

  void on_idle_timer(uint64_t id) {
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

  void on_health_timer(uint64_t id) {
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

  void start_probe(member& m) {
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

  void on_probe_frame(member& m, const std::vector<char>& frame) {
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

  void probe_passed(uint64_t id, uint64_t gen) {
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

  void probe_failed(uint64_t id, uint64_t gen, const caf::error& why) {
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

  // -- other timers -----------------------------------------------------------

  void arm_waiter_timer(time_point deadline) {
    armed_.insert(deadline);
    delayed_send(this, not_negative(deadline - clock().now()),
                 pool_waiter_timer_atom::value,
                 static_cast<int64_t>(deadline.time_since_epoch().count()));
  }

  void on_waiter_timer(int64_t armed_for) {
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

  void on_lifetime(uint64_t id) {
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

  void on_lease_timer() {
    lease_timer_armed_ = false;
    auto now = clock().now();
    auto next = leases_.report_overdue(now, opts_.max_lease, [&](
                                         uint64_t id,
                                         const lease_table::record& rec) {
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

  // -- draining and closing ---------------------------------------------------

  caf::result<caf::ok_atom> drain() {
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

  void check_drained() {
    if (state_ != pool_state::draining || !members_.empty())
      return;
    for (auto& rp : drain_promises_)
      rp.deliver(caf::ok_atom::value);
    drain_promises_.clear();
  }

  /// Stops handing out, then has the supervisor stop every member (leased
  /// ones too: their holders get `closed`), then exits with `reason`.
  void begin_close(caf::error reason) {
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

  void finish() {
    for (auto& rp : drain_promises_)
      rp.deliver(caf::ok_atom::value);
    drain_promises_.clear();
    for (auto& rp : close_promises_)
      rp.deliver(caf::ok_atom::value);
    close_promises_.clear();
    members_sup_ = nullptr; // gone: on_exit need not kill it
    quit(exit_reason_);
  }

  void on_supervisor_down(const caf::error& reason) {
    if (closing_)
      return; // expected; finish() follows its shutdown reply
    log::error(source_, "members_supervisor_down", {log::kv("reason", reason)});
    members_sup_ = nullptr;
    quit(make_error(errc::invalid_state, "pool", opts_.name, 0,
                    "the members' supervisor exited: " + describe(reason)));
  }

  // -- stats ------------------------------------------------------------------

  pool_stats make_stats() const {
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

  // -- state ------------------------------------------------------------------

  pool_options opts_;
  std::string source_;
  caf::actor self_;
  sv::supervisor_actor members_sup_;
  std::vector<endpoint_slot> eps_;
  balancer balancer_;
  std::vector<candidate> candidates_; ///< scratch space of the choosers
  pool_state state_ = pool_state::running;
  bool closing_ = false;
  caf::error exit_reason_;
  caf::timespan connect_wait_{0};
  caf::timespan member_shutdown_{0};
  caf::timespan close_wait_{0};

  std::map<uint64_t, member> members_;
  std::unordered_map<caf::actor_addr, uint64_t> by_addr_;
  std::set<std::pair<time_point, uint64_t>> idle_; ///< by idle_since
  std::array<uint64_t, state_count> count_{};

  lease_table leases_;
  waiter_queue waiters_;
  std::set<time_point> armed_; ///< deadlines a waiter timer is on its way for
  std::unordered_set<caf::actor_addr> holders_; ///< monitored holders
  bool lease_timer_armed_ = false;

  std::vector<caf::response_promise> drain_promises_;
  std::vector<caf::response_promise> close_promises_;

  caf::error last_connect_error_;
  uint64_t next_member_ = 1;
  uint64_t peak_size_ = 0;
  uint64_t created_ = 0;
  uint64_t closed_ = 0;
  uint64_t failed_connects_ = 0;
  uint64_t acquired_ = 0;
  uint64_t reuses_ = 0;
  uint64_t timeouts_ = 0;
  uint64_t rejected_ = 0;
  uint64_t unreachable_ = 0;
  uint64_t evictions_ = 0;
  uint64_t discarded_ = 0;
  uint64_t reclaimed_ = 0;
  uint64_t long_leases_ = 0;
  uint64_t health_checks_ = 0;
  uint64_t health_failures_ = 0;
  uint64_t idle_frames_ = 0;
};

sv::supervisor_spec members_spec(const pool_options& opts,
                                 caf::timespan shutdown) {
  std::vector<tp::connect_options> targets;
  for (auto& ep : opts.endpoints)
    targets.push_back(connect_options_for(opts, ep));
  sv::child_spec member;
  member.id = "member";
  member.restart = sv::restart_type::temporary;
  member.shutdown = sv::shutdown_policy::after(shutdown);
  member.start = [targets](caf::actor_system& sys, const caf::message& args)
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
                                                   args.get_as<caf::actor>(2)));
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

} // namespace

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
