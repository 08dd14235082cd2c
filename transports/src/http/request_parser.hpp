#pragma once

// One HTTP/1.1 request, parsed by Beast's sans-IO basic_parser: fields and
// body go into an http_request; the checks Beast does not make (target
// length, header bytes and count, duplicate Content-Length, codings other
// than chunked, Expect) turn into the status the server answers.

#include <boost/beast/http/basic_parser.hpp>

#include "ghostnet/transports/http/http_message.hpp"
#include "ghostnet/transports/http/http_router.hpp"
#include "ghostnet/transports/http/http_server.hpp"

namespace ghostnet::transports::http::detail {

class request_parser final : public boost::beast::http::basic_parser<true> {
public:
  explicit request_parser(const http_server_options& opts);

  http_request request;

  /// Set when a check failed: the status to answer and why.
  unsigned refused = 0;
  std::string why;

  bool expect_continue = false;
  bool request_line_done = false;

  /// From now on (after the header, before the body) the body goes to
  /// `reader` piece by piece, bounded by max_upload instead of max_body,
  /// instead of into request.body.
  void stream_body_to(http_body_reader* reader);

  /// After the header: a Content-Length above this request's limit sets
  /// `refused` (413) and returns why; null if the length is fine.
  const char* length_refused();

private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void refuse(unsigned status, std::string reason, error_code& ec);

  void on_request_impl(boost::beast::http::verb, string_view method,
                       string_view target, int version,
                       error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(boost::beast::http::field f, string_view name,
                     string_view value, error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions,
                            error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body,
                                 error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  const http_server_options& opts_;
  size_t header_bytes_ = 0;
  size_t header_count_ = 0;
  size_t content_lengths_ = 0;
  http_body_reader* reader_ = nullptr;
  std::uint64_t limit_;          ///< of this request's body
  std::uint64_t body_bytes_ = 0; ///< of it so far

  /// The body's next piece: to the reader, or into request.body.
  std::size_t take_body(string_view piece, error_code& ec);
};

/// The status for a Beast parse error (`refused` takes precedence).
[[nodiscard]] unsigned status_of(const boost::beast::error_code& ec,
                                 bool request_line_done) noexcept;

/// Checks the line ends of a header block (all of it if `complete`, else
/// what arrived so far: a CR at its very end may still get its LF): a CR
/// not followed by LF, an LF without CR, or a line that starts with SP/HT
/// (obs-fold) are refused (request smuggling). Returns why, or null.
[[nodiscard]] const char* bad_line_ending(std::string_view header,
                                          bool complete) noexcept;

} // namespace ghostnet::transports::http::detail
