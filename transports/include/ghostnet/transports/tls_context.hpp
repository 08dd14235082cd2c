#pragma once

// A TLS context: the certificates, keys, trust anchors and settings shared by
// all TLS sessions of a listener or a client, loaded once from tls_options.
// Every configuration mistake surfaces in make_tls_context() as a typed error
// naming the field and the file; nothing is loaded lazily.
//
// Thread safety: a context is immutable once made (its client ticket cache
// has its own lock); sessions on any thread may share it. A listener keeps
// its context in a tls_context_holder so that certificates can be reloaded
// while it runs: new sessions take the current context, running sessions keep
// the one they started with.

#include <cstddef>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "ghostnet/transports/tls_options.hpp"

// OpenSSL's types, so that this header needs no OpenSSL headers.
struct ssl_ctx_st;     // SSL_CTX
struct ssl_session_st; // SSL_SESSION
struct x509_st;        // X509

namespace ghostnet::transports {

class tls_context;
class tls_session;

/// Contexts are shared: by the holder, and by every session made from them.
using tls_context_ptr = std::shared_ptr<const tls_context>;

/// Loads certificates, keys and CAs as `opts` says and returns the context,
/// or errc::invalid_configuration (operation "create tls context", detail
/// "<field>: <why>", errno where the OS refused a file) for the first thing
/// that is wrong: an invalid option (see validate()), a missing or unreadable
/// file, a file without PEM data, a key that does not match its certificate,
/// a CA file without certificates, a cipher list that selects nothing.
/// Logs peer_verification_disabled (warn) if `opts` turns verification off.
[[nodiscard]] caf::expected<tls_context_ptr>
make_tls_context(const tls_options& opts);

class tls_context {
public:
  ~tls_context();

  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  /// The options this context was made from.
  [[nodiscard]] const tls_options& options() const noexcept;

  /// Server or client.
  [[nodiscard]] tls_role role() const noexcept;

  /// Subject of the main certificate in RFC 2253 form ("CN=localhost,O=x"),
  /// empty for a client without a certificate.
  [[nodiscard]] const std::string& certificate_subject() const noexcept;

  /// Client: tickets currently kept for resumption (at most one per server
  /// name). Server: 0.
  [[nodiscard]] size_t cached_sessions() const;

  /// OpenSSL's context, for settings ghostnet does not cover. Changing it
  /// while sessions are being made is a data race.
  [[nodiscard]] ssl_ctx_st* native_handle() const noexcept;

private:
  friend caf::expected<tls_context_ptr>
  make_tls_context(const tls_options& opts);
  friend class tls_session;

  struct impl;

  explicit tls_context(std::unique_ptr<impl> ptr) noexcept;

  /// Client: returns the ticket kept for `server_name` (a new reference the
  /// caller frees), or nullptr. A TLS 1.3 ticket is handed out once.
  [[nodiscard]] ssl_session_st* take_session(const std::string& server_name)
    const;

  std::unique_ptr<impl> impl_;
};

/// The current context of a listener (or client pool), swappable at run time.
///
/// Thread safety: all member functions may be called concurrently.
class tls_context_holder {
public:
  /// Precondition: `initial` is not null.
  explicit tls_context_holder(tls_context_ptr initial) noexcept;

  /// The context new sessions should use.
  [[nodiscard]] tls_context_ptr current() const noexcept;

  /// Makes `next` the current context. Sessions made before keep theirs.
  /// Precondition: `next` is not null.
  void replace(tls_context_ptr next) noexcept;

  /// Loads a new context from the current context's options (re-reading
  /// every file) and makes it current. On error the current context stays
  /// and the error says why (as make_tls_context()). Logs context_reloaded.
  [[nodiscard]] caf::error reload();

  /// As reload(), with new options. Changing the role is an error.
  [[nodiscard]] caf::error reload(const tls_options& opts);

private:
  tls_context_ptr ctx_; ///< accessed only with std::atomic_load/store
};

namespace detail {

/// Returns OpenSSL's error queue of the calling thread as text, entries
/// separated by "; " (ERR_error_string_n), and empties the queue. Returns
/// `fallback` if the queue is empty.
[[nodiscard]] std::string take_openssl_errors(const char* fallback = "");

/// Returns the subject of `cert` in RFC 2253 form, empty for nullptr.
[[nodiscard]] std::string subject_of(const x509_st* cert);

} // namespace detail

} // namespace ghostnet::transports
