#pragma once

// Shared fixture for supervisor tests: a real actor system, a scoped actor
// subscribed to supervisor events, and test workers that exit on command.

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/io/middleman.hpp>
#include <caf/all.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/supervisor.hpp"

namespace ghostnet::supervision {

// Lets Boost.Test print supervision values in failed assertions.
inline std::ostream& boost_test_print_type(std::ostream& os, child_state x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, restart_type x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, child_kind x) {
  return os << to_string(x);
}

} // namespace ghostnet::supervision

namespace caf {

inline std::ostream& boost_test_print_type(std::ostream& os, const actor& x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, const error& x) {
  return os << ghostnet::describe(x);
}

} // namespace caf

namespace ghostnet::test {

namespace sv = ghostnet::supervision;
using namespace std::chrono_literals;

/// Tells a test worker to exit with the given reason.
using die_atom = caf::atom_constant<caf::atom("die")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

/// Generous bound for anything that should happen "at once".
constexpr auto patience = std::chrono::seconds(10);

/// A worker that answers pings and exits with the reason it is told.
inline caf::behavior test_worker(caf::event_based_actor* self) {
  return {
    [self](die_atom, caf::error& reason) { self->quit(std::move(reason)); },
    [](ping_atom) { return ping_atom::value; },
  };
}

/// A worker that ignores requests to stop (only `kill` ends it).
inline caf::behavior stubborn_worker(caf::event_based_actor* self) {
  self->set_exit_handler([](caf::exit_msg&) {});
  return {[](ping_atom) { return ping_atom::value; }};
}

inline sv::start_function start_test_worker() {
  return [](caf::actor_system& sys, const caf::message&)
           -> caf::expected<caf::actor> { return sys.spawn(test_worker); };
}

/// Records the order in which workers start and stop.
struct order_log {
  std::mutex mtx;
  std::vector<std::string> started;
  std::vector<std::string> stopped;

  sv::start_function start(std::string id) {
    return [this, id](caf::actor_system& sys, const caf::message&)
             -> caf::expected<caf::actor> {
      auto hdl = sys.spawn(test_worker);
      {
        std::lock_guard<std::mutex> guard{mtx};
        started.push_back(id);
      }
      hdl->attach_functor([this, id] {
        std::lock_guard<std::mutex> guard{mtx};
        stopped.push_back(id);
      });
      return hdl;
    };
  }
};

struct supervisor_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::vector<sv::supervisor_event> seen;

  static caf::actor_system_config& prepare(caf::actor_system_config& cfg) {
    register_error_category(cfg);
    cfg.set("scheduler.max-threads", 2);
    cfg.load<caf::io::middleman>(); // for supervisors on the I/O thread
    return cfg;
  }

  supervisor_fixture() : sys(prepare(cfg)), self(sys) {
    // nop
  }

  ~supervisor_fixture() {
    self->send_exit(self, caf::exit_reason::user_shutdown);
  }

  sv::supervisor_actor spawn(sv::supervisor_spec spec) {
    spec.subscribers.push_back(caf::actor{self});
    auto sup = sv::spawn_supervisor(sys, std::move(spec));
    BOOST_REQUIRE_MESSAGE(sup, "spawn_supervisor failed: "
                                 << (sup ? "" : describe(sup.error())));
    return *sup;
  }

  /// Waits for an event of `kind` about `child`; fails the test otherwise.
  sv::supervisor_event expect(sv::event_kind kind, const std::string& child,
                              caf::timespan within = patience) {
    auto deadline = std::chrono::steady_clock::now() + within;
    for (auto& ev : seen)
      if (ev.kind == kind && ev.child == child) {
        auto result = ev;
        ev.kind = sv::event_kind::supervisor_stopped; // consume it
        ev.child = "<consumed>";
        return result;
      }
    for (;;) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= decltype(left){0})
        break;
      bool timed_out = false;
      sv::supervisor_event got;
      self->receive(
        [&](sv::supervisor_event& ev) { got = std::move(ev); },
        caf::after(std::chrono::duration_cast<caf::timespan>(left)) >>
          [&] { timed_out = true; });
      if (timed_out)
        break;
      if (got.kind == kind && got.child == child)
        return got;
      seen.push_back(std::move(got));
    }
    BOOST_FAIL("no " << to_string(kind) << " event for '" << child << "'");
    return {};
  }

  std::vector<sv::child_info> children(const sv::supervisor_actor& sup) {
    std::vector<sv::child_info> result;
    self->request(sup, patience, which_children_atom::value)
      .receive([&](std::vector<sv::child_info>& xs) { result = std::move(xs); },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  sv::child_info child(const sv::supervisor_actor& sup, const std::string& id) {
    for (auto& x : children(sup))
      if (x.id == id)
        return x;
    sv::child_info absent;
    absent.id = "<absent>";
    return absent;
  }

  sv::child_counts counts(const sv::supervisor_actor& sup) {
    sv::child_counts result;
    self->request(sup, patience, count_children_atom::value)
      .receive([&](sv::child_counts& x) { result = x; },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  /// Sends a request that answers `Result` and returns its error (none on
  /// success).
  template <class Result, class... Ts>
  caf::error request_error(const sv::supervisor_actor& sup, Ts&&... xs) {
    caf::error result;
    self->request(sup, patience, std::forward<Ts>(xs)...)
      .receive([](Result&) {}, [&](caf::error& err) { result = err; });
    return result;
  }

  /// Waits until `who` is gone and returns its exit reason.
  caf::error wait_down(const caf::actor_addr& who) {
    caf::error reason;
    self->monitor(who);
    self->receive(
      [&](caf::down_msg& msg) { reason = msg.reason; },
      caf::after(patience) >> [&] { BOOST_FAIL("actor did not go down"); });
    return reason;
  }

  sv::shutdown_report shutdown(const sv::supervisor_actor& sup,
                               caf::timespan deadline = 5s) {
    sv::shutdown_report result;
    self->request(sup, patience, shutdown_atom::value, deadline)
      .receive([&](sv::shutdown_report& r) { result = std::move(r); },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }
};

} // namespace ghostnet::test
