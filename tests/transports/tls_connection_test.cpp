// TLS as a layer of the connection actor, against real peers: `openssl
// s_client` / `s_server`, `curl`, ghostnet's own client, and a blocking
// client that controls every byte (tls_peers.hpp). Certificates come from
// tls_test_certs (one test CA, made with the openssl command line).

#include <malloc.h>

#include <map>
#include <mutex>

#include "ghostnet/actors/metrics.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "../sanitizer.hpp"
#include "tcp_fixture.hpp"
#include "tls_peers.hpp"
#include "tls_test_certs.hpp"

using namespace ghostnet;
using namespace ghostnet::test;

namespace {


tp::tls_context_ptr make_context(const tp::tls_options& opts) {
  auto ctx = tp::make_tls_context(opts);
  BOOST_REQUIRE_MESSAGE(ctx, (ctx ? "" : describe(ctx.error())));
  return *ctx;
}

std::shared_ptr<tp::tls_context_holder> holder(const tp::tls_options& opts) {
  return std::make_shared<tp::tls_context_holder>(make_context(opts));
}

/// What the server's connections saw, written on the multiplexer thread.
struct server_log {
  std::mutex mtx;
  std::vector<tp::connection_info> opened;
  std::vector<caf::error> closed;
  std::vector<caf::actor_addr> actors; ///< weak: a log must not keep them

  size_t closed_count() {
    std::lock_guard<std::mutex> guard{mtx};
    return closed.size();
  }

  caf::error last_close() {
    std::lock_guard<std::mutex> guard{mtx};
    return closed.empty() ? caf::error{} : closed.back();
  }

  tp::connection_info last_open() {
    std::lock_guard<std::mutex> guard{mtx};
    return opened.empty() ? tp::connection_info{} : opened.back();
  }
};

enum class reply_mode {
  echo,           ///< echo every frame
  echo_and_close, ///< echo the first frame, then close gracefully
  http,           ///< answer one HTTP/1.1 request (raw framing), then close
};

class recording_handler final : public tp::connection_handler {
public:
  recording_handler(std::shared_ptr<server_log> log, reply_mode mode)
    : log_(std::move(log)), mode_(mode) {}

  void on_open(tp::connection_context& ctx) override {
    std::lock_guard<std::mutex> guard{log_->mtx};
    log_->opened.push_back(ctx.info());
    log_->actors.push_back(caf::actor_cast<caf::actor_addr>(ctx.self()));
  }

  void on_frame(tp::connection_context& ctx, tp::byte_view frame) override {
    if (mode_ == reply_mode::http) {
      request_.append(frame.data(), frame.size());
      if (request_.find("\r\n\r\n") == std::string::npos)
        return;
      std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 9\r\nConnection: close\r\n\r\n"
                             "hello tls";
      (void) ctx.send({response.data(), response.size()});
      ctx.close();
      return;
    }
    if (auto err = ctx.send(frame)) {
      ctx.abort(err);
      return;
    }
    if (mode_ == reply_mode::echo_and_close)
      ctx.close();
  }

  void on_close(const caf::error& reason) override {
    std::lock_guard<std::mutex> guard{log_->mtx};
    log_->closed.push_back(reason);
  }

private:
  std::shared_ptr<server_log> log_;
  reply_mode mode_;
  std::string request_;
};

struct tls_fixture : tcp_fixture {
  std::shared_ptr<server_log> log = std::make_shared<server_log>();

  tp::tcp_service_options
  tls_service(std::shared_ptr<tp::tls_context_holder> ctx,
              reply_mode mode = reply_mode::echo,
              tp::framing_kind framing = tp::framing_kind::raw) {
    auto opts = echo_service();
    opts.listener.connection.tls.context = std::move(ctx);
    opts.listener.connection.framing.kind = framing;
    opts.handler = [log = log, mode] {
      return std::make_unique<recording_handler>(log, mode);
    };
    return opts;
  }

  /// A ghostnet TLS client whose frames come to `self` (actor mode).
  tp::connection_actor connect_tls(const tp::endpoint& to,
                                   tp::tls_options opts,
                                   std::string server_name = "",
                                   uint32_t retries = 0) {
    tp::connect_options co;
    co.remote = to;
    co.timeout = 5s;
    co.retries = retries;
    co.backoff_min = 20ms;
    co.backoff_max = 100ms;
    co.connection.tls.context = holder(opts);
    co.connection.tls.server_name = std::move(server_name);
    co.connection.timeouts.drain = 500ms;
    auto conn = tp::connect(sys, co, tp::actor_handler(caf::actor{self}));
    BOOST_REQUIRE_MESSAGE(conn, (conn ? "" : describe(conn.error())));
    return *conn;
  }

  /// The connect reply: the established connection's info, or the error.
  /// A connection that failed before the request reached it cannot answer
  /// any more: its handler's closed message has the reason then.
  caf::expected<tp::connection_info> wait_connected(const tp::connection_actor& c) {
    caf::expected<tp::connection_info> result{tp::connection_info{}};
    self->request(c, patience, connect_atom::value)
      .receive([&](tp::connection_info& info) { result = info; },
               [&](caf::error& err) { result = err; });
    if (!result && result.error() == caf::sec::request_receiver_down)
      self->receive([&](closed_atom, tp::connection_actor&, caf::error& err) { result = err; },
                    caf::after(patience) >> [] { BOOST_FAIL("no closed message"); });
    return result;
  }

  /// Drops the actor-mode messages of earlier connections.
  void drain_mailbox() {
    bool more = true;
    while (more)
      self->receive([](received_atom, tp::connection_actor&, std::vector<char>&) {},
                    [](tp::opened_atom, tp::connection_actor&, tp::connection_info&) {},
                    [](closed_atom, tp::connection_actor&, caf::error&) {},
                    [](caf::ok_atom) {}, [](caf::error&) {},
                    caf::after(0ms) >> [&] { more = false; });
  }

  /// Sends `data` through `conn` and collects `data.size()` echoed bytes, in
  /// pieces well below the high-water mark: a connection whose own output
  /// is above it stops reading, so one huge send would wait for an echo it
  /// does not read.
  std::string round_trip(const tp::connection_actor& conn, const std::string& data) {
    constexpr size_t piece = 256 * 1024;
    std::string got;
    for (size_t pos = 0; pos < data.size(); pos += piece) {
      auto part = data.substr(pos, piece);
      auto want = got.size() + part.size();
      self->request(conn, patience, send_atom::value,
                    std::vector<char>(part.begin(), part.end()))
        .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
      collect(conn, got, want);
      if (got.size() < want)
        break;
    }
    return got;
  }

  /// Appends `conn`'s echoed bytes to `got` until it holds `want` bytes.
  void collect(const tp::connection_actor& conn, std::string& got, size_t want) {
    bool failed = false;
    while (got.size() < want && !failed)
      self->receive(
        [&](received_atom, tp::connection_actor& from, std::vector<char>& chunk) {
          if (from == conn)
            got.append(chunk.begin(), chunk.end());
        },
        [](tp::opened_atom, tp::connection_actor&, tp::connection_info&) {},
        [&](closed_atom, tp::connection_actor&, caf::error& err) {
          BOOST_TEST_MESSAGE("closed: " << describe(err));
        },
        caf::after(patience) >> [&] { failed = true; });
  }

  void close(const tp::connection_actor& conn) {
    self->request(conn, patience, close_atom::value)
      .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  }
};

std::string quoted(const std::string& path) {
  return "'" + path + "'";
}

/// openssl s_client against `port`, sending `input` and waiting for the
/// server to close (-ign_eof).
command_result s_client(uint16_t port, const std::string& input,
                        const std::string& extra) {
  auto cmd = "printf '" + input + "' | openssl s_client -connect 127.0.0.1:"
             + std::to_string(port) + " -CAfile " + quoted(test_certs().ca_cert)
             + " -verify_return_error -ign_eof " + extra;
  return run_command(cmd);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(tls_connection, tls_fixture)

// -- real peers ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(s_client_talks_tls_1_2_and_1_3_to_the_server) {
  auto svc = start_service(tls_service(holder(server_tls()), reply_mode::echo_and_close,
                                       tp::framing_kind::line));
  for (std::string version : {"1_2", "1_3"}) {
    auto out = s_client(svc.bound.port, "hello tls\\n",
                        "-servername localhost -tls" + version);
    BOOST_TEST(contains(out.output, "hello tls"), out.output);
    BOOST_TEST(contains(out.output, "Verify return code: 0 (ok)"), out.output);
    auto expected = version == "1_2" ? "TLSv1.2" : "TLSv1.3";
    BOOST_TEST(contains(out.output, std::string{"New, "} + expected), out.output);
    BOOST_TEST(eventually([&] { return log->closed_count() == (version == "1_2" ? 1u : 2u); }));
    BOOST_TEST(log->last_open().tls.version == expected);
    BOOST_TEST(!log->last_close(), describe(log->last_close()));
  }
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(alpn_is_negotiated_with_s_client) {
  auto opts = server_tls();
  opts.alpn = {"ghostnet/1", "http/1.1"};
  auto svc = start_service(tls_service(holder(opts), reply_mode::echo_and_close,
                                       tp::framing_kind::line));
  auto out = s_client(svc.bound.port, "alpn\\n", "-servername localhost -alpn h2,http/1.1");
  BOOST_TEST(contains(out.output, "ALPN protocol: http/1.1"), out.output);
  BOOST_TEST(contains(out.output, "alpn"), out.output);
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 1; }));
  BOOST_TEST(log->last_open().tls.alpn == "http/1.1");
  // A client that offers only protocols the server does not speak fails.
  out = s_client(svc.bound.port, "x\\n", "-servername localhost -alpn h2");
  BOOST_TEST(!contains(out.output, "ALPN protocol"), out.output);
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 2; }));
  BOOST_TEST(is(log->last_close(), errc::tls_handshake_failed), describe(log->last_close()));
  BOOST_TEST(contains(context_of(log->last_close()).detail, "no application protocol"));
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(sni_picks_the_certificate_for_the_name_s_client_asks_for) {
  auto opts = server_tls();
  opts.sni_certificates.push_back({"other.test", test_certs().other_cert, test_certs().other_key});
  auto svc = start_service(tls_service(holder(opts), reply_mode::echo_and_close,
                                       tp::framing_kind::line));
  auto other = s_client(svc.bound.port, "sni\\n", "-servername other.test");
  BOOST_TEST(contains(other.output, "CN = other.test"), other.output);
  BOOST_TEST(contains(other.output, "Verify return code: 0 (ok)"), other.output);
  auto main = s_client(svc.bound.port, "sni\\n", "-servername localhost");
  BOOST_TEST(contains(main.output, "CN = localhost"), main.output);
  BOOST_TEST(!contains(main.output, "CN = other.test"), main.output);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(mutual_tls_accepts_the_right_client_certificate_only) {
  auto opts = server_tls();
  opts.client_auth = tp::tls_client_auth::required;
  opts.ca_file = test_certs().ca_cert;
  auto svc = start_service(tls_service(holder(opts), reply_mode::echo_and_close,
                                       tp::framing_kind::line));
  const auto& certs = test_certs();
  auto ok = s_client(svc.bound.port, "mtls\\n",
                     "-servername localhost -cert " + quoted(certs.client_cert)
                       + " -key " + quoted(certs.client_key));
  BOOST_TEST(contains(ok.output, "mtls"), ok.output);
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 1; }));
  BOOST_TEST(contains(log->last_open().tls.peer_subject, "ghostnet test client"));
  // Without a certificate, and with one from another CA: refused.
  auto none = s_client(svc.bound.port, "mtls\\n", "-servername localhost");
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 2; }));
  BOOST_TEST(is(log->last_close(), errc::tls_handshake_failed), describe(log->last_close()));
  auto rogue = s_client(svc.bound.port, "mtls\\n",
                        "-servername localhost -cert " + quoted(certs.rogue_client_cert)
                          + " -key " + quoted(certs.rogue_client_key));
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 3; }));
  BOOST_TEST(is(log->last_close(), errc::tls_handshake_failed), describe(log->last_close()));
  BOOST_TEST(log->opened.size() == 1u); // the refused ones never reached the handler
  BOOST_TEST(!contains(none.output, "\nmtls"), none.output);
  BOOST_TEST(!contains(rogue.output, "\nmtls"), rogue.output);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(the_client_talks_to_s_server_over_tls_1_2_and_1_3) {
  const auto& certs = test_certs();
  for (std::string version : {"1.2", "1.3"}) {
    auto port = unused_port();
    // s_server -rev answers every line reversed; it serves one connection.
    auto cmd = "timeout 20 openssl s_server -accept 127.0.0.1:" + std::to_string(port)
               + " -cert " + quoted(certs.server_cert) + " -key " + quoted(certs.server_key)
               + " -rev -naccept 1 >/dev/null 2>&1 &";
    BOOST_REQUIRE(std::system(cmd.c_str()) == 0);
    auto opts = client_tls();
    opts.min_version = opts.max_version = version;
    // The host is an IP literal: the certificate's IP SAN is checked.
    auto conn = connect_tls(tp::endpoint{"127.0.0.1", port}, opts, "", 100);
    auto info = wait_connected(conn);
    BOOST_REQUIRE_MESSAGE(info, (info ? "" : describe(info.error())));
    BOOST_TEST(info->tls.version == "TLSv" + version);
    BOOST_TEST(contains(info->tls.peer_subject, "CN=localhost"), info->tls.peer_subject);
    BOOST_TEST(round_trip(conn, "hello s_server\n").find("revres_s olleh") != std::string::npos);
    close(conn);
    drain_mailbox();
  }
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(curl_gets_an_answer_from_a_tls_endpoint) {
  auto opts = server_tls();
  opts.alpn = {"http/1.1"};
  auto svc = start_service(tls_service(holder(opts), reply_mode::http));
  auto port = std::to_string(svc.bound.port);
  auto out = run_command("curl -sS --http1.1 --cacert " + quoted(test_certs().ca_cert)
                         + " --resolve localhost:" + port + ":127.0.0.1 https://localhost:"
                         + port + "/");
  BOOST_TEST(out.status == 0, out.output);
  BOOST_TEST(out.output == "hello tls");
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 1; }));
  BOOST_TEST(log->last_open().tls.alpn == "http/1.1");
  // Without the CA curl refuses the server; the server sees the alert.
  auto refused = run_command("curl -sS --cacert /dev/null --resolve localhost:" + port
                             + ":127.0.0.1 https://localhost:" + port + "/");
  BOOST_TEST(refused.status != 0, refused.output);
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 2; }));
  // curl sends an alert, or resets the connection: either way it ends in
  // the handshake.
  auto reason = log->last_close();
  BOOST_TEST((is(reason, errc::tls_handshake_failed) || is(reason, errc::connection_reset)),
             describe(reason));
  BOOST_TEST(context_of(reason).operation == "tls handshake");
  stop(svc.root);
}

// -- failures, typed -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(expired_wrong_host_and_untrusted_certificates_are_rejected) {
  const auto& certs = test_certs();
  struct bad_case {
    std::string cert, key, server_name, reason;
  };
  std::vector<bad_case> cases{
    {certs.expired_cert, certs.expired_key, "localhost", "certificate has expired"},
    {certs.server_cert, certs.server_key, "wrong.test", "hostname mismatch"},
    {certs.rogue_cert, certs.rogue_key, "localhost", "unable to get local issuer certificate"},
  };
  for (auto& c : cases) {
    auto opts = server_tls();
    opts.certificate_chain_file = c.cert;
    opts.private_key_file = c.key;
    auto svc = start_service(tls_service(holder(opts)));
    auto conn = connect_tls(svc.bound, client_tls(), c.server_name);
    auto info = wait_connected(conn);
    BOOST_REQUIRE(!info);
    BOOST_TEST(is(info.error(), errc::tls_handshake_failed), describe(info.error()));
    BOOST_TEST(contains(context_of(info.error()).detail, c.reason), describe(info.error()));
    BOOST_TEST(context_of(info.error()).operation == "tls handshake");
    BOOST_TEST(context_of(info.error()).endpoint == svc.bound.to_string());
    // The server is told by the client's alert.
    BOOST_TEST(eventually([&] { return log->closed_count() >= 1; }));
    stop(svc.root);
    log->closed.clear();
    drain_mailbox();
  }
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_client_that_stalls_in_the_handshake_is_cut_at_the_timeout) {
  auto opts = tls_service(holder(server_tls()));
  opts.listener.connection.tls.handshake_timeout = 300ms;
  auto svc = start_service(opts);
  client silent{svc.bound};
  client partial{svc.bound};
  BOOST_REQUIRE(partial.send_all(std::string("\x16\x03\x01\x02\x00", 5))); // a record header
  BOOST_TEST(silent.sees_close());
  BOOST_TEST(partial.sees_close());
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 2; }));
  for (auto& reason : log->closed) {
    BOOST_TEST(is(reason, errc::timeout), describe(reason));
    BOOST_TEST(context_of(reason).operation == "tls handshake");
  }
  BOOST_TEST(ghostnet::metrics::global()
               .counter("ghostnet_tls_handshake_failures_total", "", {{"reason", "timeout"}})
               .value() >= 2u);
  BOOST_TEST(listener_info_of(svc.root).active == 0u);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(plaintext_instead_of_a_client_hello_is_a_handshake_failure) {
  auto failures = [](const char* why) {
    return ghostnet::metrics::global()
      .counter("ghostnet_tls_handshake_failures_total", "", {{"reason", why}})
      .value();
  };
  auto failed_before = failures("tls_handshake_failed");
  auto svc = start_service(tls_service(holder(server_tls())));
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  BOOST_TEST(c.sees_close());
  BOOST_REQUIRE(eventually([&] { return log->closed_count() == 1; }));
  auto reason = log->last_close();
  BOOST_TEST(is(reason, errc::tls_handshake_failed), describe(reason));
  BOOST_TEST(!context_of(reason).detail.empty());
  BOOST_TEST(context_of(reason).endpoint.find("127.0.0.1:") == 0);
  // Counted by reason in the metrics.
  BOOST_TEST(failures("tls_handshake_failed") == failed_before + 1);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(close_notify_is_clean_and_a_missing_one_is_truncation) {
  auto svc = start_service(tls_service(holder(server_tls()), reply_mode::echo));
  auto client_ctx = make_context([] {
    auto o = client_tls();
    o.server_name = "localhost";
    return o;
  }());
  {
    blocking_tls_client clean{svc.bound, client_ctx};
    BOOST_REQUIRE(!clean.handshake());
    BOOST_REQUIRE(clean.send("bye"));
    BOOST_TEST(clean.read_exactly(3) == "bye");
    BOOST_REQUIRE(clean.close_notify());
    BOOST_TEST(clean.sees_close_notify()); // the server answers in kind
    BOOST_REQUIRE(eventually([&] { return log->closed_count() == 1; }));
    BOOST_TEST(!log->last_close(), describe(log->last_close()));
  }
  {
    blocking_tls_client cut{svc.bound, client_ctx};
    BOOST_REQUIRE(!cut.handshake());
    BOOST_REQUIRE(cut.send("cut"));
    BOOST_TEST(cut.read_exactly(3) == "cut");
    cut.socket().shutdown_write(); // FIN without close_notify
    BOOST_TEST(cut.sees_close_notify()); // the server still closes cleanly
    BOOST_REQUIRE(eventually([&] { return log->closed_count() == 2; }));
    auto reason = log->last_close();
    BOOST_TEST(is(reason, errc::transport_closed), describe(reason));
    BOOST_TEST(contains(context_of(reason).detail, "truncated"), describe(reason));
  }
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(the_client_side_reports_a_server_that_closes_without_close_notify) {
  // A plain TCP server that answers the ClientHello with EOF.
  auto plain = start_service([] {
    auto o = echo_service();
    o.handler = [] {
      struct closer : tp::connection_handler {
        void on_frame(tp::connection_context& ctx, tp::byte_view) override { ctx.close(); }
      };
      return std::make_unique<closer>();
    };
    return o;
  }());
  auto conn = connect_tls(plain.bound, client_tls(), "localhost");
  auto info = wait_connected(conn);
  BOOST_REQUIRE(!info);
  BOOST_TEST(is(info.error(), errc::tls_handshake_failed), describe(info.error()));
  stop(plain.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_listener_or_client_with_a_context_of_the_wrong_role_is_refused) {
  auto opts = tls_service(holder(client_tls()));
  auto spec = tp::tcp_service(opts);
  BOOST_REQUIRE(!spec);
  BOOST_TEST(is(spec.error(), errc::invalid_configuration));
  BOOST_TEST(contains(context_of(spec.error()).detail, "connection.tls.context"));
  tp::connect_options co;
  co.remote = tp::endpoint{"127.0.0.1", 9};
  co.connection.tls.context = holder(server_tls());
  auto conn = tp::connect(sys, co, tp::echo_handler());
  BOOST_REQUIRE(!conn);
  BOOST_TEST(is(conn.error(), errc::invalid_configuration));
  co.connection.tls.context = holder(client_tls());
  co.connection.tls.handshake_timeout = 0s;
  conn = tp::connect(sys, co, tp::echo_handler());
  BOOST_REQUIRE(!conn);
  BOOST_TEST(contains(context_of(conn.error()).detail, "handshake_timeout"));
}

// -- data and scale ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(echo_over_tls_from_one_byte_to_sixteen_mebibytes) {
  auto svc = start_service(tls_service(holder(server_tls())));
  auto conn = connect_tls(svc.bound, client_tls(), "localhost");
  BOOST_REQUIRE(wait_connected(conn));
  unsigned seed = 1;
  for (size_t n : {size_t{1}, size_t{100}, size_t{16384}, size_t{16385}, size_t{1} << 20,
                   size_t{16} << 20}) {
    auto data = pattern(n, seed++);
    auto got = round_trip(conn, data);
    BOOST_TEST(got.size() == n);
    BOOST_TEST((got == data), "payload of " << n << " bytes differs");
  }
  auto info = info_of(conn);
  BOOST_TEST(info.tls.version == "TLSv1.3");
  close(conn);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(two_hundred_concurrent_tls_connections_echo_and_give_everything_back) {
  auto svc = start_service(tls_service(holder(server_tls())));
  auto client_opts = client_tls();
  client_opts.server_name = "localhost";
  auto run_round = [&](size_t count) {
    std::vector<tp::connection_actor> conns;
    for (size_t i = 0; i < count; ++i)
      conns.push_back(connect_tls(svc.bound, client_opts));
    for (auto& c : conns)
      BOOST_REQUIRE(wait_connected(c));
    std::map<tp::connection_actor, std::string> expected, got;
    for (size_t i = 0; i < conns.size(); ++i) {
      expected[conns[i]] = pattern(1000, static_cast<unsigned>(i + 7));
      auto& data = expected[conns[i]];
      self->request(conns[i], patience, send_atom::value,
                    std::vector<char>(data.begin(), data.end()))
        .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
    }
    size_t complete = 0;
    bool timed_out = false;
    while (complete < conns.size() && !timed_out)
      self->receive(
        [&](received_atom, tp::connection_actor& from, std::vector<char>& chunk) {
          auto& s = got[from];
          s.append(chunk.begin(), chunk.end());
          if (s.size() == 1000)
            ++complete;
        },
        [](tp::opened_atom, tp::connection_actor&, tp::connection_info&) {},
        caf::after(patience) >> [&] { timed_out = true; });
    BOOST_TEST(complete == conns.size());
    BOOST_TEST((got == expected));
    BOOST_TEST(listener_info_of(svc.root).active == count);
    for (auto& c : conns)
      self->send(c, close_atom::value);
    BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == 0; }));
    drain_mailbox();
  };
  run_round(20); // warm up: thread-local buffers, OpenSSL's caches
  BOOST_TEST(fds_restored(1)); // the listener
  {
    std::lock_guard<std::mutex> guard{log->mtx};
    log->opened.clear();
    log->closed.clear();
    log->actors.clear();
    log->opened.shrink_to_fit();
    log->closed.shrink_to_fit();
    log->actors.shrink_to_fit();
  }
  // The main arena only (mallinfo2): this thread's messages and whatever the
  // connection actors leave referenced from here.
  auto heap_before = mallinfo2().uordblks;
  run_round(200);
  BOOST_TEST(fds_restored(1));
  if (!ghostnet::test::under_sanitizer) {
    // 200 live sessions hold several MB; what stays afterwards is noise.
    auto heap_after = mallinfo2().uordblks;
    auto grown = heap_after > heap_before ? heap_after - heap_before : 0;
    BOOST_TEST(grown < size_t{2} << 20, "heap grew by " << grown << " bytes");
  }
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_tls_peer_that_never_reads_is_held_at_the_high_water_mark) {
  auto opts = tls_service(holder(server_tls()));
  opts.listener.connection.high_water_mark = 256 * 1024;
  opts.listener.connection.low_water_mark = 64 * 1024;
  opts.listener.connection.socket.send_buffer = 64 * 1024;
  auto svc = start_service(opts);
  blocking_tls_client stuck{svc.bound, make_context([] {
                              auto o = client_tls();
                              o.server_name = "localhost";
                              return o;
                            }())};
  BOOST_REQUIRE(!stuck.handshake());
  // Push 8 MiB without reading the echo; sends stop once the server stops
  // reading (its receive window fills): the client socket has a timeout.
  timeval tv{0, 500 * 1000};
  setsockopt(stuck.socket().fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  auto chunk = pattern(64 * 1024);
  for (int i = 0; i < 128; ++i)
    if (!stuck.send(chunk))
      break;
  BOOST_REQUIRE(eventually([&] { return !log->actors.empty(); }));
  auto server_side = caf::actor_cast<tp::connection_actor>(log->actors.front());
  BOOST_REQUIRE(server_side);
  auto info = info_of(server_side);
  BOOST_TEST(info.pending_out > 0u);
  // At most the mark plus one read's echo (and its TLS record overhead).
  BOOST_TEST(info.pending_out <= 256 * 1024 + 64 * 1024 + 8 * 1024);
  // Others are served meanwhile.
  auto conn = connect_tls(svc.bound, client_tls(), "localhost");
  BOOST_REQUIRE(wait_connected(conn));
  BOOST_TEST(round_trip(conn, "still here") == "still here");
  close(conn);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(reloading_the_certificate_applies_to_new_connections_only) {
  auto ctx = holder(server_tls());
  auto svc = start_service(tls_service(ctx));
  auto old_conn = connect_tls(svc.bound, client_tls(), "localhost");
  auto before = wait_connected(old_conn);
  BOOST_REQUIRE(before);
  BOOST_TEST(contains(before->tls.peer_subject, "CN=localhost"));
  auto next = server_tls();
  next.certificate_chain_file = test_certs().other_cert;
  next.private_key_file = test_certs().other_key;
  BOOST_REQUIRE(!ctx->reload(next));
  auto new_conn = connect_tls(svc.bound, client_tls(), "other.test");
  auto after = wait_connected(new_conn);
  BOOST_REQUIRE_MESSAGE(after, (after ? "" : describe(after.error())));
  BOOST_TEST(contains(after->tls.peer_subject, "CN=other.test"));
  // The running connection keeps its session.
  BOOST_TEST(round_trip(old_conn, "old") == "old");
  BOOST_TEST(round_trip(new_conn, "new") == "new");
  close(old_conn);
  close(new_conn);
  stop(svc.root);
}

BOOST_AUTO_TEST_SUITE_END()
