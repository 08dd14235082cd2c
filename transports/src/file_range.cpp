#include "ghostnet/transports/file_range.hpp"

#include <cerrno>
#include <unistd.h>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

file_handle::~file_handle() {
  if (fd_ >= 0)
    ::close(fd_);
}

caf::error read_file_piece(file_range& range, size_t max, std::string& out) {
  auto len = static_cast<size_t>(std::min<uint64_t>(max, range.length));
  auto start = out.size();
  out.resize(start + len);
  size_t got = 0;
  while (got < len) {
    auto n = ::pread(range.file->fd(), &out[start + got], len - got,
                     static_cast<off_t>(range.offset + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      out.resize(start + got);
      return make_os_error(errno, "file read", "");
    }
    if (n == 0) {
      out.resize(start + got);
      return make_error(errc::io_error, "file read", "", 0,
                        "the file ended before its length (truncated while "
                        "being sent?)");
    }
    got += static_cast<size_t>(n);
  }
  range.offset += len;
  range.length -= len;
  return caf::none;
}

} // namespace ghostnet::transports
