// The supervisor under concurrent failures and where it meets (or goes
// beyond) OTP: each test is the regression test of one defect of issue 16.
// Interleavings are forced with events, not sleeps: a slow child tells the
// test when it was asked to stop, and the second failure is injected then.

#include "supervisor_fixture.hpp"

#include <atomic>
#include <thread>

using namespace ghostnet;
using namespace ghostnet::test;

namespace {

using asked_atom = caf::atom_constant<caf::atom("asked")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using block_atom = caf::atom_constant<caf::atom("block")>;

/// A worker that takes `delay` to stop and tells `observer` (with its id)
/// when it is asked to, so a test can inject a failure during that stop.
sv::start_function start_slow_stopper(caf::actor observer, std::string id,
                                      caf::timespan delay) {
  return [=](caf::actor_system& sys, const caf::message&)
           -> caf::expected<caf::actor> {
    return sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
      self->set_exit_handler([=](caf::exit_msg& msg) {
        self->send(observer, asked_atom::value, id);
        self->delayed_send(self, delay, finish_atom::value, msg.reason);
      });
      return {
        [self](finish_atom, caf::error& reason) { self->quit(std::move(reason)); },
        [self](die_atom, caf::error& reason) { self->quit(std::move(reason)); },
        [](ping_atom) { return ping_atom::value; },
      };
    });
  };
}

/// Counts the starts of one child (its start function's calls).
struct start_counter {
  std::atomic<int> calls{0};
  std::atomic<int> fail_on{-1}; ///< the call (1-based) that fails, -1: none

  sv::start_function start() {
    return [this](caf::actor_system& sys, const caf::message&)
             -> caf::expected<caf::actor> {
      if (++calls == fail_on.load())
        return make_error(errc::connection_refused, "connect", "db:5432");
      return sys.spawn(test_worker);
    };
  }
};

/// Start arguments that own memory (serialized as nothing: never sent).
struct payload_ref {
  std::shared_ptr<std::vector<char>> data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payload_ref&) {
  return f(caf::meta::type_name("payload_ref"));
}

void crash(supervisor_fixture& fx, const caf::actor& who) {
  fx.self->send(who, die_atom::value, make_error(errc::io_error, "test", "crash"));
}

/// Receives supervisor events for `d` and returns how many of `kind` about
/// `child` arrived (the events are kept for later `expect` calls).
int count_events(supervisor_fixture& fx, sv::event_kind kind,
                 const std::string& child, caf::timespan d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  for (;;) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= decltype(left){0})
      break;
    bool timed_out = false;
    fx.self->receive(
      [&](sv::supervisor_event& ev) { fx.seen.push_back(std::move(ev)); },
      caf::after(std::chrono::duration_cast<caf::timespan>(left)) >>
        [&] { timed_out = true; });
    if (timed_out)
      break;
  }
  int n = 0;
  for (auto& ev : fx.seen)
    n += ev.kind == kind && ev.child == child;
  return n;
}

void wait_asked(supervisor_fixture& fx, const std::string& id) {
  bool got = false;
  fx.self->receive([&](asked_atom, std::string& who) { got = who == id; },
                   caf::after(patience) >> [] {});
  BOOST_REQUIRE_MESSAGE(got, id << " was not asked to stop");
}

sv::supervisor_spec group_spec(sv::strategy how, std::string name) {
  sv::supervisor_spec spec;
  spec.name = std::move(name);
  spec.flags.how = how; // default intensity: 1 restart in 5 s
  return spec;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervisor_races, supervisor_fixture)

// -- 1. a crash during a group stop is part of that stop ----------------------

BOOST_AUTO_TEST_CASE(one_for_all_restarts_once_when_a_second_child_crashes_during_the_group_stop) {
  auto spec = group_spec(sv::strategy::one_for_all, "ofa");
  spec.children.push_back(sv::worker("a", start_test_worker()));
  spec.children.push_back(sv::worker("b", start_slow_stopper(self, "b", 200ms)));
  spec.children.push_back(sv::worker("c", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "c");
  auto old = children(sup);
  self->monitor(sup);
  crash(*this, old[2].actor); // c: the group is stopped, b first (slowly)
  wait_asked(*this, "b");
  crash(*this, old[0].actor); // a, 20 ms into b's stop, before its turn
  for (auto id : {"a", "b", "c"})
    expect(sv::event_kind::child_restarted, id);
  // Once, and the default intensity (1 in 5 s) holds: no give-up.
  BOOST_TEST(count_events(*this, sv::event_kind::child_restarted, "a", 600ms) == 0);
  BOOST_TEST(count_events(*this, sv::event_kind::gave_up, "a", 0ms) == 0);
  auto now = children(sup);
  for (size_t i = 0; i < 3; ++i) {
    BOOST_TEST(now[i].state == sv::child_state::running);
    BOOST_TEST(now[i].restarts == 1u);
    BOOST_TEST((now[i].actor != old[i].actor));
    wait_down(old[i].actor.address()); // no second instance beside the new one
  }
  auto report = shutdown(sup);
  BOOST_TEST(report.clean());
  for (auto& x : now)
    wait_down(x.actor.address());
}

BOOST_AUTO_TEST_CASE(rest_for_one_restarts_once_when_a_later_child_crashes_during_the_stop) {
  auto spec = group_spec(sv::strategy::rest_for_one, "rfo");
  spec.children.push_back(sv::worker("a", start_test_worker()));
  spec.children.push_back(sv::worker("b", start_test_worker()));
  spec.children.push_back(sv::worker("c", start_slow_stopper(self, "c", 200ms)));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "c");
  auto old = children(sup);
  crash(*this, old[0].actor); // a: c, then b are stopped
  wait_asked(*this, "c");
  crash(*this, old[1].actor); // b, while c stops
  for (auto id : {"a", "b", "c"})
    expect(sv::event_kind::child_restarted, id);
  BOOST_TEST(count_events(*this, sv::event_kind::child_restarted, "b", 600ms) == 0);
  BOOST_TEST(count_events(*this, sv::event_kind::gave_up, "a", 0ms) == 0);
  for (auto& x : children(sup))
    BOOST_TEST(x.restarts == 1u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_temporary_child_that_crashes_during_a_group_stop_is_not_restarted) {
  auto spec = group_spec(sv::strategy::one_for_all, "bystander");
  spec.children.push_back(sv::worker("t", start_test_worker(), sv::restart_type::temporary));
  spec.children.push_back(sv::worker("b", start_slow_stopper(self, "b", 200ms)));
  spec.children.push_back(sv::worker("c", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "c");
  auto old = children(sup);
  crash(*this, old[2].actor);
  wait_asked(*this, "b");
  crash(*this, old[0].actor); // the temporary bystander, during the stop
  expect(sv::event_kind::child_restarted, "b");
  expect(sv::event_kind::child_restarted, "c");
  BOOST_TEST(count_events(*this, sv::event_kind::child_restarted, "t", 300ms) == 0);
  auto now = children(sup);
  BOOST_REQUIRE_EQUAL(now.size(), 2u); // its spec is gone with it
  BOOST_TEST(now[0].id == "b");
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_temporary_bystander_is_stopped_not_restarted_by_a_group_restart) {
  auto spec = group_spec(sv::strategy::one_for_all, "bystander2");
  spec.children.push_back(sv::worker("t", start_test_worker(), sv::restart_type::temporary));
  spec.children.push_back(sv::worker("p", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "p");
  auto old = children(sup);
  crash(*this, old[1].actor);
  expect(sv::event_kind::child_terminated, "t");
  expect(sv::event_kind::child_restarted, "p");
  BOOST_TEST(count_events(*this, sv::event_kind::child_restarted, "t", 200ms) == 0);
  BOOST_TEST(children(sup).size() == 1u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(nothing_restarts_once_the_stop_has_begun) {
  auto spec = group_spec(sv::strategy::one_for_one, "stopping");
  spec.flags.intensity = 10;
  spec.children.push_back(sv::worker("a", start_test_worker()));
  spec.children.push_back(sv::worker("b", start_slow_stopper(self, "b", 200ms)));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "b");
  auto a = child(sup, "a").actor;
  self->send(sup, shutdown_atom::value, caf::timespan{5s});
  wait_asked(*this, "b"); // the stop is under way (reverse order: b first)
  crash(*this, a);
  expect(sv::event_kind::supervisor_stopped, "");
  int restarted = 0;
  for (auto& ev : seen)
    restarted += ev.kind == sv::event_kind::child_restarted;
  BOOST_TEST(restarted == 0);
  self->receive([](sv::shutdown_report& r) { BOOST_TEST(r.clean()); },
                caf::after(patience) >> [] { BOOST_FAIL("no shutdown reply"); });
}

// -- 2. a partial one_for_all restart starts the whole group again -----------

BOOST_AUTO_TEST_CASE(a_child_failing_to_restart_restarts_the_whole_group_again_counted) {
  start_counter a, b, c;
  b.fail_on = 2; // its first restart fails
  auto spec = group_spec(sv::strategy::one_for_all, "partial");
  spec.flags.intensity = 2;
  spec.children.push_back(sv::worker("a", a.start()));
  spec.children.push_back(sv::worker("b", b.start()));
  spec.children.push_back(sv::worker("c", c.start()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "c");
  crash(*this, child(sup, "c").actor);
  expect(sv::event_kind::child_restarted, "a");
  expect(sv::event_kind::start_failed, "b");
  // What was restarted already is stopped; then the whole group again.
  expect(sv::event_kind::child_terminated, "a");
  expect(sv::event_kind::child_restarted, "a");
  expect(sv::event_kind::child_restarted, "b");
  expect(sv::event_kind::child_restarted, "c");
  BOOST_TEST(a.calls == 3);
  BOOST_TEST(b.calls == 3);
  BOOST_TEST(c.calls == 2); // it never got its turn the first time
  for (auto& x : children(sup))
    BOOST_TEST(x.state == sv::child_state::running);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_failed_restart_counts_against_the_intensity) {
  start_counter a, b;
  b.fail_on = 2;
  auto spec = group_spec(sv::strategy::one_for_all, "partial-strict");
  spec.flags.intensity = 1; // the crash is one, the failed restart a second
  spec.children.push_back(sv::worker("a", a.start()));
  spec.children.push_back(sv::worker("b", b.start()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "b");
  self->monitor(sup);
  crash(*this, child(sup, "a").actor);
  expect(sv::event_kind::gave_up, "b");
  BOOST_TEST(is(wait_down(sup.address()), errc::restart_intensity_exceeded));
}

BOOST_AUTO_TEST_CASE(failed_restart_loops_escalate_under_every_strategy) {
  for (auto how : {sv::strategy::one_for_one, sv::strategy::one_for_all,
                   sv::strategy::rest_for_one, sv::strategy::simple_one_for_one}) {
    BOOST_TEST_CONTEXT("strategy " << sv::to_string(how)) {
      seen.clear();
      start_counter w;
      w.fail_on = 2; // every restart fails from here on...
      auto spec = group_spec(how, "loop");
      spec.flags.intensity = 3;
      auto failing = [&w](caf::actor_system& sys, const caf::message& m)
        -> caf::expected<caf::actor> {
        if (++w.calls >= 2)
          return make_error(errc::connection_refused, "connect", "db:5432");
        (void) m;
        return sys.spawn(test_worker);
      };
      spec.children.push_back(sv::worker("w", failing));
      auto sup = spawn(spec);
      caf::actor first;
      std::string id = "w";
      if (how == sv::strategy::simple_one_for_one) {
        self->request(sup, patience, start_child_atom::value, caf::make_message())
          .receive([&](caf::actor& x) { first = x; },
                   [&](caf::error& err) { BOOST_FAIL(describe(err)); });
        id = children(sup).at(0).id;
      } else {
        expect(sv::event_kind::child_started, "w");
        first = child(sup, "w").actor;
      }
      self->monitor(sup);
      crash(*this, first);
      auto ev = expect(sv::event_kind::gave_up, id);
      BOOST_TEST(is(ev.reason, errc::restart_intensity_exceeded));
      BOOST_TEST(is(wait_down(sup.address()), errc::restart_intensity_exceeded));
      BOOST_TEST(w.calls == 4); // the first start, then 3 failed restarts
    }
  }
}

// -- 3. the give-up reason meets the restart type ----------------------------

BOOST_AUTO_TEST_CASE(a_transient_child_supervisor_that_gave_up_stays_stopped) {
  sv::supervisor_spec inner;
  inner.name = "inner";
  inner.flags.intensity = 0;
  inner.children.push_back(sv::worker("leaf", start_test_worker()));
  auto root = group_spec(sv::strategy::one_for_one, "root");
  root.flags.intensity = 3;
  root.children.push_back(sv::supervisor_child("inner", inner, sv::restart_type::transient));
  root.children.push_back(sv::worker("other", start_test_worker()));
  auto sup = spawn(root);
  expect(sv::event_kind::child_started, "other");
  auto inner_sup = caf::actor_cast<sv::supervisor_actor>(child(sup, "inner").actor);
  crash(*this, child(inner_sup, "leaf").actor);
  auto exited = expect(sv::event_kind::child_exited, "inner");
  BOOST_TEST(is(exited.reason, errc::restart_intensity_exceeded));
  // As OTP's transient parent leaves a supervisor that exited `shutdown`.
  BOOST_TEST(count_events(*this, sv::event_kind::child_restarted, "inner", 300ms) == 0);
  auto info = child(sup, "inner");
  BOOST_TEST(info.state == sv::child_state::stopped);
  BOOST_TEST(is(info.last_exit, errc::restart_intensity_exceeded));
  BOOST_TEST(child(sup, "other").state == sv::child_state::running);
  shutdown(sup);
}

// -- 4. a pending (backoff) group restart and terminate_child ---------------

BOOST_AUTO_TEST_CASE(terminating_the_failed_child_during_its_backoff_leaves_the_group_stopped) {
  auto spec = group_spec(sv::strategy::one_for_all, "pending");
  spec.flags.intensity = 5;
  spec.children.push_back(sv::worker("a", start_test_worker()));
  spec.children.push_back(sv::worker("b", start_test_worker()));
  auto c = sv::worker("c", start_test_worker());
  c.backoff.min = 500ms;
  c.backoff.max = 500ms;
  c.backoff.random_factor = 0;
  spec.children.push_back(c);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "c");
  crash(*this, child(sup, "c").actor);
  expect(sv::event_kind::restart_scheduled, "c");
  for (auto& x : children(sup))
    BOOST_TEST(x.state == sv::child_state::restarting);
  BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"c"}));
  for (auto& x : children(sup))
    BOOST_TEST(x.state == sv::child_state::stopped);
  // The cancelled restart never happens...
  BOOST_TEST(count_events(*this, sv::event_kind::child_restarted, "a", 800ms) == 0);
  // ...and the siblings are in a state the API works with.
  caf::actor a;
  self->request(sup, patience, restart_child_atom::value, std::string{"a"})
    .receive([&](caf::actor& x) { a = x; },
             [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(a);
  BOOST_TEST(child(sup, "a").state == sv::child_state::running);
  BOOST_TEST(!request_error<caf::ok_atom>(sup, delete_child_atom::value, std::string{"b"}));
  BOOST_TEST(children(sup).size() == 2u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(terminating_a_sibling_during_the_backoff_leaves_the_rest_to_restart) {
  auto spec = group_spec(sv::strategy::one_for_all, "pending2");
  spec.flags.intensity = 5;
  spec.children.push_back(sv::worker("a", start_test_worker()));
  auto b = sv::worker("b", start_test_worker());
  b.backoff.min = b.backoff.max = 300ms;
  b.backoff.random_factor = 0;
  spec.children.push_back(b);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "b");
  crash(*this, child(sup, "b").actor);
  expect(sv::event_kind::restart_scheduled, "b");
  BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"a"}));
  BOOST_TEST(child(sup, "a").state == sv::child_state::stopped);
  expect(sv::event_kind::child_restarted, "b");
  BOOST_TEST(child(sup, "a").state == sv::child_state::stopped);
  BOOST_TEST(child(sup, "b").state == sv::child_state::running);
  shutdown(sup);
}

// -- 5. the start handshake --------------------------------------------------

BOOST_AUTO_TEST_CASE(a_child_that_dies_in_its_initialisation_is_a_start_failure_not_a_crash) {
  auto spec = group_spec(sv::strategy::one_for_one, "handshake");
  spec.flags.intensity = 0; // one crash would end it
  spec.children.push_back(sv::worker("w", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "w");
  auto throws = sv::worker("throws", [](caf::actor_system& sys, const caf::message&)
                                       -> caf::expected<caf::actor> {
    return sys.spawn([](caf::event_based_actor*) -> caf::behavior {
      throw std::runtime_error("no config");
    });
  });
  auto err = request_error<caf::actor>(sup, start_child_atom::value, throws);
  BOOST_TEST(is(err, errc::start_failed), describe(err));
  BOOST_TEST(context_of(err).endpoint.find("throws") != std::string::npos);
  // An init message that fails counts the same.
  auto init_fails = sv::worker("init", [](caf::actor_system& sys, const caf::message&)
                                         -> caf::expected<caf::actor> {
    auto hdl = sys.spawn(test_worker);
    caf::anon_send(hdl, die_atom::value, caf::error{caf::sec::runtime_error});
    return hdl;
  });
  err = request_error<caf::actor>(sup, start_child_atom::value, init_fails);
  BOOST_TEST(is(err, errc::start_failed), describe(err));
  BOOST_TEST(context_of(err).endpoint.find("init") != std::string::npos);
  // No intensity burnt, nothing left behind.
  auto c = counts(sup);
  BOOST_TEST(c.active == 1u);
  BOOST_TEST(c.specs == 1u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(the_start_handshake_answers_after_every_static_child_confirmed) {
  std::atomic<bool> slow_done{false};
  sv::supervisor_spec inner;
  inner.name = "inner";
  inner.children.push_back(sv::worker("slow", [&slow_done](caf::actor_system& sys,
                                                          const caf::message&)
                                                -> caf::expected<caf::actor> {
    return sys.spawn([&slow_done](caf::event_based_actor*) -> caf::behavior {
      std::this_thread::sleep_for(200ms); // a slow initialisation
      slow_done = true;
      return {[](ping_atom) { return ping_atom::value; }};
    });
  }));
  auto root = group_spec(sv::strategy::one_for_one, "outer");
  root.children.push_back(sv::supervisor_child("inner", inner));
  auto sup = spawn(root);
  bool ok = false;
  self->request(sup, patience, await_start_atom::value)
    .receive([&](caf::ok_atom) { ok = true; },
             [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(ok);
  BOOST_TEST(slow_done.load()); // not answered before the grandchild was up
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_child_that_never_confirms_is_killed_at_its_start_timeout) {
  auto spec = group_spec(sv::strategy::one_for_one, "silent");
  auto blocking = sv::worker("blocking", [](caf::actor_system& sys, const caf::message&)
                                           -> caf::expected<caf::actor> {
    // A blocking actor never answers the handshake (nor an exit message
    // while it waits in receive: it ends itself, at the latest after 2 s).
    return sys.spawn([](caf::blocking_actor* self) {
      self->receive([](ping_atom) {}, caf::after(2s) >> [] {});
    });
  });
  blocking.start_timeout = 200ms;
  spec.children.push_back(blocking);
  auto sup = spawn(spec);
  caf::error err;
  self->request(sup, patience, await_start_atom::value)
    .receive([](caf::ok_atom) { BOOST_FAIL("started"); },
             [&](caf::error& x) { err = x; });
  BOOST_TEST(is(err, errc::start_failed), describe(err));
  BOOST_TEST(context_of(err).detail.find("200ms") != std::string::npos);
  wait_down(sup.address());
  // With the handshake off, a blocking child is started as it is.
  seen.clear();
  auto off = spec;
  off.name = "silent-off";
  off.children.front().start_timeout = caf::timespan{0};
  off.children.front().restart = sv::restart_type::temporary;
  auto sup2 = spawn(off);
  expect(sv::event_kind::child_started, "blocking");
  BOOST_TEST(child(sup2, "blocking").state == sv::child_state::running);
  self->send(child(sup2, "blocking").actor, ping_atom::value); // it ends
  expect(sv::event_kind::child_exited, "blocking");
  BOOST_TEST(shutdown(sup2).clean());
}

// -- 6. the tree deadline bounds the stop ------------------------------------

BOOST_AUTO_TEST_CASE(shutdown_answers_by_the_deadline_and_reports_a_child_stuck_in_a_handler) {
  auto spec = group_spec(sv::strategy::one_for_one, "stuck");
  spec.children.push_back(sv::worker("fine", start_test_worker()));
  spec.children.push_back(sv::worker("stuck", [](caf::actor_system& sys, const caf::message&)
                                               -> caf::expected<caf::actor> {
    return sys.spawn([](caf::event_based_actor*) -> caf::behavior {
      return {[](block_atom, caf::actor& observer) {
        caf::anon_send(observer, asked_atom::value, std::string{"blocked"});
        std::this_thread::sleep_for(2s); // stuck inside a handler
      }};
    });
  }));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "stuck");
  auto stuck = child(sup, "stuck").actor;
  self->send(stuck, block_atom::value, caf::actor{self});
  wait_asked(*this, "blocked"); // it is inside the handler
  auto t0 = std::chrono::steady_clock::now();
  auto report = shutdown(sup, 300ms);
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST((took < 300ms + sv::abandon_grace + 500ms));
  BOOST_TEST(report.abandoned == std::vector<std::string>{"stuck"},
             boost::test_tools::per_element());
  auto ev = expect(sv::event_kind::child_abandoned, "stuck");
  BOOST_TEST(is(ev.reason, errc::timeout));
  // The abandoned child dies once its handler returns (the exit messages
  // wait for it), and is not waited for by anyone.
  auto reason = wait_down(stuck.address());
  BOOST_TEST((reason == caf::exit_reason::kill
              || reason == caf::exit_reason::user_shutdown),
             describe(reason));
}

// -- 7. temporary children keep no arguments --------------------------------

BOOST_AUTO_TEST_CASE(a_temporary_child_keeps_no_start_arguments) {
  for (auto type : {sv::restart_type::temporary, sv::restart_type::permanent}) {
    BOOST_TEST_CONTEXT("restart " << sv::to_string(type)) {
      auto spec = group_spec(sv::strategy::simple_one_for_one, "args");
      spec.children.push_back(sv::worker("w", start_test_worker(), type));
      auto sup = spawn(spec);
      auto payload = std::make_shared<std::vector<char>>(1 << 20);
      std::weak_ptr<std::vector<char>> watch = payload;
      self->request(sup, patience, start_child_atom::value,
                    caf::make_message(payload_ref{std::move(payload)}))
        .receive([](caf::actor&) {}, [&](caf::error& err) { BOOST_FAIL(describe(err)); });
      // A temporary child is never started again: the supervisor keeps
      // none of its arguments (a permanent one keeps them for restarts).
      for (int i = 0; i < 100 && !watch.expired(); ++i)
        std::this_thread::sleep_for(10ms);
      BOOST_TEST(watch.expired() == (type == sv::restart_type::temporary));
      shutdown(sup);
    }
  }
}

// -- 8. the exit handler obeys only the parent --------------------------------

BOOST_AUTO_TEST_CASE(a_linked_stranger_that_exits_does_not_stop_the_supervisor) {
  auto spec = group_spec(sv::strategy::one_for_one, "linked");
  spec.children.push_back(sv::worker("w", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "w");
  for (auto reason : {caf::error{}, make_error(errc::io_error, "stranger")}) {
    auto stranger = sys.spawn([sup](caf::event_based_actor* s) {
      s->link_to(sup);
      return test_worker(s);
    });
    self->send(stranger, die_atom::value, reason);
    wait_down(stranger.address());
  }
  // An explicit exit from someone who is not the parent is ignored too.
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  BOOST_TEST(counts(sup).active == 1u); // still running and answering
  // The parent's exit, and an anonymous one, are obeyed.
  self->monitor(sup);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
  BOOST_TEST((wait_down(sup.address()) == caf::exit_reason::user_shutdown));
}

// -- 9. counters -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(restarts_count_automatic_restarts_and_manual_ones_apart) {
  auto spec = group_spec(sv::strategy::one_for_one, "counters");
  spec.flags.intensity = 5;
  spec.children.push_back(sv::worker("w", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "w");
  crash(*this, child(sup, "w").actor);
  expect(sv::event_kind::child_restarted, "w");
  BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"w"}));
  BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"w"})); // idempotent
  BOOST_TEST(!request_error<caf::actor>(sup, restart_child_atom::value, std::string{"w"}));
  auto info = child(sup, "w");
  BOOST_TEST(info.restarts == 1u);
  BOOST_TEST(info.manual_restarts == 1u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(which_children_lists_children_in_start_order) {
  auto spec = group_spec(sv::strategy::one_for_one, "order");
  spec.children.push_back(sv::worker("z", start_test_worker()));
  auto sup = spawn(spec);
  for (auto id : {"m", "a"})
    BOOST_TEST(!request_error<caf::actor>(sup, start_child_atom::value,
                                          sv::worker(id, start_test_worker())));
  std::vector<std::string> ids;
  for (auto& x : children(sup))
    ids.push_back(x.id);
  BOOST_TEST(ids == (std::vector<std::string>{"z", "m", "a"}),
             boost::test_tools::per_element());
  shutdown(sup);
}

// -- many children -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(ten_thousand_dynamic_children_with_a_hundred_crashing_at_once) {
  constexpr size_t n = 10000;
  constexpr size_t crashing = 100;
  auto spec = group_spec(sv::strategy::simple_one_for_one, "many");
  spec.flags.intensity = 1000;
  spec.children.push_back(sv::worker("c", start_test_worker()));
  auto sup = sv::spawn_supervisor(sys, spec); // no subscriber: 20,000 events
  BOOST_REQUIRE(sup);
  std::vector<caf::actor> kids;
  for (size_t i = 0; i < n; ++i)
    self->send(*sup, start_child_atom::value, caf::make_message(i));
  for (size_t i = 0; i < n; ++i)
    self->receive([&](caf::actor& x) { kids.push_back(x); },
                  [&](caf::error& err) { BOOST_FAIL(describe(err)); },
                  caf::after(patience) >> [] { BOOST_FAIL("start_child timed out"); });
  BOOST_REQUIRE_EQUAL(kids.size(), n);
  self->send(*sup, subscribe_atom::value, caf::actor{self});
  for (size_t i = 0; i < crashing; ++i)
    crash(*this, kids[i * (n / crashing)]);
  size_t restarted = 0;
  while (restarted < crashing) {
    bool timed_out = false;
    self->receive(
      [&](sv::supervisor_event& ev) {
        restarted += ev.kind == sv::event_kind::child_restarted;
      },
      caf::after(patience) >> [&] { timed_out = true; });
    if (timed_out)
      break;
  }
  BOOST_TEST(restarted == crashing);
  auto infos = children(*sup);
  BOOST_TEST(infos.size() == n); // none lost
  size_t once = 0;
  for (auto& x : infos)
    once += x.restarts == 1;
  BOOST_TEST(once == crashing);
  BOOST_TEST(counts(*sup).active == n);
  BOOST_TEST(shutdown(*sup, 30s).clean());
}

BOOST_AUTO_TEST_CASE(starts_beyond_max_in_flight_wait_their_turn_and_each_is_answered) {
  // Two handshakes at a time; every odd child dies in its initialisation,
  // so failed starts must free their slot as confirmed ones do.
  auto spec = group_spec(sv::strategy::simple_one_for_one, "window");
  spec.max_in_flight = 2;
  spec.children.push_back(sv::worker(
    "w",
    [](caf::actor_system& sys, const caf::message& args)
      -> caf::expected<caf::actor> {
      if (args.get_as<int>(0) % 2 == 0)
        return sys.spawn(test_worker);
      return sys.spawn([](caf::event_based_actor*) -> caf::behavior {
        throw std::runtime_error("odd");
      });
    },
    sv::restart_type::temporary));
  auto sup = spawn(spec);
  constexpr int n = 40;
  for (int i = 0; i < n; ++i)
    self->send(sup, start_child_atom::value, caf::make_message(i));
  int started = 0;
  int failed = 0;
  for (int i = 0; i < n; ++i)
    self->receive([&](caf::actor&) { ++started; },
                  [&](caf::error& err) {
                    BOOST_TEST(is(err, errc::start_failed), describe(err));
                    ++failed;
                  },
                  caf::after(patience) >> [] { BOOST_FAIL("a start was not answered"); });
  BOOST_TEST(started == n / 2);
  BOOST_TEST(failed == n / 2);
  BOOST_TEST(counts(sup).active == static_cast<size_t>(n / 2));
  BOOST_TEST(shutdown(sup).clean());
}

BOOST_AUTO_TEST_CASE(a_shutdown_answers_the_starts_waiting_for_their_turn) {
  // One handshake at a time, and it never completes (a blocking child does
  // not answer it): the others wait, and the shutdown answers them all.
  auto spec = group_spec(sv::strategy::simple_one_for_one, "window-stop");
  spec.max_in_flight = 1;
  spec.children.push_back(sv::worker(
    "b",
    [](caf::actor_system& sys, const caf::message&) -> caf::expected<caf::actor> {
      return sys.spawn([](caf::blocking_actor* self) {
        self->receive([](ping_atom) {}, caf::after(500ms) >> [] {});
      });
    },
    sv::restart_type::temporary));
  auto sup = spawn(spec);
  for (int i = 0; i < 4; ++i)
    self->send(sup, start_child_atom::value, caf::make_message(i));
  BOOST_TEST(counts(sup).active == 1u); // the first, still starting
  self->send(sup, shutdown_atom::value, caf::timespan{10s});
  int refused = 0;
  for (int i = 0; i < 4; ++i)
    self->receive([&](caf::actor&) { BOOST_FAIL("a start succeeded"); },
                  [&](caf::error& err) {
                    BOOST_TEST(is(err, errc::invalid_state), describe(err));
                    ++refused;
                  },
                  caf::after(patience) >> [] { BOOST_FAIL("a start was not answered"); });
  BOOST_TEST(refused == 4);
  self->receive([](sv::shutdown_report& r) { BOOST_TEST(r.clean()); },
                caf::after(patience) >> [] { BOOST_FAIL("no shutdown report"); });
}

BOOST_AUTO_TEST_CASE(max_in_flight_zero_is_refused) {
  auto spec = group_spec(sv::strategy::simple_one_for_one, "zero");
  spec.max_in_flight = 0;
  spec.children.push_back(sv::worker("w", start_test_worker()));
  auto sup = sv::spawn_supervisor(sys, spec);
  BOOST_REQUIRE(!sup);
  BOOST_TEST(is(sup.error(), errc::invalid_configuration), describe(sup.error()));
}

BOOST_AUTO_TEST_CASE(dynamic_children_stop_in_parallel) {
  // 200 children that each take 200 ms to stop: serially 40 s, in parallel
  // about 200 ms. Timed by the events, bounded generously.
  auto spec = group_spec(sv::strategy::simple_one_for_one, "parallel");
  auto tmpl = sv::worker("s", start_slow_stopper(caf::actor{}, "s", 200ms),
                         sv::restart_type::temporary);
  spec.children.push_back(tmpl);
  auto sup = spawn(spec);
  for (int i = 0; i < 200; ++i)
    BOOST_TEST_REQUIRE(!request_error<caf::actor>(sup, start_child_atom::value,
                                                  caf::make_message(i)));
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(shutdown(sup, 30s).clean());
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 10s));
}

BOOST_AUTO_TEST_SUITE_END()
