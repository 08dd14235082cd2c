#include "ghostnet/transports/detail/socket_ops.hpp"

#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

caf::error apply_socket_options(int fd, const socket_options& opts,
                                const std::string& where) {
  auto set = [&](int level, int name, int value, const char* what) -> caf::error {
    if (setsockopt(fd, level, name, &value, sizeof(value)) != 0)
      return make_error(errc_from_errno(errno), std::string{"setsockopt "} + what,
                        where, errno);
    return caf::none;
  };
  if (auto err = set(IPPROTO_TCP, TCP_NODELAY, opts.nodelay ? 1 : 0, "TCP_NODELAY"))
    return err;
  if (auto err = set(SOL_SOCKET, SO_KEEPALIVE, opts.keepalive ? 1 : 0, "SO_KEEPALIVE"))
    return err;
  if (opts.send_buffer > 0)
    if (auto err = set(SOL_SOCKET, SO_SNDBUF, opts.send_buffer, "SO_SNDBUF"))
      return err;
  if (opts.receive_buffer > 0)
    if (auto err = set(SOL_SOCKET, SO_RCVBUF, opts.receive_buffer, "SO_RCVBUF"))
      return err;
  if (opts.linger >= 0) {
    ::linger lg{1, opts.linger};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
      return make_error(errc_from_errno(errno), "setsockopt SO_LINGER", where,
                        errno);
  }
  return caf::none;
}

namespace detail {

namespace {

int new_socket(int family, int type) {
  return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

} // namespace

caf::expected<socket_handle> open_tcp_listener(const listener_options& opts) {
  auto where = opts.bind.to_string();
  auto addr = to_socket_address(opts.bind);
  if (!addr)
    return std::move(addr.error());
  socket_handle sock{new_socket(addr->family(), SOCK_STREAM)};
  if (!sock)
    return make_os_error(errno, "socket", where);
  int fd = sock.get();
  int one = 1;
  if (opts.reuse_address
      && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
    return make_os_error(errno, "setsockopt SO_REUSEADDR", where);
  if (opts.reuse_port
      && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
    return make_os_error(errno, "setsockopt SO_REUSEPORT", where);
  if (addr->family() == AF_INET6) {
    int v6only = opts.v6_only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)
      return make_os_error(errno, "setsockopt IPV6_V6ONLY", where);
  }
  // Accepted sockets inherit these (Linux): set once here, not per accept.
  if (auto err = apply_socket_options(fd, opts.connection.socket, where))
    return err;
  if (::bind(fd, addr->get(), addr->length) != 0)
    return make_os_error(errno, "bind", where);
  if (::listen(fd, opts.backlog) != 0)
    return make_os_error(errno, "listen", where);
  return sock;
}

caf::expected<socket_handle> start_tcp_connect(const endpoint& remote,
                                               bool& in_progress) {
  auto where = remote.to_string();
  auto addr = to_socket_address(remote);
  if (!addr)
    return std::move(addr.error());
  if (remote.port == 0)
    return make_error(errc::invalid_address, "connect", where, 0,
                      "port 0 cannot be connected to");
  socket_handle sock{new_socket(addr->family(), SOCK_STREAM)};
  if (!sock)
    return make_os_error(errno, "socket", where);
  in_progress = false;
  if (::connect(sock.get(), addr->get(), addr->length) != 0) {
    if (errno != EINPROGRESS)
      return make_os_error(errno, "connect", where);
    in_progress = true;
  }
  return sock;
}

int pending_socket_error(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return errno;
  return err;
}

void set_abortive_close(int fd) noexcept {
  ::linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

} // namespace detail

} // namespace ghostnet::transports
