#pragma once

// A network endpoint: numeric host (IPv4 or IPv6) and port. Names other than
// "localhost" are not resolved here: resolving blocks, and nothing may block
// the I/O thread; resolve first and pass the address.

#include <cstdint>
#include <string>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>

#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

namespace ghostnet::transports {

struct endpoint {
  std::string host = "127.0.0.1"; ///< numeric IPv4/IPv6 address or "localhost"
  uint16_t port = 0;              ///< 0 = any free port (when binding)

  /// "127.0.0.1:80", "[::1]:80".
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const endpoint& x, const endpoint& y) noexcept {
    return x.port == y.port && x.host == y.host;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, endpoint& x) {
  return f(caf::meta::type_name("endpoint"), x.host, x.port);
}

/// Parses "host:port", "[v6]:port" or "v6-without-port-brackets" is refused.
/// Errors: errc::invalid_address naming the input.
[[nodiscard]] caf::expected<endpoint> parse_endpoint(std::string_view str);

/// A resolved socket address.
struct socket_address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  [[nodiscard]] int family() const noexcept { return storage.ss_family; }
  [[nodiscard]] const sockaddr* get() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  [[nodiscard]] sockaddr* get() noexcept {
    return reinterpret_cast<sockaddr*>(&storage);
  }
};

/// Converts a numeric endpoint ("localhost" = 127.0.0.1) to a socket address;
/// errc::invalid_address otherwise. Never blocks.
[[nodiscard]] caf::expected<socket_address> to_socket_address(const endpoint& ep);

/// Converts a socket address back to an endpoint.
[[nodiscard]] endpoint to_endpoint(const socket_address& addr);

/// The local / remote address of a socket (empty endpoint on error).
[[nodiscard]] endpoint local_endpoint_of(int fd);
[[nodiscard]] endpoint remote_endpoint_of(int fd);

} // namespace ghostnet::transports
