#include "ghostnet/transports/tls_session.hpp"

#include <algorithm>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

namespace {

/// Largest plaintext of one TLS record.
constexpr size_t max_record_plaintext = 16 * 1024;

/// Ciphertext is handed to OpenSSL in slices of at most this many bytes, and
/// plaintext is encrypted in slices of max_record_plaintext, with the memory
/// BIOs emptied after each: however much a call carries, neither BIO grows
/// beyond about one record.
constexpr size_t max_feed = max_record_plaintext + 1024;

/// Per-record overhead reserved ahead of encrypting (header, tag, padding).
constexpr size_t record_overhead = 64;

BIO* new_memory_bio() {
  auto* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr)
    BIO_set_mem_eof_return(bio, -1); // empty: "retry", never EOF
  return bio;
}

/// True if `code` (from the error queue) is an alert the peer sent us.
bool is_peer_alert(unsigned long code) {
  return code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL
         && ERR_GET_REASON(code) >= SSL_AD_REASON_OFFSET;
}

} // namespace

caf::expected<std::unique_ptr<tls_session>>
make_tls_session(tls_context_ptr ctx, tls_session_options opts) {
  if (!ctx)
    return make_error(errc::invalid_configuration, "create tls session",
                      opts.endpoint, 0, "no tls context");
  std::unique_ptr<tls_session> result{
    new tls_session(std::move(ctx), std::move(opts))};
  if (auto err = result->init())
    return err;
  return result;
}

tls_session::tls_session(tls_context_ptr ctx,
                         tls_session_options opts) noexcept
  : ctx_(std::move(ctx)), endpoint_(std::move(opts.endpoint)) {
  if (ctx_->role() == tls_role::client)
    server_name_ = opts.server_name.empty() ? ctx_->options().server_name
                                            : std::move(opts.server_name);
}

tls_session::~tls_session() {
  if (ssl_ == nullptr)
    return;
  // SSL_free marks the session of a connection that did not send
  // close_notify as not resumable, which would waste every ticket of a
  // connection that was simply dropped. TLS 1.3 (RFC 8446) no longer asks
  // for that; a session that failed with an alert stays marked by OpenSSL.
  if (handshake_done_ && !failure_)
    SSL_set_shutdown(ssl_, SSL_get_shutdown(ssl_) | SSL_SENT_SHUTDOWN);
  SSL_free(ssl_); // frees both BIOs
}

caf::error tls_session::init() {
  ERR_clear_error();
  const auto& opts = ctx_->options();
  bool client = opts.role == tls_role::client;
  if (client && opts.verify_peer && server_name_.empty())
    return make_error(errc::invalid_configuration, "create tls session",
                      endpoint_, 0,
                      "server_name: required to verify the server's "
                      "certificate (set it in tls_options or "
                      "tls_session_options)");
  ssl_ = SSL_new(ctx_->native_handle());
  rbio_ = new_memory_bio();
  wbio_ = new_memory_bio();
  if (ssl_ == nullptr || rbio_ == nullptr || wbio_ == nullptr) {
    BIO_free(rbio_);
    BIO_free(wbio_);
    rbio_ = wbio_ = nullptr;
    return make_error(errc::invalid_state, "create tls session", endpoint_, 0,
                      detail::take_openssl_errors("out of memory"));
  }
  SSL_set_bio(ssl_, rbio_, wbio_);
  SSL_set_app_data(ssl_, this);
  if (!client) {
    SSL_set_accept_state(ssl_);
    return caf::none;
  }
  SSL_set_connect_state(ssl_);
  if (!server_name_.empty()) {
    bool ok = true;
    if (detail::is_ip_literal(server_name_)) {
      // RFC 6066: SNI carries host names only; IPs are checked as IPs.
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_),
                                         server_name_.c_str())
           == 1;
    } else {
      SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set_tlsext_host_name(ssl_, server_name_.c_str()) == 1
           && SSL_set1_host(ssl_, server_name_.c_str()) == 1;
    }
    if (!ok)
      return make_error(errc::invalid_configuration, "create tls session",
                        endpoint_, 0,
                        "server_name: \"" + server_name_ + "\" rejected ("
                          + detail::take_openssl_errors() + ")");
  }
  if (opts.session_tickets) {
    if (auto* sess = ctx_->take_session(server_name_)) {
      SSL_set_session(ssl_, sess); // takes its own reference
      SSL_SESSION_free(sess);
    }
  }
  ERR_clear_error();
  return caf::none;
}

// -- driving the session ------------------------------------------------------

caf::error tls_session::start(std::vector<char>& ciphertext_to_peer) {
  if (failure_)
    return failure_;
  if (started_ || ctx_->role() == tls_role::server) {
    started_ = true;
    return caf::none;
  }
  started_ = true;
  ERR_clear_error();
  auto err = handshake_step(ciphertext_to_peer);
  drain(ciphertext_to_peer);
  return end_call(std::move(err));
}

caf::error tls_session::consume(byte_view ciphertext_from_peer,
                                std::vector<char>& plaintext_out,
                                std::vector<char>& ciphertext_to_peer) {
  if (failure_)
    return failure_;
  started_ = true;
  if (peer_closed_)
    return caf::none; // nothing valid follows close_notify
  ERR_clear_error();
  caf::error err;
  size_t offset = 0;
  do {
    auto n = std::min(ciphertext_from_peer.size() - offset, max_feed);
    if (n > 0) {
      auto written = BIO_write(rbio_, ciphertext_from_peer.data() + offset,
                               static_cast<int>(n));
      if (written != static_cast<int>(n)) {
        err = fail(SSL_ERROR_SSL, "tls read", !handshake_done_);
        break;
      }
      offset += n;
    }
    if (!handshake_done_)
      err = handshake_step(ciphertext_to_peer);
    if (!err && handshake_done_)
      err = read_records(plaintext_out);
    drain(ciphertext_to_peer);
  } while (!err && !peer_closed_ && offset < ciphertext_from_peer.size());
  if (peer_closed_)
    (void) BIO_reset(rbio_); // drop whatever followed close_notify
  return end_call(std::move(err));
}

caf::error tls_session::encrypt(byte_view plaintext,
                                std::vector<char>& ciphertext_to_peer) {
  if (failure_)
    return failure_;
  if (!handshake_done_)
    return make_error(errc::invalid_state, "tls write", endpoint_, 0,
                      "encrypt before the handshake completed");
  if (closed_)
    return make_error(errc::transport_closed, "tls write", endpoint_, 0,
                      "encrypt after close");
  if (plaintext.empty())
    return caf::none;
  ERR_clear_error();
  auto records = (plaintext.size() + max_record_plaintext - 1)
                 / max_record_plaintext;
  ciphertext_to_peer.reserve(ciphertext_to_peer.size() + plaintext.size()
                             + records * record_overhead);
  caf::error err;
  for (size_t offset = 0; offset < plaintext.size();) {
    auto n = std::min(plaintext.size() - offset, max_record_plaintext);
    size_t written = 0;
    auto res = SSL_write_ex(ssl_, plaintext.data() + offset, n, &written);
    if (res != 1) {
      err = fail(SSL_get_error(ssl_, res), "tls write", false);
      break;
    }
    offset += written;
    drain(ciphertext_to_peer);
  }
  drain(ciphertext_to_peer);
  return end_call(std::move(err));
}

caf::error tls_session::close(std::vector<char>& ciphertext_to_peer) {
  if (closed_ || failure_)
    return caf::none;
  closed_ = true;
  if (!handshake_done_)
    return caf::none;
  ERR_clear_error();
  caf::error err;
  auto res = SSL_shutdown(ssl_); // 0: sent, 1: sent and received
  if (res < 0)
    err = fail(SSL_get_error(ssl_, res), "tls close", false);
  drain(ciphertext_to_peer);
  return end_call(std::move(err));
}

caf::error tls_session::on_eof() {
  if (failure_)
    return failure_;
  if (peer_closed_)
    return caf::none;
  if (!handshake_done_)
    return make_error(errc::tls_handshake_failed, "tls handshake", endpoint_,
                      0, "peer closed the connection during the handshake");
  return make_error(errc::transport_closed, "tls read", endpoint_, 0,
                    "truncated: peer closed without close_notify");
}

void tls_session::release_buffers() noexcept {
  if (ssl_ == nullptr)
    return;
  // Returns 0 (and frees nothing) while a partial record is buffered.
  SSL_free_buffers(ssl_);
  // A memory BIO never shrinks: give an empty BIO's storage back by handing
  // it a fresh, empty BUF_MEM (BIO_set_mem_buf frees the old one). That is
  // one small allocation, far cheaper than a new BIO (ex_data, lock).
  for (auto* bio : {rbio_, wbio_}) {
    if (BIO_ctrl_pending(bio) != 0)
      continue;
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio, &mem);
    if (mem == nullptr || mem->max == 0)
      continue;
    if (auto* fresh = BUF_MEM_new())
      BIO_set_mem_buf(bio, fresh, BIO_CLOSE);
  }
  ERR_clear_error();
}

// -- state --------------------------------------------------------------------

std::string_view tls_session::alpn_selected() const noexcept {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  if (data == nullptr || len == 0)
    return {};
  return {reinterpret_cast<const char*>(data), len};
}

std::string tls_session::peer_certificate_subject() const {
  return detail::subject_of(SSL_get0_peer_certificate(ssl_));
}

bool tls_session::session_reused() const noexcept {
  return SSL_session_reused(ssl_) == 1;
}

std::string_view tls_session::tls_version() const noexcept {
  if (!handshake_done_)
    return {};
  return SSL_get_version(ssl_);
}

// -- internals ----------------------------------------------------------------

caf::error tls_session::handshake_step(std::vector<char>& ciphertext_to_peer) {
  auto res = SSL_do_handshake(ssl_);
  if (res == 1) {
    handshake_done_ = true;
    return caf::none;
  }
  auto code = SSL_get_error(ssl_, res);
  if (code == SSL_ERROR_WANT_READ)
    return caf::none;
  return fail(code, "tls handshake", true);
}

caf::error tls_session::read_records(std::vector<char>& plaintext_out) {
  char buf[max_record_plaintext];
  for (;;) {
    size_t got = 0;
    auto res = SSL_read_ex(ssl_, buf, sizeof(buf), &got);
    if (res == 1) {
      plaintext_out.insert(plaintext_out.end(), buf, buf + got);
      app_data_received_ = true;
      continue;
    }
    switch (auto code = SSL_get_error(ssl_, res)) {
      case SSL_ERROR_WANT_READ:
        return caf::none; // all input used; a partial record stays inside
      case SSL_ERROR_ZERO_RETURN:
        peer_closed_ = true;
        return caf::none;
      default:
        return fail(code, "tls read", false);
    }
  }
}

void tls_session::drain(std::vector<char>& ciphertext_to_peer) {
  auto pending = BIO_ctrl_pending(wbio_);
  if (pending == 0)
    return;
  auto old = ciphertext_to_peer.size();
  ciphertext_to_peer.resize(old + pending);
  auto got = BIO_read(wbio_, ciphertext_to_peer.data() + old,
                      static_cast<int>(pending));
  ciphertext_to_peer.resize(old + static_cast<size_t>(std::max(got, 0)));
}

caf::error tls_session::fail(int ssl_error, const char* operation,
                             bool handshake) {
  auto first = ERR_peek_error();
  std::string text;
  // Verification failures: say which check failed, in X509's words.
  auto verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK && SSL_get_verify_mode(ssl_) != SSL_VERIFY_NONE) {
    text = "certificate verify failed: ";
    text += X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH
        || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
      text += " (expected \"" + server_name_ + "\")";
    text += "; ";
  }
  switch (ssl_error) {
    case SSL_ERROR_SSL:
      text += detail::take_openssl_errors("unknown OpenSSL error");
      break;
    case SSL_ERROR_SYSCALL:
      text += detail::take_openssl_errors("unexpected end of data");
      break;
    default:
      text += "unexpected SSL_get_error result "
              + std::to_string(ssl_error) + " ("
              + detail::take_openssl_errors() + ")";
  }
  // TLS 1.3 clients finish their handshake before the server has checked
  // the client certificate: a certificate alert that arrives before any
  // application data still means the handshake failed.
  if (!handshake && ctx_->role() == tls_role::client && !app_data_received_
      && is_peer_alert(first))
    handshake = true;
  if (handshake)
    failure_ = make_error(errc::tls_handshake_failed, "tls handshake",
                          endpoint_, 0, std::move(text));
  else
    failure_ = make_error(errc::protocol_error, operation, endpoint_, 0,
                          std::move(text));
  return failure_;
}

caf::error tls_session::end_call(caf::error err) {
  if (ctx_->options().release_buffers && !release_deferred_)
    release_buffers();
  ERR_clear_error(); // never leave entries for other code on this thread
  return err;
}

} // namespace ghostnet::transports
