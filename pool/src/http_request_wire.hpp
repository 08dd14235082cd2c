#pragma once

// The HTTP client's side of the wire format of a request: the header block
// it writes, the checks a request passes before any connection is asked
// for, and the small rules (idempotent methods, redirect statuses) its
// retries and redirects follow. Pure functions, no actor.

#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "ghostnet/pool/http_client.hpp"
#include "ghostnet/transports/http/http_message.hpp"
#include "ghostnet/transports/http/url.hpp"

namespace ghostnet::pool::detail {

/// An HTTP token (RFC 9110 5.6.2): a method or a header name.
[[nodiscard]] bool is_token(std::string_view s);

/// ASCII case-insensitive equality (header names).
using transports::http::iequals;

/// Methods that may be sent twice (the keep-alive race retry).
[[nodiscard]] bool idempotent(std::string_view method);

/// 301, 302, 303, 307, 308.
[[nodiscard]] bool is_redirect(unsigned status);

/// The request as it goes out: the header block (Host, User-Agent unless
/// the request has one, Content-Length or, with a body_source,
/// Transfer-Encoding: chunked) and the body.
[[nodiscard]] std::string serialize(const http_client_request& req,
                                    const transports::http::url& target,
                                    const std::string& user_agent);

/// errc::invalid_configuration (operation "http request") for a bad method
/// or header, a negative timeout, a body together with a body_source.
[[nodiscard]] caf::error check_request(const http_client_request& req);

} // namespace ghostnet::pool::detail
