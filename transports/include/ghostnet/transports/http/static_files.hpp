#pragma once

// Files under a root directory, served by the HTTP/1.1 server: ETag and
// Last-Modified, If-None-Match (304), single byte ranges (206/416),
// content types by extension, and nothing outside the root (`..` also
// percent-encoded, symlinks that leave it). Large files go out with
// sendfile(2) on plain TCP, in pieces where TLS must see the bytes
// (docs/http.md).

#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "ghostnet/transports/http/http_router.hpp"

namespace ghostnet::transports::http {

struct static_files_options {
  std::string root;                  ///< the directory served (required)
  std::string index = "index.html";  ///< served for a directory; empty: none
  /// Files (or ranges) up to this size are read into the response and
  /// leave with its header in one send(); larger ones are sent as a file
  /// range (http_response::file). Default 64 KiB.
  size_t piece_size = 64 * 1024;
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
