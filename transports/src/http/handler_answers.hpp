#pragma once

// What the HTTP/1.1 and HTTP/2 layers both answer when a handler fails,
// the Date header they both send, and how they read files.

#include <cstdint>
#include <exception>
#include <string>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/transports/http/http_message.hpp"

namespace ghostnet::transports::http::detail {

/// Bytes of a file read per piece where it cannot be sent with sendfile
/// (TLS, HTTP/2): four full TLS records.
constexpr size_t file_read_piece = 64 * 1024;

/// The Date header's value, formatted once per second per thread. Wall-clock
/// time is the one clock a layer reads itself: it is a header value, not a
/// deadline (deadlines come from lower_layer::now()).
[[nodiscard]] const std::string& date_now();

/// A handler (or an upload's reader) threw: a 500 for this request only,
/// logged with the peer and the target.
[[nodiscard]] http_response handler_threw(const std::string& remote, uint64_t conn,
                                          const http_request& req,
                                          const std::exception& ex);

/// A handler actor did not answer: 504 after `handler_timeout`, 503 if it
/// is gone, 500 for its own error; logged.
[[nodiscard]] http_response handler_failed(const std::string& remote, uint64_t conn,
                                           const std::string& target,
                                           const caf::error& err,
                                           caf::timespan handler_timeout);

} // namespace ghostnet::transports::http::detail
