// TLS sessions on byte vectors: a client session and a server session are
// paired in memory and a `tls_pair` pumps the ciphertext between them, in
// whole buffers or in random chunks, exactly as two connections would.
// Certificates are made once per process by tls_test_certs.

#include "ghostnet/transports/tls_session.hpp"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "ghostnet/transports/tls_options.hpp"
#include "../sanitizer.hpp"
#include "tls_test_certs.hpp"

using namespace ghostnet;
using namespace ghostnet::transports;
using ghostnet::test::test_certs;
using ghostnet::test::under_sanitizer;

namespace {

byte_view view(const std::string& str) {
  return {str.data(), str.size()};
}

byte_view view(const std::vector<char>& buf) {
  return {buf.data(), buf.size()};
}

std::string detail_of(const caf::error& err) {
  return context_of(err).detail;
}

// -- options ------------------------------------------------------------------

tls_options server_options() {
  const auto& certs = test_certs();
  tls_options opts;
  opts.role = tls_role::server;
  opts.certificate_chain_file = certs.server_cert;
  opts.private_key_file = certs.server_key;
  return opts;
}

tls_options client_options(std::string server_name = "localhost") {
  tls_options opts;
  opts.role = tls_role::client;
  opts.ca_file = test_certs().ca_cert;
  opts.server_name = std::move(server_name);
  return opts;
}

tls_context_ptr make_context(const tls_options& opts) {
  auto ctx = make_tls_context(opts);
  BOOST_REQUIRE_MESSAGE(ctx, "make_tls_context failed: "
                               << (ctx ? "" : describe(ctx.error())));
  return std::move(*ctx);
}

std::unique_ptr<tls_session> make_session(tls_context_ptr ctx,
                                          tls_session_options opts = {}) {
  auto session = make_tls_session(std::move(ctx), std::move(opts));
  BOOST_REQUIRE_MESSAGE(session, "make_tls_session failed: "
                                   << (session ? ""
                                               : describe(session.error())));
  return std::move(*session);
}

// -- pairing two sessions -------------------------------------------------------

/// One end of a pair: its session, what it decrypted, and its first error.
struct end {
  std::unique_ptr<tls_session> session;
  std::vector<char> plaintext;
  caf::error err;

  std::string received() const {
    return {plaintext.begin(), plaintext.end()};
  }
};

/// A client and a server session, connected in memory.
class tls_pair {
public:
  tls_pair(tls_context_ptr client_ctx, tls_context_ptr server_ctx,
           tls_session_options client_opts = {}) {
    client.session = make_session(std::move(client_ctx),
                                  std::move(client_opts));
    server.session = make_session(std::move(server_ctx));
  }

  /// Delivers ciphertext in chunks of 1 to `max` bytes (0: whole buffers).
  void chunk_randomly(size_t max, unsigned seed = 42) {
    max_chunk_ = max;
    rng_.seed(seed);
  }

  /// Starts the handshake and pumps until nothing moves.
  bool handshake() {
    start();
    pump();
    return client.session->handshake_done() && server.session->handshake_done()
           && !client.err && !server.err;
  }

  void start() {
    client.err = client.session->start(to_server_);
    if (!server.err)
      server.err = server.session->start(to_client_);
  }

  /// Moves ciphertext both ways until neither end has anything to send.
  void pump() {
    while (!to_server_.empty() || !to_client_.empty()) {
      deliver(to_server_, server, to_client_);
      deliver(to_client_, client, to_server_);
    }
  }

  /// Encrypts `data` at `from` in pieces of `piece` bytes (0: at once).
  void send(end& from, const std::string& data, size_t piece = 0) {
    auto& out = &from == &client ? to_server_ : to_client_;
    if (piece == 0)
      piece = std::max<size_t>(data.size(), 1);
    for (size_t off = 0; off < data.size(); off += piece) {
      auto n = std::min(piece, data.size() - off);
      auto err = from.session->encrypt(byte_view{data.data() + off, n}, out);
      BOOST_REQUIRE_MESSAGE(!err, "encrypt failed: " << describe(err));
    }
  }

  void close(end& from) {
    auto& out = &from == &client ? to_server_ : to_client_;
    auto err = from.session->close(out);
    BOOST_REQUIRE_MESSAGE(!err, "close failed: " << describe(err));
  }

  /// Bytes in flight towards `to`.
  std::vector<char>& in_flight_to(end& to) {
    return &to == &server ? to_server_ : to_client_;
  }

  end client;
  end server;

private:
  void deliver(std::vector<char>& buf, end& to, std::vector<char>& reply) {
    if (buf.empty())
      return;
    std::vector<char> data;
    data.swap(buf);
    if (to.err)
      return; // a failed end reads nothing more
    size_t off = 0;
    while (off < data.size() && !to.err) {
      auto n = data.size() - off;
      if (max_chunk_ > 0)
        n = std::min(n, std::uniform_int_distribution<size_t>{1, max_chunk_}(
                          rng_));
      to.err = to.session->consume(byte_view{data.data() + off, n},
                                   to.plaintext, reply);
      off += n;
    }
  }

  std::vector<char> to_server_;
  std::vector<char> to_client_;
  size_t max_chunk_ = 0;
  std::mt19937 rng_{42};
};

void require_handshake(tls_pair& pair) {
  BOOST_REQUIRE_MESSAGE(pair.handshake(),
                        "handshake failed: client: "
                          << describe(pair.client.err)
                          << " server: " << describe(pair.server.err));
}

/// Runs a handshake expected to fail; returns the client's error.
caf::error failed_client_handshake(tls_pair& pair) {
  BOOST_CHECK(!pair.handshake());
  BOOST_CHECK(!pair.client.session->handshake_done()
              || pair.client.err); // TLS 1.3: fails after its own Finished
  BOOST_CHECK(pair.client.session->failed());
  // No error is left behind in OpenSSL's thread-local queue.
  BOOST_CHECK_EQUAL(ERR_peek_error(), 0u);
  return pair.client.err;
}

std::string pattern(size_t size) {
  std::string result(size, '\0');
  std::mt19937 rng{static_cast<unsigned>(size)};
  for (auto& c : result)
    c = static_cast<char>(rng());
  return result;
}

size_t heap_in_use() {
  auto info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls_session_tests)

// -- handshakes -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(handshake_completes_with_tls_1_3_by_default) {
  tls_pair pair{make_context(client_options()),
                make_context(server_options())};
  require_handshake(pair);
  BOOST_CHECK_EQUAL(pair.client.session->tls_version(), "TLSv1.3");
  BOOST_CHECK_EQUAL(pair.server.session->tls_version(), "TLSv1.3");
  BOOST_CHECK_EQUAL(pair.client.session->peer_certificate_subject(),
                    "CN=localhost,O=ghostnet");
  BOOST_CHECK_EQUAL(pair.server.session->peer_certificate_subject(), "");
  BOOST_CHECK(!pair.client.session->session_reused());
}

BOOST_AUTO_TEST_CASE(handshake_completes_with_tls_1_2_when_capped) {
  auto copts = client_options();
  copts.max_version = "1.2";
  tls_pair pair{make_context(copts), make_context(server_options())};
  require_handshake(pair);
  BOOST_CHECK_EQUAL(pair.client.session->tls_version(), "TLSv1.2");
  BOOST_CHECK_EQUAL(pair.server.session->tls_version(), "TLSv1.2");
}

BOOST_AUTO_TEST_CASE(configured_ciphers_are_negotiated) {
  auto sopts = server_options();
  sopts.cipher_list = "ECDHE-ECDSA-CHACHA20-POLY1305";
  sopts.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
  auto server_ctx = make_context(sopts);
  for (auto version : {"1.2", "1.3"}) {
    BOOST_TEST_CONTEXT("TLS " << version) {
      auto copts = client_options();
      copts.max_version = version;
      tls_pair pair{make_context(copts), server_ctx};
      require_handshake(pair);
      std::string name = SSL_get_cipher_name(pair.server.session->native_handle());
      BOOST_CHECK_EQUAL(name, version == std::string{"1.2"}
                                ? "ECDHE-ECDSA-CHACHA20-POLY1305"
                                : "TLS_CHACHA20_POLY1305_SHA256");
    }
  }
}

BOOST_AUTO_TEST_CASE(handshake_fails_without_a_common_version) {
  auto copts = client_options();
  copts.max_version = "1.2";
  auto sopts = server_options();
  sopts.min_version = "1.3";
  tls_pair pair{make_context(copts), make_context(sopts)};
  auto err = failed_client_handshake(pair);
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
  BOOST_CHECK(is(pair.server.err, errc::tls_handshake_failed));
  BOOST_TEST_MESSAGE("client: " << describe(err));
  BOOST_TEST_MESSAGE("server: " << describe(pair.server.err));
  BOOST_CHECK(detail_of(pair.server.err).find("unsupported protocol")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(handshake_survives_one_byte_chunks) {
  tls_pair pair{make_context(client_options()),
                make_context(server_options())};
  pair.chunk_randomly(1);
  require_handshake(pair);
  pair.send(pair.client, "ping");
  pair.pump();
  BOOST_CHECK_EQUAL(pair.server.received(), "ping");
}

BOOST_AUTO_TEST_CASE(client_verifies_an_ip_address_against_the_certificate) {
  tls_pair pair{make_context(client_options("127.0.0.1")),
                make_context(server_options())};
  require_handshake(pair);
  tls_pair wrong{make_context(client_options("127.0.0.2")),
                 make_context(server_options())};
  auto err = failed_client_handshake(wrong);
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
  BOOST_CHECK(detail_of(err).find("IP address mismatch") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(garbage_from_the_peer_fails_the_handshake) {
  auto session = make_session(make_context(server_options()));
  std::vector<char> plain;
  std::vector<char> out;
  auto err = session->consume(view(std::string{"GET / HTTP/1.1\r\n\r\n"}),
                              plain, out);
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
  BOOST_TEST_MESSAGE(describe(err));
  BOOST_CHECK(!detail_of(err).empty());
  BOOST_CHECK_EQUAL(ERR_peek_error(), 0u);
  // A dead session repeats its error.
  BOOST_CHECK(is(session->consume(view(std::string{"x"}), plain, out),
                 errc::tls_handshake_failed));
}

// -- ALPN -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(alpn_selects_the_servers_first_choice_the_client_offers) {
  auto copts = client_options();
  copts.alpn = {"http/1.1", "h2"};
  auto sopts = server_options();
  sopts.alpn = {"h2", "http/1.1"};
  tls_pair pair{make_context(copts), make_context(sopts)};
  require_handshake(pair);
  BOOST_CHECK_EQUAL(pair.client.session->alpn_selected(), "h2");
  BOOST_CHECK_EQUAL(pair.server.session->alpn_selected(), "h2");
}

BOOST_AUTO_TEST_CASE(alpn_without_overlap_fails_the_handshake) {
  auto copts = client_options();
  copts.alpn = {"imap"};
  auto sopts = server_options();
  sopts.alpn = {"h2", "http/1.1"};
  tls_pair pair{make_context(copts), make_context(sopts)};
  auto err = failed_client_handshake(pair);
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
  BOOST_CHECK(detail_of(err).find("no application protocol")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(alpn_is_empty_when_the_client_offers_none) {
  auto sopts = server_options();
  sopts.alpn = {"h2"};
  tls_pair pair{make_context(client_options()), make_context(sopts)};
  require_handshake(pair);
  BOOST_CHECK_EQUAL(pair.client.session->alpn_selected(), "");
  BOOST_CHECK_EQUAL(pair.server.session->alpn_selected(), "");
}

// -- SNI --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sni_picks_the_certificate_for_the_requested_name) {
  const auto& certs = test_certs();
  auto sopts = server_options();
  sopts.sni_certificates.push_back(
    {"other.test", certs.other_cert, certs.other_key});
  sopts.sni_certificates.push_back(
    {"*.wild.test", certs.wild_cert, certs.wild_key});
  auto server_ctx = make_context(sopts);
  auto client_ctx = make_context(client_options());
  struct expectation {
    const char* name;
    const char* subject;
  };
  for (auto [name, subject] :
       {expectation{"other.test", "CN=other.test,O=ghostnet"},
        expectation{"OTHER.test", "CN=other.test,O=ghostnet"},
        expectation{"a.wild.test", "CN=*.wild.test,O=ghostnet"},
        expectation{"localhost", "CN=localhost,O=ghostnet"}}) {
    BOOST_TEST_CONTEXT("server name " << name) {
      tls_pair pair{client_ctx, server_ctx, tls_session_options{name, {}}};
      require_handshake(pair);
      BOOST_CHECK_EQUAL(pair.client.session->peer_certificate_subject(),
                        subject);
    }
  }
}

BOOST_AUTO_TEST_CASE(sni_wildcard_matches_one_label_only) {
  const auto& certs = test_certs();
  auto sopts = server_options();
  sopts.sni_certificates.push_back(
    {"*.wild.test", certs.wild_cert, certs.wild_key});
  auto copts = client_options("a.b.wild.test");
  copts.verify_peer = false;
  copts.insecure_skip_verify = true;
  tls_pair pair{make_context(copts), make_context(sopts)};
  require_handshake(pair);
  BOOST_CHECK_EQUAL(pair.client.session->peer_certificate_subject(),
                    "CN=localhost,O=ghostnet"); // the main certificate
}

// -- mutual TLS -------------------------------------------------------------------

tls_options mtls_server_options(tls_client_auth mode) {
  auto sopts = server_options();
  sopts.client_auth = mode;
  sopts.ca_file = test_certs().ca_cert;
  return sopts;
}

tls_options client_with_certificate(const std::string& cert,
                                    const std::string& key,
                                    const std::string& max_version = "") {
  auto copts = client_options();
  copts.certificate_chain_file = cert;
  copts.private_key_file = key;
  copts.max_version = max_version;
  return copts;
}

BOOST_AUTO_TEST_CASE(mutual_tls_accepts_a_client_certificate_of_the_ca) {
  const auto& certs = test_certs();
  for (auto version : {"1.2", "1.3"}) {
    BOOST_TEST_CONTEXT("TLS " << version) {
      tls_pair pair{make_context(client_with_certificate(
                      certs.client_cert, certs.client_key, version)),
                    make_context(
                      mtls_server_options(tls_client_auth::required))};
      require_handshake(pair);
      BOOST_CHECK_EQUAL(pair.server.session->peer_certificate_subject(),
                        "CN=ghostnet test client,O=ghostnet");
      pair.send(pair.client, "hello");
      pair.pump();
      BOOST_CHECK_EQUAL(pair.server.received(), "hello");
    }
  }
}

BOOST_AUTO_TEST_CASE(mutual_tls_rejects_a_client_without_certificate) {
  for (auto version : {"1.2", "1.3"}) {
    BOOST_TEST_CONTEXT("TLS " << version) {
      auto copts = client_options();
      copts.max_version = version;
      tls_pair pair{make_context(copts),
                    make_context(
                      mtls_server_options(tls_client_auth::required))};
      auto err = failed_client_handshake(pair);
      BOOST_CHECK(is(err, errc::tls_handshake_failed));
      BOOST_CHECK(is(pair.server.err, errc::tls_handshake_failed));
      BOOST_TEST_MESSAGE("client: " << describe(err));
      BOOST_TEST_MESSAGE("server: " << describe(pair.server.err));
      BOOST_CHECK(detail_of(pair.server.err)
                    .find("peer did not return a certificate")
                  != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(mutual_tls_rejects_a_client_certificate_of_another_ca) {
  const auto& certs = test_certs();
  tls_pair pair{make_context(client_with_certificate(
                  certs.rogue_client_cert, certs.rogue_client_key)),
                make_context(mtls_server_options(tls_client_auth::required))};
  auto err = failed_client_handshake(pair);
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
  BOOST_CHECK(is(pair.server.err, errc::tls_handshake_failed));
  BOOST_CHECK(detail_of(pair.server.err).find("unable to get local issuer")
              != std::string::npos);
  BOOST_CHECK(detail_of(err).find("unknown ca") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(optional_client_auth_accepts_a_client_without_certificate) {
  tls_pair pair{make_context(client_options()),
                make_context(mtls_server_options(tls_client_auth::optional))};
  require_handshake(pair);
  BOOST_CHECK_EQUAL(pair.server.session->peer_certificate_subject(), "");
}

// -- verification failures ------------------------------------------------------

tls_pair pair_with_server_cert(const std::string& cert, const std::string& key,
                               tls_options copts = client_options()) {
  auto sopts = server_options();
  sopts.certificate_chain_file = cert;
  sopts.private_key_file = key;
  return tls_pair{make_context(copts), make_context(sopts)};
}

BOOST_AUTO_TEST_CASE(expired_server_certificate_is_rejected) {
  const auto& certs = test_certs();
  auto pair = pair_with_server_cert(certs.expired_cert, certs.expired_key);
  auto err = failed_client_handshake(pair);
  BOOST_TEST_MESSAGE(describe(err));
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
  BOOST_CHECK(detail_of(err).find("certificate has expired")
              != std::string::npos);
  BOOST_CHECK(detail_of(err).find("certificate verify failed")
              != std::string::npos);
  BOOST_CHECK_EQUAL(context_of(err).operation, "tls handshake");
  // The server learns why from the client's alert.
  BOOST_CHECK(is(pair.server.err, errc::tls_handshake_failed));
}

BOOST_AUTO_TEST_CASE(wrong_host_name_is_rejected) {
  const auto& certs = test_certs();
  auto pair = pair_with_server_cert(certs.server_cert, certs.server_key,
                                    client_options("wrong.test"));
  auto err = failed_client_handshake(pair);
  BOOST_TEST_MESSAGE(describe(err));
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
  BOOST_CHECK(detail_of(err).find("hostname mismatch") != std::string::npos);
  BOOST_CHECK(detail_of(err).find("wrong.test") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(untrusted_ca_is_rejected) {
  const auto& certs = test_certs();
  auto pair = pair_with_server_cert(certs.rogue_cert, certs.rogue_key);
  auto err = failed_client_handshake(pair);
  BOOST_TEST_MESSAGE(describe(err));
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
  BOOST_CHECK(detail_of(err).find("unable to get local issuer certificate")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(insecure_skip_verify_accepts_an_untrusted_certificate) {
  const auto& certs = test_certs();
  auto copts = client_options();
  copts.verify_peer = false;
  copts.insecure_skip_verify = true;
  std::vector<std::string> lines;
  log::set_capture([&](std::string_view line) { lines.emplace_back(line); });
  auto client_ctx = make_context(copts);
  auto sopts = server_options();
  sopts.certificate_chain_file = certs.rogue_cert;
  sopts.private_key_file = certs.rogue_key;
  auto server_ctx = make_context(sopts);
  for (int i = 0; i < 3; ++i) {
    tls_pair pair{client_ctx, server_ctx};
    require_handshake(pair);
  }
  log::set_capture(nullptr);
  auto warnings = std::count_if(lines.begin(), lines.end(), [](auto& line) {
    return line.find("peer_verification_disabled") != std::string::npos;
  });
  BOOST_CHECK_EQUAL(warnings, 1); // once per context, not per session
}

BOOST_AUTO_TEST_CASE(verification_off_needs_insecure_skip_verify) {
  auto copts = client_options();
  copts.verify_peer = false;
  auto ctx = make_tls_context(copts);
  BOOST_REQUIRE(!ctx);
  BOOST_CHECK(is(ctx.error(), errc::invalid_configuration));
  BOOST_CHECK(detail_of(ctx.error()).find("insecure_skip_verify")
              != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_verifying_client_needs_a_server_name) {
  auto ctx = make_context(client_options(""));
  auto session = make_tls_session(ctx);
  BOOST_REQUIRE(!session);
  BOOST_CHECK(is(session.error(), errc::invalid_configuration));
  BOOST_CHECK(detail_of(session.error()).find("server_name")
              != std::string::npos);
  // ... which a session may bring itself.
  BOOST_CHECK(make_tls_session(ctx, tls_session_options{"localhost", {}}));
}

// -- data -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(data_of_1_byte_to_16_mib_arrives_intact_in_any_chunking) {
  auto client_ctx = make_context(client_options());
  auto server_ctx = make_context(server_options());
  struct run {
    size_t size;
    size_t piece;     // plaintext per encrypt() call, 0 = all at once
    size_t max_chunk; // ciphertext per consume() call, 0 = all at once
  };
  std::vector<run> runs{{1, 0, 0},          {1, 0, 1},
                        {100, 7, 3},        {16383, 0, 1000},
                        {16384, 0, 16384},  {16385, 4096, 17000},
                        {1 << 20, 0, 65536}, {1 << 20, 1000, 1500},
                        {16 << 20, 0, 0},    {16 << 20, 65536, 70000}};
  unsigned seed = 1;
  for (const auto& r : runs) {
    BOOST_TEST_CONTEXT("size " << r.size << ", piece " << r.piece
                               << ", max chunk " << r.max_chunk) {
      tls_pair pair{client_ctx, server_ctx};
      pair.chunk_randomly(r.max_chunk, seed++);
      require_handshake(pair);
      auto data = pattern(r.size);
      pair.send(pair.client, data, r.piece);
      pair.send(pair.server, data, r.piece);
      pair.pump();
      BOOST_CHECK(!pair.client.err);
      BOOST_CHECK(!pair.server.err);
      BOOST_CHECK_EQUAL(pair.server.plaintext.size(), r.size);
      BOOST_CHECK(pair.server.received() == data);
      BOOST_CHECK_EQUAL(pair.client.plaintext.size(), r.size);
      BOOST_CHECK(pair.client.received() == data);
    }
  }
}

BOOST_AUTO_TEST_CASE(encrypt_before_the_handshake_is_refused) {
  auto session = make_session(make_context(client_options()));
  std::vector<char> out;
  auto err = session->encrypt(view(std::string{"early"}), out);
  BOOST_CHECK(is(err, errc::invalid_state));
  BOOST_CHECK(out.empty());
}

BOOST_AUTO_TEST_CASE(data_sent_with_the_last_handshake_flight_arrives) {
  // The client's Finished and its first record leave in one buffer.
  tls_pair pair{make_context(client_options()),
                make_context(server_options())};
  pair.start();
  // Deliver the ClientHello and the server's flight, but not the client's
  // answer yet.
  std::vector<char> reply;
  auto& to_server = pair.in_flight_to(pair.server);
  auto& to_client = pair.in_flight_to(pair.client);
  BOOST_REQUIRE(!pair.server.session->consume(view(to_server),
                                              pair.server.plaintext, reply));
  to_server.clear();
  BOOST_REQUIRE(!pair.client.session->consume(view(reply),
                                              pair.client.plaintext, to_server));
  BOOST_REQUIRE(pair.client.session->handshake_done());
  BOOST_REQUIRE(!pair.server.session->handshake_done());
  BOOST_REQUIRE(to_client.empty());
  pair.send(pair.client, "first");
  pair.pump();
  BOOST_CHECK(pair.server.session->handshake_done());
  BOOST_CHECK_EQUAL(pair.server.received(), "first");
}

// -- closing ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(close_notify_ends_the_stream_cleanly) {
  tls_pair pair{make_context(client_options()),
                make_context(server_options())};
  require_handshake(pair);
  pair.send(pair.client, "bye");
  pair.close(pair.client);
  BOOST_CHECK(pair.client.session->closed());
  pair.pump();
  BOOST_CHECK_EQUAL(pair.server.received(), "bye");
  BOOST_CHECK(pair.server.session->peer_closed());
  BOOST_CHECK(!pair.server.session->on_eof());
  // The server may still answer, then closes too.
  pair.send(pair.server, "see you");
  pair.close(pair.server);
  pair.pump();
  BOOST_CHECK_EQUAL(pair.client.received(), "see you");
  BOOST_CHECK(pair.client.session->peer_closed());
  BOOST_CHECK(!pair.client.session->on_eof());
  // Nothing can be sent after close().
  std::vector<char> out;
  BOOST_CHECK(is(pair.client.session->encrypt(view(std::string{"x"}), out),
                 errc::transport_closed));
}

BOOST_AUTO_TEST_CASE(eof_without_close_notify_is_a_truncation) {
  tls_pair pair{make_context(client_options()),
                make_context(server_options())};
  require_handshake(pair);
  pair.send(pair.client, "half");
  pair.pump();
  auto err = pair.server.session->on_eof();
  BOOST_CHECK(is(err, errc::transport_closed));
  BOOST_CHECK_EQUAL(detail_of(err),
                    "truncated: peer closed without close_notify");
}

BOOST_AUTO_TEST_CASE(eof_during_the_handshake_is_a_handshake_failure) {
  tls_pair pair{make_context(client_options()),
                make_context(server_options())};
  pair.start();
  auto err = pair.client.session->on_eof();
  BOOST_CHECK(is(err, errc::tls_handshake_failed));
}

BOOST_AUTO_TEST_CASE(close_before_the_handshake_sends_nothing) {
  auto session = make_session(make_context(client_options()));
  std::vector<char> out;
  BOOST_CHECK(!session->close(out));
  BOOST_CHECK(out.empty());
  BOOST_CHECK(session->closed());
}

// -- resumption -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(second_handshake_resumes_with_a_ticket) {
  for (auto version : {"1.2", "1.3"}) {
    BOOST_TEST_CONTEXT("TLS " << version) {
      auto copts = client_options();
      copts.max_version = version;
      auto client_ctx = make_context(copts);
      auto server_ctx = make_context(server_options());
      tls_pair first{client_ctx, server_ctx};
      require_handshake(first);
      BOOST_CHECK(!first.client.session->session_reused());
      BOOST_CHECK_EQUAL(client_ctx->cached_sessions(), 1u);
      for (int i = 0; i < 3; ++i) {
        tls_pair next{client_ctx, server_ctx};
        require_handshake(next);
        BOOST_CHECK(next.client.session->session_reused());
        BOOST_CHECK(next.server.session->session_reused());
        BOOST_CHECK_EQUAL(next.client.session->peer_certificate_subject(),
                          "CN=localhost,O=ghostnet");
        next.send(next.client, "resumed");
        next.pump();
        BOOST_CHECK_EQUAL(next.server.received(), "resumed");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(tickets_are_kept_per_server_name) {
  const auto& certs = test_certs();
  auto sopts = server_options();
  sopts.sni_certificates.push_back(
    {"other.test", certs.other_cert, certs.other_key});
  auto server_ctx = make_context(sopts);
  auto client_ctx = make_context(client_options());
  tls_pair first{client_ctx, server_ctx};
  require_handshake(first);
  tls_pair other{client_ctx, server_ctx, tls_session_options{"other.test", {}}};
  require_handshake(other);
  BOOST_CHECK(!other.client.session->session_reused());
  BOOST_CHECK_EQUAL(other.client.session->peer_certificate_subject(),
                    "CN=other.test,O=ghostnet");
  BOOST_CHECK_EQUAL(client_ctx->cached_sessions(), 2u);
}

BOOST_AUTO_TEST_CASE(resumption_works_with_client_certificates) {
  const auto& certs = test_certs();
  auto client_ctx = make_context(
    client_with_certificate(certs.client_cert, certs.client_key));
  auto server_ctx = make_context(
    mtls_server_options(tls_client_auth::required));
  tls_pair first{client_ctx, server_ctx};
  require_handshake(first);
  tls_pair second{client_ctx, server_ctx};
  require_handshake(second);
  BOOST_CHECK(second.server.session->session_reused());
  BOOST_CHECK_EQUAL(second.server.session->peer_certificate_subject(),
                    "CN=ghostnet test client,O=ghostnet");
}

BOOST_AUTO_TEST_CASE(no_resumption_without_session_tickets) {
  auto copts = client_options();
  copts.session_tickets = false;
  auto client_ctx = make_context(copts);
  auto server_ctx = make_context(server_options());
  tls_pair first{client_ctx, server_ctx};
  require_handshake(first);
  tls_pair second{client_ctx, server_ctx};
  require_handshake(second);
  BOOST_CHECK(!second.client.session->session_reused());
  BOOST_CHECK_EQUAL(client_ctx->cached_sessions(), 0u);
  // And a server without tickets issues none.
  auto sopts = server_options();
  sopts.session_tickets = false;
  auto plain_server = make_context(sopts);
  auto client2 = make_context(client_options());
  tls_pair third{client2, plain_server};
  require_handshake(third);
  tls_pair fourth{client2, plain_server};
  require_handshake(fourth);
  BOOST_CHECK(!fourth.client.session->session_reused());
}

// -- reload -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(reloaded_certificate_is_used_by_new_sessions_only) {
  const auto& certs = test_certs();
  tls_context_holder holder{make_context(server_options())};
  auto client_ctx = make_context(client_options());
  // A session started before the reload finishes with the old certificate.
  tls_pair before{client_ctx, holder.current()};
  before.start();
  auto sopts = server_options();
  sopts.certificate_chain_file = certs.other_cert;
  sopts.private_key_file = certs.other_key;
  BOOST_REQUIRE(!holder.reload(sopts));
  BOOST_CHECK_EQUAL(holder.current()->certificate_subject(),
                    "CN=other.test,O=ghostnet");
  before.pump();
  BOOST_REQUIRE(before.client.session->handshake_done());
  BOOST_CHECK_EQUAL(before.client.session->peer_certificate_subject(),
                    "CN=localhost,O=ghostnet");
  // New sessions see the new certificate.
  tls_pair after{make_context(client_options("other.test")),
                 holder.current()};
  require_handshake(after);
  BOOST_CHECK_EQUAL(after.client.session->peer_certificate_subject(),
                    "CN=other.test,O=ghostnet");
}

BOOST_AUTO_TEST_CASE(failed_reload_keeps_the_current_context) {
  tls_context_holder holder{make_context(server_options())};
  auto old = holder.current();
  auto sopts = server_options();
  sopts.private_key_file = test_certs().dir + "/missing.key";
  auto err = holder.reload(sopts);
  BOOST_CHECK(is(err, errc::invalid_configuration));
  BOOST_CHECK(holder.current() == old);
  auto copts = client_options();
  BOOST_CHECK(is(holder.reload(copts), errc::invalid_configuration));
  // Reloading the same options re-reads the files.
  BOOST_CHECK(!holder.reload());
  BOOST_CHECK(holder.current() != old);
}

// -- configuration errors ---------------------------------------------------------

caf::error context_error(const tls_options& opts) {
  auto ctx = make_tls_context(opts);
  BOOST_REQUIRE_MESSAGE(!ctx, "make_tls_context unexpectedly succeeded");
  BOOST_TEST_MESSAGE(describe(ctx.error()));
  BOOST_CHECK(is(ctx.error(), errc::invalid_configuration));
  BOOST_CHECK_EQUAL(ERR_peek_error(), 0u);
  return ctx.error();
}

BOOST_AUTO_TEST_CASE(missing_key_file_is_named) {
  auto opts = server_options();
  opts.private_key_file = test_certs().dir + "/nope.key";
  auto err = context_error(opts);
  BOOST_CHECK(detail_of(err).find("private_key_file") == 0);
  BOOST_CHECK(detail_of(err).find("nope.key") != std::string::npos);
  BOOST_CHECK(detail_of(err).find("does not exist") != std::string::npos);
  BOOST_CHECK_EQUAL(context_of(err).os_errno, ENOENT);
}

BOOST_AUTO_TEST_CASE(key_not_matching_the_certificate_is_named) {
  auto opts = server_options();
  opts.private_key_file = test_certs().other_key;
  auto err = context_error(opts);
  BOOST_CHECK(detail_of(err).find("private_key_file") == 0);
  BOOST_CHECK(detail_of(err).find("does not match") != std::string::npos);
  BOOST_CHECK(detail_of(err).find("other.key") != std::string::npos);
  BOOST_CHECK(detail_of(err).find("server.pem") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sni_key_not_matching_its_certificate_is_named) {
  const auto& certs = test_certs();
  auto opts = server_options();
  opts.sni_certificates.push_back(
    {"other.test", certs.other_cert, certs.server_key});
  auto err = context_error(opts);
  BOOST_CHECK(detail_of(err).find("sni_certificates[0].private_key_file")
              == 0);
}

BOOST_AUTO_TEST_CASE(bad_versions_are_named) {
  auto opts = server_options();
  opts.min_version = "1.1";
  auto err = context_error(opts);
  BOOST_CHECK(detail_of(err).find("min_version") == 0);
  BOOST_CHECK(detail_of(err).find("1.1") != std::string::npos);
  opts.min_version = "1.3";
  opts.max_version = "1.2";
  BOOST_CHECK(detail_of(context_error(opts)).find("max_version") == 0);
}

BOOST_AUTO_TEST_CASE(unreadable_and_empty_files_are_named) {
  const auto& certs = test_certs();
  auto opts = server_options();
  opts.certificate_chain_file = certs.server_key; // a key, no certificate
  auto err = context_error(opts);
  BOOST_CHECK(detail_of(err).find("certificate_chain_file: no PEM certificate")
              == 0);
  opts = server_options();
  opts.certificate_chain_file = certs.dir; // a directory
  BOOST_CHECK(detail_of(context_error(opts)).find("not a regular file")
              != std::string::npos);
  auto copts = client_options();
  copts.ca_file = certs.dir + "/ca.key"; // no certificate in it
  err = context_error(copts);
  BOOST_CHECK(detail_of(err).find("ca_file") == 0);
  copts.ca_file = certs.dir + "/nope.pem";
  BOOST_CHECK(detail_of(context_error(copts)).find("does not exist")
              != std::string::npos);
  copts = client_options();
  copts.ca_dir = certs.dir + "/nope";
  BOOST_CHECK(detail_of(context_error(copts)).find("ca_dir") == 0);
}

BOOST_AUTO_TEST_CASE(bad_cipher_settings_are_named) {
  auto opts = server_options();
  opts.cipher_list = "NO-SUCH-CIPHER";
  BOOST_CHECK(detail_of(context_error(opts)).find("cipher_list") == 0);
  opts = server_options();
  opts.ciphersuites = "TLS_NO_SUCH_SUITE";
  BOOST_CHECK(detail_of(context_error(opts)).find("ciphersuites") == 0);
}

BOOST_AUTO_TEST_CASE(options_are_validated_field_by_field) {
  auto check = [](tls_options opts, const char* field) {
    auto err = validate(opts);
    BOOST_TEST_CONTEXT("field " << field) {
      BOOST_CHECK(is(err, errc::invalid_configuration));
      BOOST_CHECK(detail_of(err).find(field) == 0);
    }
  };
  auto s = server_options();
  s.certificate_chain_file.clear();
  s.private_key_file.clear();
  check(s, "certificate_chain_file");
  s = server_options();
  s.client_auth = tls_client_auth::required;
  check(s, "client_auth");
  s = server_options();
  s.alpn = {""};
  check(s, "alpn");
  s = server_options();
  s.alpn = {std::string(256, 'a')};
  check(s, "alpn");
  s = server_options();
  s.handshake_timeout = caf::timespan{0};
  check(s, "handshake_timeout");
  s = server_options();
  s.sni_certificates.push_back({"a.*.test", "x", "y"});
  check(s, "sni_certificates[0].server_name");
  s = server_options();
  s.server_name = "localhost";
  check(s, "server_name");
  auto c = client_options();
  c.client_auth = tls_client_auth::optional;
  check(c, "client_auth");
  c = client_options();
  c.insecure_skip_verify = true;
  check(c, "insecure_skip_verify");
  c = client_options();
  c.certificate_chain_file = "x.pem";
  check(c, "private_key_file");
  BOOST_CHECK(!validate(server_options()));
  BOOST_CHECK(!validate(client_options()));
  BOOST_CHECK(parse_tls_role("Client") == tls_role::client);
  BOOST_CHECK(!parse_tls_role("peer"));
  BOOST_CHECK(parse_tls_client_auth("required") == tls_client_auth::required);
  BOOST_CHECK(!parse_tls_client_auth("always"));
}

// -- memory -----------------------------------------------------------------------

/// Heap bytes per idle, established session (client and server measured
/// apart), with and without release_buffers. Each session did a full TLS 1.3
/// handshake and exchanged 1000 bytes each way, then everything but the
/// sessions themselves was freed.
void measure_idle_memory(bool release) {
  if (under_sanitizer) {
    BOOST_TEST_MESSAGE("idle memory: not measurable under AddressSanitizer");
    return;
  }
  constexpr size_t n = 1000;
  auto copts = client_options();
  copts.release_buffers = release;
  auto sopts = server_options();
  sopts.release_buffers = release;
  auto client_ctx = make_context(copts);
  auto server_ctx = make_context(sopts);
  { // warm up OpenSSL's lazily made tables
    tls_pair warm{client_ctx, server_ctx};
    require_handshake(warm);
  }
  std::vector<std::unique_ptr<tls_session>> clients;
  std::vector<std::unique_ptr<tls_session>> servers;
  clients.reserve(n);
  servers.reserve(n);
  auto data = pattern(1000);
  auto base = heap_in_use();
  for (size_t i = 0; i < n; ++i) {
    tls_pair pair{client_ctx, server_ctx};
    require_handshake(pair);
    pair.send(pair.client, data);
    pair.send(pair.server, data);
    pair.pump();
    BOOST_REQUIRE_EQUAL(pair.server.plaintext.size(), data.size());
    clients.push_back(std::move(pair.client.session));
    servers.push_back(std::move(pair.server.session));
  }
  auto both = heap_in_use();
  clients.clear();
  auto servers_only = heap_in_use();
  servers.clear();
  auto per_server = (servers_only - base) / n;
  auto per_client = (both - servers_only) / n;
  BOOST_TEST_MESSAGE("release_buffers=" << release
                     << ": heap per idle TLS 1.3 session (" << n
                     << " of each): server " << per_server << " B, client "
                     << per_client << " B (the client's includes the server "
                     << "certificate it keeps)");
  if (release) {
    BOOST_CHECK_LT(per_server, 16 * 1024u);
    BOOST_CHECK_LT(per_client, 16 * 1024u);
  } else {
    // Each end keeps its ~17 KiB read and write record buffers.
    BOOST_CHECK_GT(per_server, 32 * 1024u);
  }
}

BOOST_AUTO_TEST_CASE(idle_sessions_hold_no_record_buffers) {
  measure_idle_memory(true);
  measure_idle_memory(false);
}

BOOST_AUTO_TEST_SUITE_END()
