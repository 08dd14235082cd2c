#include "ghostnet/transports/http/admin_routes.hpp"

#include <memory>

#include "ghostnet/actors/log.hpp"

namespace ghostnet::transports::http {

namespace {

bool loopback(const endpoint& ep) {
  return ep.host == "::1" || ep.host == "localhost" || ep.host.rfind("127.", 0) == 0
         || ep.host.rfind("::ffff:127.", 0) == 0;
}

/// Constant time in the token's length: the comparison does not tell how
/// much of a guess was right.
bool same_token(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

} // namespace

unsigned admin_refusal(const admin_options& opts, const http_request& req,
                       http_response& res) {
  if (opts.bearer_token.empty()) {
    if (loopback(req.remote))
      return 0;
    res.status = 403;
    res.body = "the admin API answers loopback peers only (configure a token)\n";
    return res.status;
  }
  auto auth = req.headers.get("Authorization");
  constexpr std::string_view scheme = "Bearer ";
  if (auth.size() > scheme.size() && iequals(auth.substr(0, scheme.size()), scheme)
      && same_token(trim_ows(auth.substr(scheme.size())), opts.bearer_token))
    return 0;
  res.status = 401;
  res.headers.set("WWW-Authenticate", "Bearer");
  res.body = "a bearer token is required\n";
  return res.status;
}

caf::error add_admin_routes(http_router& router, admin_options opts) {
  auto shared = std::make_shared<const admin_options>(std::move(opts));
  auto path = shared->prefix + "log-level";
  auto text = [](http_response& res, std::string body) {
    res.headers.set("Content-Type", "text/plain; charset=utf-8");
    res.body = std::move(body);
  };
  if (auto err = router.add("GET", path, [shared, text](http_request& req, http_response& res) {
        if (admin_refusal(*shared, req, res) == 0)
          text(res, std::string{log::to_string(log::min_level())} + "\n");
      }))
    return err;
  return router.add("PUT", path, [shared, text](http_request& req, http_response& res) {
    if (admin_refusal(*shared, req, res) != 0)
      return;
    auto lvl = log::parse_level(trim_ows(req.body.substr(0, req.body.find('\n'))));
    if (!lvl) {
      res.status = 400;
      text(res, "not a level: expected trace, debug, info, warn, error or off\n");
      return;
    }
    auto before = log::min_level();
    log::set_min_level(*lvl);
    // At warn, so that the change shows whatever the old and new levels.
    log::warn("admin", "log_level_changed",
              {log::kv("from", log::to_string(before)), log::kv("to", log::to_string(*lvl)),
               log::kv("peer", req.remote.to_string())});
    text(res, std::string{log::to_string(*lvl)} + "\n");
  });
}

} // namespace ghostnet::transports::http
