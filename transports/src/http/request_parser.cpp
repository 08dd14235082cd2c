#include "request_parser.hpp"

#include <algorithm>
#include <cctype>

#include <boost/beast/http/error.hpp>

namespace ghostnet::transports::http::detail {

namespace bhttp = boost::beast::http;

namespace {

/// The body limit of an upload route (0 in the options: none).
std::uint64_t upload_limit(const http_server_options& opts) {
  return opts.max_upload == 0 ? UINT64_MAX : opts.max_upload;
}

} // namespace

request_parser::request_parser(const http_server_options& opts) : opts_(opts) {
  // Beast's limit covers the request line and the fields together; ours
  // are finer (414 for the target, 431 for the fields), checked below.
  header_limit(static_cast<std::uint32_t>(
    std::min<size_t>(opts.max_target + opts.max_header_bytes + 1024,
                     UINT32_MAX)));
  // Beast checks a Content-Length against its limit as the header ends,
  // before the layer knows whether the route streams the body: Beast gets
  // the larger of the two limits, and take_body applies the right one.
  body_limit(std::max<std::uint64_t>(opts.max_body, upload_limit(opts)));
  limit_ = opts.max_body;
  eager(false); // stop after the header: 100-continue, the body deadline
}

void request_parser::refuse(unsigned status, std::string reason,
                            error_code& ec) {
  refused = status;
  why = std::move(reason);
  ec = bhttp::error::bad_value;
}

void request_parser::on_request_impl(bhttp::verb, string_view method,
                                     string_view target, int version,
                                     error_code& ec) {
  request_line_done = true;
  if (target.size() > opts_.max_target)
    return refuse(414, "the request target is longer than "
                         + std::to_string(opts_.max_target) + " bytes",
                  ec);
  if (version != 10 && version != 11)
    return refuse(505, "only HTTP/1.0 and HTTP/1.1 are served", ec);
  request.method.assign(method.data(), method.size());
  request.target.assign(target.data(), target.size());
  auto t = std::string_view{request.target};
  auto q = t.find('?');
  request.path = std::string{t.substr(0, q)};
  if (q != std::string_view::npos)
    request.query = std::string{t.substr(q + 1)};
  request.version = static_cast<unsigned>(version);
  if (request.path.empty() || request.path.front() != '/')
    return refuse(400, "the request target must be an absolute path", ec);
}

void request_parser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = bhttp::error::bad_version; // never called for a request parser
}

void request_parser::on_field_impl(bhttp::field f, string_view name,
                                   string_view value, error_code& ec) {
  header_bytes_ += name.size() + value.size() + 4; // ": " and CRLF
  if (++header_count_ > opts_.max_header_count)
    return refuse(431, "more than " + std::to_string(opts_.max_header_count)
                         + " header fields",
                  ec);
  if (header_bytes_ > opts_.max_header_bytes)
    return refuse(431, "header fields exceed "
                         + std::to_string(opts_.max_header_bytes) + " bytes",
                  ec);
  std::string_view v{value.data(), value.size()};
  switch (f) {
    case bhttp::field::content_length:
      // Beast takes equal duplicates; a second one is a smuggling vector.
      if (++content_lengths_ > 1)
        return refuse(400, "more than one Content-Length", ec);
      break;
    case bhttp::field::transfer_encoding:
      if (!iequals(trim_ows(v), "chunked"))
        return refuse(501, "Transfer-Encoding other than chunked", ec);
      break;
    case bhttp::field::expect:
      if (!iequals(trim_ows(v), "100-continue"))
        return refuse(417, "unknown expectation", ec);
      expect_continue = true;
      break;
    default:
      break;
  }
  request.headers.add(std::string{name.data(), name.size()}, std::string{v});
}

void request_parser::on_header_impl(error_code&) {
  // nop: the layer looks at is_header_done()
}

void request_parser::stream_body_to(http_body_reader* reader) {
  reader_ = reader;
  limit_ = upload_limit(opts_);
}

const char* request_parser::length_refused() {
  auto n = content_length();
  if (!n || *n <= limit_)
    return nullptr;
  refused = 413;
  why = "body larger than " + std::to_string(limit_) + " bytes";
  return why.c_str();
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& n,
                                       error_code&) {
  if (n && reader_ == nullptr)
    request.body.reserve(static_cast<size_t>(*n));
}

std::size_t request_parser::take_body(string_view piece, error_code& ec) {
  if (piece.size() > limit_ - body_bytes_) {
    refuse(413, "body larger than " + std::to_string(limit_) + " bytes", ec);
    return 0;
  }
  body_bytes_ += piece.size();
  if (reader_ == nullptr) {
    request.body.append(piece.data(), piece.size());
    return piece.size();
  }
  if (auto status = reader_->on_body({piece.data(), piece.size()}); status != 0) {
    refuse(status, "refused by the upload's reader", ec);
    return 0;
  }
  return piece.size();
}

std::size_t request_parser::on_body_impl(string_view body, error_code& ec) {
  return take_body(body, ec);
}

void request_parser::on_chunk_header_impl(std::uint64_t, string_view,
                                          error_code&) {
  // nop: the body limit covers the decoded size
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view body,
                                               error_code& ec) {
  return take_body(body, ec);
}

void request_parser::on_finish_impl(error_code&) {
  // nop
}

unsigned status_of(const boost::beast::error_code& ec,
                   bool request_line_done) noexcept {
  if (ec == bhttp::error::header_limit)
    return request_line_done ? 431 : 414;
  if (ec == bhttp::error::body_limit)
    return 413;
  if (ec == bhttp::error::bad_version)
    return 505;
  return 400;
}

const char* bad_line_ending(std::string_view header, bool complete) noexcept {
  for (size_t i = 0; i < header.size(); ++i) {
    char c = header[i];
    if (c == '\r' && i + 1 >= header.size())
      return complete ? "a CR without LF in the header" : nullptr;
    if (c == '\r' && header[i + 1] != '\n')
      return "a CR without LF in the header";
    if (c == '\n') {
      if (i == 0 || header[i - 1] != '\r')
        return "an LF without CR in the header";
      if (i + 1 < header.size() && (header[i + 1] == ' ' || header[i + 1] == '\t'))
        return "a folded header line (obs-fold)";
    }
  }
  return nullptr;
}

} // namespace ghostnet::transports::http::detail
