// The supervisor's parts on their own, without actors or clocks: restart
// intensity (the window and its edge), the stop job (serial and parallel
// order, per-child timeouts, the tree deadline and abandoning), the child
// table (generations, ids, lookups) and the exit rules.

#include <boost/test/unit_test.hpp>

#include <caf/exit_reason.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/detail/child_table.hpp"
#include "ghostnet/supervision/detail/exit_rules.hpp"
#include "ghostnet/supervision/detail/restart_intensity.hpp"
#include "ghostnet/supervision/detail/stop_job.hpp"

using namespace ghostnet;
using namespace ghostnet::supervision;
using namespace ghostnet::supervision::detail;
using namespace std::chrono_literals;

namespace {

const time_point t0 = time_point{} + 1000s;

using keys = std::vector<uint64_t>;

} // namespace

BOOST_AUTO_TEST_SUITE(restart_intensity_window)

BOOST_AUTO_TEST_CASE(allows_exactly_the_intensity_within_the_period) {
  restart_intensity r{3, 5s};
  BOOST_TEST(r.record(t0));
  BOOST_TEST(r.record(t0 + 1s));
  BOOST_TEST(r.record(t0 + 2s));
  BOOST_TEST(!r.record(t0 + 3s)); // the fourth in 5 s
}

BOOST_AUTO_TEST_CASE(the_edge_is_inclusive_as_in_otp) {
  restart_intensity r{1, 5s};
  BOOST_TEST(r.record(t0));
  // Exactly one period later the first one still counts...
  BOOST_TEST(!r.record(t0 + 5s));
  restart_intensity s{1, 5s};
  BOOST_TEST(s.record(t0));
  // ...one tick later it has left the window.
  BOOST_TEST(s.record(t0 + 5s + 1ns));
  BOOST_TEST(s.in_window(t0 + 5s + 1ns) == 1u);
}

BOOST_AUTO_TEST_CASE(intensity_zero_gives_up_at_the_first_restart) {
  restart_intensity r{0, 5s};
  BOOST_TEST(!r.record(t0));
}

BOOST_AUTO_TEST_CASE(old_restarts_leave_the_window) {
  restart_intensity r{2, 1s};
  for (int i = 0; i < 100; ++i)
    BOOST_TEST(r.record(t0 + i * 600ms)); // never two within one second
  BOOST_TEST(r.in_window(t0 + 100 * 600ms) <= 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stop_job_order)

BOOST_AUTO_TEST_CASE(serial_asks_one_at_a_time_in_the_given_order) {
  stop_job job{{3, 2, 1}, stop_job::order::serial};
  BOOST_TEST(job.take_next(t0) == keys{3});
  BOOST_TEST(job.take_next(t0).empty()); // 3 is waited for
  job.asked(3, std::nullopt);
  BOOST_TEST(job.gone(3));
  BOOST_TEST(job.take_next(t0) == keys{2});
  job.asked(2, std::nullopt);
  BOOST_TEST(job.gone(2));
  BOOST_TEST(job.take_next(t0) == keys{1});
  BOOST_TEST(!job.done());
  BOOST_TEST(job.gone(1));
  BOOST_TEST(job.done());
}

BOOST_AUTO_TEST_CASE(parallel_asks_everyone_at_once) {
  stop_job job{{5, 4, 3}, stop_job::order::parallel};
  BOOST_TEST(job.take_next(t0) == (keys{5, 4, 3}));
  BOOST_TEST(job.take_next(t0).empty());
  BOOST_TEST(job.waiting() == 3u);
}

BOOST_AUTO_TEST_CASE(an_exit_of_a_queued_child_is_part_of_the_stop) {
  stop_job job{{3, 2, 1}, stop_job::order::serial};
  BOOST_TEST(job.take_next(t0) == keys{3});
  job.asked(3, std::nullopt);
  // 1 crashes on its own while 3 is being stopped: it is not asked later.
  BOOST_TEST(job.contains(1));
  BOOST_TEST(job.gone(1));
  BOOST_TEST(!job.contains(1));
  BOOST_TEST(job.gone(3));
  BOOST_TEST(job.take_next(t0) == keys{2});
  BOOST_TEST(job.gone(2));
  BOOST_TEST(job.done());
  BOOST_TEST(!job.gone(7)); // never part of it
}

BOOST_AUTO_TEST_CASE(a_child_past_its_shutdown_timeout_is_killed_once) {
  stop_job job{{1}, stop_job::order::serial};
  BOOST_TEST(job.take_next(t0) == keys{1});
  job.asked(1, t0 + 100ms);
  BOOST_TEST((job.next_deadline() == t0 + 100ms));
  BOOST_TEST(job.poll(t0 + 99ms).kill.empty());
  BOOST_TEST(job.poll(t0 + 100ms).kill == keys{1});
  BOOST_TEST(job.poll(t0 + 200ms).kill.empty()); // once
  BOOST_TEST(!job.next_deadline());
  BOOST_TEST(job.gone(1));
  BOOST_TEST(job.done());
}

BOOST_AUTO_TEST_CASE(a_child_that_is_gone_in_time_is_not_killed) {
  stop_job job{{1, 2}, stop_job::order::parallel};
  BOOST_TEST(job.take_next(t0).size() == 2u);
  job.asked(1, t0 + 100ms);
  job.asked(2, t0 + 100ms);
  BOOST_TEST(job.gone(1));
  BOOST_TEST(job.poll(t0 + 100ms).kill == keys{2});
}

BOOST_AUTO_TEST_CASE(the_deadline_kills_everyone_left_and_abandons_after_the_grace) {
  stop_job job{{3, 2, 1}, stop_job::order::serial};
  BOOST_TEST(job.take_next(t0) == keys{3});
  job.asked(3, std::nullopt); // shutdown infinity
  job.set_deadline(t0 + 1s, 250ms);
  BOOST_TEST((job.next_deadline() == t0 + 1s));
  auto due = job.poll(t0 + 1s);
  BOOST_TEST(due.kill == (keys{1, 2, 3})); // queued ones too
  BOOST_TEST(due.abandon.empty());
  BOOST_TEST((job.next_deadline() == t0 + 1250ms));
  BOOST_TEST(job.gone(2));
  BOOST_TEST(job.gone(1));
  due = job.poll(t0 + 1250ms);
  BOOST_TEST(due.kill.empty());
  BOOST_TEST(due.abandon == keys{3}); // stuck in a handler
  BOOST_TEST(job.done());
}

BOOST_AUTO_TEST_CASE(ten_thousand_parallel_children_share_one_deadline_entry_point) {
  keys ks;
  for (uint64_t i = 1; i <= 10000; ++i)
    ks.push_back(i);
  stop_job job{ks, stop_job::order::parallel, {20000, 1ms}};
  for (auto k : job.take_next(t0))
    job.asked(k, t0 + 5s);
  BOOST_TEST((job.next_deadline() == t0 + 5s));
  for (uint64_t i = 1; i <= 9990; ++i)
    BOOST_TEST_REQUIRE(job.gone(i));
  BOOST_TEST(job.poll(t0 + 5s).kill.size() == 10u);
}

BOOST_AUTO_TEST_CASE(parallel_asks_in_waves_one_more_for_each_that_goes) {
  stop_job job{{1, 2, 3, 4, 5, 6, 7}, stop_job::order::parallel, {3, 1ms}};
  BOOST_TEST(job.take_next(t0) == (keys{1, 2, 3}));
  BOOST_TEST(job.take_next(t0).empty()); // the window is full
  BOOST_TEST((job.next_deadline() == t0 + 1ms));
  BOOST_TEST(job.gone(2));
  BOOST_TEST(job.take_next(t0) == keys{4}); // room for one
  BOOST_TEST(job.waiting() == 3u);
}

BOOST_AUTO_TEST_CASE(a_stuck_window_does_not_hold_back_the_next_wave) {
  // Children that take long to stop (draining connections) still stop side
  // by side: every interval asks another wave.
  stop_job job{{1, 2, 3, 4, 5, 6, 7}, stop_job::order::parallel, {3, 1ms}};
  BOOST_TEST(job.take_next(t0) == (keys{1, 2, 3}));
  BOOST_TEST(job.poll(t0 + 999us).ask.empty());
  BOOST_TEST(job.poll(t0 + 1ms).ask == (keys{4, 5, 6}));
  BOOST_TEST((job.next_deadline() == t0 + 2ms));
  BOOST_TEST(job.poll(t0 + 2ms).ask == keys{7});
  BOOST_TEST(!job.next_deadline()); // nothing left to ask, no timeouts
  BOOST_TEST(job.waiting() == 7u);
}

BOOST_AUTO_TEST_CASE(the_deadline_takes_everyone_not_yet_asked) {
  stop_job job{{1, 2, 3, 4, 5}, stop_job::order::parallel, {2, 1h}};
  BOOST_TEST(job.take_next(t0) == (keys{1, 2}));
  job.set_deadline(t0 + 1s, 250ms);
  auto due = job.poll(t0 + 1s);
  BOOST_TEST(due.ask.empty());
  BOOST_TEST(due.kill == (keys{1, 2, 3, 4, 5}));
  BOOST_TEST(job.take_next(t0 + 1s).empty()); // all taken already
}

BOOST_AUTO_TEST_CASE(serial_order_has_no_waves) {
  stop_job job{{3, 2, 1}, stop_job::order::serial, {1, 1ms}};
  BOOST_TEST(job.take_next(t0) == keys{3});
  job.asked(3, std::nullopt);
  BOOST_TEST(!job.next_deadline());
  BOOST_TEST(job.poll(t0 + 1s).ask.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(child_table_records)

BOOST_AUTO_TEST_CASE(static_children_are_found_by_id_and_instance) {
  child_table t{false};
  auto spec = std::make_shared<child_spec>();
  spec->id = "a";
  auto& a = t.add(spec, caf::message{});
  BOOST_TEST(t.find("a") == &a);
  BOOST_TEST(t.find("b") == nullptr);
  BOOST_TEST(t.id_of(a) == "a");
  BOOST_TEST(a.generation == 0u);
}

BOOST_AUTO_TEST_CASE(dynamic_ids_are_made_from_the_template_and_key) {
  child_table t{true};
  auto spec = std::make_shared<child_spec>();
  spec->id = "conn";
  auto& a = t.add(spec, caf::message{});
  auto& b = t.add(spec, caf::message{});
  BOOST_TEST(t.id_of(b) == "conn#" + std::to_string(b.key));
  BOOST_TEST(t.find(t.id_of(a)) == &a);
  BOOST_TEST(t.find("conn#") == nullptr);
  BOOST_TEST(t.find("conn#x1") == nullptr);
  BOOST_TEST(t.find("other#1") == nullptr);
  BOOST_TEST(t.find("conn#99999999999999999999999") == nullptr);
  BOOST_TEST(t.keys() == (keys{a.key, b.key}));
  BOOST_TEST(t.keys(b.key) == keys{b.key});
  t.remove(a.key);
  BOOST_TEST(t.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(exit_rules_by_restart_type)

BOOST_AUTO_TEST_CASE(a_supervisor_that_gave_up_is_a_shutdown_for_a_transient_parent) {
  auto gave_up = make_error(errc::restart_intensity_exceeded, "restart", "inner");
  BOOST_TEST(!should_restart(restart_type::transient, gave_up));
  BOOST_TEST(should_restart(restart_type::permanent, gave_up));
  BOOST_TEST(!should_restart(restart_type::temporary, gave_up));
}

BOOST_AUTO_TEST_CASE(otps_table_of_restart_type_and_exit_reason) {
  caf::error normal;
  caf::error shutdown{caf::exit_reason::user_shutdown};
  caf::error killed{caf::exit_reason::kill};
  auto crash = make_error(errc::io_error, "read");
  for (auto& r : {normal, shutdown, killed, crash})
    BOOST_TEST(should_restart(restart_type::permanent, r));
  BOOST_TEST(!should_restart(restart_type::transient, normal));
  BOOST_TEST(!should_restart(restart_type::transient, shutdown));
  BOOST_TEST(should_restart(restart_type::transient, killed));
  BOOST_TEST(should_restart(restart_type::transient, crash));
  for (auto& r : {normal, shutdown, killed, crash})
    BOOST_TEST(!should_restart(restart_type::temporary, r));
}

BOOST_AUTO_TEST_SUITE_END()
