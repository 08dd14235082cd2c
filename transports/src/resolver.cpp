#include "ghostnet/transports/detail/resolver.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports::detail {

namespace {

caf::expected<std::vector<endpoint>> lookup(const endpoint& ep) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  auto port = std::to_string(ep.port);
  auto rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    auto unknown = rc == EAI_NONAME
#ifdef EAI_NODATA
                   || rc == EAI_NODATA
#endif
      ;
    return make_error(unknown ? errc::invalid_address : errc::io_error,
                      "resolve", ep.to_string(),
                      rc == EAI_SYSTEM ? errno : 0,
                      unknown ? "unknown host" : ::gai_strerror(rc));
  }
  std::vector<endpoint> result;
  for (auto* i = res; i != nullptr; i = i->ai_next) {
    if (i->ai_family != AF_INET && i->ai_family != AF_INET6)
      continue;
    socket_address addr;
    std::memcpy(&addr.storage, i->ai_addr, i->ai_addrlen);
    addr.length = static_cast<socklen_t>(i->ai_addrlen);
    auto x = to_endpoint(addr);
    if (std::find(result.begin(), result.end(), x) == result.end())
      result.push_back(std::move(x));
  }
  ::freeaddrinfo(res);
  if (result.empty())
    return make_error(errc::invalid_address, "resolve", ep.to_string(), 0,
                      "no IPv4 or IPv6 address");
  return result;
}

} // namespace

bool needs_lookup(const endpoint& ep) {
  return !to_socket_address(ep);
}

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253)
    return false;
  size_t label = 0;
  char prev = '.';
  for (char c : host) {
    if (c == '.') {
      if (label == 0 || prev == '-')
        return false;
      label = 0;
    } else {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || (c == '-' && label > 0);
      if (!ok || ++label > 63)
        return false;
    }
    prev = c;
  }
  return prev != '-';
}

void resolve_async(caf::actor_addr reply_to, uint64_t token, endpoint ep) {
  // Detached: nothing waits for it, and it holds no reference to the
  // connection (a weak address), so a connection that closes meanwhile is
  // freed at once; getaddrinfo's own timeouts bound the thread's life.
  std::thread{[reply_to = std::move(reply_to), token, ep = std::move(ep)] {
    auto result = lookup(ep);
    auto hdl = caf::actor_cast<caf::actor>(reply_to);
    if (!hdl)
      return;
    if (result)
      caf::anon_send(hdl, resolved_atom::value, token, std::move(*result));
    else
      caf::anon_send(hdl, resolved_atom::value, token, std::move(result.error()));
  }}.detach();
}

} // namespace ghostnet::transports::detail
