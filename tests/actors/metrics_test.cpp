// The metrics registry (ghostnet/actors/metrics.hpp): counts from many
// threads add up, histograms are cumulative, the text format is
// Prometheus' (label values escaped), and misuse is refused.

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <thread>
#include <vector>

#include "ghostnet/actors/metrics.hpp"

using namespace ghostnet;

BOOST_AUTO_TEST_SUITE(metrics_registry)

BOOST_AUTO_TEST_CASE(a_counter_sums_what_many_threads_added) {
  metrics::registry reg;
  auto& c = reg.counter("test_events_total", "events");
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t)
    threads.emplace_back([&c] {
      for (int i = 0; i < 100000; ++i)
        c.inc();
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(c.value() == 1200000u);
  // A series looked up without help first gets it from a later lookup.
  (void) reg.gauge("test_open", "");
  (void) reg.gauge("test_open", "open things");
  BOOST_TEST(reg.prometheus_text().find("# HELP test_open open things\n") != std::string::npos);
  // The same name and labels are the same series.
  BOOST_TEST(&reg.counter("test_events_total", "") == &c);
  BOOST_TEST(&reg.counter("test_events_total", "", {{"a", "b"}}) != &c);
}

BOOST_AUTO_TEST_CASE(the_text_format_is_prometheus_with_escaped_labels) {
  metrics::registry reg;
  reg.counter("b_total", "second", {{"reason", "say \"hi\"\\\n"}}).inc(3);
  reg.gauge("a_open", "first").add(-2);
  auto& h = reg.histogram("c_seconds", "latency", {0.1, 0.01, 1}, {{"route", "/x"}});
  h.observe(0.005);
  h.observe(0.05);
  h.observe(0.05);
  h.observe(5);
  BOOST_TEST(h.bounds() == (std::vector<double>{0.01, 0.1, 1})); // sorted
  BOOST_TEST(h.cumulative_counts() == (std::vector<uint64_t>{1, 3, 3, 4}));
  auto text = reg.prometheus_text();
  BOOST_TEST(text == "# HELP a_open first\n"
                     "# TYPE a_open gauge\n"
                     "a_open -2\n"
                     "# HELP b_total second\n"
                     "# TYPE b_total counter\n"
                     "b_total{reason=\"say \\\"hi\\\"\\\\\\n\"} 3\n"
                     "# HELP c_seconds latency\n"
                     "# TYPE c_seconds histogram\n"
                     "c_seconds_bucket{route=\"/x\",le=\"0.01\"} 1\n"
                     "c_seconds_bucket{route=\"/x\",le=\"0.1\"} 3\n"
                     "c_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                     "c_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                     "c_seconds_sum{route=\"/x\"} 5.105\n"
                     "c_seconds_count{route=\"/x\"} 4\n",
             text);
}

BOOST_AUTO_TEST_CASE(bad_names_and_a_second_type_are_refused) {
  metrics::registry reg;
  BOOST_CHECK_THROW((void) reg.counter("9lives", ""), std::invalid_argument);
  BOOST_CHECK_THROW((void) reg.counter("ok_total", "", {{"bad-label", "x"}}),
                    std::invalid_argument);
  (void) reg.counter("x_total", "");
  BOOST_CHECK_THROW((void) reg.gauge("x_total", ""), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
