#include "ghostnet/transports/http/response_parser.hpp"

#include <optional>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "ghostnet/actors/error.hpp"
#include "request_parser.hpp" // bad_line_ending: the same rules both ways

namespace ghostnet::transports::http {

namespace {

namespace bhttp = boost::beast::http;
using error_code = boost::beast::error_code;
using string_view = boost::beast::string_view;

caf::error refused(std::string detail) {
  return make_error(errc::protocol_error, "http response", "", 0,
                    std::move(detail));
}

/// One response. Beast stops at the end of it, so bytes beyond it are
/// left for the caller to see.
class beast_parser final : public bhttp::basic_parser<false> {
public:
  beast_parser(received_response& out, const response_limits& limits)
    : out_(out), limits_(limits) {
    header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(limits.max_header_bytes, UINT32_MAX)));
    body_limit(limits.max_body);
  }

  std::string why; ///< set when a check here refused the response

private:
  void on_request_impl(bhttp::verb, string_view, string_view, int,
                       error_code& ec) override {
    ec = bhttp::error::bad_method; // never called for a response parser
  }

  void on_response_impl(int status, string_view reason, int version,
                        error_code& ec) override {
    if (version != 10 && version != 11) {
      why = "HTTP version " + std::to_string(version / 10) + "."
            + std::to_string(version % 10) + " is not HTTP/1.x";
      ec = bhttp::error::bad_version;
      return;
    }
    out_.status = static_cast<unsigned>(status);
    out_.reason = std::string{reason};
    out_.version = static_cast<unsigned>(version);
  }

  void on_field_impl(bhttp::field f, string_view name, string_view value,
                     error_code& ec) override {
    if (f == bhttp::field::content_length && ++content_lengths_ > 1) {
      why = "more than one Content-Length";
      ec = bhttp::error::bad_content_length;
      return;
    }
    out_.headers.add(std::string{name}, std::string{value});
  }

  void on_header_impl(error_code&) override {
    // nop
  }

  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         error_code&) override {
    // nop: body_limit checks a declared length before the body arrives
  }

  std::size_t on_body_impl(string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, string_view,
                            error_code&) override {
    // nop
  }

  std::size_t on_chunk_body_impl(std::uint64_t, string_view body,
                                 error_code& ec) override {
    return on_body_impl(body, ec);
  }

  void on_finish_impl(error_code&) override {
    // nop
  }

  received_response& out_;
  const response_limits& limits_;
  size_t content_lengths_ = 0;
};

} // namespace

struct response_parser::impl {
  explicit impl(response_limits lim) : limits(lim) {
    // nop
  }

  void start() {
    response = received_response{};
    parser.emplace(response, limits);
    parser->eager(true); // header and body in one put when both are here
    if (head_request)
      parser->skip(true);
    header_checked = false;
  }

  /// Runs Beast over the buffered bytes until it needs more or the final
  /// response is complete.
  caf::error run() {
    while (!buffer.empty() && !finished) {
      if (!header_checked) {
        std::string_view text{buffer};
        auto end = text.find("\r\n\r\n");
        bool complete = end != std::string_view::npos;
        if (complete)
          text = text.substr(0, end + 4);
        if (auto why = detail::bad_line_ending(text, complete))
          return refused(why);
        if (!complete) {
          if (buffer.size() > limits.max_header_bytes)
            return refused("header larger than "
                           + std::to_string(limits.max_header_bytes)
                           + " bytes");
          // Beast gets the header whole: it consumes the status line
          // alone once it has it, and the checks here see the header from
          // its first byte.
          return caf::none;
        }
        header_checked = true;
      }
      error_code ec;
      auto n = parser->put(boost::asio::const_buffer{buffer.data(),
                                                     buffer.size()},
                           ec);
      buffer.erase(0, n);
      if (ec == bhttp::error::need_more)
        return caf::none;
      if (ec)
        return refused(parser->why.empty() ? ec.message() : parser->why);
      if (parser->is_done()) {
        if (response.status == 101)
          return refused("101 Switching Protocols to a request that asked "
                         "for no upgrade");
        if (response.status >= 100 && response.status < 200) {
          start(); // an interim response (100 Continue, 103): the final
          continue; // one follows
        }
        finished = true;
      } else if (n == 0) {
        return caf::none;
      }
    }
    return caf::none;
  }

  response_limits limits;
  received_response response;
  std::optional<beast_parser> parser;
  std::string buffer; ///< bytes Beast has not taken yet
  bool head_request = false;
  bool header_checked = false;
  bool finished = false;
  bool started = false;
  bool eof = false;
};

response_parser::response_parser(response_limits limits)
  : impl_(std::make_unique<impl>(limits)) {
  impl_->start();
}

response_parser::~response_parser() = default;
response_parser::response_parser(response_parser&&) noexcept = default;
response_parser&
response_parser::operator=(response_parser&&) noexcept = default;

void response_parser::reset(bool head_request) {
  impl_->head_request = head_request;
  impl_->finished = false;
  impl_->started = !impl_->buffer.empty();
  impl_->eof = false;
  impl_->start();
}

caf::error response_parser::feed(std::string_view bytes) {
  if (bytes.empty())
    return caf::none;
  impl_->started = true;
  impl_->buffer.append(bytes.data(), bytes.size());
  return impl_->run();
}

caf::error response_parser::feed_eof() {
  impl_->eof = true;
  if (impl_->finished)
    return caf::none;
  if (impl_->parser->is_header_done() && impl_->parser->need_eof()) {
    error_code ec;
    impl_->parser->put_eof(ec);
    if (!ec) {
      impl_->finished = true;
      return caf::none;
    }
  }
  return make_error(errc::transport_closed, "http response", "", 0,
                    impl_->started ? "the server closed mid-response"
                                   : "the server closed before answering");
}

bool response_parser::header_done() const noexcept {
  return impl_->parser->is_header_done() || impl_->finished;
}

bool response_parser::done() const noexcept {
  return impl_->finished;
}

bool response_parser::started() const noexcept {
  return impl_->started;
}

bool response_parser::reusable() const noexcept {
  return impl_->finished && !impl_->eof && impl_->buffer.empty()
         && impl_->parser->keep_alive() && !impl_->parser->need_eof();
}

received_response& response_parser::response() noexcept {
  return impl_->response;
}

void response_parser::set_limits(response_limits limits) {
  impl_->limits = limits;
}

std::string response_parser::take_body() {
  std::string result;
  result.swap(impl_->response.body);
  return result;
}

} // namespace ghostnet::transports::http
