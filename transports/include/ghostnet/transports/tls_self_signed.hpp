#pragma once

// A self-signed certificate for first runs and labs: ensure_self_signed_
// certificate() makes an EC P-256 key and a certificate for it in a
// directory once, and returns the same files on every later call, so a node
// can offer TLS without anyone running `openssl` first. Clients trust it by
// taking the certificate itself as their CA (tls_options::ca_file,
// `curl --cacert`, `openssl s_client -CAfile`).

#include <chrono>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace ghostnet::transports {

struct self_signed_options {
  /// Directory of the two files; created (with missing parents, mode 0700)
  /// if it does not exist. Required.
  std::string directory;

  /// Subject and issuer common name, 1 to 64 bytes; default "localhost".
  std::string common_name = "localhost";

  /// Host names of the subjectAltName; letters, digits, '-', '.', '_' and a
  /// leading "*." only. Default {"localhost"}.
  std::vector<std::string> dns_names = {"localhost"};

  /// IPv4/IPv6 literals of the subjectAltName; default {"127.0.0.1", "::1"}.
  /// dns_names and ip_addresses together need at least one entry.
  std::vector<std::string> ip_addresses = {"127.0.0.1", "::1"};

  /// How long a new certificate is valid, from now; default one year, at
  /// least 1 h, at most 100 years. (notBefore is an hour in the past, for
  /// clocks that lag.)
  std::chrono::hours validity{24 * 365};
};

struct self_signed_files {
  std::string certificate_chain_file; ///< <directory>/self-signed.crt
  std::string private_key_file;       ///< <directory>/self-signed.key
  bool generated = false; ///< true: made by this call; false: reused
};

/// Returns the certificate and key files in `opts.directory`, generating them
/// if neither exists. Existing files are reused as they are (no check of
/// names, expiry or key match: make_tls_context() reports what is wrong), so
/// changed options take effect only after both files are deleted.
///
/// New files: the key is PEM PKCS#8, mode 0600; the certificate is X.509 v3
/// with a random serial, CN = common_name as subject and issuer, the
/// subjectAltName of the options, basicConstraints CA:FALSE (critical),
/// keyUsage digitalSignature (critical), extendedKeyUsage serverAuth and
/// key identifiers. OpenSSL 3 (and curl on it) accepts such a certificate as
/// its own trust anchor. Both files are written to temporary files first
/// and renamed into place, under an flock on the directory, so concurrent
/// callers never see a half-written file nor a key of another certificate.
///
/// Errors, all with operation "create self-signed certificate":
/// errc::invalid_configuration (detail "<field>: <why>") for a bad option or
/// when only one of the two files exists (the detail names the missing one);
/// errc::io_error with errno and the path in the detail when the directory
/// or a file cannot be created, written or inspected; errc::invalid_state if
/// OpenSSL fails (its error queue in the detail).
[[nodiscard]] caf::expected<self_signed_files>
ensure_self_signed_certificate(const self_signed_options& opts);

} // namespace ghostnet::transports
