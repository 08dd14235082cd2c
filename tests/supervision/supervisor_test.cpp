// The supervisor against OTP's semantics: restart types × exit kinds ×
// strategies, intensity and escalation, backoff, significant children,
// shutdown order and timeouts, dynamic children, and bad input.

#include "supervisor_fixture.hpp"

#include <thread>

using namespace ghostnet;
using namespace ghostnet::test;

namespace {

enum class exit_kind { normal, shutdown, error, kill };

const char* name_of(exit_kind x) {
  switch (x) {
    case exit_kind::normal: return "normal";
    case exit_kind::shutdown: return "shutdown";
    case exit_kind::error: return "error";
    case exit_kind::kill: return "kill";
  }
  return "?";
}

void make_exit(supervisor_fixture& fx, const caf::actor& who, exit_kind how) {
  switch (how) {
    case exit_kind::normal:
      fx.self->send(who, die_atom::value, caf::error{caf::exit_reason::normal});
      break;
    case exit_kind::shutdown:
      fx.self->send(who, die_atom::value,
                    caf::error{caf::exit_reason::user_shutdown});
      break;
    case exit_kind::error:
      fx.self->send(who, die_atom::value,
                    make_error(errc::protocol_error, "test", "worker"));
      break;
    case exit_kind::kill:
      fx.self->send_exit(who, caf::exit_reason::kill);
      break;
  }
}

bool restarts_after(sv::restart_type type, exit_kind how) {
  switch (type) {
    case sv::restart_type::permanent: return true;
    case sv::restart_type::transient:
      return how == exit_kind::error || how == exit_kind::kill;
    case sv::restart_type::temporary: return false;
  }
  return false;
}

sv::supervisor_spec three_children(sv::strategy how, sv::restart_type middle) {
  sv::supervisor_spec spec;
  spec.name = "matrix";
  spec.flags.how = how;
  spec.flags.intensity = 10;
  spec.children.push_back(sv::worker("a", start_test_worker()));
  spec.children.push_back(sv::worker("b", start_test_worker(), middle));
  spec.children.push_back(sv::worker("c", start_test_worker()));
  return spec;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervisor, supervisor_fixture)

BOOST_AUTO_TEST_CASE(each_restart_type_and_exit_kind_follows_otp_under_each_strategy) {
  for (auto how : {sv::strategy::one_for_one, sv::strategy::one_for_all,
                   sv::strategy::rest_for_one}) {
    for (auto type : {sv::restart_type::permanent, sv::restart_type::transient,
                      sv::restart_type::temporary}) {
      for (auto exit : {exit_kind::normal, exit_kind::shutdown,
                        exit_kind::error, exit_kind::kill}) {
        BOOST_TEST_CONTEXT("strategy " << sv::to_string(how) << ", restart "
                                       << sv::to_string(type) << ", exit "
                                       << name_of(exit)) {
          seen.clear();
          auto sup = spawn(three_children(how, type));
          for (auto id : {"a", "b", "c"})
            expect(sv::event_kind::child_started, id);
          auto before = children(sup);
          BOOST_REQUIRE_EQUAL(before.size(), 3u);
          make_exit(*this, before[1].actor, exit);
          expect(sv::event_kind::child_exited, "b");
          bool restarted = restarts_after(type, exit);
          std::vector<bool> expect_new{false, restarted, false};
          if (restarted && how == sv::strategy::one_for_all)
            expect_new = {true, true, true};
          if (restarted && how == sv::strategy::rest_for_one)
            expect_new = {false, true, true};
          for (size_t i = 0; i < 3; ++i)
            if (expect_new[i])
              expect(sv::event_kind::child_restarted, before[i].id);
          auto after = children(sup);
          if (type == sv::restart_type::temporary) {
            BOOST_REQUIRE_EQUAL(after.size(), 2u);
            BOOST_TEST(after[0].actor == before[0].actor);
            BOOST_TEST(after[1].actor == before[2].actor);
          } else {
            BOOST_REQUIRE_EQUAL(after.size(), 3u);
            for (size_t i = 0; i < 3; ++i) {
              if (i == 1 && !restarted) {
                BOOST_TEST(!after[i].actor);
                BOOST_TEST(after[i].state == sv::child_state::stopped);
                continue;
              }
              BOOST_TEST((after[i].actor != before[i].actor) == expect_new[i]);
              BOOST_TEST(after[i].state == sv::child_state::running);
              BOOST_TEST(after[i].restarts == (expect_new[i] ? 1u : 0u));
            }
            BOOST_TEST(static_cast<bool>(after[1].last_exit)
                       == (exit == exit_kind::error || exit == exit_kind::kill
                           || exit == exit_kind::shutdown));
          }
          shutdown(sup);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(children_start_in_order_and_stop_in_reverse_order) {
  order_log order;
  sv::supervisor_spec spec;
  spec.name = "ordered";
  for (auto id : {"first", "second", "third"})
    spec.children.push_back(sv::worker(id, order.start(id)));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "third");
  shutdown(sup);
  std::lock_guard<std::mutex> guard{order.mtx};
  BOOST_TEST(order.started == (std::vector<std::string>{"first", "second", "third"}),
             boost::test_tools::per_element());
  BOOST_TEST(order.stopped == (std::vector<std::string>{"third", "second", "first"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(exceeding_restart_intensity_stops_children_and_exits_typed) {
  sv::supervisor_spec spec;
  spec.name = "fragile";
  spec.flags.intensity = 2;
  spec.flags.period = std::chrono::seconds(30);
  spec.children.push_back(sv::worker("bystander", start_test_worker()));
  spec.children.push_back(sv::worker("crasher", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "crasher");
  auto bystander = child(sup, "bystander").actor;
  self->monitor(sup);
  self->monitor(bystander);
  for (int i = 0; i < 3; ++i) {
    auto crasher = child(sup, "crasher").actor;
    BOOST_REQUIRE(crasher);
    make_exit(*this, crasher, exit_kind::error);
    expect(sv::event_kind::child_exited, "crasher");
    if (i < 2)
      expect(sv::event_kind::child_restarted, "crasher");
  }
  auto gave_up = expect(sv::event_kind::gave_up, "crasher");
  BOOST_TEST(is(gave_up.reason, errc::restart_intensity_exceeded));
  BOOST_TEST(gave_up.restarts == 2u);
  caf::error sup_reason;
  bool bystander_down = false;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::down_msg& msg) {
      if (msg.source == sup.address())
        sup_reason = msg.reason;
      else if (msg.source == bystander.address())
        bystander_down = true;
    }, caf::after(patience) >> [] { BOOST_FAIL("no down_msg"); });
  BOOST_TEST(bystander_down);
  BOOST_TEST(is(sup_reason, errc::restart_intensity_exceeded),
             describe(sup_reason));
  BOOST_TEST(context_of(sup_reason).detail.find("crasher") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_child_supervisor_that_gives_up_is_restarted_by_its_parent) {
  sv::supervisor_spec inner;
  inner.name = "inner";
  inner.flags.intensity = 0; // the first failure is too many
  inner.children.push_back(sv::worker("leaf", start_test_worker()));
  sv::supervisor_spec root;
  root.name = "root";
  root.flags.intensity = 3;
  root.children.push_back(sv::supervisor_child("inner", inner));
  auto sup = spawn(root);
  expect(sv::event_kind::child_started, "inner");
  auto inner_sup = caf::actor_cast<sv::supervisor_actor>(child(sup, "inner").actor);
  BOOST_REQUIRE(inner_sup);
  auto leaf = child(inner_sup, "leaf").actor;
  BOOST_REQUIRE(leaf);
  make_exit(*this, leaf, exit_kind::error);
  auto exited = expect(sv::event_kind::child_exited, "inner");
  BOOST_TEST(is(exited.reason, errc::restart_intensity_exceeded));
  expect(sv::event_kind::child_restarted, "inner");
  auto new_inner = caf::actor_cast<sv::supervisor_actor>(child(sup, "inner").actor);
  BOOST_REQUIRE(new_inner);
  BOOST_TEST((new_inner != inner_sup));
  BOOST_TEST(counts(new_inner).active == 1u);
  BOOST_TEST(child(sup, "inner").kind == sv::child_kind::supervisor);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(backoff_delays_grow_exponentially_up_to_the_maximum) {
  sv::supervisor_spec spec;
  spec.name = "backoff";
  spec.flags.intensity = 20;
  spec.flags.period = std::chrono::seconds(60);
  auto w = sv::worker("flaky", start_test_worker());
  w.backoff.min = 50ms;
  w.backoff.max = 200ms;
  w.backoff.random_factor = 0.0;
  w.backoff.reset_after = std::chrono::seconds(60);
  spec.children.push_back(w);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "flaky");
  std::vector<caf::timespan> expected{50ms, 100ms, 200ms, 200ms};
  for (auto want : expected) {
    make_exit(*this, child(sup, "flaky").actor, exit_kind::error);
    auto t0 = std::chrono::steady_clock::now();
    auto scheduled = expect(sv::event_kind::restart_scheduled, "flaky");
    BOOST_TEST((scheduled.delay == want));
    auto st = child(sup, "flaky").state;
    BOOST_TEST((st == sv::child_state::restarting || st == sv::child_state::running));
    expect(sv::event_kind::child_restarted, "flaky");
    auto waited = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((waited >= want)); // never early; late is fine on a busy machine
  }
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(backoff_starts_over_after_a_stable_period) {
  sv::supervisor_spec spec;
  spec.name = "reset";
  spec.flags.intensity = 20;
  spec.flags.period = std::chrono::seconds(60);
  auto w = sv::worker("flaky", start_test_worker());
  w.backoff.min = 20ms;
  w.backoff.max = 1s;
  w.backoff.random_factor = 0.0;
  w.backoff.reset_after = 200ms;
  spec.children.push_back(w);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "flaky");
  // Two quick failures: the delay doubles.
  for (auto want : {caf::timespan{20ms}, caf::timespan{40ms}}) {
    make_exit(*this, child(sup, "flaky").actor, exit_kind::error);
    BOOST_TEST((expect(sv::event_kind::restart_scheduled, "flaky").delay == want));
    expect(sv::event_kind::child_restarted, "flaky");
  }
  // Running longer than reset_after counts as recovered: back to min.
  std::this_thread::sleep_for(250ms); // the stable period is time, on purpose
  make_exit(*this, child(sup, "flaky").actor, exit_kind::error);
  BOOST_TEST((expect(sv::event_kind::restart_scheduled, "flaky").delay
              == caf::timespan{20ms}));
  expect(sv::event_kind::child_restarted, "flaky");
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(backoff_jitter_stays_within_the_random_factor) {
  sv::supervisor_spec spec;
  spec.name = "jitter";
  spec.flags.intensity = 20;
  auto w = sv::worker("flaky", start_test_worker());
  w.backoff.min = 20ms;
  w.backoff.max = 20ms;
  w.backoff.random_factor = 0.5;
  spec.children.push_back(w);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "flaky");
  for (int i = 0; i < 5; ++i) {
    make_exit(*this, child(sup, "flaky").actor, exit_kind::error);
    auto ev = expect(sv::event_kind::restart_scheduled, "flaky");
    BOOST_TEST((ev.delay >= caf::timespan{20ms}));
    BOOST_TEST((ev.delay <= caf::timespan{30ms}));
    expect(sv::event_kind::child_restarted, "flaky");
  }
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_significant_child_ends_its_supervisor_with_any_significant) {
  sv::supervisor_spec spec;
  spec.name = "auto";
  spec.flags.shutdown_when = sv::auto_shutdown::any_significant;
  spec.children.push_back(sv::worker("other", start_test_worker()));
  auto sig = sv::worker("job", start_test_worker(), sv::restart_type::transient);
  sig.significant = true;
  spec.children.push_back(sig);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "job");
  self->monitor(sup);
  make_exit(*this, child(sup, "job").actor, exit_kind::normal);
  expect(sv::event_kind::child_terminated, "other");
  caf::error reason;
  self->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(patience) >> [] { BOOST_FAIL("supervisor kept running"); });
  BOOST_TEST((reason == caf::exit_reason::user_shutdown), describe(reason));
}

BOOST_AUTO_TEST_CASE(all_significant_waits_for_the_last_significant_child) {
  sv::supervisor_spec spec;
  spec.name = "all";
  spec.flags.shutdown_when = sv::auto_shutdown::all_significant;
  for (auto id : {"j1", "j2"}) {
    auto sig = sv::worker(id, start_test_worker(), sv::restart_type::temporary);
    sig.significant = true;
    spec.children.push_back(sig);
  }
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "j2");
  self->monitor(sup);
  make_exit(*this, child(sup, "j1").actor, exit_kind::normal);
  expect(sv::event_kind::child_exited, "j1");
  BOOST_TEST(counts(sup).active == 1u); // still alive and answering
  make_exit(*this, child(sup, "j2").actor, exit_kind::error);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; },
                caf::after(patience) >> [] {});
  BOOST_TEST(down);
}

BOOST_AUTO_TEST_CASE(a_significant_child_under_auto_shutdown_never_is_a_configuration_error) {
  sv::supervisor_spec spec;
  spec.name = "never";
  auto sig = sv::worker("job", start_test_worker(), sv::restart_type::temporary);
  sig.significant = true;
  spec.children.push_back(sig);
  auto refused = sv::spawn_supervisor(sys, spec);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(is(refused.error(), errc::invalid_configuration));
  BOOST_TEST(context_of(refused.error()).detail.find("job") != std::string::npos);
  // The same child added later is refused too.
  spec.children.clear();
  spec.children.push_back(sv::worker("other", start_test_worker()));
  auto sup = spawn(spec);
  auto err = request_error<caf::actor>(sup, start_child_atom::value, sig);
  BOOST_TEST(is(err, errc::invalid_configuration), describe(err));
  BOOST_TEST(counts(sup).specs == 1u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_child_that_ignores_shutdown_is_killed_after_its_timeout) {
  sv::supervisor_spec spec;
  spec.name = "timeouts";
  auto w = sv::worker("stubborn", [](caf::actor_system& sys, const caf::message&)
                                    -> caf::expected<caf::actor> {
    return sys.spawn(stubborn_worker);
  });
  w.shutdown = sv::shutdown_policy::after(100ms);
  spec.children.push_back(w);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "stubborn");
  auto stubborn = child(sup, "stubborn").actor;
  self->monitor(stubborn);
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"stubborn"}));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 100ms));
  caf::error reason;
  self->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(patience) >> [] { BOOST_FAIL("no down_msg"); });
  BOOST_TEST((reason == caf::exit_reason::kill), describe(reason));
  BOOST_TEST(child(sup, "stubborn").state == sv::child_state::stopped);
  // A stopped child can be restarted by hand and deleted once stopped again.
  caf::actor again;
  self->request(sup, patience, restart_child_atom::value, std::string{"stubborn"})
    .receive([&](caf::actor& x) { again = x; },
             [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(again);
  BOOST_TEST(child(sup, "stubborn").restarts == 0u); // automatic ones only
  BOOST_TEST(child(sup, "stubborn").manual_restarts == 1u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(brutal_kill_does_not_ask) {
  sv::supervisor_spec spec;
  spec.name = "brutal";
  auto w = sv::worker("w", start_test_worker());
  w.shutdown = sv::shutdown_policy::brutal_kill();
  spec.children.push_back(w);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "w");
  auto worker = child(sup, "w").actor;
  self->monitor(worker);
  BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"w"}));
  caf::error reason;
  self->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(patience) >> [] { BOOST_FAIL("no down_msg"); });
  BOOST_TEST((reason == caf::exit_reason::kill), describe(reason));
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(shutdown_deadline_kills_children_that_would_wait_forever) {
  sv::supervisor_spec spec;
  spec.name = "deadline";
  auto w = sv::worker("forever", [](caf::actor_system& sys, const caf::message&)
                                   -> caf::expected<caf::actor> {
    return sys.spawn(stubborn_worker);
  });
  w.shutdown = sv::shutdown_policy::infinity();
  spec.children.push_back(w);
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "forever");
  auto worker = child(sup, "forever").actor;
  self->monitor(worker);
  self->monitor(sup);
  shutdown(sup, 100ms);
  int downs = 0;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::down_msg&) { ++downs; },
                  caf::after(patience) >> [] {});
  BOOST_TEST(downs == 2);
}

BOOST_AUTO_TEST_CASE(ten_thousand_dynamic_children_start_and_stop) {
  constexpr size_t n = 10000;
  sv::supervisor_spec spec;
  spec.name = "conns";
  spec.flags.how = sv::strategy::simple_one_for_one;
  spec.children.push_back(sv::worker("conn", start_test_worker(),
                                     sv::restart_type::temporary));
  auto sup = sv::spawn_supervisor(sys, spec);
  BOOST_REQUIRE(sup);
  auto baseline = sys.registry().running();
  size_t started = 0;
  // Pipelined: asynchronous sends get their answers as ordinary messages.
  for (size_t i = 0; i < n; ++i)
    self->send(*sup, start_child_atom::value, caf::make_message(i));
  for (size_t i = 0; i < n; ++i)
    self->receive([&](caf::actor&) { ++started; },
                  [&](caf::error& err) { BOOST_FAIL(describe(err)); },
                  caf::after(patience) >> [] { BOOST_FAIL("start_child timed out"); });
  BOOST_TEST(started == n);
  auto c = counts(*sup);
  BOOST_TEST(c.active == n);
  BOOST_TEST(c.specs == 1u); // the template, as in OTP
  BOOST_TEST(c.workers == n);
  BOOST_TEST(sys.registry().running() == baseline + n);
  self->monitor(*sup);
  self->request(*sup, patience, shutdown_atom::value, caf::timespan{10s})
    .receive([](sv::shutdown_report& r) { BOOST_TEST(r.clean()); },
             [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  self->receive([](caf::down_msg&) {}, caf::after(patience) >> [] { BOOST_FAIL("no down"); });
  // Every child is gone: only the supervisor's own count left the registry.
  for (int i = 0; i < 100 && sys.registry().running() >= baseline; ++i)
    std::this_thread::sleep_for(10ms); // registry updates trail the down_msg
  BOOST_TEST(sys.registry().running() < baseline);
}

BOOST_AUTO_TEST_CASE(dynamic_children_that_ignore_shutdown_are_killed_after_the_timeout) {
  sv::supervisor_spec spec;
  spec.name = "stubborn-conns";
  spec.flags.how = sv::strategy::simple_one_for_one;
  auto tmpl = sv::worker("s", [](caf::actor_system& sys, const caf::message&)
                                -> caf::expected<caf::actor> {
    return sys.spawn(stubborn_worker);
  }, sv::restart_type::temporary);
  tmpl.shutdown = sv::shutdown_policy::after(100ms);
  spec.children.push_back(tmpl);
  auto sup = spawn(spec);
  std::vector<caf::actor> kids;
  for (int i = 0; i < 20; ++i)
    self->request(sup, patience, start_child_atom::value, caf::make_message(i))
      .receive([&](caf::actor& x) { kids.push_back(x); },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  for (auto& k : kids)
    self->monitor(k);
  auto t0 = std::chrono::steady_clock::now();
  shutdown(sup, 10s);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 100ms));
  int killed = 0;
  for (size_t i = 0; i < kids.size(); ++i)
    self->receive([&](caf::down_msg& msg) {
      if (msg.reason == caf::exit_reason::kill)
        ++killed;
    }, caf::after(patience) >> [] { BOOST_FAIL("a child outlived its supervisor"); });
  BOOST_TEST(killed == 20);
}

BOOST_AUTO_TEST_CASE(dynamic_children_are_stopped_by_actor_and_restarted_with_their_args) {
  sv::supervisor_spec spec;
  spec.name = "dyn";
  spec.flags.how = sv::strategy::simple_one_for_one;
  spec.flags.intensity = 5;
  spec.children.push_back(sv::worker(
    "echo",
    [](caf::actor_system& sys, const caf::message& args) -> caf::expected<caf::actor> {
      if (!args.match_elements<int>())
        return make_error(errc::invalid_configuration, "start", "echo", 0, "want an int");
      auto value = args.get_as<int>(0);
      return sys.spawn([value](caf::event_based_actor* self) -> caf::behavior {
        return {
          [value](ping_atom) { return value; },
          [self](die_atom, caf::error& r) { self->quit(std::move(r)); },
        };
      });
    }));
  auto sup = spawn(spec);
  caf::actor first;
  self->request(sup, patience, start_child_atom::value, caf::make_message(42))
    .receive([&](caf::actor& x) { first = x; },
             [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  auto bad = request_error<caf::actor>(sup, start_child_atom::value, caf::make_message("nope"));
  BOOST_TEST(is(bad, errc::invalid_configuration), describe(bad));
  auto id = children(sup).at(0).id;
  self->send(first, die_atom::value, make_error(errc::io_error));
  expect(sv::event_kind::child_restarted, id);
  auto second = children(sup).at(0).actor;
  BOOST_TEST(second != first);
  self->request(second, patience, ping_atom::value)
    .receive([](int v) { BOOST_TEST(v == 42); },
             [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, second));
  BOOST_TEST(counts(sup).active == 0u);
  // Terminating it again is ok (it is gone), as in OTP; a live stranger is
  // not a child.
  BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, second));
  auto stranger = sys.spawn(test_worker);
  auto err = request_error<caf::ok_atom>(sup, terminate_child_atom::value, stranger);
  BOOST_TEST(is(err, errc::unknown_child));
  self->send_exit(stranger, caf::exit_reason::kill);
  err = request_error<caf::actor>(sup, start_child_atom::value, sv::worker("x", start_test_worker()));
  BOOST_TEST(is(err, errc::invalid_state));
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(which_children_and_count_children_describe_the_tree) {
  sv::supervisor_spec inner;
  inner.name = "inner";
  inner.children.push_back(sv::worker("leaf", start_test_worker()));
  sv::supervisor_spec spec;
  spec.name = "described";
  spec.children.push_back(sv::worker("w1", start_test_worker()));
  spec.children.push_back(sv::worker("t1", start_test_worker(), sv::restart_type::transient));
  spec.children.push_back(sv::supervisor_child("sub", inner));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "sub");
  auto xs = children(sup);
  BOOST_REQUIRE_EQUAL(xs.size(), 3u);
  BOOST_TEST(xs[0].id == "w1");
  BOOST_TEST(xs[1].restart == sv::restart_type::transient);
  BOOST_TEST(xs[2].kind == sv::child_kind::supervisor);
  for (auto& x : xs) {
    BOOST_TEST(x.state == sv::child_state::running);
    BOOST_TEST(x.actor);
    BOOST_TEST(x.restarts == 0u);
  }
  make_exit(*this, xs[1].actor, exit_kind::normal);
  expect(sv::event_kind::child_exited, "t1");
  auto c = counts(sup);
  BOOST_TEST(c.specs == 3u);
  BOOST_TEST(c.active == 2u);
  BOOST_TEST(c.supervisors == 1u);
  BOOST_TEST(c.workers == 2u);
  BOOST_TEST(!request_error<caf::ok_atom>(sup, delete_child_atom::value, std::string{"t1"}));
  BOOST_TEST(counts(sup).specs == 2u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_failing_or_throwing_start_function_is_a_typed_error) {
  sv::supervisor_spec spec;
  spec.name = "starts";
  spec.children.push_back(sv::worker("good", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "good");
  auto failing = sv::worker("failing", [](caf::actor_system&, const caf::message&)
                                         -> caf::expected<caf::actor> {
    return make_error(errc::connection_refused, "connect", "127.0.0.1:1");
  });
  auto err = request_error<caf::actor>(sup, start_child_atom::value, failing);
  BOOST_TEST(is(err, errc::connection_refused), describe(err));
  auto throwing = sv::worker("throwing", [](caf::actor_system&, const caf::message&)
                                           -> caf::expected<caf::actor> {
    throw std::runtime_error("boom");
  });
  err = request_error<caf::actor>(sup, start_child_atom::value, throwing);
  BOOST_TEST(is(err, errc::start_failed), describe(err));
  BOOST_TEST(context_of(err).detail.find("boom") != std::string::npos);
  auto c = counts(sup);
  BOOST_TEST(c.specs == 1u);
  BOOST_TEST(c.active == 1u);
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_child_failing_at_initial_start_ends_the_supervisor_typed) {
  order_log order;
  sv::supervisor_spec spec;
  spec.name = "init";
  spec.children.push_back(sv::worker("ok", order.start("ok")));
  spec.children.push_back(sv::worker("broken", [](caf::actor_system&, const caf::message&)
                                                 -> caf::expected<caf::actor> {
    return make_error(errc::address_in_use, "bind", "127.0.0.1:80");
  }));
  auto sup = spawn(spec);
  auto reason = wait_down(sup.address());
  // The cause, which names its endpoint; the event names the child.
  BOOST_TEST(is(reason, errc::address_in_use), describe(reason));
  BOOST_TEST(context_of(reason).endpoint == "127.0.0.1:80");
  auto failed = expect(sv::event_kind::start_failed, "broken");
  BOOST_TEST(is(failed.reason, errc::address_in_use));
  std::lock_guard<std::mutex> guard{order.mtx};
  BOOST_TEST(order.stopped.size() == 1u);
}

BOOST_AUTO_TEST_CASE(bad_specs_and_requests_are_typed_errors_not_crashes) {
  sv::supervisor_spec dup;
  dup.children.push_back(sv::worker("x", start_test_worker()));
  dup.children.push_back(sv::worker("x", start_test_worker()));
  auto r1 = sv::spawn_supervisor(sys, dup);
  BOOST_REQUIRE(!r1);
  BOOST_TEST(is(r1.error(), errc::duplicate_child));

  sv::supervisor_spec negative;
  negative.flags.period = -std::chrono::seconds(1);
  auto r2 = sv::spawn_supervisor(sys, negative);
  BOOST_REQUIRE(!r2);
  BOOST_TEST(is(r2.error(), errc::invalid_configuration));
  BOOST_TEST(context_of(r2.error()).detail.find("period") != std::string::npos);

  sv::supervisor_spec two_templates;
  two_templates.flags.how = sv::strategy::simple_one_for_one;
  two_templates.children.push_back(sv::worker("a", start_test_worker()));
  two_templates.children.push_back(sv::worker("b", start_test_worker()));
  BOOST_TEST(!sv::spawn_supervisor(sys, two_templates));

  auto no_start = sv::worker("nostart", nullptr);
  BOOST_TEST(is(sv::validate(no_start), errc::invalid_configuration));
  auto bad_backoff = sv::worker("b", start_test_worker());
  bad_backoff.backoff.min = 2s;
  bad_backoff.backoff.max = 1s;
  BOOST_TEST(is(sv::validate(bad_backoff), errc::invalid_configuration));
  auto sig_perm = sv::worker("s", start_test_worker());
  sig_perm.significant = true;
  BOOST_TEST(is(sv::validate(sig_perm), errc::invalid_configuration));

  sv::supervisor_spec spec;
  spec.name = "requests";
  spec.children.push_back(sv::worker("x", start_test_worker()));
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "x");
  BOOST_TEST(is(request_error<caf::actor>(sup, start_child_atom::value, sv::worker("x", start_test_worker())),
                errc::duplicate_child));
  BOOST_TEST(is(request_error<caf::ok_atom>(sup, terminate_child_atom::value, std::string{"nope"}),
                errc::unknown_child));
  BOOST_TEST(is(request_error<caf::actor>(sup, restart_child_atom::value, std::string{"nope"}),
                errc::unknown_child));
  BOOST_TEST(is(request_error<caf::ok_atom>(sup, delete_child_atom::value, std::string{"nope"}),
                errc::unknown_child));
  BOOST_TEST(is(request_error<caf::actor>(sup, restart_child_atom::value, std::string{"x"}),
                errc::invalid_state));
  BOOST_TEST(is(request_error<caf::ok_atom>(sup, delete_child_atom::value, std::string{"x"}),
                errc::invalid_state));
  BOOST_TEST(is(request_error<caf::actor>(sup, start_child_atom::value, caf::make_message(1)),
                errc::invalid_state));
  BOOST_TEST(is(request_error<caf::actor>(sup, start_child_atom::value, sv::worker("", start_test_worker())),
                errc::invalid_configuration));
  BOOST_TEST(counts(sup).active == 1u); // unaffected by all of the above
  shutdown(sup);
}

BOOST_AUTO_TEST_CASE(a_linked_parent_exit_stops_the_tree_in_order) {
  order_log order;
  sv::supervisor_spec spec;
  spec.name = "linked";
  for (auto id : {"one", "two"})
    spec.children.push_back(sv::worker(id, order.start(id)));
  spec.parent = self->address(); // as if it had started the supervisor
  auto sup = spawn(spec);
  expect(sv::event_kind::child_started, "two");
  self->monitor(sup);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  caf::error reason;
  self->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(patience) >> [] { BOOST_FAIL("no down"); });
  BOOST_TEST((reason == caf::exit_reason::user_shutdown), describe(reason));
  std::lock_guard<std::mutex> guard{order.mtx};
  BOOST_TEST(order.stopped == (std::vector<std::string>{"two", "one"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_subscriber_gets_each_event_once_until_it_unsubscribes) {
  sv::supervisor_spec spec;
  spec.name = "events";
  spec.children.push_back(sv::worker("w", start_test_worker()));
  spec.flags.intensity = 5;
  auto sup = sv::spawn_supervisor(sys, spec);
  BOOST_REQUIRE(sup);
  self->send(*sup, subscribe_atom::value, caf::actor{self});
  self->send(*sup, subscribe_atom::value, caf::actor{self});
  auto w = child(*sup, "w").actor; // answered after both subscriptions
  self->send(w, die_atom::value, make_error(errc::io_error));
  int exited = 0;
  int restarted = 0;
  auto on_event = [&](sv::supervisor_event& ev) {
    exited += ev.kind == sv::event_kind::child_exited;
    restarted += ev.kind == sv::event_kind::child_restarted;
  };
  // Wait (patiently) for the restart, then a little longer for duplicates:
  // a second copy of an event would be sent right behind the first.
  while (restarted == 0) {
    bool timed_out = false;
    self->receive(on_event, caf::after(patience) >> [&] { timed_out = true; });
    if (timed_out)
      break;
  }
  for (bool more = true; more;)
    self->receive(on_event, caf::after(std::chrono::milliseconds(200)) >> [&] {
      more = false;
    });
  BOOST_TEST(exited == 1);
  BOOST_TEST(restarted == 1);
  self->send(*sup, unsubscribe_atom::value, caf::actor{self});
  self->send(child(*sup, "w").actor, die_atom::value, make_error(errc::io_error));
  BOOST_TEST(counts(*sup).active == 1u); // settled (restart happened)
  bool got_any = false;
  self->receive([&](sv::supervisor_event&) { got_any = true; },
                caf::after(std::chrono::milliseconds(300)) >> [] {});
  BOOST_TEST(!got_any);
  shutdown(*sup);
}

// -- adopt_child ---------------------------------------------------------------

namespace {

/// A simple_one_for_one spec whose template is temporary (what adopt_child
/// requires), on the scheduler or on the I/O thread.
sv::supervisor_spec adopting_spec(bool io_thread,
                                  caf::timespan stop_after = std::chrono::seconds(5)) {
  sv::supervisor_spec spec;
  spec.name = io_thread ? "adopter-io" : "adopter";
  spec.flags.how = sv::strategy::simple_one_for_one;
  spec.io_thread = io_thread;
  auto tpl = sv::worker("adoptee", start_test_worker(), sv::restart_type::temporary);
  tpl.shutdown = sv::shutdown_policy::after(stop_after);
  spec.children.push_back(std::move(tpl));
  return spec;
}

} // namespace

BOOST_AUTO_TEST_CASE(an_adopted_child_is_supervised_never_restarted_and_stopped_on_shutdown) {
  for (bool io_thread : {false, true}) {
    BOOST_TEST_CONTEXT("io_thread " << io_thread) {
      auto sup = spawn(adopting_spec(io_thread));
      auto a = sys.spawn(test_worker);
      BOOST_TEST(!request_error<caf::ok_atom>(sup, adopt_child_atom::value, a));
      auto kids = children(sup);
      BOOST_REQUIRE_EQUAL(kids.size(), 1u);
      BOOST_TEST(kids[0].actor == a);
      BOOST_TEST(kids[0].state == sv::child_state::running);
      BOOST_TEST(kids[0].restart == sv::restart_type::temporary);
      expect(sv::event_kind::child_started, kids[0].id);
      // Its exit is seen, and (temporary) it is not restarted: it is gone.
      self->send(a, die_atom::value, make_error(errc::io_error));
      auto ev = expect(sv::event_kind::child_exited, kids[0].id);
      BOOST_TEST(is(ev.reason, errc::io_error));
      BOOST_TEST(counts(sup).active == 0u);
      BOOST_TEST(children(sup).empty());
      // A generated id addresses it like a started child: terminate by id.
      auto b = sys.spawn(test_worker);
      BOOST_TEST(!request_error<caf::ok_atom>(sup, adopt_child_atom::value, b));
      auto id_b = children(sup).at(0).id;
      BOOST_TEST(!request_error<caf::ok_atom>(sup, terminate_child_atom::value, id_b));
      BOOST_TEST((wait_down(b.address()) == caf::exit_reason::user_shutdown));
      // On shutdown an adopted child is stopped like any other.
      auto c = sys.spawn(test_worker);
      auto d = sys.spawn(test_worker);
      BOOST_TEST(!request_error<caf::ok_atom>(sup, adopt_child_atom::value,
                                              std::vector<caf::actor>{c, d}));
      BOOST_TEST(counts(sup).active == 2u);
      self->monitor(c);
      self->monitor(d);
      shutdown(sup);
      int downs = 0;
      for (int i = 0; i < 2; ++i)
        self->receive(
          [&](caf::down_msg& msg) {
            downs += msg.reason == caf::exit_reason::user_shutdown;
          },
          caf::after(patience) >> [] { BOOST_FAIL("adopted child kept running"); });
      BOOST_TEST(downs == 2);
      seen.clear();
    }
  }
}

BOOST_AUTO_TEST_CASE(a_child_that_died_before_adoption_is_counted_exactly_once) {
  for (bool io_thread : {false, true}) {
    BOOST_TEST_CONTEXT("io_thread " << io_thread) {
      auto sup = spawn(adopting_spec(io_thread));
      auto early = sys.spawn(test_worker);
      self->send(early, die_atom::value, make_error(errc::timeout));
      wait_down(early.address());
      // Adopted after its death: accepted, and its exit is reported once.
      BOOST_TEST(!request_error<caf::ok_atom>(sup, adopt_child_atom::value, early));
      int started = 0;
      int exited = 0;
      for (bool more = true; more;)
        self->receive(
          [&](sv::supervisor_event& ev) {
            started += ev.kind == sv::event_kind::child_started;
            if (ev.kind == sv::event_kind::child_exited) {
              ++exited;
              BOOST_TEST(is(ev.reason, errc::timeout));
            }
          },
          caf::after(std::chrono::milliseconds(300)) >> [&] { more = false; });
      BOOST_TEST(started == 1);
      BOOST_TEST(exited == 1);
      BOOST_TEST(children(sup).empty());
      BOOST_TEST(counts(sup).active == 0u);
      shutdown(sup);
      seen.clear();
    }
  }
}

BOOST_AUTO_TEST_CASE(a_stubborn_adopted_child_is_killed_after_the_template_shutdown_timeout) {
  auto sup = spawn(adopting_spec(true, std::chrono::milliseconds(100)));
  auto stubborn = sys.spawn(stubborn_worker);
  BOOST_TEST(!request_error<caf::ok_atom>(sup, adopt_child_atom::value, stubborn));
  self->monitor(stubborn);
  auto t0 = std::chrono::steady_clock::now();
  shutdown(sup, caf::timespan{0}); // no tree deadline: the template's 100 ms
  caf::error reason;
  self->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(patience) >> [] { BOOST_FAIL("not killed"); });
  BOOST_TEST((reason == caf::exit_reason::kill));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < patience));
}

BOOST_AUTO_TEST_CASE(adopt_child_refuses_bad_input_with_typed_errors) {
  auto sup = spawn(adopting_spec(false));
  // No actor.
  auto err = request_error<caf::ok_atom>(sup, adopt_child_atom::value, caf::actor{});
  BOOST_TEST(is(err, errc::invalid_state), describe(err));
  // The same actor twice.
  auto a = sys.spawn(test_worker);
  BOOST_TEST(!request_error<caf::ok_atom>(sup, adopt_child_atom::value, a));
  err = request_error<caf::ok_atom>(sup, adopt_child_atom::value, a);
  BOOST_TEST(is(err, errc::duplicate_child), describe(err));
  // The vector form adopts the good ones and answers the first error.
  auto b = sys.spawn(test_worker);
  err = request_error<caf::ok_atom>(sup, adopt_child_atom::value,
                                    std::vector<caf::actor>{b, caf::actor{}, a});
  BOOST_TEST(is(err, errc::invalid_state), describe(err));
  BOOST_TEST(counts(sup).active == 2u);
  shutdown(sup);
  // A static supervisor, and a template that is not temporary, refuse.
  sv::supervisor_spec fixed;
  fixed.name = "fixed";
  fixed.children.push_back(sv::worker("w", start_test_worker()));
  auto fixed_sup = spawn(fixed);
  auto c = sys.spawn(test_worker);
  err = request_error<caf::ok_atom>(fixed_sup, adopt_child_atom::value, c);
  BOOST_TEST(is(err, errc::invalid_state), describe(err));
  shutdown(fixed_sup);
  auto permanent = adopting_spec(false);
  permanent.children.front().restart = sv::restart_type::permanent;
  auto perm_sup = spawn(permanent);
  err = request_error<caf::ok_atom>(perm_sup, adopt_child_atom::value, c);
  BOOST_TEST(is(err, errc::invalid_state), describe(err));
  BOOST_TEST(children(perm_sup).empty());
  shutdown(perm_sup);
  // Refused children are the caller's to stop.
  self->send_exit(c, caf::exit_reason::kill);
  // After a shutdown the supervisor is gone: a request fails, nothing hangs.
  err = request_error<caf::ok_atom>(sup, adopt_child_atom::value, sys.spawn(test_worker));
  BOOST_TEST(err);
}

BOOST_AUTO_TEST_CASE(an_io_thread_supervisor_needs_the_middleman) {
  caf::actor_system_config bare_cfg;
  register_error_category(bare_cfg);
  caf::actor_system bare{bare_cfg};
  auto sup = sv::spawn_supervisor(bare, adopting_spec(true));
  BOOST_REQUIRE(!sup);
  BOOST_TEST(is(sup.error(), errc::invalid_configuration), describe(sup.error()));
}

BOOST_AUTO_TEST_SUITE_END()
