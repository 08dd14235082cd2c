#pragma once

// Routes by method and path to handlers. Patterns: exact ("/hello"),
// parameters ("/users/{id}", one segment each, into request.params) and
// prefixes ("/static/*", anything below). The most specific route wins:
// exact, then parameters, then the longest prefix. A path that matches with
// another method answers 405 with an Allow header; no match is 404. A HEAD
// request runs the GET route and sends only its headers.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "ghostnet/transports/http/http_message.hpp"
#include "ghostnet/transports/websocket/websocket_handler.hpp"
#include "ghostnet/transports/websocket/websocket_options.hpp"

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

/// Takes a request body piece by piece as it arrives, so that a large
/// upload never sits in memory: made by an upload route's handler once the
/// header is in. It runs in the connection, like http_handler: reading goes
/// on at its pace (a slow reader slows the peer through TCP, nothing piles
/// up in between).
class http_body_reader {
public:
  virtual ~http_body_reader() = default;

  /// The next piece of the decoded body (chunked or not). Returns 0 to go
  /// on, or a status (e.g. 413, 507) that refuses the request: it is
  /// answered with that status and the connection closes, the rest of the
  /// body unread.
  virtual unsigned on_body(std::string_view piece) = 0;

  /// The body is complete: fill in the response.
  virtual void on_end(http_request& req, http_response& res) = 0;
};

/// An upload route's handler: called with the request's header (`body`
/// stays empty); returns the reader for the body, or null to answer `res`
/// at once (e.g. 401, 415) and close without reading the body. The
/// server's max_upload bounds the body instead of max_body.
using http_upload_handler = std::function<std::unique_ptr<http_body_reader>(
  http_request&, http_response&)>;

/// A route that upgrades to WebSocket (RFC 6455): a GET with the upgrade
/// headers gets a 101 and the connection switches to the WebSocket layer,
/// whose handler `make_handler` makes. A request without them: 426; a bad
/// key: 400; another version than 13: 426 with Sec-WebSocket-Version.
struct websocket_route {
  ws::websocket_options options;
  ws::websocket_handler_factory make_handler;
  /// Optional: sees the upgrade request (Origin, a token, the path's
  /// params) before the handshake; false refuses it with `res` (e.g. 403),
  /// and the connection closes.
  std::function<bool(const http_request& req, http_response& res)> accept;
};

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

  /// Adds a route whose request bodies are streamed to a reader.
  [[nodiscard]] caf::error add_upload(std::string method, std::string pattern,
                                      http_upload_handler handler);

  /// Adds a WebSocket route (method GET); errc::invalid_configuration also
  /// for an empty handler factory or options that fail ws::validate.
  [[nodiscard]] caf::error add_websocket(std::string pattern,
                                         websocket_route route);

  /// The WebSocket route for `req` (its params filled in), or null.
  [[nodiscard]] std::shared_ptr<const websocket_route>
  websocket_for(http_request& req) const;

  /// The upload handler of the route for `req` (its params filled in), or
  /// null if that route is not an upload route (or there is none).
  [[nodiscard]] const http_upload_handler*
  upload_route(http_request& req) const;

  /// Fills in `res` for `req` (its params included): the handler's answer,
  /// or 404 / 405. For a route served by an actor, returns the actor and
  /// leaves `res` alone: the caller asks it.
  [[nodiscard]] http_handler_actor dispatch(http_request& req,
                                            http_response& res) const;

private:
  struct route {
    std::string method;
    std::string pattern;               ///< as added, e.g. "/users/{id}"
    std::vector<std::string> segments; ///< "{x}" segments are parameters
    bool prefix = false;               ///< pattern ended in "/*"
    http_handler handler;       ///< or
    http_handler_actor actor;   ///< or
    http_upload_handler upload; ///< one of the four
    std::shared_ptr<const websocket_route> websocket; ///< or
  };

  /// The best route for `req` (params filled in), or null after filling in
  /// the 404/405 answer in `res`.
  const route* find(http_request& req, http_response& res) const;

  caf::error add_route(std::string method, std::string pattern, route r);

  /// How well `r` matches `path` (0: not at all; higher is more specific).
  static size_t score(const route& r, const std::vector<std::string_view>& path);

  std::vector<route> routes_;
};

} // namespace ghostnet::transports::http
