#pragma once

// The pool actor's class, private to the pool module. Its methods live in
// one file per concept: pool.cpp (behaviour, draining, closing, stats),
// pool_leasing.cpp (choosing, leases, waiters, the control loop, timers),
// pool_members.cpp (opening and closing members, frames while not leased)
// and pool_health.cpp (idle timers and health checks). The bookkeeping that
// needs no actor is in ghostnet/pool/detail/ (waiter_queue, lease_table).

#include "ghostnet/pool/pool.hpp"
#include "ghostnet/pool/balancer.hpp"
#include "ghostnet/pool/circuit_breaker.hpp"

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

namespace ghostnet::pool::detail {

namespace tp = transports;
namespace sv = supervision;
using time_point = caf::actor_clock::time_point;

/// How long the members' supervisor may take to start one connection actor
/// (it only spawns it: the connect itself is asynchronous).
inline constexpr auto start_timeout = std::chrono::seconds(10);

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

inline constexpr size_t state_count = 6;

inline size_t index_of(member_state x) {
  return static_cast<size_t>(x);
}

inline const char* to_string(member_state x) {
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

inline caf::timespan not_negative(caf::timespan x) {
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

using waiter_list = waiter_queue<waiter>;
using lease_list = lease_table<caf::actor_addr>;

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
  member* take_idle();

  /// The endpoint for a new connection, if any breaker lets one through.
  std::optional<size_t> connect_endpoint(time_point now);

  // -- leasing ----------------------------------------------------------------

  /// Points `m`'s frames and close at `to` (one-way: a request to a broker
  /// that is gone is never answered in CAF 0.17.6).
  void route_to(member& m, const caf::actor& to);

  lease grant(member& m, const caf::actor& holder);

  /// Hands `m` to the first waiter. Precondition: waiters_ not empty.
  void serve_first_waiter(member& m);

  /// `m` is free (connected, released healthy, or passed a probe): to the
  /// first waiter, else idle, else closed.
  void make_available(member& m, bool keep_idle_since = false);

  caf::result<lease> acquire(caf::timespan timeout);

  /// Returns the lease `id`: none, or invalid_state for an unknown id.
  caf::error release(uint64_t id, bool healthy);

  /// A release sent as a request is answered (ok or invalid_state). One
  /// sent as a one-way message (`send`, `anon_send`) is not: the holder need
  /// not wait, and no stray ok reaches it; a failed one is logged instead.
  caf::result<caf::ok_atom> on_release(uint64_t id, bool healthy);

  caf::error refused(const char* operation) const;

  // -- the control loop -------------------------------------------------------

  /// Runs after every change: idle members to waiters, connects for unmet
  /// demand (waiters plus the min_idle deficit) while below max_connections
  /// and a breaker lets them through, and fails waiters nothing can serve.
  void pump();

  /// Every breaker is open and nothing could come free: waiting would only
  /// burn the waiters' timeouts. Fail them now with the last connect error.
  void fail_unreachable(time_point now);

  void fail_waiters(const caf::error& err);

  // -- members: opening -------------------------------------------------------

  void start_member(size_t ep, time_point now);

  void on_started(uint64_t id, caf::actor conn);

  /// Knows `m` by its actor from now on (its frames, its down_msg).
  void attach(member& m, tp::connection_actor conn);

  /// The member's handler saw the connection open. With greeting_frames,
  /// it counts as connected only once the greeting has arrived.
  void on_member_up(uint64_t id, const tp::connection_actor& conn);

  void on_connect_deadline(uint64_t id);

  void on_start_failed(uint64_t id, const caf::error& err);

  void on_connected(uint64_t id);

  void connect_failed(size_t ep, const caf::error& err);

  // -- members: closing -------------------------------------------------------

  /// Closes `m`: gracefully (flush, FIN, bounded by the drain timeout) or
  /// at once. Its slot stays taken until its actor is gone.
  void close_member(member& m, bool graceful, const char* why);

  void on_member_down(uint64_t id, const caf::error& reason);

  void on_holder_down(const caf::actor_addr& holder, const caf::error& reason);

  // -- frames while not leased ------------------------------------------------

  void on_frame(const tp::connection_actor& conn,
                const std::vector<char>& frame);

  /// Counts a frame that reached the pool instead of a holder and shows it
  /// to the user's handler.
  void idle_frame(const member& m, const std::vector<char>& frame);

  // -- health checks ----------------------------------------------------------

  void arm_idle_timers(member& m);

  void on_idle_timer(uint64_t id);

  void on_health_timer(uint64_t id);

  void start_probe(member& m);

  void on_probe_frame(member& m, const std::vector<char>& frame);

  void probe_passed(uint64_t id, uint64_t gen);

  void probe_failed(uint64_t id, uint64_t gen, const caf::error& why);

  // -- other timers -----------------------------------------------------------

  void arm_waiter_timer(time_point deadline);

  void on_waiter_timer(int64_t armed_for);

  void on_lifetime(uint64_t id);

  void on_lease_timer();

  // -- draining and closing ---------------------------------------------------

  caf::result<caf::ok_atom> drain();

  void check_drained();

  /// Stops handing out, then has the supervisor stop every member (leased
  /// ones too: their holders get `closed`), then exits with `reason`.
  void begin_close(caf::error reason);

  void finish();

  void on_supervisor_down(const caf::error& reason);

  // -- stats ------------------------------------------------------------------

  pool_stats make_stats() const;

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

  lease_list leases_;
  waiter_list waiters_;
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

} // namespace ghostnet::pool::detail
