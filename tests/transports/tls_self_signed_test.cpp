// Self-signed certificates: what ensure_self_signed_certificate() writes is
// loaded by make_tls_context and trusted by a client that takes the
// certificate as its CA (sessions paired in memory), by OpenSSL's verifier
// without partial chains, and by the real `openssl s_client` and `curl`.

#include "ghostnet/transports/tls_self_signed.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "ghostnet/transports/tls_session.hpp"

using namespace ghostnet;
using namespace ghostnet::transports;
namespace fs = std::filesystem;

namespace {

/// A fresh temporary directory, removed with everything in it.
struct temp_dir {
  std::string path;

  temp_dir() {
    auto tmpl = (fs::temp_directory_path() / "ghostnet-self-signed-XXXXXX")
                  .string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }

  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

self_signed_options options_in(const std::string& dir) {
  self_signed_options opts;
  opts.directory = dir;
  return opts;
}

self_signed_files ensure(const self_signed_options& opts) {
  auto files = ensure_self_signed_certificate(opts);
  BOOST_REQUIRE_MESSAGE(files, "ensure_self_signed_certificate failed: "
                                 << (files ? "" : describe(files.error())));
  return *files;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st;
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string detail_of(const caf::error& err) {
  return context_of(err).detail;
}

// -- OpenSSL helpers ----------------------------------------------------------

struct x509_deleter {
  void operator()(X509* p) const noexcept {
    X509_free(p);
  }
  void operator()(X509_STORE* p) const noexcept {
    X509_STORE_free(p);
  }
  void operator()(X509_STORE_CTX* p) const noexcept {
    X509_STORE_CTX_free(p);
  }
};

using x509_ptr = std::unique_ptr<X509, x509_deleter>;

x509_ptr load_certificate(const std::string& path) {
  auto* file = std::fopen(path.c_str(), "r");
  BOOST_REQUIRE(file != nullptr);
  x509_ptr cert{PEM_read_X509(file, nullptr, nullptr, nullptr)};
  std::fclose(file);
  BOOST_REQUIRE(cert);
  return cert;
}

/// Verifies `cert` with itself as the only trust anchor, as a TLS server
/// certificate for `host` (a name or an IP literal), the way a client with
/// `-CAfile cert` does: no partial chains.
int verify_as_own_anchor(X509* cert, const std::string& host,
                         unsigned long flags = 0) {
  std::unique_ptr<X509_STORE, x509_deleter> store{X509_STORE_new()};
  BOOST_REQUIRE(store && X509_STORE_add_cert(store.get(), cert) == 1);
  std::unique_ptr<X509_STORE_CTX, x509_deleter> ctx{X509_STORE_CTX_new()};
  BOOST_REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr)
                == 1);
  auto* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_flags(param, flags);
  if (detail::is_ip_literal(host))
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  else
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  X509_verify_cert(ctx.get());
  ERR_clear_error();
  return X509_STORE_CTX_get_error(ctx.get());
}

// -- in-memory handshake ------------------------------------------------------

tls_context_ptr server_context(const self_signed_files& files) {
  tls_options opts;
  opts.role = tls_role::server;
  opts.certificate_chain_file = files.certificate_chain_file;
  opts.private_key_file = files.private_key_file;
  auto ctx = make_tls_context(opts);
  BOOST_REQUIRE_MESSAGE(ctx, "server context: "
                               << (ctx ? "" : describe(ctx.error())));
  return *ctx;
}

tls_context_ptr client_context(const self_signed_files& files) {
  tls_options opts;
  opts.role = tls_role::client;
  opts.ca_file = files.certificate_chain_file;
  auto ctx = make_tls_context(opts);
  BOOST_REQUIRE_MESSAGE(ctx, "client context: "
                               << (ctx ? "" : describe(ctx.error())));
  return *ctx;
}

/// Runs a handshake between two sessions paired in memory; returns the first
/// error of either end (none: both completed it).
caf::error handshake(tls_context_ptr client_ctx, tls_context_ptr server_ctx,
                     const std::string& server_name) {
  auto client = make_tls_session(std::move(client_ctx), {server_name, ""});
  auto server = make_tls_session(std::move(server_ctx));
  BOOST_REQUIRE(client && server);
  std::vector<char> to_server;
  std::vector<char> to_client;
  std::vector<char> plain;
  if (auto err = (*client)->start(to_server))
    return err;
  // A TLS 1.3 handshake takes two flights each way; ten rounds is plenty.
  for (int round = 0; round < 10 && !(to_server.empty() && to_client.empty());
       ++round) {
    std::vector<char> in;
    in.swap(to_server);
    if (auto err = (*server)->consume({in.data(), in.size()}, plain, to_client))
      return err;
    in.clear();
    in.swap(to_client);
    if (auto err = (*client)->consume({in.data(), in.size()}, plain, to_server))
      return err;
  }
  BOOST_CHECK((*client)->handshake_done());
  BOOST_CHECK((*server)->handshake_done());
  return caf::none;
}

// -- real peers ---------------------------------------------------------------

/// Runs a shell command; returns its exit status and appends its output.
int run(const std::string& cmd, std::string& output) {
  auto* pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    return -1;
  char buf[512];
  while (auto n = std::fread(buf, 1, sizeof buf, pipe))
    output.append(buf, n);
  auto status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool have_program(const std::string& name) {
  std::string ignored;
  return run("command -v " + name, ignored) == 0;
}

/// Serves one TLS connection on 127.0.0.1 (port 0) from a thread: completes
/// the handshake with `ctx`, answers the first request (anything ending in
/// an empty line) with a tiny HTTP response and closes with close_notify.
/// Gives up after ten seconds.
class one_connection_server {
public:
  explicit one_connection_server(tls_context_ptr ctx) : ctx_(std::move(ctx)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(listener_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len)
                  == 0);
    BOOST_REQUIRE(::listen(listener_, 1) == 0);
    BOOST_REQUIRE(
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread{[this] { serve(); }};
  }

  ~one_connection_server() {
    if (thread_.joinable())
      thread_.join();
    ::close(listener_);
  }

  uint16_t port() const noexcept {
    return port_;
  }

  /// Waits for the server to finish; true if the handshake completed.
  bool finished_handshake() {
    if (thread_.joinable())
      thread_.join();
    return handshake_done_;
  }

private:
  static constexpr auto time_limit = std::chrono::seconds(10);

  bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline) {
    pollfd pfd{fd, POLLIN, 0};
    while (std::chrono::steady_clock::now() < deadline)
      if (::poll(&pfd, 1, 100) > 0)
        return true;
    return false;
  }

  void serve() {
    auto deadline = std::chrono::steady_clock::now() + time_limit;
    if (!wait_readable(listener_, deadline))
      return;
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      return;
    auto session = make_tls_session(ctx_);
    if (session)
      talk(fd, **session, deadline);
    ::close(fd);
  }

  void talk(int fd, tls_session& session,
            std::chrono::steady_clock::time_point deadline) {
    std::vector<char> out;
    std::vector<char> request;
    char buf[16384];
    while (wait_readable(fd, deadline)) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        return;
      auto err = session.consume({buf, static_cast<size_t>(n)}, request, out);
      handshake_done_ = session.handshake_done();
      std::string text{request.begin(), request.end()};
      bool answer = !err && text.find("\r\n\r\n") != std::string::npos;
      if (answer) {
        std::string reply = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n"
                            "Connection: close\r\n\r\nok\n";
        err = session.encrypt({reply.data(), reply.size()}, out);
        if (!err)
          err = session.close(out);
      }
      if (!out.empty()
          && ::send(fd, out.data(), out.size(), MSG_NOSIGNAL)
               != static_cast<ssize_t>(out.size()))
        return;
      out.clear();
      if (err || answer || session.peer_closed())
        return;
    }
  }

  tls_context_ptr ctx_;
  int listener_ = -1;
  uint16_t port_ = 0;
  bool handshake_done_ = false;
  std::thread thread_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(tls_self_signed_tests)

// -- generating ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(generated_certificate_serves_clients_that_trust_it) {
  temp_dir tmp;
  auto files = ensure(options_in(tmp.path));
  BOOST_CHECK(files.generated);
  BOOST_CHECK_EQUAL(files.certificate_chain_file,
                    tmp.path + "/self-signed.crt");
  BOOST_CHECK_EQUAL(files.private_key_file, tmp.path + "/self-signed.key");
  auto server_ctx = server_context(files);
  BOOST_CHECK_EQUAL(server_ctx->certificate_subject(), "CN=localhost");
  auto client_ctx = client_context(files);
  for (auto name : {"localhost", "127.0.0.1", "::1"})
    BOOST_TEST_CONTEXT("server name " << name) {
      auto err = handshake(client_ctx, server_ctx, name);
      BOOST_CHECK_MESSAGE(!err, describe(err));
    }
  // Names the certificate does not have are refused.
  for (auto name : {"example.com", "127.0.0.2"})
    BOOST_TEST_CONTEXT("server name " << name) {
      BOOST_CHECK(is(handshake(client_ctx, server_ctx, name),
                     errc::tls_handshake_failed));
    }
  BOOST_CHECK_EQUAL(ERR_peek_error(), 0u);
}

BOOST_AUTO_TEST_CASE(certificate_is_its_own_trust_anchor_for_openssl) {
  temp_dir tmp;
  auto cert = load_certificate(ensure(options_in(tmp.path))
                                 .certificate_chain_file);
  // Self-signed in OpenSSL's sense (found as its own issuer), CA:FALSE, and
  // valid for a TLS server with and without strict X.509 checks.
  BOOST_CHECK(X509_get_extension_flags(cert.get()) & EXFLAG_SS);
  BOOST_CHECK_EQUAL(X509_check_ca(cert.get()), 0);
  for (auto flags : {0ul, static_cast<unsigned long>(X509_V_FLAG_X509_STRICT)})
    BOOST_TEST_CONTEXT("flags " << flags) {
      for (auto host : {"localhost", "127.0.0.1", "::1"})
        BOOST_CHECK_EQUAL(verify_as_own_anchor(cert.get(), host, flags),
                          X509_V_OK);
      BOOST_CHECK_EQUAL(verify_as_own_anchor(cert.get(), "other.test", flags),
                        X509_V_ERR_HOSTNAME_MISMATCH);
    }
}

BOOST_AUTO_TEST_CASE(certificate_carries_the_requested_names_and_validity) {
  temp_dir tmp;
  auto opts = options_in(tmp.path);
  opts.common_name = "ghostnet node";
  opts.dns_names = {"node.test", "*.node.test"};
  opts.ip_addresses = {"10.0.0.7", "fd00::7"};
  opts.validity = std::chrono::hours{48};
  auto cert = load_certificate(ensure(opts).certificate_chain_file);
  BOOST_CHECK_EQUAL(detail::subject_of(cert.get()), "CN=ghostnet node");
  BOOST_CHECK_EQUAL(X509_get_version(cert.get()), X509_VERSION_3);
  for (auto host : {"node.test", "a.node.test"})
    BOOST_CHECK_EQUAL(X509_check_host(cert.get(), host, 0, 0, nullptr), 1);
  BOOST_CHECK_EQUAL(X509_check_host(cert.get(), "localhost", 0, 0, nullptr),
                    0);
  BOOST_CHECK_EQUAL(X509_check_ip_asc(cert.get(), "10.0.0.7", 0), 1);
  BOOST_CHECK_EQUAL(X509_check_ip_asc(cert.get(), "fd00::7", 0), 1);
  BOOST_CHECK_EQUAL(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 0);
  // notBefore an hour ago, notAfter 48 hours ahead (a minute of slack).
  int days = 0;
  int secs = 0;
  BOOST_REQUIRE(ASN1_TIME_diff(&days, &secs, nullptr,
                               X509_get0_notBefore(cert.get())));
  BOOST_CHECK(days == 0 && secs <= -3600 && secs > -3660);
  BOOST_REQUIRE(ASN1_TIME_diff(&days, &secs, nullptr,
                               X509_get0_notAfter(cert.get())));
  auto ahead = days * 86400L + secs;
  BOOST_CHECK(ahead > 48 * 3600L - 60 && ahead <= 48 * 3600L);
  // Extended key usage: TLS server.
  BOOST_CHECK(X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER);
  BOOST_CHECK(X509_get_key_usage(cert.get()) & KU_DIGITAL_SIGNATURE);
}

BOOST_AUTO_TEST_CASE(every_certificate_gets_its_own_serial_and_key) {
  temp_dir a;
  temp_dir b;
  auto first = ensure(options_in(a.path));
  auto second = ensure(options_in(b.path));
  auto serial = [](const std::string& path) {
    auto cert = load_certificate(path);
    const auto* num = X509_get0_serialNumber(cert.get());
    return std::string{
      reinterpret_cast<const char*>(ASN1_STRING_get0_data(num)),
      static_cast<size_t>(ASN1_STRING_length(num))};
  };
  BOOST_CHECK(serial(first.certificate_chain_file)
              != serial(second.certificate_chain_file));
  BOOST_CHECK(read_file(first.private_key_file)
              != read_file(second.private_key_file));
}

// -- files --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(second_call_reuses_the_files_unchanged) {
  temp_dir tmp;
  auto first = ensure(options_in(tmp.path));
  auto cert = read_file(first.certificate_chain_file);
  auto key = read_file(first.private_key_file);
  auto second = ensure(options_in(tmp.path + "/")); // trailing slash: same
  BOOST_CHECK(!second.generated);
  BOOST_CHECK_EQUAL(second.certificate_chain_file,
                    first.certificate_chain_file);
  BOOST_CHECK_EQUAL(second.private_key_file, first.private_key_file);
  BOOST_CHECK(read_file(second.certificate_chain_file) == cert);
  BOOST_CHECK(read_file(second.private_key_file) == key);
}

BOOST_AUTO_TEST_CASE(key_is_private_and_missing_directories_are_made_private) {
  temp_dir tmp;
  auto dir = tmp.path + "/a/b/certs";
  auto files = ensure(options_in(dir));
  BOOST_CHECK_EQUAL(mode_of(files.private_key_file), 0600u);
  BOOST_CHECK_EQUAL(mode_of(files.certificate_chain_file), 0644u);
  // umask may take bits away from 0700, never add any.
  for (auto sub : {"/a", "/a/b", "/a/b/certs"})
    BOOST_CHECK_EQUAL(mode_of(tmp.path + sub) & 077u, 0u);
  // Nothing but the two files is left behind (no temporary files).
  size_t entries = 0;
  for (auto& entry : fs::directory_iterator{dir}) {
    ++entries;
    BOOST_TEST_MESSAGE("entry " << entry.path());
  }
  BOOST_CHECK_EQUAL(entries, 2u);
  BOOST_CHECK(read_file(files.private_key_file).find("BEGIN PRIVATE KEY")
              != std::string::npos); // PKCS#8, unencrypted
}

BOOST_AUTO_TEST_CASE(one_missing_file_is_an_error_naming_it) {
  temp_dir tmp;
  auto files = ensure(options_in(tmp.path));
  auto key = read_file(files.private_key_file);
  BOOST_REQUIRE(::unlink(files.private_key_file.c_str()) == 0);
  auto res = ensure_self_signed_certificate(options_in(tmp.path));
  BOOST_REQUIRE(!res);
  BOOST_TEST_MESSAGE(describe(res.error()));
  BOOST_CHECK(is(res.error(), errc::invalid_configuration));
  BOOST_CHECK_EQUAL(context_of(res.error()).operation,
                    "create self-signed certificate");
  BOOST_CHECK(detail_of(res.error()).find("private_key_file: \""
                                          + files.private_key_file
                                          + "\" is missing")
              == 0);
  // The certificate is left alone; the other way round is refused as well.
  BOOST_CHECK(fs::exists(files.certificate_chain_file));
  BOOST_REQUIRE(::unlink(files.certificate_chain_file.c_str()) == 0);
  std::ofstream{files.private_key_file} << key;
  res = ensure_self_signed_certificate(options_in(tmp.path));
  BOOST_REQUIRE(!res);
  BOOST_CHECK(is(res.error(), errc::invalid_configuration));
  BOOST_CHECK(detail_of(res.error()).find("certificate_chain_file: \""
                                          + files.certificate_chain_file
                                          + "\" is missing")
              == 0);
}

BOOST_AUTO_TEST_CASE(directory_under_a_regular_file_is_an_io_error) {
  temp_dir tmp;
  auto file = tmp.path + "/plain-file";
  std::ofstream{file} << "not a directory";
  for (auto dir : {file, file + "/certs"})
    BOOST_TEST_CONTEXT("directory " << dir) {
      auto res = ensure_self_signed_certificate(options_in(dir));
      BOOST_REQUIRE(!res);
      BOOST_TEST_MESSAGE(describe(res.error()));
      BOOST_CHECK(is(res.error(), errc::io_error));
      auto ctx = context_of(res.error());
      BOOST_CHECK_EQUAL(ctx.operation, "create self-signed certificate");
      BOOST_CHECK_EQUAL(ctx.os_errno, ENOTDIR);
      BOOST_CHECK(ctx.detail.find(dir) != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(bad_options_are_configuration_errors) {
  temp_dir tmp;
  struct bad_case {
    const char* field;
    void (*change)(self_signed_options&);
  };
  const bad_case cases[] = {
    {"directory", [](self_signed_options& o) { o.directory.clear(); }},
    {"common_name", [](self_signed_options& o) { o.common_name.clear(); }},
    {"common_name",
     [](self_signed_options& o) { o.common_name = std::string(65, 'x'); }},
    {"dns_names", [](self_signed_options& o) { o.dns_names = {"a b"}; }},
    {"dns_names", [](self_signed_options& o) { o.dns_names = {"x,IP:1.2.3.4"}; }},
    {"dns_names", [](self_signed_options& o) { o.dns_names = {""}; }},
    {"ip_addresses",
     [](self_signed_options& o) { o.ip_addresses = {"256.0.0.1"}; }},
    {"ip_addresses",
     [](self_signed_options& o) { o.ip_addresses = {"localhost"}; }},
    {"dns_names",
     [](self_signed_options& o) {
       o.dns_names.clear();
       o.ip_addresses.clear();
     }},
    {"validity",
     [](self_signed_options& o) { o.validity = std::chrono::hours{0}; }},
  };
  for (const auto& c : cases) {
    auto opts = options_in(tmp.path + "/never");
    c.change(opts);
    auto res = ensure_self_signed_certificate(opts);
    BOOST_REQUIRE(!res);
    BOOST_TEST_CONTEXT(describe(res.error())) {
      BOOST_CHECK(is(res.error(), errc::invalid_configuration));
      BOOST_CHECK(detail_of(res.error()).find(std::string{c.field} + ": ")
                  == 0);
    }
  }
  // Options are checked before anything touches the disk.
  BOOST_CHECK(!fs::exists(tmp.path + "/never"));
}

// -- real peers ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(openssl_s_client_verifies_the_certificate) {
  if (!have_program("openssl") || !have_program("timeout")) {
    BOOST_TEST_MESSAGE("openssl or timeout missing: skipped");
    return;
  }
  temp_dir tmp;
  auto files = ensure(options_in(tmp.path));
  std::string text;
  BOOST_CHECK_EQUAL(run("openssl x509 -noout -text -in "
                          + files.certificate_chain_file,
                        text),
                    0);
  BOOST_CHECK(text.find("DNS:localhost, IP Address:127.0.0.1, IP "
                        "Address:0:0:0:0:0:0:0:1")
              != std::string::npos);
  BOOST_CHECK(text.find("CA:FALSE") != std::string::npos);
  for (auto check : {"-verify_hostname localhost", "-verify_ip 127.0.0.1"})
    BOOST_TEST_CONTEXT(check) {
      one_connection_server server{server_context(files)};
      std::string out;
      auto rc = run("timeout 20 openssl s_client -connect 127.0.0.1:"
                      + std::to_string(server.port())
                      + " -servername localhost -verify_return_error "
                      + check + " -CAfile " + files.certificate_chain_file
                      + " </dev/null",
                    out);
      BOOST_CHECK_MESSAGE(rc == 0, "s_client exited with " << rc << ":\n"
                                                             << out);
      BOOST_CHECK(out.find("Verify return code: 0 (ok)") != std::string::npos);
      BOOST_CHECK(server.finished_handshake());
    }
}

BOOST_AUTO_TEST_CASE(curl_verifies_the_certificate) {
  if (!have_program("curl") || !have_program("timeout")) {
    BOOST_TEST_MESSAGE("curl or timeout missing: skipped");
    return;
  }
  temp_dir tmp;
  auto files = ensure(options_in(tmp.path));
  for (std::string host : {"localhost", "127.0.0.1"})
    BOOST_TEST_CONTEXT(host) {
      one_connection_server server{server_context(files)};
      auto port = std::to_string(server.port());
      std::string out;
      auto rc = run("timeout 20 curl -sS --noproxy '*' --max-time 15"
                    " --resolve localhost:" + port + ":127.0.0.1 --cacert "
                      + files.certificate_chain_file + " https://" + host + ":"
                      + port + "/",
                    out);
      BOOST_CHECK_MESSAGE(rc == 0, "curl exited with " << rc << ":\n" << out);
      BOOST_CHECK_EQUAL(out, "ok\n");
    }
}

BOOST_AUTO_TEST_SUITE_END()
