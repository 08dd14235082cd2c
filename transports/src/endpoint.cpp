#include "ghostnet/transports/endpoint.hpp"

#include <arpa/inet.h>
#include <cstring>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

std::string endpoint::to_string() const {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

caf::expected<endpoint> parse_endpoint(std::string_view str) {
  auto bad = [&](const char* why) {
    return make_error(errc::invalid_address, "parse endpoint", std::string{str},
                      0, why);
  };
  endpoint result;
  std::string_view port_str;
  if (!str.empty() && str.front() == '[') {
    auto close = str.find(']');
    if (close == std::string_view::npos || close + 1 >= str.size()
        || str[close + 1] != ':')
      return bad("expected [address]:port");
    result.host = std::string{str.substr(1, close - 1)};
    port_str = str.substr(close + 2);
  } else {
    auto colon = str.rfind(':');
    if (colon == std::string_view::npos)
      return bad("expected host:port");
    result.host = std::string{str.substr(0, colon)};
    if (result.host.find(':') != std::string::npos)
      return bad("IPv6 addresses need brackets: [address]:port");
    port_str = str.substr(colon + 1);
  }
  if (result.host.empty())
    return bad("empty host");
  if (port_str.empty() || port_str.size() > 5)
    return bad("port must be a number from 0 to 65535");
  unsigned long port = 0;
  for (char c : port_str) {
    if (c < '0' || c > '9')
      return bad("port must be a number from 0 to 65535");
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port > 65535)
    return bad("port must be a number from 0 to 65535");
  result.port = static_cast<uint16_t>(port);
  if (auto addr = to_socket_address(result); !addr)
    return std::move(addr.error());
  return result;
}

caf::expected<socket_address> to_socket_address(const endpoint& ep) {
  socket_address result;
  auto host = ep.host == "localhost" ? std::string{"127.0.0.1"} : ep.host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&result.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(ep.port);
    result.length = sizeof(sockaddr_in);
    return result;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&result.storage);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(ep.port);
    result.length = sizeof(sockaddr_in6);
    return result;
  }
  return make_error(errc::invalid_address, "resolve", ep.to_string(), 0,
                    "not a numeric IPv4/IPv6 address (names are not resolved "
                    "on the I/O thread)");
}

endpoint to_endpoint(const socket_address& addr) {
  endpoint result;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.family() == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr.storage);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    result.port = ntohs(v4->sin_port);
  } else if (addr.family() == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr.storage);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
    result.port = ntohs(v6->sin6_port);
  }
  result.host = buf;
  return result;
}

endpoint local_endpoint_of(int fd) {
  socket_address addr;
  addr.length = sizeof(addr.storage);
  if (getsockname(fd, addr.get(), &addr.length) != 0)
    return endpoint{"", 0};
  return to_endpoint(addr);
}

endpoint remote_endpoint_of(int fd) {
  socket_address addr;
  addr.length = sizeof(addr.storage);
  if (getpeername(fd, addr.get(), &addr.length) != 0)
    return endpoint{"", 0};
  return to_endpoint(addr);
}

} // namespace ghostnet::transports
