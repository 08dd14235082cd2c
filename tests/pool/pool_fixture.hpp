#pragma once

// Fixture for pool tests: the TCP fixture (actor system with middleman,
// loopback services under supervisors, descriptor counting) plus pools of
// length-prefixed echo connections, a few blocking helpers around the pool's
// requests, and actors that acquire on their own.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../transports/tcp_fixture.hpp"

#include "ghostnet/actors/log.hpp"
#include "ghostnet/pool/pool.hpp"

#include "printers.hpp"

namespace caf {

inline std::ostream& boost_test_print_type(std::ostream& os, const error& x) {
  return os << ghostnet::describe(x);
}

} // namespace caf

namespace ghostnet::test {

namespace pl = ghostnet::pool;

/// The error of `x` for a failure message, empty if it holds a value
/// (Boost.Test builds messages even when the check passes).
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{} : describe(x.error());
}

/// The error of `x`, none if it holds a value.
template <class T>
caf::error error_of(const caf::expected<T>& x) {
  return x ? caf::error{} : x.error();
}

/// (done_atom, index, caf::error) — an acquirer's report; none = success.
using done_atom = caf::atom_constant<caf::atom("done")>;

/// Echo backends speak length-prefixed frames, as the pools' members do, so
/// that a frame sent is the frame echoed (no splitting).
inline tp::tcp_service_options backend(uint16_t port = 0) {
  auto opts = echo_service();
  opts.listener.bind.port = port;
  opts.listener.connection.framing.kind = tp::framing_kind::length_prefixed;
  return opts;
}

/// An echo that can be told to stop answering (while staying connected).
class mutable_echo final : public tp::connection_handler {
public:
  explicit mutable_echo(std::shared_ptr<std::atomic<bool>> mute)
    : mute_(std::move(mute)) {
    // nop
  }

  void on_frame(tp::connection_context& ctx, tp::byte_view frame) override {
    if (!*mute_)
      (void) ctx.send(frame);
  }

private:
  std::shared_ptr<std::atomic<bool>> mute_;
};

/// An echo whose server speaks first: `greeting` on open, then echoes.
class greeting_echo final : public tp::connection_handler {
public:
  explicit greeting_echo(std::string greeting) : greeting_(std::move(greeting)) {
    // nop
  }

  void on_open(tp::connection_context& ctx) override {
    (void) ctx.send(tp::byte_view{greeting_.data(), greeting_.size()});
  }

  void on_frame(tp::connection_context& ctx, tp::byte_view frame) override {
    (void) ctx.send(frame);
  }

private:
  std::string greeting_;
};

/// An actor that acquires one lease, optionally echoes one frame through
/// it, releases it and reports (done_atom, index, error) to `report`. Its
/// report is sent before its release, so reports come in lease order.
inline caf::behavior acquirer(caf::event_based_actor* ac, pl::pool_actor pool,
                              caf::actor report, int index, bool echo) {
  auto finish = [=](caf::error err) {
    ac->send(report, done_atom::value, index, std::move(err));
    ac->quit();
  };
  auto give_back = [=](uint64_t id, caf::error err) {
    // Report before releasing: the release lets the next waiter run on
    // another thread, whose report must not overtake this one.
    ac->send(report, done_atom::value, index, std::move(err));
    ac->request(pool, patience, release_atom::value, id, true)
      .then([=](caf::ok_atom) { ac->quit(); },
            [=](caf::error&) { ac->quit(); });
  };
  ac->request(pool, std::chrono::seconds(60), acquire_atom::value)
    .then(
      [=](pl::lease& l) {
        if (!echo) {
          give_back(l.id, caf::none);
          return;
        }
        auto payload = "msg-" + std::to_string(index);
        ac->request(l.connection, patience, send_atom::value,
                    std::vector<char>(payload.begin(), payload.end()))
          .then([](caf::ok_atom) {}, [=](caf::error& err) { finish(err); });
        ac->become(
          [=](received_atom, tp::connection_actor&, std::vector<char>& f) {
            if (std::string(f.begin(), f.end()) != payload)
              give_back(l.id, make_error(errc::protocol_error, "echo", "", 0,
                                         "wrong frame"));
            else
              give_back(l.id, caf::none);
          },
          [=](closed_atom, tp::connection_actor&, caf::error& err) {
            finish(err ? err : make_error(errc::transport_closed, "echo"));
          });
      },
      [=](caf::error& err) { finish(err); });
  return {
    [](closed_atom, tp::connection_actor&, caf::error&) {},
  };
}

/// Log lines at warn and above, captured while it lives (the fixture's
/// destructor restores the log).
class captured_warnings {
public:
  captured_warnings() {
    log::options warn_level;
    warn_level.min_level = log::level::warn;
    BOOST_REQUIRE(!log::configure(warn_level));
    log::set_capture([this](std::string_view line) {
      std::lock_guard<std::mutex> guard{mtx_};
      lines_.emplace_back(line);
    });
  }

  ~captured_warnings() {
    log::set_capture(nullptr);
  }

  /// Captured lines that contain `event`.
  size_t count(std::string_view event) {
    std::lock_guard<std::mutex> guard{mtx_};
    size_t n = 0;
    for (auto& line : lines_)
      if (line.find(event) != std::string::npos)
        ++n;
    return n;
  }

private:
  std::mutex mtx_;
  std::vector<std::string> lines_;
};

struct pool_fixture : tcp_fixture {
  /// Pools and service roots to kill if a test ends early (a failed
  /// REQUIRE): the actor system's destructor waits for every actor.
  std::vector<caf::actor> leftovers;

  pool_fixture() {
    // The supervisors log every member exit at warn: keep test output to
    // what failed.
    log::options quiet;
    quiet.min_level = log::level::error;
    (void) log::configure(quiet);
  }

  ~pool_fixture() {
    for (auto& x : leftovers)
      caf::anon_send_exit(x, caf::exit_reason::kill);
    log::set_capture(nullptr);
    (void) log::configure(log::options{});
  }

  running_service start_backend(tp::tcp_service_options opts = backend()) {
    auto svc = start_service(std::move(opts));
    leftovers.push_back(caf::actor_cast<caf::actor>(svc.root));
    return svc;
  }

  static pl::pool_options options_for(std::vector<tp::endpoint> eps) {
    pl::pool_options opts;
    opts.name = "test";
    opts.endpoints = std::move(eps);
    opts.connection.framing.kind = tp::framing_kind::length_prefixed;
    opts.connection.timeouts.drain = 500ms;
    opts.connect_timeout = 2s;
    opts.acquire_timeout = patience;
    return opts;
  }

  pl::pool_actor spawn(pl::pool_options opts) {
    auto pool = pl::spawn_pool(sys, std::move(opts));
    BOOST_REQUIRE_MESSAGE(pool, why(pool));
    leftovers.push_back(caf::actor_cast<caf::actor>(*pool));
    return *pool;
  }

  caf::expected<pl::lease> acquire(const pl::pool_actor& pool,
                                   caf::timespan timeout = patience) {
    caf::expected<pl::lease> result{make_error(errc::invalid_state, "no reply")};
    self->request(pool, patience + timeout, acquire_atom::value, timeout)
      .receive([&](pl::lease& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  pl::lease must_acquire(const pl::pool_actor& pool) {
    auto l = acquire(pool);
    BOOST_REQUIRE_MESSAGE(l, why(l));
    return *l;
  }

  caf::error release(const pl::pool_actor& pool, uint64_t id,
                     bool healthy = true) {
    caf::error result;
    self->request(pool, patience, release_atom::value, id, healthy)
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { result = err; });
    return result;
  }

  pl::pool_stats stats(const pl::pool_actor& pool) {
    pl::pool_stats result;
    self->request(pool, patience, stats_atom::value)
      .receive([&](pl::pool_stats& x) { result = std::move(x); },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  void close(const pl::pool_actor& pool) {
    self->request(pool, patience, close_atom::value)
      .receive([](caf::ok_atom) {},
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  }

  /// Sends `text` through the lease and returns the frame that came back.
  std::string round_trip(const pl::lease& l, const std::string& text) {
    self->request(l.connection, patience, send_atom::value,
                  std::vector<char>(text.begin(), text.end()))
      .receive([](caf::ok_atom) {},
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    std::string got;
    self->receive(
      [&](received_atom, tp::connection_actor&, std::vector<char>& f) {
        got.assign(f.begin(), f.end());
      },
      caf::after(patience) >> [] { BOOST_FAIL("no echo"); });
    return got;
  }

  /// Spawns an acquirer (see above) reporting to this test.
  caf::actor spawn_acquirer(const pl::pool_actor& pool, int index,
                            bool echo = false) {
    return sys.spawn(acquirer, pool, caf::actor{self}, index, echo);
  }

  /// Receives the next acquirer report: (index, error).
  std::pair<int, caf::error> next_report() {
    std::pair<int, caf::error> result{-1, caf::error{}};
    self->receive(
      [&](done_atom, int index, caf::error& err) {
        result = {index, std::move(err)};
      },
      caf::after(patience) >> [] { BOOST_FAIL("no report from an acquirer"); });
    return result;
  }

  /// Waits until `pred(stats)` holds (bounded by `eventually`).
  template <class Pred>
  bool stats_reach(const pl::pool_actor& pool, Pred pred) {
    return eventually([&] { return pred(stats(pool)); });
  }

  /// Kills every server-side connection of a service (their peers, the
  /// pool's members, read EOF).
  void kill_server_connections(const sv::supervisor_actor& root) {
    for (auto& c : children_of(connections_of(root)))
      self->send_exit(c.actor, caf::exit_reason::kill);
  }
};

} // namespace ghostnet::test
