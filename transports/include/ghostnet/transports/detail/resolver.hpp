#pragma once

// Host names for outgoing connections. getaddrinfo blocks (a DNS query can
// take seconds), and a connection runs on the I/O thread with every other
// socket: the lookup runs on a thread of its own and its result comes back
// as a message, which the connection matches by token (a late answer after
// a timeout or a retry is ignored). The connect timeout bounds the wait.

#include <cstdint>
#include <string_view>
#include <vector>

#include <caf/actor_addr.hpp>

#include "ghostnet/transports/endpoint.hpp"

namespace ghostnet::transports::detail {

/// True if `host` needs a lookup: not a numeric IPv4/IPv6 address.
[[nodiscard]] bool needs_lookup(const endpoint& ep);

/// A syntactically valid host name (RFC 1123 labels, at most 253 chars).
[[nodiscard]] bool is_host_name(std::string_view host);

/// Looks `ep.host` up on a helper thread and sends `reply_to`
///   (resolved_atom, token, std::vector<endpoint>)  addresses in the order
///                                                   getaddrinfo gave them
///   (resolved_atom, token, caf::error)             invalid_address for an
///                                                   unknown host, else io_error
/// If `reply_to` is gone by then, the answer is dropped.
void resolve_async(caf::actor_addr reply_to, uint64_t token, endpoint ep);

} // namespace ghostnet::transports::detail
