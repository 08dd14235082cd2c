// The TLS client of ghostnet-loadgen (--tls): OpenSSL straight on a
// non-blocking socket, with send()/recv()-shaped calls so that the epoll
// loops stay as they are. No certificate verification (the bench measures
// the server, not a trust store) and no resumption (no session is ever
// offered): every handshake is a full one, TLS 1.3 unless the server caps.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace bench {

enum class TlsStep { done, again, failed };

// The context every session shares (thread-safe once made).
inline SSL_CTX* tls_client_context() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (c == nullptr) {
      std::fprintf(stderr, "loadgen: SSL_CTX_new failed\n");
      std::exit(1);
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    // send() semantics: a write may take part of the buffer, and the retry
    // after EAGAIN starts from the caller's new offset.
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // One recv for what the socket holds instead of header, then body.
    SSL_CTX_set_read_ahead(c, 1);
    return c;
  }();
  return ctx;
}

// One client connection's TLS state; empty (false) without --tls.
class TlsSession {
public:
  TlsSession() = default;
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;
  TlsSession(TlsSession&& other) noexcept : ssl_(std::exchange(other.ssl_, nullptr)) {}
  ~TlsSession() { reset(); }

  explicit operator bool() const { return ssl_ != nullptr; }

  // Attaches a client session to the (connecting) socket `fd`.
  bool start(int fd) {
    reset();
    ssl_ = SSL_new(tls_client_context());
    if (ssl_ != nullptr && SSL_set_fd(ssl_, fd) == 1) {
      SSL_set_connect_state(ssl_);
      return true;
    }
    report("SSL_new");
    reset();
    return false;
  }

  bool established() const { return SSL_is_init_finished(ssl_) == 1; }

  // Advances the handshake as far as the socket allows.
  TlsStep handshake() {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1)
      return TlsStep::done;
    return failed(rc) == EAGAIN ? TlsStep::again : TlsStep::failed;
  }

  // As send(): bytes taken, or -1 with errno (EAGAIN: wait for the socket).
  ssize_t send(const void* data, size_t n) {
    ERR_clear_error();
    size_t done = 0;
    if (SSL_write_ex(ssl_, data, n, &done) == 1)
      return static_cast<ssize_t>(done);
    errno = failed(0);
    return -1;
  }

  // As recv(): bytes read, 0 after the server's close_notify, or -1 with
  // errno (EAGAIN: wait for the socket).
  ssize_t recv(void* buf, size_t n) {
    ERR_clear_error();
    size_t done = 0;
    if (SSL_read_ex(ssl_, buf, n, &done) == 1)
      return static_cast<ssize_t>(done);
    int err = SSL_get_error(ssl_, 0);
    if (err == SSL_ERROR_ZERO_RETURN)
      return 0;
    errno = failed(0);
    return -1;
  }

  // Queues close_notify (without waiting for the server's).
  void close_notify() {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }

  // Frees the session; the socket stays open (SSL_set_fd does not own it).
  void reset() {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }

private:
  // Classifies a failed call: EAGAIN when OpenSSL waits for the socket,
  // otherwise the socket's errno or EPROTO (the first such failure of the
  // process is printed with OpenSSL's reason).
  int failed(int rc) {
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
      return EAGAIN;
    int result = err == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
    report("TLS");
    return result;
  }

  static void report(const char* what) {
    static std::atomic<bool> reported{false};
    char reason[256] = "no OpenSSL reason";
    if (unsigned long code = ERR_get_error())
      ERR_error_string_n(code, reason, sizeof reason);
    ERR_clear_error();
    if (!reported.exchange(true))
      std::fprintf(stderr, "loadgen: %s failed (first of the run): %s\n", what, reason);
  }

  SSL* ssl_ = nullptr;
};

} // namespace bench
