// The layer stack on real sockets: a protocol of the user's own
// (connection_options::protocol) that switches protocol inside one TCP
// segment, a graceful close that asks the layers first (bounded by the
// drain timeout), a layer's own deadline, and ALPN choosing the layer above
// TLS with `openssl s_client` and a blocking TLS client as peers.

#include <mutex>

#include "ghostnet/transports/layer.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "tcp_fixture.hpp"
#include "test_layers.hpp"
#include "tls_peers.hpp"
#include "tls_test_certs.hpp"

using namespace ghostnet;
using namespace ghostnet::test;

namespace {

/// How the server's layers ended, written on the multiplexer thread.
struct close_log {
  std::mutex mtx;
  std::vector<caf::error> reasons;

  void add(const caf::error& reason) {
    std::lock_guard<std::mutex> guard{mtx};
    reasons.push_back(reason);
  }

  size_t size() {
    std::lock_guard<std::mutex> guard{mtx};
    return reasons.size();
  }

  caf::error last() {
    std::lock_guard<std::mutex> guard{mtx};
    return reasons.empty() ? caf::error{} : reasons.back();
  }
};

/// Says "bye" when asked to close, or never closes at all (`stubborn`).
class farewell_layer final : public line_layer {
public:
  farewell_layer(std::shared_ptr<close_log> log, bool stubborn)
    : line_layer([](line_layer&, const std::string& l) { return l; }),
      log_(std::move(log)), stubborn_(stubborn) {
  }

  void request_close() override {
    write("bye");
    if (!stubborn_)
      down().close();
  }

  void on_close(const caf::error& reason) override {
    log_->add(reason);
  }

private:
  std::shared_ptr<close_log> log_;
  bool stubborn_;
};

/// Writes "tick" when its deadline (`after` its start) passes.
class ticking_layer final : public line_layer {
public:
  explicit ticking_layer(caf::timespan after)
    : line_layer([](line_layer&, const std::string& l) { return l; }),
      after_(after) {
  }

  caf::error start(tp::lower_layer& down) override {
    due_ = down.now() + after_;
    return line_layer::start(down);
  }

  std::optional<tp::layer_time> next_deadline() const override {
    return due_;
  }

  caf::error on_timeout(tp::layer_time now) override {
    if (due_ && now >= *due_) {
      due_.reset();
      write("tick");
    }
    return caf::none;
  }

private:
  caf::timespan after_;
  std::optional<tp::layer_time> due_;
};

tp::tcp_service_options layered_service(tp::layer_factory protocol) {
  auto opts = echo_service();
  opts.handler = nullptr; // the protocol layer is everything
  opts.listener.connection.protocol = std::move(protocol);
  return opts;
}

/// A service of farewell layers that report how they ended to `log`.
tp::tcp_service_options farewell_service(std::shared_ptr<close_log> log,
                                         bool stubborn) {
  return layered_service([log, stubborn](std::string_view) -> tp::layer_ptr {
    return std::make_unique<farewell_layer>(log, stubborn);
  });
}

std::string read_line(client& c) {
  std::string line;
  for (;;) {
    auto ch = c.read_exactly(1);
    if (ch.empty() || ch == "\n")
      return line;
    line += ch;
  }
}

tp::tls_context_ptr context_of_opts(const tp::tls_options& opts) {
  auto ctx = tp::make_tls_context(opts);
  BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
  return *ctx;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(stack, tcp_fixture)

BOOST_AUTO_TEST_CASE(a_user_protocol_switches_inside_one_segment) {
  auto svc = start_service(layered_service([](std::string_view) { return upgrading_layer(); }));
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("before\n"));
  BOOST_TEST(read_line(c) == "before");
  // The switch and the first line of the new protocol in one send().
  BOOST_REQUIRE(c.send_all("UPGRADE\nafter\n"));
  BOOST_TEST(read_line(c) == "ok");
  BOOST_TEST(read_line(c) == "AFTER");
  BOOST_REQUIRE(c.send_all("still upper\n"));
  BOOST_TEST(read_line(c) == "STILL UPPER");
  c.close();
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(stopping_the_service_asks_the_layers_to_finish_first) {
  auto log = std::make_shared<close_log>();
  auto svc = start_service(farewell_service(log, false));
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("hi\n"));
  BOOST_TEST(read_line(c) == "hi");
  stop(svc.root);
  BOOST_TEST(read_line(c) == "bye"); // written by the layer, then the close
  BOOST_TEST(c.sees_close());
  BOOST_REQUIRE(eventually([&] { return log->size() == 1; }));
  BOOST_TEST(!log->last(), describe(log->last()));
  c.close();
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_layer_that_never_finishes_closing_is_cut_at_the_drain_timeout) {
  auto log = std::make_shared<close_log>();
  auto opts = farewell_service(log, true);
  opts.listener.connection.timeouts.drain = 200ms;
  auto svc = start_service(opts);
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("hi\n"));
  BOOST_TEST(read_line(c) == "hi");
  auto t0 = std::chrono::steady_clock::now();
  stop(svc.root);
  BOOST_TEST(read_line(c) == "bye");
  BOOST_TEST(c.sees_close());
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 200ms));
  BOOST_REQUIRE(eventually([&] { return log->size() == 1; }));
  BOOST_TEST(is(log->last(), errc::timeout), describe(log->last()));
  BOOST_TEST(context_of(log->last()).operation == "drain");
  c.close();
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_close_request_to_the_connection_actor_goes_through_the_layers) {
  auto log = std::make_shared<close_log>();
  auto svc = start_service(farewell_service(log, false));
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("hi\n"));
  BOOST_TEST(read_line(c) == "hi");
  auto conns = children_of(connections_of(svc.root));
  BOOST_REQUIRE_EQUAL(conns.size(), 1u);
  auto conn = caf::actor_cast<tp::connection_actor>(conns[0].actor);
  std::thread closer([&] {
    // The reply comes once the peer closed too: close from our side after
    // reading the farewell.
    BOOST_TEST(read_line(c) == "bye");
    c.shutdown_write();
  });
  self->request(conn, patience, close_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  closer.join();
  BOOST_REQUIRE(eventually([&] { return log->size() == 1; }));
  BOOST_TEST(!log->last(), describe(log->last()));
  c.close();
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_layer_deadline_fires_without_any_traffic) {
  auto svc = start_service(layered_service([](std::string_view) -> tp::layer_ptr {
    return std::make_unique<ticking_layer>(100ms);
  }));
  client c{svc.bound};
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(read_line(c) == "tick");
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 90ms));
  // The layer still answers afterwards.
  BOOST_REQUIRE(c.send_all("x\n"));
  BOOST_TEST(read_line(c) == "x");
  c.close();
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_handler_is_optional_when_the_protocol_makes_the_layers) {
  auto opts = echo_service();
  opts.handler = nullptr;
  auto spec = tp::tcp_service(opts);
  BOOST_REQUIRE(!spec);
  BOOST_TEST(is(spec.error(), errc::invalid_configuration));
  BOOST_TEST(context_of(spec.error()).detail.find("protocol") != std::string::npos);
  opts.listener.connection.protocol = [](std::string_view) { return upper_case_layer(); };
  BOOST_TEST(static_cast<bool>(tp::tcp_service(opts)));
}

BOOST_AUTO_TEST_CASE(a_protocol_factory_that_makes_nothing_closes_the_connection) {
  auto svc = start_service(layered_service([](std::string_view) { return tp::layer_ptr{}; }));
  client c{svc.bound};
  BOOST_TEST(c.sees_close());
  c.close();
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

// -- ALPN picks the layer above TLS ------------------------------------------------

BOOST_AUTO_TEST_CASE(alpn_picks_the_layer_above_tls_for_each_connection) {
  std::vector<std::string> picked;
  std::mutex picked_mtx;
  auto opts = layered_service([&](std::string_view alpn) -> tp::layer_ptr {
    {
      std::lock_guard<std::mutex> guard{picked_mtx};
      picked.emplace_back(alpn);
    }
    if (alpn == "upper/1")
      return upper_case_layer();
    return std::make_unique<line_layer>(
      [](line_layer&, const std::string& l) { return "echo:" + l; });
  });
  opts.listener.connection.tls.context = std::make_shared<tp::tls_context_holder>(
    context_of_opts(server_tls({"echo/1", "upper/1"})));
  auto svc = start_service(opts);
  // openssl s_client, a real peer, asks for upper/1.
  auto port = std::to_string(svc.bound.port);
  auto out = run_command("printf 'shout\\n' | timeout 10 openssl s_client -quiet -alpn upper/1"
                         " -CAfile " + test_certs().ca_cert
                         + " -servername localhost -connect 127.0.0.1:" + port
                         + " 2>/dev/null");
  BOOST_TEST(out.output.find("SHOUT") != std::string::npos, out.output);
  // A client that asks for echo/1 gets the other layer on the same listener.
  tp::tls_options co;
  co.role = tp::tls_role::client;
  co.ca_file = test_certs().ca_cert;
  co.alpn = {"echo/1"};
  blocking_tls_client tls{svc.bound, context_of_opts(co)};
  BOOST_REQUIRE(!tls.handshake());
  BOOST_TEST(tls.session().alpn_selected() == "echo/1");
  BOOST_REQUIRE(tls.send("quiet\n"));
  BOOST_TEST(tls.read_exactly(11) == "echo:quiet\n");
  tls.socket().close();
  {
    std::lock_guard<std::mutex> guard{picked_mtx};
    BOOST_TEST(picked.size() == 2u);
    if (picked.size() == 2u) {
      BOOST_TEST(picked[0] == "upper/1");
      BOOST_TEST(picked[1] == "echo/1");
    }
  }
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_SUITE_END()
