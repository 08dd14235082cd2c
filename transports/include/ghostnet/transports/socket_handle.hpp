#pragma once

// An owned socket descriptor that can travel in a message: whoever drops the
// last copy without taking the descriptor closes it, so a socket handed from
// a listener to a connections supervisor is never leaked, even if the
// message is dropped on the way.

#include <memory>

#include <caf/meta/type_name.hpp>

namespace ghostnet::transports {

class socket_handle {
public:
  socket_handle() = default;

  /// Takes ownership of `fd`.
  explicit socket_handle(int fd);

  /// The descriptor, still owned by this handle (-1 if none).
  [[nodiscard]] int get() const noexcept;

  /// Hands the descriptor to the caller; later copies see -1.
  [[nodiscard]] int take() noexcept;

  [[nodiscard]] explicit operator bool() const noexcept { return get() >= 0; }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, socket_handle&) {
    // Local only: a descriptor means nothing on another node.
    return f(caf::meta::type_name("socket_handle"));
  }

private:
  struct owner;
  std::shared_ptr<owner> owner_;
};

} // namespace ghostnet::transports
