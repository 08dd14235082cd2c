#pragma once

// The client side of HTTP/1.1 as a sans-IO object: feed it the bytes of a
// connection, it tells when a response is complete. Beast's basic_parser
// does the parsing (Content-Length, chunked, bodies read until EOF, HEAD,
// 204/304); interim 1xx responses are skipped; limits and the checks a
// client needs against a hostile server (line ends, sizes, bytes beyond the
// response) are made here. No socket, no clock: tested on byte arrays split
// at every offset.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "ghostnet/transports/http/http_message.hpp"

namespace ghostnet::transports::http {

struct response_limits {
  /// Status line and header fields of one response; default 64 KiB.
  size_t max_header_bytes = 64 * 1024;
  /// Body after chunked decoding; default 64 MiB.
  size_t max_body = 64 * 1024 * 1024;
};

/// A response as the client received it: the body whole and decoded.
struct received_response {
  unsigned status = 0;
  std::string reason;
  unsigned version = 11; ///< 10 or 11
  http_fields headers;
  std::string body;
};

class response_parser {
public:
  explicit response_parser(response_limits limits = {});
  ~response_parser();
  response_parser(response_parser&&) noexcept;
  response_parser& operator=(response_parser&&) noexcept;

  /// Starts on the next response; `head_request`: it has no body whatever
  /// its headers say. Bytes fed before and not yet used are kept.
  void reset(bool head_request);

  /// Takes bytes from the connection. Errors (errc::protocol_error, the
  /// detail says what was wrong) leave the connection unusable.
  caf::error feed(std::string_view bytes);

  /// The peer closed: ends a body that runs until EOF; anything else
  /// incomplete is an error (errc::transport_closed).
  caf::error feed_eof();

  /// The status line and headers of the final (non-1xx) response are in.
  [[nodiscard]] bool header_done() const noexcept;

  /// The response is complete.
  [[nodiscard]] bool done() const noexcept;

  /// True once any byte of a response arrived.
  [[nodiscard]] bool started() const noexcept;

  /// Complete, and the connection may carry the next request: HTTP/1.1
  /// without `Connection: close` (or 1.0 with keep-alive), a delimited
  /// body, and nothing received beyond the response.
  [[nodiscard]] bool reusable() const noexcept;

  /// The response (valid once header_done; the body once done).
  [[nodiscard]] received_response& response() noexcept;

  /// Limits from the next reset() on (e.g. no max_body for a body that is
  /// streamed on as it arrives).
  void set_limits(response_limits limits);

  /// The body bytes decoded so far, taken out (a streamed body: the body
  /// never piles up here).
  [[nodiscard]] std::string take_body();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace ghostnet::transports::http
