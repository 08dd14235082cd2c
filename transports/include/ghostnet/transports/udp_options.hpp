#pragma once

// Options of a UDP datagram endpoint (udp_endpoint.hpp). Every field has its
// default and unit; validate() says which field is wrong.

#include <cstddef>
#include <cstdint>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

#include "ghostnet/transports/endpoint.hpp"

namespace ghostnet::transports {

/// Largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header).
constexpr size_t max_udp_payload_v4 = 65507;

/// Largest UDP payload over IPv6 without jumbograms: 65535 - 8 (UDP header).
constexpr size_t max_udp_payload_v6 = 65527;

struct udp_options {
  /// Local address to bind: a numeric IPv4 or IPv6 address ("127.0.0.1",
  /// "::1", "0.0.0.0", "::"); port 0 = any free port. Default 127.0.0.1:0.
  /// A socket bound to "::" also receives IPv4 (as the OS configures
  /// IPV6_V6ONLY; Linux default: dual-stack).
  endpoint bind{"127.0.0.1", 0};

  /// Largest payload sent or delivered, in bytes; default 65507 (the IPv4
  /// maximum). Larger received datagrams are dropped (the kernel truncates
  /// them) and counted in udp_info::dropped_oversized; larger sends fail
  /// with errc::protocol_error. At most 65507 for an IPv4 bind address,
  /// 65527 for IPv6. Each read batch needs this much memory per datagram.
  size_t max_datagram_size = max_udp_payload_v4;

  /// SO_REUSEADDR; default false. With it on every socket, several sockets
  /// may bind the same address and port.
  bool reuse_address = false;

  /// SO_REUSEPORT; default false. With it on every socket (of the same
  /// user), the kernel balances incoming datagrams across them.
  bool reuse_port = false;

  /// SO_SNDBUF in bytes; 0 (default) = OS default. The kernel doubles the
  /// value and caps it at net.core.wmem_max; udp_info reports what it chose.
  int send_buffer = 0;

  /// SO_RCVBUF in bytes; 0 (default) = OS default. The kernel doubles the
  /// value and caps it at net.core.rmem_max; udp_info reports what it chose.
  /// A burst larger than this buffer is dropped by the kernel (counted in
  /// udp_info::dropped_by_kernel).
  int receive_buffer = 0;

  /// Datagrams read per readiness event before the I/O thread turns to other
  /// sockets (fairness); default 32, at least 1. Whatever is left is read on
  /// the next turn of the event loop.
  size_t max_reads_per_event = 32;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, udp_options& x) {
  return f(caf::meta::type_name("udp_options"), x.bind, x.max_datagram_size,
           x.reuse_address, x.reuse_port, x.send_buffer, x.receive_buffer,
           x.max_reads_per_event);
}

/// Checks `opts`; returns errc::invalid_configuration (operation "validate
/// udp options") whose detail names the bad field. A bind address that is
/// not a numeric address is not checked here: spawn_udp_endpoint reports it
/// as errc::invalid_address.
[[nodiscard]] caf::error validate(const udp_options& opts);

} // namespace ghostnet::transports
