#pragma once

// Test certificates for TLS tests, made with the `openssl` command line into
// a temporary directory the first time test_certs() is called, and removed
// when the process exits. All keys are EC P-256 (fast to generate); all
// certificates except the rogue ones are signed by one test CA.

#include <string>
#include <vector>

#include "ghostnet/transports/tls_options.hpp"

namespace ghostnet::test {

struct tls_test_certs {
  std::string dir; ///< the temporary directory holding everything below

  std::string ca_cert; ///< the test CA (CN=ghostnet test CA)

  /// CN=localhost, SAN DNS:localhost and IP:127.0.0.1, serverAuth.
  std::string server_cert;
  std::string server_key;

  /// CN=other.test, SAN DNS:other.test (the SNI certificate).
  std::string other_cert;
  std::string other_key;

  /// CN=*.wild.test, SAN DNS:*.wild.test (an SNI wildcard certificate).
  std::string wild_cert;
  std::string wild_key;

  /// CN=localhost like server_cert, but it expired a day ago.
  std::string expired_cert;
  std::string expired_key;

  /// CN=ghostnet test client, clientAuth, signed by the test CA.
  std::string client_cert;
  std::string client_key;

  /// Another CA, and CN=localhost (SAN localhost, 127.0.0.1) signed by it:
  /// valid in every respect except that the test CA did not sign it.
  std::string rogue_ca_cert;
  std::string rogue_cert;
  std::string rogue_key;
  /// A client certificate signed by the rogue CA.
  std::string rogue_client_cert;
  std::string rogue_client_key;
};

/// Returns the certificates, generating them on the first call (thread-safe).
/// Throws std::runtime_error naming the openssl command that failed.
const tls_test_certs& test_certs();

/// Server options with server_cert and server_key (CN=localhost) and
/// `alpn`.
transports::tls_options server_tls(std::vector<std::string> alpn = {});

/// Client options that trust the test CA (verification on).
transports::tls_options client_tls();

} // namespace ghostnet::test
