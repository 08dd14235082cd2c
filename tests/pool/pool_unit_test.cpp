// The pool's sans-IO parts: circuit breaker, balancer, options validation,
// the waiter queue and the lease table. No sockets, no actors, no clock:
// time points are made up.

#include <boost/test/unit_test.hpp>

#include <map>
#include <vector>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/pool/balancer.hpp"
#include "ghostnet/pool/circuit_breaker.hpp"
#include "ghostnet/pool/detail/lease_table.hpp"
#include "ghostnet/pool/detail/waiter_queue.hpp"
#include "ghostnet/pool/pool_config.hpp"
#include "ghostnet/pool/pool_options.hpp"

#include "printers.hpp"

using namespace ghostnet;
using namespace ghostnet::pool;
using namespace std::chrono_literals;

namespace {

using time_point = circuit_breaker::time_point;

const time_point t0 = time_point{} + 1h;

pool_options valid_options() {
  pool_options opts;
  opts.endpoints = {transports::endpoint{"127.0.0.1", 7000}};
  return opts;
}

/// The field named at the start of an invalid_configuration's detail.
std::string field_of(const caf::error& err) {
  auto detail = context_of(err).detail;
  return detail.substr(0, detail.find(':'));
}

std::vector<size_t> picks(balancer& b, const std::vector<candidate>& xs,
                          size_t n) {
  std::vector<size_t> result;
  for (size_t i = 0; i < n; ++i)
    result.push_back(xs[b.pick(xs)].endpoint);
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(circuit_breaker_suite)

BOOST_AUTO_TEST_CASE(breaker_opens_after_threshold_consecutive_failures) {
  circuit_breaker b{breaker_options{3, 5s}};
  BOOST_TEST(b.allows(t0));
  BOOST_TEST(!b.on_failure(t0));
  BOOST_TEST(!b.on_failure(t0));
  BOOST_TEST(b.state() == breaker_state::closed);
  BOOST_TEST(b.on_failure(t0));
  BOOST_TEST(b.state() == breaker_state::open);
  BOOST_TEST(b.times_opened() == 1u);
  BOOST_TEST(!b.allows(t0 + 4s));
}

BOOST_AUTO_TEST_CASE(a_success_resets_the_failure_count) {
  circuit_breaker b{breaker_options{2, 5s}};
  BOOST_TEST(!b.on_failure(t0));
  BOOST_TEST(!b.on_success()); // was closed: nothing to report
  BOOST_TEST(b.consecutive_failures() == 0u);
  BOOST_TEST(!b.on_failure(t0));
  BOOST_TEST(b.state() == breaker_state::closed);
}

BOOST_AUTO_TEST_CASE(after_the_cooldown_exactly_one_probe_goes_through) {
  circuit_breaker b{breaker_options{1, 5s}};
  BOOST_TEST(b.on_failure(t0));
  BOOST_TEST(!b.allows(t0 + 5s - 1ms));
  BOOST_TEST(b.allows(t0 + 5s));
  BOOST_TEST(b.on_attempt(t0 + 5s)); // the probe
  BOOST_TEST(b.state() == breaker_state::half_open);
  BOOST_TEST(!b.allows(t0 + 6s)); // one probe at a time
  BOOST_TEST(b.times_half_opened() == 1u);
}

BOOST_AUTO_TEST_CASE(a_successful_probe_closes_the_breaker) {
  circuit_breaker b{breaker_options{1, 1s}};
  (void) b.on_failure(t0);
  BOOST_TEST(b.on_attempt(t0 + 1s));
  BOOST_TEST(b.on_success());
  BOOST_TEST(b.state() == breaker_state::closed);
  BOOST_TEST(b.allows(t0 + 1s));
  BOOST_TEST(!b.on_attempt(t0 + 1s)); // closed: no probe
}

BOOST_AUTO_TEST_CASE(a_failed_probe_opens_it_for_another_cooldown) {
  circuit_breaker b{breaker_options{1, 1s}};
  (void) b.on_failure(t0);
  BOOST_TEST(b.on_attempt(t0 + 2s));
  BOOST_TEST(b.on_failure(t0 + 3s));
  BOOST_TEST(b.state() == breaker_state::open);
  BOOST_TEST(!b.allows(t0 + 3s + 999ms));
  BOOST_TEST(b.allows(t0 + 4s));
  BOOST_TEST(b.times_opened() == 2u);
}

BOOST_AUTO_TEST_CASE(late_failures_while_open_do_not_extend_the_cooldown) {
  circuit_breaker b{breaker_options{1, 1s}};
  (void) b.on_failure(t0);
  BOOST_TEST(!b.on_failure(t0 + 900ms)); // a connect started before it opened
  BOOST_TEST(b.allows(t0 + 1s));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(balancer_suite)

BOOST_AUTO_TEST_CASE(round_robin_takes_endpoints_in_turn_and_skips_missing_ones) {
  balancer b{balancing_policy::round_robin};
  std::vector<candidate> all{{0, 0}, {1, 0}, {2, 0}};
  BOOST_TEST(picks(b, all, 4) == (std::vector<size_t>{0, 1, 2, 0}),
             boost::test_tools::per_element());
  std::vector<candidate> no_one{{0, 0}, {2, 0}};
  BOOST_TEST(picks(b, no_one, 3) == (std::vector<size_t>{2, 0, 2}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(least_outstanding_prefers_the_least_loaded_and_rotates_ties) {
  balancer b{balancing_policy::least_outstanding};
  std::vector<candidate> xs{{0, 5}, {1, 2}, {2, 9}};
  BOOST_TEST(picks(b, xs, 3) == (std::vector<size_t>{1, 1, 1}),
             boost::test_tools::per_element());
  std::vector<candidate> tied{{0, 1}, {1, 4}, {2, 1}};
  BOOST_TEST(picks(b, tied, 4) == (std::vector<size_t>{2, 0, 2, 0}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(power_of_two_never_picks_the_most_loaded_of_three) {
  balancer b{balancing_policy::power_of_two, 42};
  std::vector<candidate> xs{{0, 1}, {1, 100}, {2, 3}};
  std::map<size_t, int> seen;
  for (int i = 0; i < 1000; ++i)
    ++seen[xs[b.pick(xs)].endpoint];
  // Any pair contains one of the two lighter endpoints.
  BOOST_TEST(seen[1] == 0);
  // The lightest wins both of its pairs: about two thirds.
  BOOST_TEST(seen[0] > 550);
  BOOST_TEST(seen[2] > 200);
}

BOOST_AUTO_TEST_CASE(a_single_candidate_is_always_picked) {
  for (auto p : {balancing_policy::round_robin,
                 balancing_policy::least_outstanding,
                 balancing_policy::power_of_two}) {
    balancer b{p};
    std::vector<candidate> one{{3, 7}};
    BOOST_TEST(b.pick(one) == 0u);
  }
}

BOOST_AUTO_TEST_CASE(policies_and_reuse_orders_parse_and_print) {
  BOOST_TEST(parse_balancing_policy("power_of_two").value()
             == balancing_policy::power_of_two);
  BOOST_TEST(is(parse_balancing_policy("random").error(),
                errc::invalid_configuration));
  BOOST_TEST(parse_reuse_order("fifo").value() == reuse_order::fifo);
  BOOST_TEST(is(parse_reuse_order("LIFO!").error(), errc::invalid_configuration));
  BOOST_TEST(std::string{to_string(breaker_state::half_open)} == "half_open");
  BOOST_TEST(parse_idle_data_policy("discard").value()
             == idle_data_policy::discard);
  BOOST_TEST(std::string{to_string(idle_data_policy::evict)} == "evict");
  BOOST_TEST(is(parse_idle_data_policy("deliver").error(),
                errc::invalid_configuration));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pool_options_suite)

BOOST_AUTO_TEST_CASE(defaults_are_the_documented_ones_and_valid) {
  auto opts = valid_options();
  BOOST_TEST(!validate(opts));
  BOOST_TEST(opts.max_connections == 100);
  BOOST_TEST(opts.max_idle == 10);
  BOOST_TEST(opts.min_idle == 0);
  BOOST_TEST((opts.idle_timeout == 60s));
  BOOST_TEST((opts.connect_timeout == 30s));
  BOOST_TEST((opts.max_lifetime == caf::timespan{0}));
  BOOST_TEST((opts.reuse == reuse_order::lifo));
  BOOST_TEST(opts.greeting_frames == 0);
  BOOST_TEST((opts.idle_data == idle_data_policy::evict));
  BOOST_TEST(!opts.on_idle_frame);
}

BOOST_AUTO_TEST_CASE(zero_and_negative_limits_are_refused_naming_the_field) {
  struct row {
    const char* field;
    void (*spoil)(pool_options&);
  };
  const row rows[] = {
    {"max_connections", [](pool_options& o) { o.max_connections = 0; }},
    {"max_connections", [](pool_options& o) { o.max_connections = -5; }},
    {"max_idle", [](pool_options& o) { o.max_idle = 0; }},
    {"max_idle", [](pool_options& o) { o.max_connections = 5; o.max_idle = 6; }},
    {"min_idle", [](pool_options& o) { o.min_idle = -1; }},
    {"min_idle", [](pool_options& o) { o.min_idle = 11; }},
    {"max_waiters", [](pool_options& o) { o.max_waiters = 0; }},
    {"connect_retries", [](pool_options& o) { o.connect_retries = -1; }},
    {"greeting_frames", [](pool_options& o) { o.greeting_frames = -1; }},
    {"idle_timeout", [](pool_options& o) { o.idle_timeout = caf::timespan{0}; }},
    {"connect_timeout", [](pool_options& o) { o.connect_timeout = -1s; }},
    {"acquire_timeout", [](pool_options& o) { o.acquire_timeout = caf::timespan{0}; }},
    {"connect_backoff_max", [](pool_options& o) { o.connect_backoff_max = 1ms; }},
    {"connect_jitter", [](pool_options& o) { o.connect_jitter = 1.5; }},
    {"max_lifetime", [](pool_options& o) { o.max_lifetime = -1s; }},
    {"max_lease", [](pool_options& o) { o.max_lease = -1ms; }},
    {"health.interval", [](pool_options& o) { o.health.interval = -1s; }},
    {"health.timeout", [](pool_options& o) { o.health.timeout = caf::timespan{0}; }},
    {"health.expected_reply", [](pool_options& o) { o.health.request = {'x'}; }},
    {"breaker.failure_threshold", [](pool_options& o) { o.breaker.failure_threshold = 0; }},
    {"breaker.cooldown", [](pool_options& o) { o.breaker.cooldown = caf::timespan{0}; }},
    {"endpoints", [](pool_options& o) { o.endpoints.clear(); }},
    {"endpoints[1]", [](pool_options& o) { o.endpoints.push_back({"db.example", 5432}); }},
    {"endpoints[1]", [](pool_options& o) { o.endpoints.push_back({"127.0.0.1", 0}); }},
    {"endpoints[1]", [](pool_options& o) { o.endpoints.push_back(o.endpoints[0]); }},
    {"name", [](pool_options& o) { o.name.clear(); }},
    {"connection", [](pool_options& o) { o.connection.high_water_mark = 0; }},
  };
  for (auto& r : rows) {
    BOOST_TEST_CONTEXT("field " << r.field) {
      auto opts = valid_options();
      r.spoil(opts);
      auto err = validate(opts);
      BOOST_TEST(is(err, errc::invalid_configuration), describe(err));
      BOOST_TEST(field_of(err) == r.field, describe(err));
    }
  }
}

BOOST_AUTO_TEST_CASE(zero_means_off_where_documented) {
  auto opts = valid_options();
  opts.max_lifetime = caf::timespan{0};
  opts.max_lease = caf::timespan{0};
  opts.health.interval = caf::timespan{0};
  opts.min_idle = 0;
  opts.connect_retries = 0;
  BOOST_TEST(!validate(opts));
}

BOOST_AUTO_TEST_CASE(connect_options_carry_the_pool_settings) {
  auto opts = valid_options();
  opts.connect_timeout = 2s;
  opts.connect_retries = 3;
  opts.connect_backoff_min = 50ms;
  opts.connection.framing.kind = transports::framing_kind::line;
  auto c = connect_options_for(opts, opts.endpoints[0]);
  BOOST_TEST(c.remote == opts.endpoints[0]);
  BOOST_TEST((c.timeout == 2s));
  BOOST_TEST(c.retries == 3u);
  BOOST_TEST((c.backoff_min == 50ms));
  BOOST_TEST((c.connection.framing.kind == transports::framing_kind::line));
  BOOST_TEST(!transports::validate(c));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pool_config_suite)

namespace {

caf::expected<pool_options> from_args(std::vector<std::string> args,
                                      std::map<std::string, std::string> env = {}) {
  node_options_parser parser;
  if (auto err = declare_pool_options(parser, "db"))
    return err;
  auto opts = parser.parse(args, env);
  if (!opts)
    return std::move(opts.error());
  return pool_options_from(*opts, "db");
}

} // namespace

BOOST_AUTO_TEST_CASE(every_option_comes_from_flags_and_environment) {
  auto opts = from_args({"--db.endpoints=127.0.0.1:5432, [::1]:5433",
                         "--db.max-connections=7", "--db.max-idle=5",
                         "--db.min-idle=2", "--db.max-waiters=9",
                         "--db.idle-timeout=250ms", "--db.connect-retries=3",
                         "--db.max-lifetime=10min", "--db.reuse=fifo",
                         "--db.balancing=power_of_two",
                         "--db.health-interval=1s", "--db.health-request=PING",
                         "--db.health-reply=PONG", "--db.breaker-failures=2",
                         "--db.greeting-frames=1", "--db.idle-data=discard"},
                        {{"GHOSTNET_DB_BREAKER_COOLDOWN", "750ms"}});
  BOOST_REQUIRE_MESSAGE(opts, (opts ? std::string{} : describe(opts.error())));
  BOOST_TEST(opts->endpoints.size() == 2u);
  BOOST_TEST(opts->endpoints[1].host == "::1");
  BOOST_TEST(opts->endpoints[1].port == 5433);
  BOOST_TEST(opts->max_connections == 7);
  BOOST_TEST(opts->max_idle == 5);
  BOOST_TEST(opts->min_idle == 2);
  BOOST_TEST(opts->max_waiters == 9);
  BOOST_TEST((opts->idle_timeout == 250ms));
  BOOST_TEST(opts->connect_retries == 3);
  BOOST_TEST((opts->max_lifetime == 10min));
  BOOST_TEST(opts->reuse == reuse_order::fifo);
  BOOST_TEST(opts->balancing == balancing_policy::power_of_two);
  BOOST_TEST((opts->health.interval == 1s));
  BOOST_TEST(std::string(opts->health.request.begin(), opts->health.request.end()) == "PING");
  BOOST_TEST(opts->breaker.failure_threshold == 2);
  BOOST_TEST((opts->breaker.cooldown == 750ms));
  BOOST_TEST(opts->greeting_frames == 1);
  BOOST_TEST(opts->idle_data == idle_data_policy::discard);
}

BOOST_AUTO_TEST_CASE(defaults_come_back_unchanged) {
  auto opts = from_args({"--db.endpoints=127.0.0.1:1"});
  BOOST_REQUIRE_MESSAGE(opts, (opts ? std::string{} : describe(opts.error())));
  pool_options d;
  BOOST_TEST(opts->max_connections == d.max_connections);
  BOOST_TEST((opts->idle_timeout == d.idle_timeout));
  BOOST_TEST((opts->max_lifetime == d.max_lifetime));
  BOOST_TEST(opts->reuse == d.reuse);
  BOOST_TEST((opts->breaker.cooldown == d.breaker.cooldown));
  BOOST_TEST(opts->health.request.empty());
}

BOOST_AUTO_TEST_CASE(bad_values_from_config_are_typed_errors_naming_them) {
  BOOST_TEST(field_of(from_args({"--db.endpoints=127.0.0.1:1",
                                 "--db.max-connections=0"}).error())
             == "max_connections");
  auto neg = from_args({"--db.endpoints=127.0.0.1:1", "--db.max-idle=-1"});
  BOOST_TEST(is(neg.error(), errc::invalid_configuration));
  BOOST_TEST(context_of(neg.error()).detail.find("db.max-idle") != std::string::npos,
             describe(neg.error()));
  auto big = from_args({"--db.endpoints=127.0.0.1:1", "--db.max-waiters=9999999999"});
  BOOST_TEST(context_of(big.error()).detail.find("too large") != std::string::npos,
             describe(big.error()));
  auto ep = from_args({"--db.endpoints=db.example:5432"});
  BOOST_TEST(is(ep.error(), errc::invalid_configuration), describe(ep.error()));
  BOOST_TEST(field_of(from_args({}).error()) == "endpoints");
  auto pol = from_args({"--db.endpoints=127.0.0.1:1", "--db.balancing=random"});
  BOOST_TEST(is(pol.error(), errc::invalid_configuration));
  auto idle = from_args({"--db.endpoints=127.0.0.1:1", "--db.idle-data=keep"});
  BOOST_TEST(is(idle.error(), errc::invalid_configuration));
}

BOOST_AUTO_TEST_SUITE_END()

// -- waiter queue -----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(waiters)

using queue = ghostnet::pool::detail::waiter_queue<std::string>;

BOOST_AUTO_TEST_CASE(first_come_first_served_whatever_the_deadlines) {
  queue q;
  q.push("late deadline", t0 + 10s);
  q.push("early deadline", t0 + 1s);
  q.push("no deadline", queue::no_deadline);
  BOOST_TEST(q.size() == 3u);
  BOOST_TEST(q.pop_front() == "late deadline");
  BOOST_TEST(q.pop_front() == "early deadline");
  BOOST_TEST(q.pop_front() == "no deadline");
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(expiry_takes_exactly_the_due_ones_in_deadline_order) {
  queue q;
  q.push("b", t0 + 2s);
  q.push("a", t0 + 1s);
  q.push("c", t0 + 3s);
  q.push("forever", queue::no_deadline);
  BOOST_TEST((q.next_deadline() == t0 + 1s));
  std::vector<std::string> gone;
  BOOST_TEST(q.expire(t0 + 2s, [&](std::string& w) { gone.push_back(w); }) == 2u);
  BOOST_TEST(gone == (std::vector<std::string>{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST((q.next_deadline() == t0 + 3s));
  BOOST_TEST(q.expire(t0 + 2s, [](std::string&) {}) == 0u); // nothing new is due
  q.expire(t0 + 1h, [](std::string&) {});
  BOOST_TEST(q.size() == 1u);
  BOOST_TEST(!q.next_deadline()); // only "forever" is left
}

BOOST_AUTO_TEST_CASE(a_served_waiter_never_expires_later) {
  queue q;
  q.push("served", t0 + 1s);
  q.push("waits", t0 + 2s);
  BOOST_TEST(q.pop_front() == "served");
  std::vector<std::string> gone;
  q.expire(t0 + 5s, [&](std::string& w) { gone.push_back(w); });
  BOOST_TEST(gone == (std::vector<std::string>{"waits"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_waiters_of_a_dead_holder_leave_with_their_deadlines) {
  queue q;
  q.push("alice-1", t0 + 1s);
  q.push("bob", t0 + 2s);
  q.push("alice-2", t0 + 3s);
  BOOST_TEST(q.erase_if([](const std::string& w) { return w.rfind("alice", 0) == 0; }) == 2u);
  BOOST_TEST((q.next_deadline() == t0 + 2s));
  auto rest = q.take_all();
  BOOST_TEST(rest == (std::vector<std::string>{"bob"}), boost::test_tools::per_element());
  BOOST_TEST(q.empty());
  BOOST_TEST(!q.next_deadline());
}

BOOST_AUTO_TEST_SUITE_END()

// -- lease table ------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(leases)

using table = ghostnet::pool::detail::lease_table<std::string>;

BOOST_AUTO_TEST_CASE(a_lease_is_released_once) {
  table t;
  auto id = t.issue(7, "holder", t0);
  auto rec = t.release(id);
  BOOST_REQUIRE(rec);
  BOOST_TEST(rec->member == 7u);
  BOOST_TEST(rec->holder == "holder");
  BOOST_TEST(!t.release(id)); // twice: unknown
  BOOST_TEST(!t.release(id + 100)); // never issued
  BOOST_TEST(t.empty());
}

BOOST_AUTO_TEST_CASE(a_dead_holder_gives_back_all_its_leases_and_only_its) {
  table t;
  auto a1 = t.issue(1, "a", t0);
  t.issue(2, "b", t0);
  auto a2 = t.issue(3, "a", t0 + 1s);
  auto gone = t.release_all_of("a");
  BOOST_REQUIRE_EQUAL(gone.size(), 2u);
  BOOST_TEST(gone[0].first == a1);
  BOOST_TEST(gone[1].first == a2);
  BOOST_TEST(gone[1].second.member == 3u);
  BOOST_TEST(t.size() == 1u);
}

BOOST_AUTO_TEST_CASE(overdue_leases_are_reported_once_and_the_next_due_time_is_known) {
  table t;
  auto first = t.issue(1, "a", t0);
  t.issue(2, "b", t0 + 3s);
  std::vector<uint64_t> reported;
  auto record = [&](uint64_t id, const table::record&) { reported.push_back(id); };
  // Before max_lease: nothing, and the first lease is the next due.
  auto next = t.report_overdue(t0 + 4s, 5s, record);
  BOOST_TEST(reported.empty());
  BOOST_TEST((next == t0 + 5s));
  // The edge is inclusive (held for max_lease = too long).
  next = t.report_overdue(t0 + 5s, 5s, record);
  BOOST_TEST(reported == (std::vector<uint64_t>{first}), boost::test_tools::per_element());
  BOOST_TEST((next == t0 + 8s));
  // Reported once: later checks skip it.
  next = t.report_overdue(t0 + 6s, 5s, record);
  BOOST_TEST(reported.size() == 1u);
  BOOST_TEST((next == t0 + 8s));
  t.report_overdue(t0 + 8s, 5s, record);
  BOOST_TEST(reported.size() == 2u);
  BOOST_TEST(!t.report_overdue(t0 + 9s, 5s, record)); // none left to report
}

BOOST_AUTO_TEST_SUITE_END()
