// ghostnet-pool-bench: what a connection pool costs, measured against
// direct connections in the same run.
//
//   ghostnet-pool-bench [--duration=SECONDS] [--rounds=N] [--clients=N]
//                       [--size=BYTES] [--per-lease=K] [--threads=N]
//                       [--release=oneway|request] [--pool-wait=SECONDS]
//                       [--send-wait=SECONDS]
//
// An in-process echo service (length-prefixed frames) and `clients` client
// actors per workload:
//   acquire_release  a warm pool (min_idle = clients): acquire, release.
//   direct_rr        one connection per client: send a frame, await echo.
//   pool_rr          the same through the pool: acquire, `per-lease`
//                    request/responses on the lease, release.
// After one warm-up slice each, direct_rr and pool_rr alternate in `rounds`
// slices (ABBA order) of duration/rounds seconds each, so that load from
// elsewhere on the machine hits both alike; the ratio is the median of the
// per-round ratios, cpu_ratio the median ratio of process CPU time per
// request/response (less sensitive to that load). acquire_release runs last.
// Both sides use the same clients, connections and send requests; by default
// the release is one-way and no request has a timeout of its own (see
// pool_calls). Prints one RESULT line per workload and one with the ratios.
// Every echo is checked.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/pool/pool.hpp"
#include "ghostnet/supervision/supervisor.hpp"
#include "ghostnet/transports/tcp_connection.hpp"
#include "ghostnet/transports/tcp_service.hpp"

using namespace ghostnet;
using namespace std::chrono_literals;
namespace tp = ghostnet::transports;
namespace pl = ghostnet::pool;
namespace sv = ghostnet::supervision;

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

struct options {
  double duration = 6; ///< seconds per workload (split into rounds)
  int rounds = 6;
  int clients = 8;
  size_t size = 64;
  int per_lease = 1;
  int threads = 2;
  bool oneway_release = true; ///< release with send, not request
  double pool_wait = 0;       ///< own timeout of the requests to the pool
                              ///< (acquire; release if a request) in
                              ///< seconds; 0 = none (the pool's deadline)
  double send_wait = 0;       ///< timeout of each send request (direct and
                              ///< pooled alike); 0 = none
};

/// How clients call: the release one-way or as a request, the acquire
/// request with or without a timeout of its own, and the send requests
/// (the same on both sides). CAF 0.17.6 never cancels a request's timeout:
/// each one stays in the clock thread for its full duration and then sends
/// the requester a stale timeout message, whichever slice is running by
/// then (a 10 s timeout with 1 s slices lands in the other workload's
/// slices). So by default no request has a timeout of its own: the pool
/// answers every acquire by its own deadline, and the driver stops the
/// bench if a client does not report back.
struct pool_calls {
  bool oneway_release = true;
  caf::duration pool_wait = caf::infinite;
  caf::duration send_wait = caf::infinite;
};

caf::duration seconds_or_infinite(double x) {
  if (x <= 0)
    return caf::infinite;
  return caf::duration{
    std::chrono::milliseconds(static_cast<int64_t>(x * 1000))};
}

/// The counters of one slice. Clients count until `stop` is set.
struct slice {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> errors{0};
};

/// Slices by index, shared by main and the clients. A client reads slice i
/// only after main sent it (go_atom, i): the message orders the accesses.
struct board {
  std::deque<slice> slices;
};

using board_ptr = std::shared_ptr<board>;

tp::connection_options framed() {
  tp::connection_options opts;
  opts.framing.kind = tp::framing_kind::length_prefixed;
  opts.timeouts.drain = 500ms;
  return opts;
}

/// A client: on (go_atom, i) it runs operations until slice i stops, then
/// reports done and waits for the next go. Reports ready once it can start.
class client : public caf::event_based_actor {
public:
  client(caf::actor_config& cfg, board_ptr b, caf::actor main)
    : caf::event_based_actor(cfg), board_(std::move(b)), main_(std::move(main)) {
    // nop
  }

protected:
  virtual void start() = 0;

  caf::message_handler control() {
    return {
      [this](go_atom, uint64_t i) {
        slice_ = &board_->slices.at(i);
        running_ = true;
        start();
      },
      [](closed_atom, tp::connection_actor&, caf::error&) {},
    };
  }

  /// True if the slice goes on; else reports done (once).
  bool going() {
    if (!running_)
      return false;
    if (!slice_->stop)
      return true;
    running_ = false;
    send(main_, done_atom::value);
    return false;
  }

  auto on_error() {
    return [this](caf::error& err) {
      std::fprintf(stderr, "client: %s\n", describe(err).c_str());
      ++slice_->errors;
      running_ = false;
      send(main_, done_atom::value);
    };
  }

  board_ptr board_;
  caf::actor main_;
  slice* slice_ = nullptr;
  bool running_ = false;
};

class churn_client final : public client {
public:
  churn_client(caf::actor_config& cfg, board_ptr b, caf::actor main,
               pl::pool_actor pool, pool_calls calls)
    : client(cfg, std::move(b), std::move(main)), pool_(std::move(pool)),
      calls_(calls) {
    // nop
  }

  caf::behavior make_behavior() override {
    send(main_, ready_atom::value);
    return control();
  }

private:
  void start() override {
    if (!going())
      return;
    request(pool_, calls_.pool_wait, acquire_atom::value)
      .then(
        [this](pl::lease& l) {
          if (calls_.oneway_release) {
            send(pool_, release_atom::value, l.id, true);
            ++slice_->ops;
            start();
            return;
          }
          request(pool_, calls_.pool_wait, release_atom::value, l.id, true)
            .then(
              [this](caf::ok_atom) {
                ++slice_->ops;
                start();
              },
              on_error());
        },
        on_error());
  }

  pl::pool_actor pool_;
  pool_calls calls_;
};

class direct_client final : public client {
public:
  direct_client(caf::actor_config& cfg, board_ptr b, caf::actor main,
                tp::endpoint ep, size_t size, pool_calls calls)
    : client(cfg, std::move(b), std::move(main)), ep_(std::move(ep)),
      payload_(size, 'x'), calls_(calls) {
    // nop
  }

  caf::behavior make_behavior() override {
    tp::connect_options copts;
    copts.remote = ep_;
    copts.connection = framed();
    auto conn = tp::connect(system(), copts,
                            tp::actor_handler(caf::actor_cast<caf::actor>(this)));
    if (!conn) {
      std::fprintf(stderr, "connect: %s\n", describe(conn.error()).c_str());
      return {};
    }
    conn_ = *conn;
    return control().or_else(
      [this](tp::opened_atom, tp::connection_actor&, tp::connection_info&) {
        send(main_, ready_atom::value);
      },
      [this](received_atom, tp::connection_actor&, std::vector<char>& f) {
        if (f != payload_)
          ++slice_->errors;
        ++slice_->ops;
        start();
      });
  }

  void on_exit() override {
    if (conn_)
      caf::anon_send(conn_, abort_atom::value);
    conn_ = nullptr;
  }

private:
  void start() override {
    if (!going())
      return;
    request(conn_, calls_.send_wait, send_atom::value, payload_)
      .then([](caf::ok_atom) {}, on_error());
  }

  tp::endpoint ep_;
  std::vector<char> payload_;
  pool_calls calls_;
  tp::connection_actor conn_;
};

class pooled_client final : public client {
public:
  pooled_client(caf::actor_config& cfg, board_ptr b, caf::actor main,
                pl::pool_actor pool, size_t size, int per_lease,
                pool_calls calls)
    : client(cfg, std::move(b), std::move(main)), pool_(std::move(pool)),
      payload_(size, 'x'), per_lease_(per_lease), calls_(calls) {
    // nop
  }

  caf::behavior make_behavior() override {
    send(main_, ready_atom::value);
    return control().or_else(
      [this](received_atom, tp::connection_actor&, std::vector<char>& f) {
        if (f != payload_)
          ++slice_->errors;
        ++slice_->ops;
        if (--left_ > 0 && !slice_->stop) {
          send_one();
          return;
        }
        if (calls_.oneway_release) {
          send(pool_, release_atom::value, lease_.id, true);
          start();
          return;
        }
        request(pool_, calls_.pool_wait, release_atom::value, lease_.id, true)
          .then([this](caf::ok_atom) { start(); }, on_error());
      });
  }

private:
  void start() override {
    if (!going())
      return;
    request(pool_, calls_.pool_wait, acquire_atom::value)
      .then(
        [this](pl::lease& l) {
          lease_ = std::move(l);
          left_ = per_lease_;
          send_one();
        },
        on_error());
  }

  void send_one() {
    request(lease_.connection, calls_.send_wait, send_atom::value, payload_)
      .then([](caf::ok_atom) {}, on_error());
  }

  pl::pool_actor pool_;
  std::vector<char> payload_;
  int per_lease_;
  pool_calls calls_;
  int left_ = 0;
  pl::lease lease_;
};

// -- driver -------------------------------------------------------------------

class driver {
public:
  driver(caf::actor_system& sys, const options& opt)
    : self_(sys), opt_(opt), board_(std::make_shared<board>()) {
    // nop
  }

  caf::actor main() {
    return caf::actor{self_};
  }

  const board_ptr& shared() const {
    return board_;
  }

  /// Waits for `n` ready reports.
  void await_ready(size_t n) {
    for (size_t i = 0; i < n; ++i)
      self_->receive([](ready_atom) {},
                     caf::after(10s) >> [] { fail("a client never got ready"); });
  }

  /// What one slice achieved.
  struct figures {
    double ops_per_s = 0;
    double cpu_us_per_op = 0; ///< CPU time of the whole process per op
  };

  /// Runs `group` for `seconds`.
  figures run(const std::vector<caf::actor>& group, double seconds) {
    auto i = board_->slices.size();
    auto& s = board_->slices.emplace_back();
    auto cpu0 = process_cpu();
    auto t0 = std::chrono::steady_clock::now();
    for (auto& c : group)
      self_->send(c, go_atom::value, static_cast<uint64_t>(i));
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    auto ops = s.ops.load();
    auto elapsed = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - t0).count();
    auto cpu = process_cpu() - cpu0;
    s.stop = true;
    for (size_t k = 0; k < group.size(); ++k)
      self_->receive([](done_atom) {},
                     caf::after(15s) >> [] { fail("a client did not stop"); });
    errors_ += s.errors;
    figures result;
    result.ops_per_s = static_cast<double>(ops) / elapsed;
    result.cpu_us_per_op = ops > 0 ? cpu * 1e6 / static_cast<double>(ops) : 0;
    return result;
  }

  /// CPU seconds used by this process so far (all threads).
  static double process_cpu() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
  }

  pl::pool_stats stats(const pl::pool_actor& pool) {
    pl::pool_stats result;
    self_->request(pool, 10s, stats_atom::value)
      .receive([&](pl::pool_stats& x) { result = std::move(x); },
               [](caf::error& err) { fail(describe(err)); });
    return result;
  }

  uint64_t errors() const {
    return errors_;
  }

  caf::scoped_actor& self() {
    return self_;
  }

  [[noreturn]] static void fail(const std::string& what) {
    std::fprintf(stderr, "ghostnet-pool-bench: %s\n", what.c_str());
    std::exit(1);
  }

private:
  caf::scoped_actor self_;
  options opt_;
  board_ptr board_;
  uint64_t errors_ = 0;
};

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n == 0 ? 0.0 : n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

options parse(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    auto key = arg.substr(0, eq);
    auto val = eq == std::string::npos ? std::string{} : arg.substr(eq + 1);
    auto num = std::atof(val.c_str());
    if (key == "--duration" && num > 0)
      opt.duration = num;
    else if (key == "--rounds" && num >= 1)
      opt.rounds = static_cast<int>(num);
    else if (key == "--clients" && num >= 1)
      opt.clients = static_cast<int>(num);
    else if (key == "--size" && num >= 1)
      opt.size = static_cast<size_t>(num);
    else if (key == "--per-lease" && num >= 1)
      opt.per_lease = static_cast<int>(num);
    else if (key == "--threads" && num >= 1)
      opt.threads = static_cast<int>(num);
    else if (key == "--release" && (val == "oneway" || val == "request"))
      opt.oneway_release = val == "oneway";
    else if (key == "--pool-wait" && num >= 0 && !val.empty())
      opt.pool_wait = num;
    else if (key == "--send-wait" && num >= 0 && !val.empty())
      opt.send_wait = num;
    else {
      std::fprintf(stderr,
                   "usage: %s [--duration=SECONDS] [--rounds=N] [--clients=N] "
                   "[--size=BYTES] [--per-lease=K] [--threads=N] "
                   "[--release=oneway|request] [--pool-wait=SECONDS] "
                   "[--send-wait=SECONDS]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return opt;
}

tp::endpoint start_echo(caf::actor_system& sys, sv::supervisor_actor& root) {
  tp::tcp_service_options svc;
  svc.name = "echo";
  svc.handler = tp::echo_handler();
  svc.listener.connection = framed();
  auto bound = std::make_shared<std::promise<tp::endpoint>>();
  auto fut = bound->get_future();
  svc.on_bound = [bound](const tp::endpoint& ep) { bound->set_value(ep); };
  auto spec = tp::tcp_service(svc);
  if (!spec)
    driver::fail(describe(spec.error()));
  sv::supervisor_spec tree;
  tree.name = "bench";
  tree.children.push_back(std::move(*spec));
  auto sup = sv::spawn_supervisor(sys, tree);
  if (!sup)
    driver::fail(describe(sup.error()));
  root = *sup;
  if (fut.wait_for(10s) != std::future_status::ready)
    driver::fail("the echo service did not start");
  return fut.get();
}

} // namespace

int main(int argc, char** argv) {
  auto opt = parse(argc, argv);
  log::options quiet;
  quiet.min_level = log::level::error;
  (void) log::configure(quiet);
  caf::actor_system_config cfg;
  register_error_category(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", opt.threads);
  cfg.set("middleman.max-consecutive-reads", 1);
  caf::actor_system sys{cfg};
  sv::supervisor_actor root;
  auto ep = start_echo(sys, root);
  pl::pool_options popts;
  popts.name = "bench";
  popts.endpoints = {ep};
  popts.max_connections = opt.clients;
  popts.max_idle = opt.clients;
  popts.min_idle = opt.clients;
  popts.connection = framed();
  auto pool = pl::spawn_pool(sys, popts);
  if (!pool)
    driver::fail(describe(pool.error()));
  std::vector<caf::actor> all;
  {
    driver d{sys, opt};
    for (int i = 0; i < 500 && d.stats(*pool).idle < size_t(opt.clients); ++i)
      std::this_thread::sleep_for(10ms); // pre-warming: bounded
    pool_calls calls;
    calls.oneway_release = opt.oneway_release;
    calls.pool_wait = seconds_or_infinite(opt.pool_wait);
    calls.send_wait = seconds_or_infinite(opt.send_wait);
    std::vector<caf::actor> churn, direct, pooled;
    for (int i = 0; i < opt.clients; ++i) {
      churn.push_back(
        sys.spawn<churn_client>(d.shared(), d.main(), *pool, calls));
      direct.push_back(sys.spawn<direct_client>(d.shared(), d.main(), ep,
                                                opt.size, calls));
      pooled.push_back(sys.spawn<pooled_client>(d.shared(), d.main(), *pool,
                                                opt.size, opt.per_lease,
                                                calls));
    }
    d.await_ready(3 * static_cast<size_t>(opt.clients));
    auto secs = [](double x) {
      return x > 0 ? std::to_string(x) + "s" : std::string{"none"};
    };
    std::printf("# release=%s pool_wait=%s send_wait=%s threads=%d\n",
                opt.oneway_release ? "oneway" : "request",
                secs(opt.pool_wait).c_str(), secs(opt.send_wait).c_str(),
                opt.threads);
    // Warm-up, not counted: the first slices pay for first-time allocations
    // (mailboxes, buffers, the clock's maps).
    auto slice = opt.duration / opt.rounds;
    (void) d.run(direct, std::min(slice, 0.5));
    (void) d.run(pooled, std::min(slice, 0.5));
    std::vector<double> ds, ps, ratios, dcpu, pcpu, cpu_ratios;
    for (int r = 0; r < opt.rounds; ++r) {
      driver::figures dr, pr;
      if (r % 2 == 0) {
        dr = d.run(direct, slice);
        pr = d.run(pooled, slice);
      } else {
        pr = d.run(pooled, slice);
        dr = d.run(direct, slice);
      }
      ds.push_back(dr.ops_per_s);
      ps.push_back(pr.ops_per_s);
      ratios.push_back(dr.ops_per_s > 0 ? pr.ops_per_s / dr.ops_per_s : 0.0);
      dcpu.push_back(dr.cpu_us_per_op);
      pcpu.push_back(pr.cpu_us_per_op);
      cpu_ratios.push_back(dr.cpu_us_per_op > 0
                             ? pr.cpu_us_per_op / dr.cpu_us_per_op
                             : 0.0);
    }
    // Last: request timeouts that this burst leaves in CAF's clock (when
    // pool_wait > 0 with --release=request) would otherwise fire
    // during the rr rounds.
    auto churned = d.run(churn, opt.duration / 2);
    std::printf("RESULT bench=acquire_release clients=%d ops_per_s=%.0f "
                "cpu_us_per_op=%.2f\n",
                opt.clients, churned.ops_per_s, churned.cpu_us_per_op);
    auto s = d.stats(*pool);
    std::printf("RESULT bench=direct_rr clients=%d size=%zu rr_per_s=%.0f "
                "cpu_us_per_rr=%.2f\n",
                opt.clients, opt.size, median(ds), median(dcpu));
    std::printf("RESULT bench=pool_rr clients=%d size=%zu per_lease=%d "
                "rr_per_s=%.0f cpu_us_per_rr=%.2f created=%llu\n",
                opt.clients, opt.size, opt.per_lease, median(ps), median(pcpu),
                static_cast<unsigned long long>(s.created));
    auto ratio = median(ratios);
    auto lo = *std::min_element(ratios.begin(), ratios.end());
    auto hi = *std::max_element(ratios.begin(), ratios.end());
    std::printf("RESULT bench=pool_vs_direct ratio=%.3f min=%.3f max=%.3f "
                "overhead_pct=%.1f cpu_ratio=%.3f rounds=%d errors=%llu\n",
                ratio, lo, hi, (1.0 - ratio) * 100.0, median(cpu_ratios),
                opt.rounds, static_cast<unsigned long long>(d.errors()));
    all.insert(all.end(), churn.begin(), churn.end());
    all.insert(all.end(), direct.begin(), direct.end());
    all.insert(all.end(), pooled.begin(), pooled.end());
    for (auto& c : all)
      d.self()->send_exit(c, caf::exit_reason::user_shutdown);
    d.self()->request(*pool, 10s, close_atom::value)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
    d.self()->request(root, 20s, shutdown_atom::value, caf::timespan{10s})
      .receive([](ghostnet::supervision::shutdown_report&) {}, [](caf::error&) {});
    return d.errors() == 0 ? 0 : 1;
  }
}
