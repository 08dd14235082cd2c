// The pool actor against real echo services on loopback.

#include "pool_fixture.hpp"

#include <arpa/inet.h>

#include <mutex>
#include <set>

#include "ghostnet/transports/tls_context.hpp"
#include "../transports/tls_test_certs.hpp"

using namespace ghostnet;
using namespace ghostnet::test;

namespace {

/// A loopback endpoint nobody listens on.
tp::endpoint closed_port() {
  return tp::endpoint{"127.0.0.1", unused_port()};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(pool_suite, pool_fixture)

// -- reuse ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(an_idle_connection_comes_back_before_a_new_one_is_opened) {
  auto svc = start_backend();
  auto pool = spawn(options_for({svc.bound}));
  auto first = must_acquire(pool);
  BOOST_TEST(first.remote == svc.bound);
  BOOST_TEST(round_trip(first, "hello") == "hello");
  BOOST_TEST(!release(pool, first.id));
  auto second = must_acquire(pool);
  BOOST_TEST((second.connection == first.connection));
  BOOST_TEST(second.id != first.id);
  BOOST_TEST(round_trip(second, "again") == "again");
  BOOST_TEST(!release(pool, second.id));
  auto s = stats(pool);
  BOOST_TEST(s.created == 1u);
  BOOST_TEST(s.acquired == 2u);
  BOOST_TEST(s.reuses == 1u);
  BOOST_TEST(s.idle == 1u);
  BOOST_TEST(listener_info_of(svc.root).accepted == 1u);
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_receive_window_holds_frames_until_the_holder_grants_more) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.receive_window = 2;
  auto pool = spawn(opts);
  auto l = must_acquire(pool);
  // Five echoes: two arrive, three wait for demand (in the connection, or
  // in the kernel once it stopped reading).
  for (int i = 0; i < 5; ++i)
    self->request(l.connection, patience, send_atom::value,
                  std::vector<char>{static_cast<char>('a' + i)})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  std::string got;
  auto take = [&](caf::timespan wait) {
    bool any = false;
    self->receive(
      [&](received_atom, tp::connection_actor&, std::vector<char>& f) {
        got.append(f.begin(), f.end());
        any = true;
      },
      caf::after(wait) >> [] {});
    return any;
  };
  while (got.size() < 2 && take(patience)) {
  }
  BOOST_TEST(got == "ab");
  BOOST_TEST(!take(std::chrono::milliseconds(200))); // no credit left
  self->send(l.connection, demand_atom::value, uint32_t{3});
  while (got.size() < 5 && take(patience)) {
  }
  BOOST_TEST(got == "abcde"); // in order, none lost
  // Released and leased again: the next holder starts with a full window.
  BOOST_TEST(!release(pool, l.id));
  auto again = must_acquire(pool);
  BOOST_TEST((again.connection == l.connection));
  BOOST_TEST(round_trip(again, "x") == "x");
  BOOST_TEST(round_trip(again, "y") == "y");
  BOOST_TEST(!release(pool, again.id));
  auto bad = options_for({svc.bound});
  bad.receive_window = -1;
  BOOST_TEST(is(pl::validate(bad), errc::invalid_configuration));
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(lifo_reuses_the_last_released_and_fifo_the_first) {
  auto svc = start_backend();
  for (auto order : {pl::reuse_order::lifo, pl::reuse_order::fifo}) {
    BOOST_TEST_CONTEXT("reuse " << to_string(order)) {
      auto opts = options_for({svc.bound});
      opts.reuse = order;
      auto pool = spawn(opts);
      auto a = must_acquire(pool);
      auto b = must_acquire(pool);
      BOOST_REQUIRE(a.connection != b.connection);
      BOOST_TEST(!release(pool, a.id));
      BOOST_TEST(!release(pool, b.id));
      auto next = must_acquire(pool);
      auto want = order == pl::reuse_order::lifo ? b.connection : a.connection;
      BOOST_TEST((next.connection == want));
      BOOST_TEST(!release(pool, next.id));
      close(pool);
    }
  }
  stop(svc.root);
}

// -- limits and waiting --------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_thousand_concurrent_acquirers_never_exceed_max_connections) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.max_connections = 10;
  opts.max_idle = 10;
  opts.max_waiters = 1000;
  auto pool = spawn(opts);
  constexpr int n = 1000;
  for (int i = 0; i < n; ++i)
    spawn_acquirer(pool, i, true);
  int ok = 0;
  size_t peak_active = 0;
  for (int i = 0; i < n; ++i) {
    auto [index, err] = next_report();
    BOOST_REQUIRE_MESSAGE(index >= 0, "report " << i << " missing");
    if (!err)
      ++ok;
    else
      BOOST_TEST_MESSAGE("acquirer " << index << ": " << describe(err));
    if (i % 100 == 0) // the server's view, sampled while the storm runs
      peak_active = std::max<size_t>(peak_active,
                                     listener_info_of(svc.root).active);
  }
  BOOST_TEST(ok == n);
  // Acquirers report before they release, so the last releases may still
  // be on their way.
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& st) {
    return st.in_use == 0u;
  }));
  auto s = stats(pool);
  BOOST_TEST(s.peak_size <= 10u);
  BOOST_TEST(s.acquired == static_cast<uint64_t>(n));
  BOOST_TEST(s.created <= 10u);
  BOOST_TEST(s.rejected == 0u);
  BOOST_TEST(s.timeouts == 0u);
  BOOST_TEST(s.waiters == 0u);
  BOOST_TEST(s.in_use == 0u);
  BOOST_TEST(peak_active <= 10u);
  // Every connection the server ever accepted fits the limit: none was
  // opened beyond it, not even for a moment.
  BOOST_TEST(listener_info_of(svc.root).accepted <= 10u);
  BOOST_TEST(s.reuses >= static_cast<uint64_t>(n) - 10u);
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(waiters_are_served_in_arrival_order) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.max_connections = 1;
  opts.max_idle = 1;
  auto pool = spawn(opts);
  auto held = must_acquire(pool);
  constexpr int n = 5;
  for (int i = 0; i < n; ++i) {
    spawn_acquirer(pool, i);
    // The next one is spawned only once this one waits: arrival order is
    // the spawn order.
    BOOST_REQUIRE(stats_reach(pool, [&](const pl::pool_stats& s) {
      return s.waiters == static_cast<uint64_t>(i + 1);
    }));
  }
  BOOST_TEST(!release(pool, held.id));
  std::vector<int> order;
  for (int i = 0; i < n; ++i) {
    auto [index, err] = next_report();
    BOOST_TEST(!err, describe(err));
    order.push_back(index);
  }
  BOOST_TEST(order == (std::vector<int>{0, 1, 2, 3, 4}),
             boost::test_tools::per_element());
  BOOST_TEST(stats(pool).created == 1u); // one connection served them all
  close(pool);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(an_acquire_times_out_when_nothing_comes_free) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.max_connections = 1;
  opts.max_idle = 1;
  auto pool = spawn(opts);
  auto held = must_acquire(pool);
  auto t0 = std::chrono::steady_clock::now();
  auto late = acquire(pool, 200ms);
  auto waited = std::chrono::steady_clock::now() - t0;
  BOOST_REQUIRE(!late);
  BOOST_TEST(is(error_of(late), errc::timeout), why(late));
  BOOST_TEST((waited >= 200ms));
  BOOST_TEST((waited < 5s));
  auto s = stats(pool);
  BOOST_TEST(s.timeouts == 1u);
  BOOST_TEST(s.waiters == 0u);
  // Timeout 0: an idle connection or an error at once, never a wait.
  BOOST_TEST(is(error_of(acquire(pool, caf::timespan{0})), errc::timeout));
  // The pool is unaffected.
  BOOST_TEST(!release(pool, held.id));
  auto again = must_acquire(pool);
  BOOST_TEST((again.connection == held.connection));
  BOOST_TEST(!release(pool, again.id));
  close(pool);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_waiter_without_a_deadline_waits_until_served) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.max_connections = 1;
  opts.max_idle = 1;
  auto pool = spawn(opts);
  auto held = must_acquire(pool);
  // timespan::max(): no deadline at all (the pool must not overflow).
  auto pending = self->request(pool, patience, acquire_atom::value,
                               caf::timespan::max());
  BOOST_REQUIRE(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.waiters == 1u;
  }));
  BOOST_TEST(!release(pool, held.id));
  pl::lease got;
  pending.receive([&](pl::lease& l) { got = l; },
                  [](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST((got.connection == held.connection));
  BOOST_TEST(!release(pool, got.id));
  BOOST_TEST(stats(pool).timeouts == 0u);
  close(pool);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_full_wait_queue_fails_acquire_at_once_with_pool_exhausted) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.max_connections = 1;
  opts.max_idle = 1;
  opts.max_waiters = 2;
  auto pool = spawn(opts);
  auto held = must_acquire(pool);
  for (int i = 0; i < 2; ++i) {
    spawn_acquirer(pool, i);
    BOOST_REQUIRE(stats_reach(pool, [&](const pl::pool_stats& s) {
      return s.waiters == static_cast<uint64_t>(i + 1);
    }));
  }
  auto t0 = std::chrono::steady_clock::now();
  auto refused = acquire(pool, patience);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(is(error_of(refused), errc::pool_exhausted), why(refused));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s)); // did not wait
  BOOST_TEST(stats(pool).rejected == 1u);
  // Those waiting are still served, in order.
  BOOST_TEST(!release(pool, held.id));
  BOOST_TEST(next_report().first == 0);
  BOOST_TEST(next_report().first == 1);
  auto s = stats(pool);
  BOOST_TEST(s.size == 1u);
  BOOST_TEST(s.waiters == 0u);
  close(pool);
  stop(svc.root);
}

// -- idle connections ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(idle_connections_are_closed_after_idle_timeout) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.idle_timeout = 200ms;
  auto pool = spawn(opts);
  std::vector<pl::lease> ls;
  for (int i = 0; i < 3; ++i)
    ls.push_back(must_acquire(pool));
  auto t0 = std::chrono::steady_clock::now();
  for (auto& l : ls)
    BOOST_TEST(!release(pool, l.id));
  BOOST_TEST(stats(pool).idle == 3u);
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.size == 0u && s.evictions == 3u && s.closed == 3u;
  }));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 200ms));
  BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == 0; }));
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(min_idle_connections_are_opened_at_start_and_refilled) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.min_idle = 2;
  opts.max_idle = 4;
  opts.idle_timeout = 200ms;
  auto pool = spawn(opts);
  // Pre-warmed without any acquire.
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.idle == 2u && s.created == 2u;
  }));
  auto a = must_acquire(pool);
  auto b = must_acquire(pool);
  // Both idle ones are leased; two more are opened to be ready.
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.idle == 2u && s.in_use == 2u && s.created == 4u;
  }));
  BOOST_TEST(!release(pool, a.id));
  BOOST_TEST(!release(pool, b.id));
  // Idle eviction stops at min_idle.
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.idle == 2u && s.evictions == 2u && s.size == 2u;
  }));
  // A lost idle connection is replaced too.
  kill_server_connections(svc.root);
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.closed >= 4u && s.idle == 2u && s.created >= 6u;
  }));
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_connection_whose_peer_closed_while_idle_is_never_handed_out) {
  auto svc = start_backend();
  auto pool = spawn(options_for({svc.bound}));
  auto first = must_acquire(pool);
  BOOST_TEST(!release(pool, first.id));
  kill_server_connections(svc.root);
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.idle == 0u && s.closed == 1u;
  }));
  auto next = must_acquire(pool);
  BOOST_TEST((next.connection != first.connection));
  BOOST_TEST(round_trip(next, "fresh") == "fresh");
  BOOST_TEST(!release(pool, next.id));
  close(pool);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_connection_older_than_max_lifetime_is_retired) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.max_lifetime = 200ms;
  auto pool = spawn(opts);
  auto l = must_acquire(pool);
  BOOST_TEST(!release(pool, l.id));
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.size == 0u && s.evictions == 1u && s.closed == 1u;
  }));
  close(pool);
  stop(svc.root);
}

// -- health --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_health_check_evicts_a_member_whose_peer_stopped_answering) {
  auto mute = std::make_shared<std::atomic<bool>>(false);
  auto backend_opts = backend();
  backend_opts.handler = [mute] { return std::make_unique<mutable_echo>(mute); };
  auto svc = start_backend(backend_opts);
  auto opts = options_for({svc.bound});
  opts.min_idle = 1;
  opts.health.interval = 50ms;
  opts.health.timeout = 200ms;
  opts.health.request = {'p', 'i', 'n', 'g'};
  opts.health.expected_reply = {'p', 'i', 'n', 'g'};
  auto pool = spawn(opts);
  // Probes pass while the peer answers.
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.health_checks >= 3u && s.idle == 1u;
  }));
  BOOST_TEST(stats(pool).health_failures == 0u);
  auto l = must_acquire(pool);
  auto member = l.connection;
  BOOST_TEST(!release(pool, l.id));
  self->monitor(member);
  // The peer stays connected but stops answering: the probe times out, the
  // member is evicted (its actor ends) and min_idle opens a replacement.
  *mute = true;
  bool evicted = false;
  self->receive([&](caf::down_msg& msg) { evicted = msg.source == member.address(); },
                caf::after(patience) >> [] { BOOST_FAIL("member not evicted"); });
  BOOST_TEST(evicted);
  auto s = stats(pool);
  BOOST_TEST(s.health_failures >= 1u);
  BOOST_TEST(s.evictions >= 1u);
  *mute = false;
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.idle == 1u;
  }));
  auto fresh = must_acquire(pool);
  BOOST_TEST((fresh.connection != member));
  BOOST_TEST(round_trip(fresh, "still there?") == "still there?");
  BOOST_TEST(!release(pool, fresh.id));
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_tcp_level_health_check_passes_on_an_open_connection) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.min_idle = 1;
  opts.health.interval = 50ms;
  auto pool = spawn(opts);
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.health_checks >= 3u;
  }));
  auto s = stats(pool);
  BOOST_TEST(s.health_failures == 0u);
  BOOST_TEST(s.created == 1u);
  close(pool);
  stop(svc.root);
}

// -- holders -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_dead_holder_loses_its_lease_and_its_connection_is_closed) {
  auto svc = start_backend();
  auto pool = spawn(options_for({svc.bound}));
  // (Arguments passed to spawn, not captured: CAF 0.17.6 dereferences a
  // null pointer for a function actor spawned without any, which UBSan
  // reports.)
  auto holder = sys.spawn(
    [](caf::event_based_actor* ac, pl::pool_actor pool,
       caf::actor report) -> caf::behavior {
      ac->request(pool, patience, acquire_atom::value)
        .then([=](pl::lease& l) { ac->send(report, l); },
              [=](caf::error& err) { ac->quit(err); });
      return {[](closed_atom, tp::connection_actor&, caf::error&) {}};
    },
    pool, caf::actor{self});
  pl::lease l;
  self->receive([&](pl::lease& x) { l = x; },
                caf::after(patience) >> [] { BOOST_FAIL("holder got no lease"); });
  BOOST_REQUIRE(l.connection);
  self->monitor(l.connection);
  self->send_exit(holder, caf::exit_reason::kill); // dies holding the lease
  self->receive([&](caf::down_msg& msg) { BOOST_TEST((msg.source == l.connection.address())); },
                caf::after(patience) >> [] { BOOST_FAIL("connection not closed"); });
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.reclaimed == 1u && s.in_use == 0u && s.leases == 0u && s.size == 0u;
  }));
  // Its lease is gone for good; the pool serves others as before.
  BOOST_TEST(is(release(pool, l.id), errc::invalid_state));
  auto next = must_acquire(pool);
  BOOST_TEST(round_trip(next, "next") == "next");
  BOOST_TEST(!release(pool, next.id));
  close(pool);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_backend_killed_mid_lease_reaches_the_holder_and_the_member_is_replaced) {
  auto svc = start_backend();
  auto port = svc.bound.port;
  auto opts = options_for({svc.bound});
  opts.min_idle = 1;
  opts.breaker.failure_threshold = 2;
  opts.breaker.cooldown = 100ms;
  auto pool = spawn(opts);
  auto l = must_acquire(pool);
  BOOST_TEST(round_trip(l, "before") == "before");
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) { return s.idle == 1u; }));
  stop(svc.root); // the backend goes away with the lease held
  caf::error reason;
  bool closed = false;
  self->receive(
    [&](closed_atom, tp::connection_actor& conn, caf::error& err) {
      closed = conn == l.connection;
      reason = err;
    },
    caf::after(patience) >> [] { BOOST_FAIL("holder not told"); });
  BOOST_TEST(closed);
  // (A request to the dead connection would fail only at its own timeout:
  // CAF 0.17.6 does not bounce requests to a broker that is gone, and the
  // request leaks in its mailbox. closed_atom is the holder's signal.)
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.in_use == 0u && s.idle == 0u && s.closed == 2u && s.leases == 1u;
  }));
  BOOST_TEST(!release(pool, l.id)); // fine: its connection died
  // While the backend is down, refills fail and the breaker opens.
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.failed_connects >= 2u && s.endpoints[0].breaker_opened >= 1u;
  }));
  // Back on the same port: min_idle brings a replacement by itself.
  auto again = start_backend(backend(port));
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.idle == 1u && s.created == 3u
           && s.endpoints[0].breaker == pl::breaker_state::closed;
  }));
  auto fresh = must_acquire(pool);
  BOOST_TEST((fresh.connection != l.connection));
  BOOST_TEST(round_trip(fresh, "after") == "after");
  BOOST_TEST(!release(pool, fresh.id));
  close(pool);
  stop(again.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_connection_released_unhealthy_is_closed_not_reused) {
  auto svc = start_backend();
  auto pool = spawn(options_for({svc.bound}));
  auto l = must_acquire(pool);
  self->monitor(l.connection);
  BOOST_TEST(!release(pool, l.id, false));
  self->receive([](caf::down_msg&) {},
                caf::after(patience) >> [] { BOOST_FAIL("not closed"); });
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.discarded == 1u && s.size == 0u && s.closed == 1u;
  }));
  auto next = must_acquire(pool);
  BOOST_TEST((next.connection != l.connection));
  BOOST_TEST(!release(pool, next.id));
  close(pool);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_lease_held_past_max_lease_is_reported) {
  captured_warnings warnings;
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.max_lease = 100ms;
  auto pool = spawn(opts);
  auto l = must_acquire(pool);
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.long_leases == 1u;
  }));
  BOOST_TEST(!release(pool, l.id)); // reported, not revoked
  BOOST_TEST(warnings.count("lease_held_too_long") >= 1u);
  close(pool);
  stop(svc.root);
}

// -- several endpoints ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_dead_endpoint_opens_its_breaker_then_half_opens_and_closes) {
  auto a = start_backend();
  auto b = start_backend();
  auto b_port = b.bound.port;
  auto opts = options_for({a.bound, b.bound});
  opts.breaker.failure_threshold = 2;
  opts.breaker.cooldown = 300ms;
  opts.max_connections = 40;
  opts.max_idle = 20;
  auto pool = spawn(opts);
  stop(b.root); // endpoint b is down: its connects are refused
  std::vector<pl::lease> held;
  for (int i = 0; i < 6; ++i) {
    auto l = acquire(pool);
    BOOST_REQUIRE_MESSAGE(l, why(l)); // never fails: a serves
    BOOST_TEST(l->remote == a.bound);
    held.push_back(*l);
  }
  auto s = stats(pool);
  BOOST_TEST(s.endpoints[1].breaker == pl::breaker_state::open);
  BOOST_TEST(s.endpoints[1].failed_connects == 2u); // then it was skipped
  BOOST_TEST(s.endpoints[1].breaker_opened == 1u);
  BOOST_TEST(s.endpoints[0].breaker == pl::breaker_state::closed);
  for (auto& l : held)
    BOOST_TEST(!release(pool, l.id));
  held.clear();
  // b comes back. After the cool-down, the next connect to b is the
  // half-open probe; it succeeds and closes the breaker. Leases are taken
  // in rounds (more than are idle, so that new connects happen) until one
  // lands on b.
  auto b2 = start_backend(backend(b_port));
  bool reached_b = false;
  for (int round = 0; round < 100 && !reached_b; ++round) {
    auto idle = stats(pool).idle;
    for (uint64_t i = 0; i < idle + 2; ++i) {
      auto l = acquire(pool);
      BOOST_REQUIRE_MESSAGE(l, why(l));
      reached_b = reached_b || l->remote == b2.bound;
      held.push_back(*l);
    }
    for (auto& l : held)
      BOOST_TEST(!release(pool, l.id));
    held.clear();
    if (!reached_b)
      std::this_thread::sleep_for(50ms); // the cool-down is time, on purpose
  }
  BOOST_TEST(reached_b);
  s = stats(pool);
  BOOST_TEST(s.endpoints[1].breaker == pl::breaker_state::closed);
  BOOST_TEST(s.endpoints[1].breaker_probes >= 1u);
  BOOST_TEST(s.endpoints[1].created >= 1u);
  close(pool);
  stop(a.root);
  stop(b2.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(when_every_endpoint_is_down_acquire_fails_fast_with_circuit_open) {
  auto opts = options_for({closed_port(), closed_port()});
  opts.breaker.failure_threshold = 1;
  opts.breaker.cooldown = 30s;
  auto pool = spawn(opts);
  // The acquire may wait up to `patience`; it fails before that because
  // both breakers open (a timeout would be errc::timeout).
  auto l = acquire(pool, patience);
  BOOST_REQUIRE(!l);
  BOOST_TEST(is(error_of(l), errc::circuit_open), why(l));
  BOOST_TEST(is_temporary(errc::circuit_open));
  auto ctx = context_of(error_of(l));
  BOOST_TEST(ctx.operation == "acquire");
  // The detail names the cause: the last connect error.
  BOOST_TEST(ctx.detail.find("connection_refused") != std::string::npos,
             ctx.detail);
  auto s = stats(pool);
  BOOST_TEST(s.failed_connects == 2u); // one per endpoint, then both open
  BOOST_TEST(s.unreachable == 1u);
  BOOST_TEST(s.timeouts == 0u);
  BOOST_TEST(s.endpoints[0].breaker == pl::breaker_state::open);
  BOOST_TEST(s.endpoints[1].breaker == pl::breaker_state::open);
  // With both breakers open, the next acquire does not even try.
  auto again = acquire(pool, patience);
  BOOST_REQUIRE(!again);
  BOOST_TEST(is(error_of(again), errc::circuit_open), why(again));
  s = stats(pool);
  BOOST_TEST(s.failed_connects == 2u);
  BOOST_TEST(s.unreachable == 2u);
  close(pool);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(least_outstanding_spreads_leases_over_endpoints) {
  auto a = start_backend();
  auto b = start_backend();
  auto opts = options_for({a.bound, b.bound});
  opts.balancing = pl::balancing_policy::least_outstanding;
  auto pool = spawn(opts);
  std::vector<pl::lease> held;
  for (int i = 0; i < 6; ++i)
    held.push_back(must_acquire(pool));
  auto s = stats(pool);
  BOOST_TEST(s.endpoints[0].in_use == 3u);
  BOOST_TEST(s.endpoints[1].in_use == 3u);
  for (auto& l : held)
    BOOST_TEST(!release(pool, l.id));
  close(pool);
  stop(a.root);
  stop(b.root);
}

// -- servers that speak on their own -------------------------------------------

BOOST_AUTO_TEST_CASE(a_greeting_server_is_served_with_greeting_frames) {
  auto backend_opts = backend();
  backend_opts.handler = [] {
    return std::make_unique<greeting_echo>("220 hello");
  };
  auto svc = start_backend(backend_opts);
  auto greetings = std::make_shared<std::vector<std::string>>();
  auto mtx = std::make_shared<std::mutex>();
  auto opts = options_for({svc.bound});
  opts.greeting_frames = 1;
  opts.on_idle_frame = [=](const tp::endpoint& ep, const std::vector<char>& f) {
    std::lock_guard<std::mutex> guard{*mtx};
    greetings->emplace_back(ep.to_string() + " " + std::string(f.begin(), f.end()));
  };
  auto pool = spawn(opts);
  // Two connections, each straight to a waiting acquire (the route switches
  // to the holder only once the greeting arrived): no holder ever sees a
  // greeting, only its echo.
  auto a = must_acquire(pool);
  auto b = must_acquire(pool);
  BOOST_TEST(round_trip(a, "one") == "one");
  BOOST_TEST(round_trip(b, "two") == "two");
  BOOST_TEST(!release(pool, a.id));
  BOOST_TEST(!release(pool, b.id));
  auto again = must_acquire(pool);
  BOOST_TEST(round_trip(again, "three") == "three");
  BOOST_TEST(!release(pool, again.id));
  auto s = stats(pool);
  BOOST_TEST(s.created == 2u);
  BOOST_TEST(s.idle_frames == 2u);
  BOOST_TEST(s.evictions == 0u);
  BOOST_TEST(s.idle == 2u);
  {
    std::lock_guard<std::mutex> guard{*mtx};
    BOOST_TEST(greetings->size() == 2u);
    for (auto& g : *greetings)
      BOOST_TEST(g == svc.bound.to_string() + " 220 hello");
  }
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_missing_greeting_fails_the_connect) {
  auto svc = start_backend(); // a plain echo: it never greets
  auto opts = options_for({svc.bound});
  opts.greeting_frames = 1;
  opts.connect_timeout = 200ms;
  opts.breaker.failure_threshold = 1;
  opts.breaker.cooldown = 30s;
  auto pool = spawn(opts);
  auto l = acquire(pool);
  BOOST_REQUIRE(!l);
  // The only endpoint failed its connect (no greeting): breaker open.
  BOOST_TEST(is(error_of(l), errc::circuit_open), why(l));
  BOOST_TEST(context_of(error_of(l)).detail.find("greeting")
               != std::string::npos,
             why(l));
  auto s = stats(pool);
  BOOST_TEST(s.failed_connects == 1u);
  BOOST_TEST(s.created == 0u);
  BOOST_TEST(s.endpoints[0].breaker == pl::breaker_state::open);
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

/// Makes the server side of every connection of `root` send `text`.
void push_from_server(pool_fixture& f, const sv::supervisor_actor& root,
                      const std::string& text) {
  for (auto& c : f.children_of(f.connections_of(root)))
    f.self
      ->request(caf::actor_cast<tp::connection_actor>(c.actor), patience,
                send_atom::value, std::vector<char>(text.begin(), text.end()))
      .receive([](caf::ok_atom) {},
               [](caf::error& err) { BOOST_FAIL(describe(err)); });
}

BOOST_AUTO_TEST_CASE(data_while_idle_evicts_by_default_and_is_dropped_with_discard) {
  auto svc = start_backend();
  for (auto policy : {pl::idle_data_policy::evict,
                      pl::idle_data_policy::discard}) {
    BOOST_TEST_CONTEXT("idle_data " << pl::to_string(policy)) {
      // The server side of the previous round's connection is gone.
      BOOST_REQUIRE(eventually(
        [&] { return children_of(connections_of(svc.root)).empty(); }));
      auto seen = std::make_shared<std::atomic<int>>(0);
      auto opts = options_for({svc.bound});
      opts.idle_data = policy;
      opts.on_idle_frame = [seen](const tp::endpoint&,
                                  const std::vector<char>& f) {
        if (std::string(f.begin(), f.end()) == "notice")
          ++*seen;
      };
      auto pool = spawn(opts);
      auto l = must_acquire(pool);
      BOOST_TEST(round_trip(l, "hi") == "hi");
      BOOST_TEST(!release(pool, l.id));
      push_from_server(*this, svc.root, "notice");
      BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
        return s.idle_frames == 1u;
      }));
      BOOST_TEST(*seen == 1);
      if (policy == pl::idle_data_policy::evict) {
        BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
          return s.size == 0u && s.evictions == 1u;
        }));
      } else {
        auto s = stats(pool);
        BOOST_TEST(s.evictions == 0u);
        BOOST_TEST(s.idle == 1u);
        auto again = must_acquire(pool);
        BOOST_TEST((again.connection == l.connection));
        BOOST_TEST(round_trip(again, "still") == "still");
        BOOST_TEST(!release(pool, again.id));
      }
      close(pool);
    }
  }
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

// -- bad input -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(releasing_an_unknown_or_released_lease_is_a_typed_error_and_harmless) {
  auto svc = start_backend();
  auto pool = spawn(options_for({svc.bound}));
  auto err = release(pool, 12345);
  BOOST_TEST(is(err, errc::invalid_state), describe(err));
  BOOST_TEST(context_of(err).operation == "release");
  auto l = must_acquire(pool);
  BOOST_TEST(!release(pool, l.id));
  BOOST_TEST(is(release(pool, l.id), errc::invalid_state));
  BOOST_TEST(is(release(pool, 0), errc::invalid_state));
  auto s = stats(pool);
  BOOST_TEST(s.idle == 1u);
  BOOST_TEST(s.in_use == 0u);
  BOOST_TEST(s.leases == 0u);
  BOOST_TEST(s.size == 1u);
  BOOST_TEST(s.discarded == 0u);
  auto again = must_acquire(pool);
  BOOST_TEST((again.connection == l.connection));
  BOOST_TEST(round_trip(again, "ok") == "ok");
  BOOST_TEST(!release(pool, again.id));
  close(pool);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_one_way_release_returns_the_lease_without_an_answer) {
  captured_warnings warnings;
  auto svc = start_backend();
  auto pool = spawn(options_for({svc.bound}));
  auto l = must_acquire(pool);
  BOOST_TEST(round_trip(l, "one") == "one");
  // One-way from an actor: the pool must not answer (a stray ok would be an
  // unexpected message for a holder that did not ask).
  self->send(pool, release_atom::value, l.id, true);
  // The pool handles messages from one sender in order: the stats reply
  // comes after the release took effect, and after any answer to it.
  auto s = stats(pool);
  BOOST_TEST(s.idle == 1u);
  BOOST_TEST(s.in_use == 0u);
  BOOST_TEST(s.leases == 0u);
  bool answered = false;
  self->receive([&](caf::ok_atom) { answered = true; },
                [&](caf::error&) { answered = true; },
                caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(!answered);
  // The same connection comes back, and works.
  auto again = must_acquire(pool);
  BOOST_TEST((again.connection == l.connection));
  BOOST_TEST(round_trip(again, "two") == "two");
  // A one-way release of an unknown or released lease: no answer either,
  // a warning instead, and the pool is unaffected.
  self->send(pool, release_atom::value, l.id, true);
  caf::anon_send(pool, release_atom::value, uint64_t{12345}, false);
  s = stats(pool);
  BOOST_TEST(s.in_use == 1u);
  BOOST_TEST(s.leases == 1u);
  BOOST_TEST(s.discarded == 0u);
  // Unhealthy, one-way: closed, not reused.
  caf::anon_send(pool, release_atom::value, again.id, false);
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& x) {
    return x.discarded == 1u && x.size == 0u;
  }));
  answered = false;
  self->receive([&](caf::ok_atom) { answered = true; },
                [&](caf::error&) { answered = true; },
                caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(!answered);
  BOOST_TEST(warnings.count("release_failed") == 2u);
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(zero_or_negative_limits_and_timeouts_are_typed_errors) {
  auto svc = start_backend();
  auto base = options_for({svc.bound});
  for (int32_t bad : {0, -1}) {
    auto opts = base;
    opts.max_connections = bad;
    auto pool = pl::spawn_pool(sys, opts);
    BOOST_REQUIRE(!pool);
    BOOST_TEST(is(error_of(pool), errc::invalid_configuration));
    BOOST_TEST(context_of(pool.error()).detail.find("max_connections") == 0u,
               why(pool));
  }
  auto no_waiters = base;
  no_waiters.max_waiters = 0;
  BOOST_TEST(is(error_of(pl::spawn_pool(sys, no_waiters)), errc::invalid_configuration));
  auto child = pl::pool_child([&] { auto o = base; o.idle_timeout = -1s; return o; }());
  BOOST_TEST(is(error_of(child), errc::invalid_configuration));
  auto pool = spawn(base);
  auto neg = acquire(pool, -1s);
  BOOST_TEST(is(error_of(neg), errc::invalid_configuration), why(neg));
  auto l = must_acquire(pool);
  BOOST_TEST(!release(pool, l.id));
  close(pool);
  stop(svc.root);
}

// -- draining and closing ------------------------------------------------------

BOOST_AUTO_TEST_CASE(drain_refuses_new_leases_and_waits_for_the_held_ones) {
  auto svc = start_backend();
  auto pool = spawn(options_for({svc.bound}));
  auto kept = must_acquire(pool);
  auto returned = must_acquire(pool);
  BOOST_TEST(!release(pool, returned.id));
  auto drained = self->request(pool, patience, drain_atom::value);
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) {
    return s.draining && s.idle == 0u && s.size == 1u;
  }));
  auto refused = acquire(pool);
  BOOST_TEST(is(error_of(refused), errc::invalid_state), why(refused));
  BOOST_TEST(round_trip(kept, "still works") == "still works");
  BOOST_TEST(!release(pool, kept.id));
  drained.receive([](caf::ok_atom) {},
                  [](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(stats(pool).size == 0u);
  close(pool);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(close_ends_every_lease_and_frees_every_descriptor) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.min_idle = 2;
  auto pool = spawn(opts);
  auto l = must_acquire(pool);
  BOOST_TEST(stats_reach(pool, [](const pl::pool_stats& s) { return s.idle == 2u; }));
  self->monitor(pool);
  close(pool);
  bool told = false;
  bool pool_gone = false;
  for (int i = 0; i < 2 && !(told && pool_gone); ++i)
    self->receive(
      [&](closed_atom, tp::connection_actor& conn, caf::error&) {
        told = conn == l.connection;
      },
      [&](caf::down_msg& msg) {
        pool_gone = msg.source == pool.address();
        BOOST_TEST((!msg.reason || msg.reason == caf::exit_reason::normal),
                   describe(msg.reason));
      },
      caf::after(patience) >> [] { BOOST_FAIL("close did not finish"); });
  BOOST_TEST(told);
  BOOST_TEST(pool_gone);
  BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == 0; }));
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_pool_in_a_supervision_tree_closes_with_it) {
  auto svc = start_backend();
  auto opts = options_for({svc.bound});
  opts.min_idle = 1;
  auto child = pl::pool_child(opts);
  BOOST_REQUIRE(child);
  sv::supervisor_spec spec;
  spec.name = "pools";
  spec.children.push_back(*child);
  auto root = sv::spawn_supervisor(sys, spec);
  BOOST_REQUIRE(root);
  leftovers.push_back(caf::actor_cast<caf::actor>(*root));
  auto kids = children_of(*root);
  BOOST_REQUIRE_EQUAL(kids.size(), 1u);
  BOOST_TEST(kids[0].id == "test");
  auto pool = caf::actor_cast<pl::pool_actor>(kids[0].actor);
  auto l = must_acquire(pool);
  BOOST_TEST(round_trip(l, "tree") == "tree");
  BOOST_TEST(!release(pool, l.id));
  stop(*root); // the pool closes its members before it exits
  BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == 0; }));
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(members_speak_tls_when_the_connection_options_say_so) {
  const auto& certs = test_certs();
  auto make_holder = [](const tp::tls_options& o) {
    auto ctx = tp::make_tls_context(o);
    BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
    return std::make_shared<tp::tls_context_holder>(*ctx);
  };
  tp::tls_options server;
  server.certificate_chain_file = certs.server_cert;
  server.private_key_file = certs.server_key;
  auto backend_opts = backend();
  backend_opts.listener.connection.tls.context = make_holder(server);
  auto svc = start_backend(backend_opts);
  tp::tls_options client;
  client.role = tp::tls_role::client;
  client.ca_file = certs.ca_cert;
  client.server_name = "localhost";
  auto opts = options_for({svc.bound});
  opts.connection.tls.context = make_holder(client);
  auto pool = spawn(opts);
  auto first = must_acquire(pool);
  BOOST_TEST(round_trip(first, "over tls") == "over tls");
  BOOST_TEST(info_of(first.connection).tls.version == "TLSv1.3");
  BOOST_TEST(!release(pool, first.id));
  // Reused as it is: no second handshake.
  auto second = must_acquire(pool);
  BOOST_TEST((second.connection == first.connection));
  BOOST_TEST(!release(pool, second.id));
  // A backend whose certificate the pool does not trust fails the connect
  // with the handshake's reason.
  tp::tls_options rogue = server;
  rogue.certificate_chain_file = certs.rogue_cert;
  rogue.private_key_file = certs.rogue_key;
  auto rogue_opts = backend();
  rogue_opts.listener.connection.tls.context = make_holder(rogue);
  auto rogue_svc = start_backend(rogue_opts);
  auto ropts = options_for({rogue_svc.bound});
  ropts.connection.tls.context = make_holder(client);
  auto rogue_pool = spawn(ropts);
  auto refused = acquire(rogue_pool, 2s);
  BOOST_REQUIRE(!refused);
  BOOST_TEST((is(refused.error(), errc::tls_handshake_failed)
              || is(refused.error(), errc::circuit_open)
              || is(refused.error(), errc::timeout)),
             describe(refused.error()));
  BOOST_TEST(stats(rogue_pool).failed_connects >= 1u);
  close(rogue_pool);
  close(pool);
  stop(rogue_svc.root);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_SUITE_END()
