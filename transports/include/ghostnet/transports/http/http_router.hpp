#pragma once

// Routes by method and path to handlers. Patterns: exact ("/hello"),
// parameters ("/users/{id}", one segment each, into request.params) and
// prefixes ("/static/*", anything below). The most specific route wins:
// exact, then parameters, then the longest prefix. A path that matches with
// another method answers 405 with an Allow header; no match is 404. A HEAD
// request runs the GET route and sends only its headers.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/transports/http/http_message.hpp"

namespace ghostnet::transports::http {

/// Runs inside the connection (no actor hop): fill in the response. An
/// exception becomes a 500 for this request.
using http_handler = std::function<void(http_request&, http_response&)>;

/// A handler actor: the connection asks it with the request (its params
/// filled in) and writes the response it answers, in order with the other
/// responses of the connection. No answer within the server's
/// handler_timeout: 504; the actor gone: 503; an error: 500. Its state is
/// its own: slow work, a database call, a supervised worker pool.
using http_handler_actor = caf::typed_actor<
  caf::replies_to<http_request>::with<http_response>>;

class http_router {
public:
  /// Adds a route; errc::invalid_configuration for a malformed pattern
  /// (empty, not starting with '/', '*' not at the end, an empty `{}`).
  [[nodiscard]] caf::error add(std::string method, std::string pattern,
                               http_handler handler);

  /// Adds a route served by an actor; also errc::invalid_configuration for
  /// a null actor.
  [[nodiscard]] caf::error add(std::string method, std::string pattern,
                               http_handler_actor handler);

  /// Fills in `res` for `req` (its params included): the handler's answer,
  /// or 404 / 405. For a route served by an actor, returns the actor and
  /// leaves `res` alone: the caller asks it.
  [[nodiscard]] http_handler_actor dispatch(http_request& req,
                                            http_response& res) const;

private:
  struct route {
    std::string method;
    std::vector<std::string> segments; ///< "{x}" segments are parameters
    bool prefix = false;               ///< pattern ended in "/*"
    http_handler handler;     ///< or
    http_handler_actor actor; ///< one of the two
  };

  caf::error add_route(std::string method, std::string pattern, route r);

  /// How well `r` matches `path` (0: not at all; higher is more specific).
  static size_t score(const route& r, const std::vector<std::string_view>& path);

  std::vector<route> routes_;
};

} // namespace ghostnet::transports::http
