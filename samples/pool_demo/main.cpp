// pool-demo: twenty clients hammer an echo backend through a pool of eight
// connections while the backend is stopped and restarted every two seconds
// (both are children of the node's root supervisor). Prints the pool's
// figures as they change, until Ctrl-C or --duration=6s. See docs/pool.md.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <future>
#include <thread>

#include <caf/all.hpp>
#include <unistd.h>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/pool/pool.hpp"
#include "ghostnet/supervision/node.hpp"
#include "ghostnet/transports/tcp_service.hpp"

using namespace std::chrono_literals;
using namespace ghostnet;
namespace pl = ghostnet::pool;
namespace tp = ghostnet::transports;

using go_atom = caf::atom_constant<caf::atom("go")>;

namespace {

struct tally {
  std::atomic<uint64_t> ok{0}, failed{0};
};

/// Acquire, send "ping", await the echo, release; again. An attempt that
/// fails (no lease, a send error, the backend gone mid-lease) is counted and
/// retried 100 ms later. `gen` tells the current attempt from stale replies.
caf::behavior client(caf::event_based_actor* self, pl::pool_actor pool,
                     std::shared_ptr<tally> t) {
  auto lease = std::make_shared<pl::lease>();
  auto gen = std::make_shared<uint64_t>(0);
  auto fail = [=](uint64_t g, bool release) {
    if (g != *gen)
      return; // this attempt already ended
    ++*gen;
    ++t->failed;
    if (release) // the connection's state is unknown: not healthy
      self->send(pool, release_atom::value, lease->id, false);
    self->delayed_send(self, 100ms, go_atom::value);
  };
  self->send(self, go_atom::value);
  return {
    [=](go_atom) {
      auto g = *gen;
      self->request(pool, 2s, acquire_atom::value)
        .then(
          [=](pl::lease& l) {
            *lease = l;
            self->request(l.connection, 1s, send_atom::value,
                          std::vector<char>{'p', 'i', 'n', 'g'})
              .then([](caf::ok_atom) {}, [=](caf::error&) { fail(g, true); });
          },
          [=](caf::error&) { fail(g, false); });
    },
    [=](received_atom, tp::connection_actor&, std::vector<char>&) {
      ++*gen;
      ++t->ok;
      // One-way: the pool answers no release sent with send(), and handles
      // it before this client's next acquire.
      self->send(pool, release_atom::value, lease->id, true);
      self->send(self, go_atom::value);
    },
    [=](closed_atom, tp::connection_actor& c, caf::error&) {
      if (c == lease->connection) // the backend went away mid-lease
        fail(*gen, true);
    },
  };
}

void print(double t, const pl::pool_stats& s, const tally& n) {
  auto u = [](uint64_t x) { return static_cast<unsigned long long>(x); };
  std::printf("t=%5.1fs size=%llu idle=%llu in_use=%llu waiters=%llu created=%llu "
              "closed=%llu failed_connects=%llu unreachable=%llu breaker=%s "
              "ok=%llu errors=%llu\n",
              t, u(s.size), u(s.idle), u(s.in_use), u(s.waiters), u(s.created),
              u(s.closed), u(s.failed_connects), u(s.unreachable),
              to_string(s.endpoints.at(0).breaker), u(n.ok), u(n.failed));
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv, char** envp) {
  node_options_parser parser;
  if (auto err = parser.declare("duration", "0s", "how long to run (e.g. 6s), 0s = until "
                                "SIGINT/SIGTERM", setting_type::duration))
    return std::fprintf(stderr, "%s\n", describe(err).c_str()), 2;
  (void) parser.set_default("log-level", "error");
  auto opts = parser.parse(argc, argv, envp);
  if (!opts)
    return std::fprintf(stderr, "%s\n", describe(opts.error()).c_str()), 2;
  if (opts->help_requested)
    return std::printf("%s", parser.help_text(argv[0]).c_str()), 0;
  node n{*opts};
  tp::connection_options framed; // both ends: length-prefixed, quick close
  framed.framing.kind = tp::framing_kind::length_prefixed;
  framed.timeouts.drain = 200ms;
  tp::tcp_service_options echo;
  echo.name = "echo";
  echo.handler = tp::echo_handler();
  echo.listener.connection = framed;
  std::promise<tp::endpoint> bound;
  echo.on_bound = [&bound](const tp::endpoint& ep) { bound.set_value(ep); };
  if (auto err = n.start({tp::tcp_service(echo).value()}))
    return std::fprintf(stderr, "start failed: %s\n", describe(err).c_str()), 1;
  pl::pool_options popts;
  popts.name = "pool";
  popts.endpoints = {bound.get_future().get()};
  popts.max_connections = popts.max_idle = 8;
  popts.min_idle = 2;
  popts.acquire_timeout = 2s;
  popts.connect_timeout = 1s;
  popts.breaker = pl::breaker_options{3, 500ms};
  popts.connection = framed;
  caf::scoped_actor self{n.system()};
  pl::pool_actor pool;
  self->request(n.root(), 5s, start_child_atom::value, pl::pool_child(popts).value())
    .receive([&](caf::actor& a) { pool = caf::actor_cast<pl::pool_actor>(a); },
             [&](caf::error& err) { std::fprintf(stderr, "%s\n", describe(err).c_str()); });
  if (!pool)
    return 1;
  auto t = std::make_shared<tally>();
  std::vector<caf::actor> clients(20);
  for (auto& c : clients)
    c = n.system().spawn(client, pool, t);
  // The operator: every 2 s stop or restart the backend (through the root
  // supervisor; the service keeps its port) and print the pool's figures.
  std::atomic<bool> done{false};
  std::thread demo{[&, duration = *opts->get_duration("duration")] {
    caf::scoped_actor op{n.system()};
    auto t0 = std::chrono::steady_clock::now();
    std::string last;
    for (int tick = 1; !done; ++tick) {
      std::this_thread::sleep_for(250ms);
      std::chrono::duration<double> secs = std::chrono::steady_clock::now() - t0;
      if (tick % 8 == 0 && (tick / 8) % 2 == 1)
        op->request(n.root(), 5s, terminate_child_atom::value, std::string{"echo"})
          .receive([](caf::ok_atom) { std::printf("--- backend stopped\n"); },
                   [](caf::error&) {});
      else if (tick % 8 == 0)
        op->request(n.root(), 5s, restart_child_atom::value, std::string{"echo"})
          .receive([](caf::actor&) { std::printf("--- backend restarted\n"); },
                   [](caf::error&) {});
      op->request(pool, 1s, stats_atom::value).receive(
        [&](pl::pool_stats& s) {
          auto now = std::to_string(s.size) + to_string(s.endpoints[0].breaker);
          if (now != last || tick % 4 == 0) // on change, and once a second
            print(secs.count(), s, *t);
          last = now;
        },
        [](caf::error&) {});
      if (duration > caf::timespan{0}
          && std::chrono::steady_clock::now() - t0 >= duration) {
        ::kill(::getpid(), SIGTERM); // the node stops the tree in order
        break;
      }
    }
  }};
  int rc = n.run();
  done = true;
  demo.join();
  for (auto& c : clients)
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  std::printf("done: ok=%llu errors=%llu\n", (unsigned long long) t->ok,
              (unsigned long long) t->failed);
  return rc;
}
