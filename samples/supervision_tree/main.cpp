// supervision-tree: a ghostnet::node whose supervision tree keeps failing on
// purpose, printing every supervisor event as one line until Ctrl-C (or
// --duration=3s). Read it next to docs/supervision.md.
//
//   root (one_for_one, 3 restarts / 5 s; the node's)
//   ├── chaos      kills "transform" and poisons "poisoned", in turn
//   ├── workers    one_for_one: two workers crash at random, one on poison
//   ├── pipeline   rest_for_one: source → transform → sink
//   ├── pair       one_for_all: left crashes at random, right goes with it
//   ├── retry      "flaky" fails 100 ms after each start: backoff 200 ms,
//   │              doubling, max 3 s
//   └── fragile    intensity 2: its worker crashes every 400 ms, so it gives
//                  up; the root restarts it (after a 2 s backoff)

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <caf/all.hpp>
#include <unistd.h>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/node.hpp"
#include "ghostnet/supervision/supervisor.hpp"

using namespace std::chrono_literals;
using namespace ghostnet;
namespace sv = ghostnet::supervision;

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using poison_atom = caf::atom_constant<caf::atom("poison")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

namespace {

caf::timespan random_between(caf::timespan lo, caf::timespan hi) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> d{lo.count(), hi.count()};
  return caf::timespan{d(rng)};
}

// -- workers: each a few lines, each failing in its own way ------------------

caf::behavior crashy(caf::event_based_actor* self, caf::timespan lo,
                     caf::timespan hi) {
  self->delayed_send(self, random_between(lo, hi), crash_atom::value);
  return {[=](crash_atom) {
    self->quit(make_error(errc::io_error, "simulated crash"));
  }};
}

caf::behavior poisonable(caf::event_based_actor* self) {
  // An exception ends the actor with it as a ghostnet error, logged by its
  // supervisor, instead of CAF's "*** unhandled exception" on stderr.
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& eptr) {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& ex) {
      return make_error(errc::protocol_error, "handle message", "", 0, ex.what());
    }
  });
  return {[](poison_atom) -> caf::result<void> {
    throw std::runtime_error("poisoned message");
  }};
}

caf::actor lookup(caf::event_based_actor* self, caf::atom_value name) {
  // By name, not by handle: a restarted stage is a new actor.
  return self->system().registry().get<caf::actor>(name);
}

caf::behavior source(caf::event_based_actor* self) {
  self->delayed_send(self, 100ms, tick_atom::value);
  return {[=](tick_atom) {
    self->send(lookup(self, caf::atom("transform")), tick_atom::value);
    self->delayed_send(self, 100ms, tick_atom::value);
  }};
}

caf::behavior transform(caf::event_based_actor* self) {
  return {[=](tick_atom) {
    self->send(lookup(self, caf::atom("sink")), tick_atom::value);
  }};
}

caf::behavior idle(caf::event_based_actor*) {
  return {[](tick_atom) {}};
}

// Starts fine, then loses its database 100 ms later, every time. (A child
// that failed in its own start would fail the node's start instead: a start
// failure is not a crash, see docs/supervision.md.)
caf::behavior always_fails(caf::event_based_actor* self) {
  self->delayed_send(self, 100ms, crash_atom::value);
  return {[=](crash_atom) {
    self->quit(make_error(errc::connection_refused, "connect", "db:5432"));
  }};
}

caf::behavior chaos(caf::event_based_actor* self) {
  self->delayed_send(self, 700ms, tick_atom::value);
  auto round = std::make_shared<int>(0);
  return {[=](tick_atom) {
    if (++*round % 2 == 1)
      self->send_exit(lookup(self, caf::atom("transform")),
                      caf::exit_reason::kill);
    else
      self->send(lookup(self, caf::atom("poisoned")), poison_atom::value);
    self->delayed_send(self, 700ms, tick_atom::value);
  }};
}

/// A start function that spawns `fun(xs...)`.
template <class F, class... Ts>
sv::start_function spawn(F fun, Ts... xs) {
  return [=](caf::actor_system& sys, const caf::message&)
           -> caf::expected<caf::actor> { return sys.spawn(fun, xs...); };
}

/// The same, registering the actor under `name` for lookup().
template <class F>
sv::start_function spawn_named(caf::atom_value name, F fun) {
  return [=](caf::actor_system& sys, const caf::message&)
           -> caf::expected<caf::actor> {
    auto hdl = sys.spawn(fun);
    sys.registry().put(name, hdl);
    return hdl;
  };
}

// -- the printer: the tree and a legend, then one line per supervisor_event -

const char* tree_and_legend = R"(The tree (every group is a supervisor under the node's root):

  root (one_for_one, 3 restarts / 5 s)
  ├── chaos      kills "transform" and poisons "poisoned", in turn
  ├── workers    one_for_one: crashy-1, crashy-2 crash at random; poisoned throws on poison
  ├── pipeline   rest_for_one: source → transform → sink (transform dies: sink restarts too)
  ├── pair       one_for_all: left crashes at random, right is restarted with it
  ├── retry      flaky fails 100 ms after each start: backoff 200 ms, doubling, max 3 s
  └── fragile    intensity 2: brittle crashes every 400 ms, so fragile gives up and
                 the root restarts it after 2 s

Each line: time since start, supervisor, event, child, and what the event carries:
  child_started      a child started the first time
  child_exited       a child ended on its own; reason= says why
  restart_scheduled  its restart waits delay= (backoff; 0ms: at once)
  child_restarted    it runs again; restarts= counts its restarts
  child_terminated   its supervisor stopped it (rest_for_one, one_for_all, shutdown)
  gave_up            too many restarts in the period: the supervisor exits, its parent decides
  supervisor_stopped the supervisor finished stopping

)";


caf::behavior printer(caf::event_based_actor*) {
  auto t0 = std::chrono::steady_clock::now();
  return {[t0](const sv::supervisor_event& ev) {
    std::chrono::duration<double> t = std::chrono::steady_clock::now() - t0;
    std::ostringstream line;
    line << std::fixed << std::setprecision(3) << std::setw(7) << t.count()
         << "s  " << std::left << std::setw(9) << ev.supervisor << ' '
         << std::setw(18) << sv::to_string(ev.kind) << ' ' << std::setw(10)
         << ev.child;
    if (ev.kind == sv::event_kind::restart_scheduled)
      line << " delay=" << ev.delay.count() / 1'000'000 << "ms";
    if (ev.restarts > 0)
      line << " restarts=" << ev.restarts;
    if (ev.reason)
      line << " reason=" << describe(ev.reason);
    std::cout << line.str() << std::endl;
  }};
}

sv::supervisor_spec group(std::string name, sv::strategy how,
                          uint32_t intensity, caf::actor printer,
                          std::vector<sv::child_spec> children) {
  sv::supervisor_spec spec;
  spec.name = std::move(name);
  spec.flags.how = how;
  spec.flags.intensity = intensity;
  spec.flags.period = 10s;
  spec.children = std::move(children);
  spec.subscribers.push_back(std::move(printer));
  return spec;
}

std::vector<sv::child_spec> services(caf::actor p) {
  using sv::strategy;
  auto flaky = sv::worker("flaky", spawn(always_fails));
  flaky.backoff.min = 200ms;
  flaky.backoff.max = 3s;
  auto fragile = sv::supervisor_child(
    "fragile", group("fragile", strategy::one_for_one, 2, p,
                     {sv::worker("brittle", spawn(crashy, 400ms, 400ms))}));
  fragile.backoff.min = fragile.backoff.max = 2s; // keeps the root's budget
  auto c = [](const char* id, sv::start_function f) {
    return sv::worker(id, std::move(f));
  };
  return {
    c("chaos", spawn(chaos)),
    sv::supervisor_child("workers", group("workers", strategy::one_for_one, 30, p, {
      c("crashy-1", spawn(crashy, 500ms, 2500ms)),
      c("crashy-2", spawn(crashy, 500ms, 2500ms)),
      c("poisoned", spawn_named(caf::atom("poisoned"), poisonable))})),
    sv::supervisor_child("pipeline", group("pipeline", strategy::rest_for_one, 30, p, {
      c("source", spawn(source)),
      c("transform", spawn_named(caf::atom("transform"), transform)),
      c("sink", spawn_named(caf::atom("sink"), idle))})),
    sv::supervisor_child("pair", group("pair", strategy::one_for_all, 30, p, {
      c("left", spawn(crashy, 1s, 3s)),
      c("right", spawn(idle))})),
    sv::supervisor_child("retry", group("retry", strategy::one_for_one, 30, p,
                                        {flaky})),
    fragile,
  };
}

} // namespace

int main(int argc, char** argv, char** envp) {
  node_options_parser parser;
  if (auto err = parser.declare("duration", "0s", "how long to run (e.g. 3s), 0s = until "
                                "SIGINT/SIGTERM", setting_type::duration))
    return std::cerr << describe(err) << '\n', 2;
  // The printer shows every event; --log-level=info adds the structured log.
  (void) parser.set_default("log-level", "error");
  auto opts = parser.parse(argc, argv, envp);
  if (!opts)
    return std::cerr << describe(opts.error()) << '\n', 2;
  if (opts->help_requested)
    return std::cout << parser.help_text(argv[0]), 0;
  node n{*opts};
  std::cout << tree_and_legend << std::flush;
  auto p = n.system().spawn(printer);
  if (auto err = n.start(services(p), {p})) {
    std::cerr << "start failed: " << describe(err) << '\n';
    caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
    return 1;
  }
  // --duration: a timer thread plays the operator pressing Ctrl-C.
  std::mutex mtx;
  std::condition_variable cv;
  bool done = false;
  std::thread timer{[&, duration = *opts->get_duration("duration")] {
    std::unique_lock<std::mutex> guard{mtx};
    if (duration > caf::timespan{0}
        && !cv.wait_for(guard, duration, [&] { return done; }))
      ::kill(::getpid(), SIGTERM);
  }};
  int rc = n.run();
  {
    std::lock_guard<std::mutex> guard{mtx};
    done = true;
  }
  cv.notify_all();
  timer.join();
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  return rc;
}
