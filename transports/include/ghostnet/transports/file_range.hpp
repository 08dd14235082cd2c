#pragma once

// A byte range of an open file, as a response body: the connection sends it
// with sendfile(2) where it can (plain TCP: the kernel copies page cache to
// socket, nothing passes through user space), a layer that must see every
// byte (TLS) reads it piece by piece instead (read_file_piece).

#include <cstdint>
#include <memory>
#include <string>

#include <caf/error.hpp>

namespace ghostnet::transports {

/// An open descriptor, closed with the last reference: the response, the
/// connection's send queue and a reader may all hold it.
class file_handle {
public:
  /// Takes ownership of `fd`.
  explicit file_handle(int fd) noexcept : fd_(fd) {
    // nop
  }
  ~file_handle();
  file_handle(const file_handle&) = delete;
  file_handle& operator=(const file_handle&) = delete;

  [[nodiscard]] int fd() const noexcept {
    return fd_;
  }

private:
  int fd_;
};

struct file_range {
  std::shared_ptr<const file_handle> file;
  uint64_t offset = 0;
  uint64_t length = 0;
};

/// Appends up to `max` bytes from the start of `range` to `out` and
/// advances the range past them. An error (errc::io_error, also for a file
/// that ends before its length) means the body cannot be completed.
[[nodiscard]] caf::error read_file_piece(file_range& range, size_t max,
                                         std::string& out);

} // namespace ghostnet::transports
