#pragma once

// A sans-IO TLS session: ciphertext in, plaintext out, and plaintext in,
// ciphertext out, over OpenSSL memory BIOs. It holds no socket, clock or
// actor. In a connection it sits between the socket and the framer:
//
//   socket --recv--> consume() --plaintext--> framer.decode() --> handler
//   socket <--send-- ciphertext <-- encrypt() <-- framer.encode() <-- send()
//
// Every call appends what must go to the peer (handshake messages, alerts,
// tickets, records) to a `ciphertext_to_peer` buffer, which the caller sends,
// even when the call returns an error (an alert tells the peer why).
//
// Thread safety: none; one session belongs to one connection. Sessions of
// one context may run on different threads.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "ghostnet/transports/framing.hpp"
#include "ghostnet/transports/tls_context.hpp"

// OpenSSL's types, so that this header needs no OpenSSL headers.
struct ssl_st; // SSL
struct bio_st; // BIO

namespace ghostnet::transports {

/// Per-connection settings of a session.
struct tls_session_options {
  /// Client: the server's name for this connection (SNI, the host name the
  /// certificate must match, and the key of the ticket cache); empty
  /// (default): tls_options::server_name of the context. Server: unused.
  std::string server_name;

  /// The peer's address, used only in error contexts (e.g. "10.0.0.1:443");
  /// default empty.
  std::string endpoint;
};

/// Creates a session of `ctx` (taking a share of it: the session keeps the
/// context it was made with). Client sessions take a ticket for their server
/// name from the context if it has one. Returns errc::invalid_configuration
/// (operation "create tls session") if a client that verifies the server has
/// no server name, errc::invalid_state if OpenSSL cannot create the session.
[[nodiscard]] caf::expected<std::unique_ptr<tls_session>>
make_tls_session(tls_context_ptr ctx, tls_session_options opts = {});

class tls_session {
public:
  ~tls_session();

  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // -- driving the session ----------------------------------------------------

  /// Starts the handshake. Client: appends the ClientHello to
  /// `ciphertext_to_peer`. Server: does nothing (the server speaks when the
  /// ClientHello arrives). Call once, when the connection opens; calling it
  /// again does nothing.
  [[nodiscard]] caf::error start(std::vector<char>& ciphertext_to_peer);

  /// Processes all of `ciphertext_from_peer` (an incomplete record stays
  /// inside OpenSSL until the rest arrives: the caller keeps nothing).
  /// Appends decrypted application data to `plaintext_out` and whatever the
  /// peer must receive (handshake flights, tickets, alerts) to
  /// `ciphertext_to_peer`. Bytes after the peer's close_notify are ignored.
  ///
  /// Errors: errc::tls_handshake_failed (operation "tls handshake") while the
  /// handshake runs, with OpenSSL's error queue in the detail and, when a
  /// certificate failed verification, the reason ("certificate has expired",
  /// "hostname mismatch", "unable to get local issuer certificate", ...); a
  /// client also reports the server's certificate alerts that arrive right
  /// after its own handshake finished (TLS 1.3 rejects client certificates
  /// then) this way. errc::protocol_error (operation "tls read") for a bad
  /// record afterwards. After an error the session is dead: every later call
  /// returns the same error.
  [[nodiscard]] caf::error consume(byte_view ciphertext_from_peer,
                                   std::vector<char>& plaintext_out,
                                   std::vector<char>& ciphertext_to_peer);

  /// Appends `plaintext` as TLS records (at most 16 KiB each) to
  /// `ciphertext_to_peer`. Only after handshake_done() (errc::invalid_state
  /// before: the caller buffers) and before close() (errc::transport_closed
  /// after). An empty `plaintext` appends nothing.
  [[nodiscard]] caf::error encrypt(byte_view plaintext,
                                   std::vector<char>& ciphertext_to_peer);

  /// Appends close_notify to `ciphertext_to_peer` (once; later calls do
  /// nothing). Before the handshake completed, or after the session failed,
  /// there is no secure channel to close and nothing is appended. Reading
  /// goes on: the peer may still send data and its own close_notify.
  [[nodiscard]] caf::error close(std::vector<char>& ciphertext_to_peer);

  /// The transport reached end of file. Returns nothing if the peer's
  /// close_notify arrived first; errc::transport_closed (operation
  /// "tls read", detail "truncated: peer closed without close_notify") if
  /// the handshake had completed; errc::tls_handshake_failed ("peer closed
  /// the connection during the handshake") before; the session's error if it
  /// had failed already.
  [[nodiscard]] caf::error on_eof();

  /// Frees OpenSSL's record buffers and the memory BIOs' storage if no byte
  /// is pending. Done after every call when tls_options::release_buffers is
  /// on (the default); call it when the connection goes idle otherwise.
  void release_buffers() noexcept;

  /// With tls_options::release_buffers: leave the release to the caller,
  /// who calls release_buffers() once the session went idle (the TLS layer
  /// does, a moment after its last call), instead of after every call: a
  /// busy session then keeps its buffers instead of freeing and
  /// allocating them on every read and write.
  void defer_release(bool on) noexcept {
    release_deferred_ = on;
  }

  // -- state ------------------------------------------------------------------

  /// True once the handshake completed (encrypt() may be called).
  [[nodiscard]] bool handshake_done() const noexcept {
    return handshake_done_;
  }

  /// True once the peer's close_notify arrived.
  [[nodiscard]] bool peer_closed() const noexcept {
    return peer_closed_;
  }

  /// True once close() sent close_notify (or was called before the
  /// handshake completed).
  [[nodiscard]] bool closed() const noexcept {
    return closed_;
  }

  /// True if a call failed; the session is then unusable.
  [[nodiscard]] bool failed() const noexcept {
    return static_cast<bool>(failure_);
  }

  /// The ALPN protocol both ends agreed on, empty if none (or before the
  /// handshake completed). Views memory of the session.
  [[nodiscard]] std::string_view alpn_selected() const noexcept;

  /// Subject (RFC 2253, e.g. "CN=localhost") of the certificate the peer
  /// presented, empty if it presented none. Also known after resumption.
  [[nodiscard]] std::string peer_certificate_subject() const;

  /// True if the handshake resumed an earlier session (ticket) instead of
  /// running a full one.
  [[nodiscard]] bool session_reused() const noexcept;

  /// "TLSv1.2" or "TLSv1.3" once the handshake completed, empty before.
  [[nodiscard]] std::string_view tls_version() const noexcept;

  /// The effective server name (client; see tls_session_options), empty for
  /// servers.
  [[nodiscard]] const std::string& server_name() const noexcept {
    return server_name_;
  }

  /// The context this session was made with.
  [[nodiscard]] const tls_context& context() const noexcept {
    return *ctx_;
  }

  /// OpenSSL's session object, for inspection beyond this interface.
  [[nodiscard]] ssl_st* native_handle() const noexcept {
    return ssl_;
  }

private:
  friend caf::expected<std::unique_ptr<tls_session>>
  make_tls_session(tls_context_ptr ctx, tls_session_options opts);

  tls_session(tls_context_ptr ctx, tls_session_options opts) noexcept;

  caf::error init();
  caf::error handshake_step(std::vector<char>& ciphertext_to_peer);
  caf::error read_records(std::vector<char>& plaintext_out);
  void drain(std::vector<char>& ciphertext_to_peer);
  caf::error fail(int ssl_error, const char* operation, bool handshake);
  caf::error end_call(caf::error err);

  tls_context_ptr ctx_; ///< declared first: outlives ssl_
  std::string server_name_;
  std::string endpoint_;
  ssl_st* ssl_ = nullptr;
  bio_st* rbio_ = nullptr; ///< ciphertext from the peer (owned by ssl_)
  bio_st* wbio_ = nullptr; ///< ciphertext to the peer (owned by ssl_)
  caf::error failure_;
  bool started_ = false;
  bool handshake_done_ = false;
  bool release_deferred_ = false;
  bool app_data_received_ = false;
  bool peer_closed_ = false;
  bool closed_ = false;
};

} // namespace ghostnet::transports
