#include "ghostnet/transports/socket_handle.hpp"

#include <unistd.h>

namespace ghostnet::transports {

struct socket_handle::owner {
  int fd;
  explicit owner(int x) : fd(x) {}
  ~owner() {
    if (fd >= 0)
      ::close(fd);
  }
};

socket_handle::socket_handle(int fd) : owner_(std::make_shared<owner>(fd)) {
  // nop
}

int socket_handle::get() const noexcept {
  return owner_ ? owner_->fd : -1;
}

int socket_handle::take() noexcept {
  if (!owner_)
    return -1;
  auto fd = owner_->fd;
  owner_->fd = -1;
  return fd;
}

} // namespace ghostnet::transports
