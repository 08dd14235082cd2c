#pragma once

// Options of a TLS context (tls_context.hpp). Every field has its default and
// unit; validate() says which field is wrong. Files are checked (exist, are
// readable, parse, match) only when make_tls_context() loads them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

namespace ghostnet::transports {

/// Which end of the handshake a context serves.
enum class tls_role : uint8_t {
  server, ///< accepts handshakes; needs a certificate and key
  client, ///< starts handshakes; verifies the server by default
};

/// Whether a server asks for client certificates (mutual TLS).
enum class tls_client_auth : uint8_t {
  none,     ///< no certificate requested
  optional, ///< requested; if one is sent it must verify against the CA
  required, ///< requested; the handshake fails without a valid one
};

/// Returns "server" or "client".
[[nodiscard]] const char* to_string(tls_role x) noexcept;

/// Returns "none", "optional" or "required".
[[nodiscard]] const char* to_string(tls_client_auth x) noexcept;

/// Parses "server" or "client"; anything else is errc::invalid_configuration.
[[nodiscard]] caf::expected<tls_role> parse_tls_role(std::string_view str);

/// Parses "none", "optional" or "required"; anything else is
/// errc::invalid_configuration.
[[nodiscard]] caf::expected<tls_client_auth>
parse_tls_client_auth(std::string_view str);

/// A certificate a server presents to clients that ask for a given name
/// (SNI). Clients asking for no name, or for a name no entry matches, get the
/// main certificate of tls_options.
struct tls_sni_certificate {
  /// Exact host name ("other.test") or a wildcard for one leftmost label
  /// ("*.example.com" matches "a.example.com", not "example.com" nor
  /// "a.b.example.com"). Compared case-insensitively. Required.
  std::string server_name;
  /// PEM file: the certificate, then its intermediates. Required.
  std::string certificate_chain_file;
  /// PEM file: the unencrypted private key of that certificate. Required.
  std::string private_key_file;
};

struct tls_options {
  /// Server or client; default server.
  tls_role role = tls_role::server;

  /// PEM file: this end's certificate, then its intermediates (leaf first).
  /// Server: required. Client: optional, the certificate it presents when a
  /// server asks (mutual TLS). Default empty.
  std::string certificate_chain_file;

  /// PEM file: the unencrypted private key of the certificate (encrypted keys
  /// are rejected: there is no prompt). Required with certificate_chain_file.
  /// Default empty.
  std::string private_key_file;

  /// PEM file of trusted CA certificates. Client: verifies the server; server:
  /// verifies client certificates. Default empty. A client with neither
  /// ca_file nor ca_dir uses the system trust store (OpenSSL's default paths).
  std::string ca_file;

  /// Directory of trusted CA certificates in OpenSSL's hashed layout
  /// (`openssl rehash`). Default empty.
  std::string ca_dir;

  /// Lowest protocol version: "1.2" (default) or "1.3".
  std::string min_version = "1.2";

  /// Highest protocol version: "1.2", "1.3", or empty (default) for the
  /// newest OpenSSL supports (1.3). Must not be below min_version.
  std::string max_version;

  /// OpenSSL cipher list for TLS 1.2 (e.g. "ECDHE+AESGCM:ECDHE+CHACHA20").
  /// Empty (default): OpenSSL's default list at the system's security level.
  /// Names OpenSSL does not know are skipped; a list that selects no cipher
  /// at all is an error.
  std::string cipher_list;

  /// TLS 1.3 cipher suites, colon-separated (e.g. "TLS_AES_128_GCM_SHA256").
  /// Empty (default): OpenSSL's default suites.
  std::string ciphersuites;

  /// ALPN protocol names (1 to 255 bytes each), most preferred first; default
  /// none. Client: offered to the server. Server: the first entry of this
  /// list that the client also offers is selected (server preference); a
  /// client that offers ALPN but none of these fails the handshake
  /// ("no application protocol"); a client that offers no ALPN gets none.
  std::vector<std::string> alpn;

  /// Client only: the server's name, sent as SNI and checked against the
  /// server certificate (SSL_set1_host). An IPv4 or IPv6 literal is checked
  /// against the certificate's IP addresses and not sent as SNI. Required
  /// while verification is on, either here or per session
  /// (tls_session_options::server_name). Default empty.
  std::string server_name;

  /// Server only: certificates chosen by the name the client asks for (SNI);
  /// first match wins. Default none (always the main certificate).
  std::vector<tls_sni_certificate> sni_certificates;

  /// Client only: verify the server's certificate chain and name; default
  /// true. false is refused unless insecure_skip_verify is true as well.
  bool verify_peer = true;

  /// Client only: confirms verify_peer = false; default false. A context
  /// with verification off logs a warning (event peer_verification_disabled)
  /// once when it is created. Never use it beyond tests and lab setups.
  bool insecure_skip_verify = false;

  /// Server only: whether clients must present a certificate signed by a CA
  /// of ca_file / ca_dir (one of which is then required); default none.
  tls_client_auth client_auth = tls_client_auth::none;

  /// Session resumption with tickets; default true. Server: issues tickets
  /// (encrypted with keys of this context; a reloaded context starts with new
  /// keys). Client: keeps the newest ticket per server name and offers it on
  /// the next handshake to that name. false: every handshake is a full one.
  bool session_tickets = true;

  /// Client only: server names whose newest ticket is kept (the cache is per
  /// context); default 1024, at least 1 when session_tickets is on. A full
  /// cache drops an arbitrary entry.
  size_t session_cache_size = 1024;

  /// Free OpenSSL's record buffers and the memory BIOs' storage (about
  /// 36 KB per session) once a session is idle, so an idle session holds no
  /// I/O buffers; default true. A connection's TLS layer releases them
  /// 50 ms after its last read or write (and after every handshake
  /// flight), so a busy connection does not free and allocate them on every
  /// call; a tls_session used on its own releases after every call that
  /// leaves no bytes pending. false keeps the buffers until
  /// tls_session::release_buffers() is called. Figures in docs/tls.md.
  bool release_buffers = true;

  /// Deadline for completing the handshake after the connection opens,
  /// default 10 s, must be > 0. Enforced by the connection (errc::timeout,
  /// operation "tls handshake"); the sans-IO session has no clock.
  caf::timespan handshake_timeout = std::chrono::seconds(10);
};

/// Checks `opts` without touching files; returns errc::invalid_configuration
/// (operation "validate tls options", detail "<field>: <why>") for the first
/// bad field.
[[nodiscard]] caf::error validate(const tls_options& opts);

namespace detail {

/// Maps "1.2" / "1.3" to OpenSSL's TLS1_2_VERSION / TLS1_3_VERSION, anything
/// else to 0.
[[nodiscard]] int tls_version_number(std::string_view str) noexcept;

/// True if `str` is an IPv4 or IPv6 address literal.
[[nodiscard]] bool is_ip_literal(const std::string& str) noexcept;

} // namespace detail

} // namespace ghostnet::transports
