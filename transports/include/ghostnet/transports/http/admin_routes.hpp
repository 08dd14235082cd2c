#pragma once

// The node's operator API over HTTP: what an operator changes at run time
// without a restart. Guarded: from loopback peers only unless a bearer
// token is configured, then only with it (docs/http.md, "Admin API").
//
//   GET /admin/log-level          -> "info\n"
//   PUT /admin/log-level  (debug) -> "debug\n"; 400 for a level that is none

#include <string>

#include <caf/error.hpp>

#include "ghostnet/transports/http/http_router.hpp"

namespace ghostnet::transports::http {

struct admin_options {
  /// Empty (default): requests are served only from loopback peers
  /// (127.0.0.0/8, ::1), others get 403. Set: every request must carry
  /// `Authorization: Bearer <token>` (401 otherwise, nothing changes),
  /// from any peer.
  std::string bearer_token;
  /// Where the routes go: `<prefix>log-level`. Default "/admin/".
  std::string prefix = "/admin/";
};

/// The guard of admin_options for any handler: 0 if `req` may act, or the
/// status that refuses it (401 or 403), with `res` filled in.
[[nodiscard]] unsigned admin_refusal(const admin_options& opts, const http_request& req,
                                     http_response& res);

[[nodiscard]] caf::error add_admin_routes(http_router& router, admin_options opts = {});

} // namespace ghostnet::transports::http
