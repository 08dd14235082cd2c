#include "ghostnet/transports/tls_context.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/transports/tls_session.hpp"

namespace ghostnet::transports {

namespace {

constexpr const char* log_source = "tls_context";

// -- RAII for OpenSSL objects -------------------------------------------------

struct openssl_deleter {
  void operator()(BIO* p) const noexcept {
    BIO_free(p);
  }
  void operator()(X509* p) const noexcept {
    X509_free(p);
  }
  void operator()(EVP_PKEY* p) const noexcept {
    EVP_PKEY_free(p);
  }
  void operator()(STACK_OF(X509) * p) const noexcept {
    sk_X509_pop_free(p, X509_free);
  }
  void operator()(SSL_CTX* p) const noexcept {
    SSL_CTX_free(p);
  }
};

using bio_ptr = std::unique_ptr<BIO, openssl_deleter>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter>;
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), openssl_deleter>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, openssl_deleter>;

// -- errors -------------------------------------------------------------------

caf::error context_error(const std::string& field, std::string why,
                         int os_errno = 0) {
  ERR_clear_error(); // whatever OpenSSL queued is in `why` or irrelevant
  return config_error("create tls context", "", field, std::move(why),
                      os_errno);
}

// -- loading files ------------------------------------------------------------

/// Opens a PEM file for reading, with an error naming `field` and the path
/// if it does not exist, is no regular file, or cannot be read.
caf::expected<bio_ptr> open_file(const std::string& field,
                                 const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    auto err = errno;
    if (err == ENOENT)
      return context_error(field, "file " + quoted(path) + " does not exist",
                          err);
    return context_error(field, "cannot access " + quoted(path) + ": "
                                 + std::strerror(err),
                        err);
  }
  if (!S_ISREG(st.st_mode))
    return context_error(field, quoted(path) + " is not a regular file");
  errno = 0;
  bio_ptr bio{BIO_new_file(path.c_str(), "r")};
  if (!bio) {
    auto err = errno != 0 ? errno : EIO;
    return context_error(field, "cannot read " + quoted(path) + ": "
                                 + std::strerror(err),
                        err);
  }
  return bio;
}

/// Refuses to prompt for a key password: encrypted keys fail to load.
int no_password(char*, int, int, void*) {
  return -1;
}

struct certificate_chain {
  x509_ptr leaf;
  x509_stack_ptr intermediates;
};

caf::expected<certificate_chain> load_chain(const std::string& field,
                                            const std::string& path) {
  auto bio = open_file(field, path);
  if (!bio)
    return std::move(bio.error());
  certificate_chain result;
  result.leaf.reset(
    PEM_read_bio_X509_AUX(bio->get(), nullptr, no_password, nullptr));
  if (!result.leaf)
    return context_error(field, "no PEM certificate in " + quoted(path) + " ("
                                 + detail::take_openssl_errors() + ")");
  result.intermediates.reset(sk_X509_new_null());
  for (;;) {
    x509_ptr cert{PEM_read_bio_X509(bio->get(), nullptr, no_password,
                                    nullptr)};
    if (!cert)
      break;
    if (sk_X509_push(result.intermediates.get(), cert.get()) == 0)
      return context_error(field, "out of memory reading " + quoted(path));
    cert.release();
  }
  // The loop ends with PEM_R_NO_START_LINE at the end of the file; anything
  // else is a broken certificate after the first one.
  auto code = ERR_peek_last_error();
  if (code != 0
      && !(ERR_GET_LIB(code) == ERR_LIB_PEM
           && ERR_GET_REASON(code) == PEM_R_NO_START_LINE))
    return context_error(field, "broken certificate in " + quoted(path) + " ("
                                 + detail::take_openssl_errors() + ")");
  ERR_clear_error();
  return result;
}

caf::expected<pkey_ptr> load_key(const std::string& field,
                                 const std::string& path) {
  auto bio = open_file(field, path);
  if (!bio)
    return std::move(bio.error());
  pkey_ptr key{
    PEM_read_bio_PrivateKey(bio->get(), nullptr, no_password, nullptr)};
  if (!key) {
    auto why = detail::take_openssl_errors("no key found");
    auto hint = why.find("password") != std::string::npos
                    || why.find("bad decrypt") != std::string::npos
                  ? " (encrypted keys are not supported)"
                  : "";
    return context_error(field, "no PEM private key in " + quoted(path) + " ("
                                 + why + ")" + hint);
  }
  return key;
}

/// Loads a certificate chain and its key, and checks that they match.
struct key_pair {
  certificate_chain chain;
  pkey_ptr key;
};

caf::expected<key_pair> load_key_pair(const std::string& prefix,
                                      const std::string& chain_file,
                                      const std::string& key_file) {
  auto chain = load_chain(prefix + "certificate_chain_file", chain_file);
  if (!chain)
    return std::move(chain.error());
  auto key = load_key(prefix + "private_key_file", key_file);
  if (!key)
    return std::move(key.error());
  if (X509_check_private_key(chain->leaf.get(), key->get()) != 1)
    return context_error(prefix + "private_key_file",
                        "the key in " + quoted(key_file)
                          + " does not match the certificate in "
                          + quoted(chain_file) + " ("
                          + detail::take_openssl_errors() + ")");
  return key_pair{std::move(*chain), std::move(*key)};
}

bool host_matches(const std::string& pattern, const char* name) {
  auto ieq = [](const char* x, const char* y, size_t n) {
    return strncasecmp(x, y, n) == 0;
  };
  auto len = std::strlen(name);
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    // "*.example.com": one non-empty leftmost label, then ".example.com".
    auto suffix = pattern.size() - 1;
    if (len <= suffix)
      return false;
    auto label = len - suffix;
    return std::memchr(name, '.', label) == nullptr
           && ieq(name + label, pattern.c_str() + 1, suffix);
  }
  return len == pattern.size() && ieq(name, pattern.c_str(), len);
}

std::vector<unsigned char> alpn_wire_format(
  const std::vector<std::string>& names) {
  std::vector<unsigned char> result;
  for (const auto& name : names) {
    result.push_back(static_cast<unsigned char>(name.size()));
    result.insert(result.end(), name.begin(), name.end());
  }
  return result;
}

} // namespace

// -- tls_context::impl --------------------------------------------------------

struct tls_context::impl {
  struct sni_entry {
    std::string pattern;
    key_pair pair;
  };

  tls_options opts;
  ssl_ctx_ptr ctx;
  std::string subject;
  std::vector<unsigned char> alpn_wire;
  std::vector<sni_entry> sni;

  mutable std::mutex cache_mtx;
  mutable std::unordered_map<std::string, SSL_SESSION*> cache;

  ~impl() {
    for (auto& kvp : cache)
      SSL_SESSION_free(kvp.second);
  }

  void store(const std::string& server_name, SSL_SESSION* sess) const {
    std::lock_guard<std::mutex> guard{cache_mtx};
    auto i = cache.find(server_name);
    if (i != cache.end()) {
      SSL_SESSION_free(i->second);
      i->second = sess;
      return;
    }
    if (cache.size() >= opts.session_cache_size) {
      SSL_SESSION_free(cache.begin()->second);
      cache.erase(cache.begin());
    }
    cache.emplace(server_name, sess);
  }

  // -- OpenSSL callbacks ------------------------------------------------------

  /// Server: picks the first of our ALPN names that the client offers.
  static int select_alpn(SSL*, const unsigned char** out,
                         unsigned char* out_len, const unsigned char* in,
                         unsigned int in_len, void* arg) {
    auto* self = static_cast<impl*>(arg);
    unsigned char* selected = nullptr;
    unsigned char selected_len = 0;
    auto res = SSL_select_next_proto(
      &selected, &selected_len, self->alpn_wire.data(),
      static_cast<unsigned int>(self->alpn_wire.size()), in, in_len);
    if (res != OPENSSL_NPN_NEGOTIATED)
      return SSL_TLSEXT_ERR_ALERT_FATAL; // alert no_application_protocol
    *out = selected;
    *out_len = selected_len;
    return SSL_TLSEXT_ERR_OK;
  }

  /// Server: acknowledges SNI (the certificate is chosen in select_cert).
  static int accept_server_name(SSL*, int*, void*) {
    return SSL_TLSEXT_ERR_OK;
  }

  /// Server: installs the certificate of the first SNI entry matching the
  /// name the client asked for; the main certificate stays otherwise.
  static int select_cert(SSL* ssl, void* arg) {
    auto* self = static_cast<impl*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr)
      return 1;
    for (auto& entry : self->sni) {
      if (host_matches(entry.pattern, name)) {
        auto& p = entry.pair;
        return SSL_use_cert_and_key(ssl, p.chain.leaf.get(), p.key.get(),
                                    p.chain.intermediates.get(), 1)
                   == 1
                 ? 1
                 : 0;
      }
    }
    return 1;
  }

  /// Client: keeps a new ticket under the session's server name.
  static int on_new_session(SSL* ssl, SSL_SESSION* sess) {
    auto* session = static_cast<tls_session*>(SSL_get_app_data(ssl));
    auto* self = static_cast<impl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (session == nullptr || self == nullptr)
      return 0; // OpenSSL frees the session
    self->store(session->server_name(), sess);
    return 1; // we own the reference now
  }

  // -- setup ------------------------------------------------------------------

  caf::error set_versions() {
    auto min = detail::tls_version_number(opts.min_version);
    if (SSL_CTX_set_min_proto_version(ctx.get(), min) != 1)
      return context_error("min_version", detail::take_openssl_errors());
    if (!opts.max_version.empty()) {
      auto max = detail::tls_version_number(opts.max_version);
      if (SSL_CTX_set_max_proto_version(ctx.get(), max) != 1)
        return context_error("max_version", detail::take_openssl_errors());
    }
    return caf::none;
  }

  caf::error set_ciphers() {
    if (!opts.cipher_list.empty()
        && SSL_CTX_set_cipher_list(ctx.get(), opts.cipher_list.c_str()) != 1)
      return context_error("cipher_list",
                          "no usable cipher in " + quoted(opts.cipher_list)
                            + " (" + detail::take_openssl_errors() + ")");
    if (!opts.ciphersuites.empty()
        && SSL_CTX_set_ciphersuites(ctx.get(), opts.ciphersuites.c_str())
             != 1)
      return context_error("ciphersuites",
                          "invalid TLS 1.3 suites " + quoted(opts.ciphersuites)
                            + " (" + detail::take_openssl_errors() + ")");
    return caf::none;
  }

  caf::error set_certificate() {
    if (opts.certificate_chain_file.empty())
      return caf::none;
    auto pair = load_key_pair("", opts.certificate_chain_file,
                              opts.private_key_file);
    if (!pair)
      return std::move(pair.error());
    auto* c = ctx.get();
    if (SSL_CTX_use_cert_and_key(c, pair->chain.leaf.get(), pair->key.get(),
                                 pair->chain.intermediates.get(), 1)
          != 1
        || SSL_CTX_check_private_key(c) != 1)
      return context_error("certificate_chain_file",
                          "OpenSSL refused " + quoted(opts.certificate_chain_file)
                            + " with " + quoted(opts.private_key_file) + " ("
                            + detail::take_openssl_errors() + ")");
    subject = detail::subject_of(pair->chain.leaf.get());
    return caf::none;
  }

  caf::error set_trust() {
    auto* c = ctx.get();
    if (!opts.ca_file.empty()) {
      if (auto bio = open_file("ca_file", opts.ca_file); !bio)
        return std::move(bio.error());
      if (SSL_CTX_load_verify_file(c, opts.ca_file.c_str()) != 1)
        return context_error("ca_file", "no usable CA certificate in "
                                         + quoted(opts.ca_file) + " ("
                                         + detail::take_openssl_errors()
                                         + ")");
      if (opts.role == tls_role::server
          && opts.client_auth != tls_client_auth::none) {
        // Tell clients which CAs we accept (certificate_authorities).
        if (auto* names = SSL_load_client_CA_file(opts.ca_file.c_str()))
          SSL_CTX_set_client_CA_list(c, names);
        ERR_clear_error();
      }
    }
    if (!opts.ca_dir.empty()) {
      struct stat st;
      if (::stat(opts.ca_dir.c_str(), &st) != 0) {
        auto err = errno;
        return context_error("ca_dir", "cannot access " + quoted(opts.ca_dir)
                                        + ": " + std::strerror(err),
                            err);
      }
      if (!S_ISDIR(st.st_mode))
        return context_error("ca_dir", quoted(opts.ca_dir)
                                        + " is not a directory");
      if (SSL_CTX_load_verify_dir(c, opts.ca_dir.c_str()) != 1)
        return context_error("ca_dir", "OpenSSL refused " + quoted(opts.ca_dir)
                                        + " (" + detail::take_openssl_errors()
                                        + ")");
    }
    if (opts.role == tls_role::client && opts.verify_peer
        && opts.ca_file.empty() && opts.ca_dir.empty()
        && SSL_CTX_set_default_verify_paths(c) != 1)
      return context_error("ca_file", "none given and the system trust store "
                                     "cannot be loaded ("
                                       + detail::take_openssl_errors() + ")");
    return caf::none;
  }

  void set_verification() {
    int mode = SSL_VERIFY_NONE;
    if (opts.role == tls_role::client) {
      if (opts.verify_peer)
        mode = SSL_VERIFY_PEER;
    } else if (opts.client_auth == tls_client_auth::optional) {
      mode = SSL_VERIFY_PEER;
    } else if (opts.client_auth == tls_client_auth::required) {
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
  }

  caf::error set_alpn() {
    if (opts.alpn.empty())
      return caf::none;
    alpn_wire = alpn_wire_format(opts.alpn);
    if (opts.role == tls_role::server) {
      SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, this);
      return caf::none;
    }
    // Note: SSL_CTX_set_alpn_protos returns 0 on success.
    if (SSL_CTX_set_alpn_protos(ctx.get(), alpn_wire.data(),
                                static_cast<unsigned int>(alpn_wire.size()))
        != 0)
      return context_error("alpn", detail::take_openssl_errors("rejected"));
    return caf::none;
  }

  caf::error set_sni_certificates() {
    if (opts.role != tls_role::server)
      return caf::none;
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), accept_server_name);
    if (opts.sni_certificates.empty())
      return caf::none;
    for (size_t i = 0; i < opts.sni_certificates.size(); ++i) {
      const auto& cfg = opts.sni_certificates[i];
      auto pair = load_key_pair("sni_certificates[" + std::to_string(i) + "].",
                                cfg.certificate_chain_file,
                                cfg.private_key_file);
      if (!pair)
        return std::move(pair.error());
      sni.push_back(sni_entry{cfg.server_name, std::move(*pair)});
    }
    SSL_CTX_set_cert_cb(ctx.get(), select_cert, this);
    return caf::none;
  }

  void set_resumption() {
    auto* c = ctx.get();
    if (!opts.session_tickets) {
      SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(c, 0);
      SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
      return;
    }
    if (opts.role == tls_role::server) {
      // Tickets are stateless: the server keeps no per-session cache.
      SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
      // Resumed sessions must belong to this application (and OpenSSL
      // refuses to resume without it when client certificates are verified).
      static constexpr unsigned char sid_ctx[] = "ghostnet";
      SSL_CTX_set_session_id_context(c, sid_ctx, sizeof(sid_ctx) - 1);
      return;
    }
    // The client keeps tickets itself (see store()), not in OpenSSL's cache.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT
                                        | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, on_new_session);
  }

  caf::error init() {
    ERR_clear_error();
    ctx.reset(SSL_CTX_new(opts.role == tls_role::server ? TLS_server_method()
                                                        : TLS_client_method()));
    if (!ctx)
      return context_error("role", "SSL_CTX_new failed ("
                                    + detail::take_openssl_errors() + ")");
    SSL_CTX_set_app_data(ctx.get(), this);
    uint64_t flags = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
    if (opts.role == tls_role::server)
      flags |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx.get(), flags);
    if (auto err = set_versions())
      return err;
    if (auto err = set_ciphers())
      return err;
    if (auto err = set_certificate())
      return err;
    if (auto err = set_trust())
      return err;
    set_verification();
    if (auto err = set_alpn())
      return err;
    if (auto err = set_sni_certificates())
      return err;
    set_resumption();
    ERR_clear_error();
    return caf::none;
  }
};

// -- tls_context --------------------------------------------------------------

caf::expected<tls_context_ptr> make_tls_context(const tls_options& opts) {
  if (auto err = validate(opts))
    return err;
  auto state = std::make_unique<tls_context::impl>();
  state->opts = opts;
  if (auto err = state->init())
    return err;
  if (opts.role == tls_role::client && !opts.verify_peer)
    log::warn(log_source, "peer_verification_disabled",
              {log::kv("server_name", opts.server_name),
               log::kv("why", "insecure_skip_verify = true: the server is not "
                              "authenticated")});
  return tls_context_ptr{new tls_context(std::move(state))};
}

tls_context::tls_context(std::unique_ptr<impl> ptr) noexcept
  : impl_(std::move(ptr)) {
  // nop
}

tls_context::~tls_context() {
  // SSL_CTX_free may run later (sessions hold references to it): make sure
  // no callback can reach the impl we are about to destroy.
  if (impl_->ctx)
    SSL_CTX_set_app_data(impl_->ctx.get(), nullptr);
}

const tls_options& tls_context::options() const noexcept {
  return impl_->opts;
}

tls_role tls_context::role() const noexcept {
  return impl_->opts.role;
}

const std::string& tls_context::certificate_subject() const noexcept {
  return impl_->subject;
}

size_t tls_context::cached_sessions() const {
  std::lock_guard<std::mutex> guard{impl_->cache_mtx};
  return impl_->cache.size();
}

ssl_ctx_st* tls_context::native_handle() const noexcept {
  return impl_->ctx.get();
}

ssl_session_st* tls_context::take_session(const std::string& server_name) const {
  std::lock_guard<std::mutex> guard{impl_->cache_mtx};
  auto i = impl_->cache.find(server_name);
  if (i == impl_->cache.end())
    return nullptr;
  auto* sess = i->second;
  auto expires = SSL_SESSION_get_time(sess)
                 + static_cast<long>(SSL_SESSION_get_timeout(sess));
  if (SSL_SESSION_is_resumable(sess) != 1 || std::time(nullptr) >= expires) {
    SSL_SESSION_free(sess);
    impl_->cache.erase(i);
    return nullptr;
  }
  if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION) {
    // RFC 8446 C.4: clients should not reuse a TLS 1.3 ticket.
    impl_->cache.erase(i);
    return sess;
  }
  SSL_SESSION_up_ref(sess);
  return sess;
}

// -- tls_context_holder -------------------------------------------------------

tls_context_holder::tls_context_holder(tls_context_ptr initial) noexcept
  : ctx_(std::move(initial)) {
  // nop
}

tls_context_ptr tls_context_holder::current() const noexcept {
  return std::atomic_load(&ctx_);
}

void tls_context_holder::replace(tls_context_ptr next) noexcept {
  std::atomic_store(&ctx_, std::move(next));
}

caf::error tls_context_holder::reload() {
  auto cur = current();
  return reload(cur->options());
}

caf::error tls_context_holder::reload(const tls_options& opts) {
  auto cur = current();
  if (opts.role != cur->role())
    return make_error(errc::invalid_configuration, "reload tls context", "", 0,
                      std::string{"role: a reload must keep the role \""}
                        + to_string(cur->role()) + "\"");
  auto next = make_tls_context(opts);
  if (!next) {
    log::error(log_source, "context_reload_failed",
               {log::kv("reason", next.error())});
    return std::move(next.error());
  }
  log::info(log_source, "context_reloaded",
            {log::kv("role", to_string(opts.role)),
             log::kv("subject", (*next)->certificate_subject()),
             log::kv("previous_subject", cur->certificate_subject())});
  replace(std::move(*next));
  return caf::none;
}

// -- helpers ------------------------------------------------------------------

namespace detail {

std::string take_openssl_errors(const char* fallback) {
  std::string result;
  char buf[256];
  while (auto code = ERR_get_error()) {
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!result.empty())
      result += "; ";
    result += buf;
  }
  if (result.empty())
    result = fallback;
  return result;
}

std::string subject_of(const x509_st* cert) {
  if (cert == nullptr)
    return {};
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio)
    return {};
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string{data, static_cast<size_t>(len)} : std::string{};
}

} // namespace detail

} // namespace ghostnet::transports
