#pragma once

// Files under a root directory, served by the HTTP/1.1 server: ETag and
// Last-Modified, If-None-Match (304), single byte ranges (206/416),
// content types by extension, and nothing outside the root (`..` also
// percent-encoded, symlinks that leave it). Large files are streamed in
// pieces as the socket drains (docs/http.md; sendfile(2) is not in yet).

#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "ghostnet/transports/http/http_router.hpp"

namespace ghostnet::transports::http {

struct static_files_options {
  std::string root;                  ///< the directory served (required)
  std::string index = "index.html";  ///< served for a directory; empty: none
  size_t piece_size = 64 * 1024;     ///< bytes read per piece of a body
};

/// Adds GET routes `prefix` + "*" (HEAD included, as for every GET route)
/// serving `opts.root`. `prefix` must start and end with '/'.
/// errc::invalid_configuration if the root is not a readable directory.
[[nodiscard]] caf::error add_static_files(http_router& router,
                                          std::string prefix,
                                          static_files_options opts);

/// The Content-Type for a file name by its extension
/// ("application/octet-stream" if unknown).
[[nodiscard]] const char* content_type_of(std::string_view name) noexcept;

} // namespace ghostnet::transports::http
