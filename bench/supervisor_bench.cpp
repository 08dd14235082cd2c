// How starting and stopping dynamic children scales: a simple_one_for_one
// supervisor starts N children (pipelined start_child requests), then stops
// them all with one shutdown request. Prints a markdown table; the stop time
// per child should stay flat as N grows (linear total).
//
//   ghostnet-supervisor-bench [N ...]      default: 1000 10000 50000
//   BENCH_THREADS=2 ...                     scheduler threads (CAF default: max(cores, 4))

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <caf/all.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/supervision/supervisor.hpp"

namespace sv = ghostnet::supervision;
using clock_type = std::chrono::steady_clock;

namespace {

caf::behavior idle_worker(caf::event_based_actor*, int) {
  return {[](int) {}};
}

struct result {
  size_t n;
  double start_ms;
  double stop_ms;
};

result run(caf::actor_system& sys, size_t n) {
  sv::supervisor_spec spec;
  spec.name = "bench";
  spec.flags.how = sv::strategy::simple_one_for_one;
  spec.children.push_back(sv::worker(
    "w",
    [](caf::actor_system& sys, const caf::message&) -> caf::expected<caf::actor> {
      return sys.spawn(idle_worker, 0);
    },
    sv::restart_type::temporary));
  auto sup = sv::spawn_supervisor(sys, spec);
  if (!sup) {
    std::fprintf(stderr, "%s\n", ghostnet::describe(sup.error()).c_str());
    std::exit(1);
  }
  caf::scoped_actor self{sys};
  auto t0 = clock_type::now();
  for (size_t i = 0; i < n; ++i)
    self->send(*sup, ghostnet::start_child_atom::value, caf::make_message(i));
  for (size_t i = 0; i < n; ++i)
    self->receive([](caf::actor&) {},
                  [](caf::error& err) {
                    std::fprintf(stderr, "%s\n", ghostnet::describe(err).c_str());
                    std::exit(1);
                  });
  auto t1 = clock_type::now();
  self->request(*sup, std::chrono::minutes(5), ghostnet::shutdown_atom::value,
                caf::timespan{std::chrono::minutes(5)})
    .receive([](ghostnet::supervision::shutdown_report&) {},
             [](caf::error& err) {
               std::fprintf(stderr, "%s\n", ghostnet::describe(err).c_str());
               std::exit(1);
             });
  auto t2 = clock_type::now();
  using ms = std::chrono::duration<double, std::milli>;
  return {n, ms(t1 - t0).count(), ms(t2 - t1).count()};
}

} // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes{1000, 10000, 50000};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i)
      sizes.push_back(std::strtoul(argv[i], nullptr, 10));
  }
  ghostnet::log::options lopts;
  lopts.min_level = ghostnet::log::level::warn;
  (void) ghostnet::log::configure(lopts);
  caf::actor_system_config cfg;
  ghostnet::register_error_category(cfg);
  if (auto threads = std::getenv("BENCH_THREADS"))
    cfg.set("scheduler.max-threads", std::atoi(threads));
  caf::actor_system sys{cfg};
  std::printf("| children | start ms | stop ms | start us/child | stop us/child |\n");
  std::printf("|---:|---:|---:|---:|---:|\n");
  for (auto n : sizes) {
    auto r = run(sys, n);
    std::printf("| %zu | %.1f | %.1f | %.2f | %.2f |\n", r.n, r.start_ms,
                r.stop_ms, 1000.0 * r.start_ms / r.n, 1000.0 * r.stop_ms / r.n);
  }
}
