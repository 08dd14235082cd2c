#pragma once

// HTTP/1.1 requests and responses as the server's handlers see them: a
// request whole with its body, a response whole, streamed from a source or
// sent from a file (see docs/http.md).

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "ghostnet/transports/endpoint.hpp"
#include "ghostnet/transports/file_range.hpp"

namespace ghostnet::transports::http {

/// Header fields in the order they arrived (or are to be sent). Names
/// compare case-insensitively.
class http_fields {
public:
  /// The value of the first field called `name`, or empty.
  [[nodiscard]] std::string_view get(std::string_view name) const noexcept;

  [[nodiscard]] bool contains(std::string_view name) const noexcept;

  /// Appends a field (a second one of the same name is a second line).
  void add(std::string name, std::string value);

  /// Replaces every field called `name` by one with `value`.
  void set(std::string name, std::string value);

  void erase(std::string_view name);

  [[nodiscard]] size_t size() const noexcept {
    return fields_.size();
  }

  [[nodiscard]] auto begin() const noexcept {
    return fields_.begin();
  }

  [[nodiscard]] auto end() const noexcept {
    return fields_.end();
  }

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, http_fields& x) {
    return f(caf::meta::type_name("http_fields"), x.fields_);
  }

private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct http_request {
  std::string method;  ///< e.g. "GET"
  std::string target;  ///< the request target as sent, e.g. "/a?b=c"
  std::string path;    ///< the target without its query
  std::string query;   ///< after '?', empty if none
  unsigned version = 11; ///< 10, 11, or 20 (HTTP/2)
  http_fields headers;
  std::string body;    ///< chunked bodies arrive decoded
  /// Values of `{name}` segments of the route that matched.
  std::map<std::string, std::string, std::less<>> params;
  /// The pattern of the route that matched ("/users/{id}"), empty if none:
  /// what metrics and logs name a request by.
  std::string route;
  /// The peer's address (for access rules and logs).
  endpoint remote;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request& x) {
  return f(caf::meta::type_name("http_request"), x.method, x.target, x.path,
           x.query, x.version, x.headers, x.body, x.params, x.route, x.remote);
}

/// Produces a streamed response body piece by piece: appends the next
/// piece to `out` and returns true, or returns false at the end (appending
/// nothing more). Called only while the connection can take more, so a
/// large body is pulled as the socket drains and never sits in memory.
using http_body_source = std::function<bool(std::string& out)>;

struct http_response {
  unsigned status = 200;
  http_fields headers; ///< Content-Length, Date, Server are added
  std::string body;
  /// Set: the body is streamed from here instead (chunked for HTTP/1.1;
  /// for HTTP/1.0 delimited by closing the connection), `body` is ignored.
  http_body_source stream;
  /// With `stream`: the body's length, if known (a file): sent as
  /// Content-Length, the pieces as they are. The source must produce
  /// exactly this many bytes.
  std::optional<uint64_t> stream_length;
  /// Set: the body is this range of an open file (`body` and `stream` are
  /// ignored), sent with a Content-Length: by sendfile(2) on plain TCP,
  /// read piece by piece where a layer must see the bytes (TLS).
  std::optional<file_range> file;
};

/// A response in a message (from a handler actor): `stream` and `file` are
/// process-local, kept in a local message and not serialized: a handler
/// actor on another node answers with status, headers and body.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_response& x) {
  return f(caf::meta::type_name("http_response"), x.status, x.headers, x.body);
}

/// True if `a` and `b` are equal but for ASCII case, as header names and
/// tokens ("chunked", "websocket") compare.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

/// `x` without the spaces and tabs around it (a field value's optional
/// whitespace).
[[nodiscard]] std::string_view trim_ows(std::string_view x) noexcept;

/// `t` as an HTTP date (IMF-fixdate), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
[[nodiscard]] std::string http_date(std::time_t t);

/// An IMF-fixdate (as http_date writes it) as a time, or nothing if `text`
/// is not one.
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view text);

/// The reason phrase of `status`, e.g. "Not Found"; "Unknown" if none.
[[nodiscard]] const char* reason_phrase(unsigned status) noexcept;

} // namespace ghostnet::transports::http
