#include "ghostnet/transports/http/http_router.hpp"

#include <algorithm>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports::http {

namespace {

/// "/a/b/" → {"a", "b", ""}; "/" → {""}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> result;
  path.remove_prefix(1); // the leading '/'
  for (;;) {
    auto slash = path.find('/');
    result.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      return result;
    path.remove_prefix(slash + 1);
  }
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

} // namespace

caf::error http_router::add(std::string method, std::string pattern,
                            http_handler handler) {
  if (!handler)
    return config_error("add route", "", "handler", "must not be empty");
  route r;
  r.handler = std::move(handler);
  return add_route(std::move(method), std::move(pattern), std::move(r));
}

caf::error http_router::add(std::string method, std::string pattern,
                            http_handler_actor handler) {
  if (!handler)
    return config_error("add route", "", "handler", "must not be a null actor");
  route r;
  r.actor = std::move(handler);
  return add_route(std::move(method), std::move(pattern), std::move(r));
}

caf::error http_router::add_upload(std::string method, std::string pattern,
                                   http_upload_handler handler) {
  if (!handler)
    return config_error("add route", "", "handler", "must not be empty");
  route r;
  r.upload = std::move(handler);
  return add_route(std::move(method), std::move(pattern), std::move(r));
}

caf::error http_router::add_websocket(std::string pattern,
                                      websocket_route route) {
  if (!route.make_handler)
    return config_error("add route", "", "make_handler", "must not be empty");
  if (auto err = ws::validate(route.options))
    return err;
  http_router::route r;
  r.websocket = std::make_shared<const websocket_route>(std::move(route));
  return add_route("GET", std::move(pattern), std::move(r));
}

std::shared_ptr<const websocket_route>
http_router::websocket_for(http_request& req) const {
  http_response ignored;
  auto r = find(req, ignored);
  return r != nullptr ? r->websocket : nullptr;
}

caf::error http_router::add_route(std::string method, std::string pattern,
                                  route r) {
  auto bad = [&](const char* why) {
    return config_error("add route", "", "pattern", "\"" + pattern + "\": " + why);
  };
  if (method.empty())
    return config_error("add route", "", "method", "must not be empty");
  if (pattern.empty() || pattern.front() != '/')
    return bad("must start with '/'");
  r.method = std::move(method);
  std::string_view p = pattern;
  if (p.size() >= 2 && p.substr(p.size() - 2) == "/*") {
    r.prefix = true;
    p.remove_suffix(1); // keep the '/': "/static/" matches below it
  }
  if (p.find('*') != std::string_view::npos)
    return bad("'*' only as the last segment (\"/prefix/*\")");
  for (auto seg : split_path(p)) {
    if (seg == "{}")
      return bad("a parameter needs a name (\"{id}\")");
    r.segments.emplace_back(seg);
  }
  if (r.prefix)
    r.segments.pop_back(); // the empty segment after the final '/'
  r.pattern = pattern;
  routes_.push_back(std::move(r));
  return caf::none;
}

size_t http_router::score(const route& r,
                          const std::vector<std::string_view>& path) {
  if (r.prefix ? path.size() < r.segments.size()
               : path.size() != r.segments.size())
    return 0;
  size_t params = 0;
  for (size_t i = 0; i < r.segments.size(); ++i) {
    if (is_param(r.segments[i])) {
      if (path[i].empty())
        return 0;
      ++params;
    } else if (r.segments[i] != path[i]) {
      return 0;
    }
  }
  // Exact routes beat parameter routes beat prefixes; longer prefixes win.
  if (r.prefix)
    return 1 + r.segments.size();
  return params == 0 ? 1'000'000 : 500'000 - params;
}

const http_upload_handler* http_router::upload_route(http_request& req) const {
  http_response ignored;
  auto r = find(req, ignored);
  return r != nullptr && r->upload ? &r->upload : nullptr;
}

http_handler_actor http_router::dispatch(http_request& req,
                                         http_response& res) const {
  auto best = find(req, res);
  if (best == nullptr)
    return {};
  if (best->actor)
    return best->actor;
  if (best->websocket) {
    // A WebSocket route without the upgrade headers (the server checked
    // them before dispatching).
    res.status = 426;
    res.headers.set("Upgrade", "websocket");
    res.headers.set("Connection", "Upgrade");
    res.body = "this route speaks WebSocket: upgrade required\n";
    return {};
  }
  if (best->upload) {
    // Upload routes are served by the server as the body arrives.
    res.status = 500;
    res.body = "upload route dispatched without its body reader\n";
    return {};
  }
  best->handler(req, res);
  return {};
}

const http_router::route* http_router::find(http_request& req,
                                            http_response& res) const {
  auto path = split_path(req.path.empty() ? std::string_view{"/"}
                                          : std::string_view{req.path});
  const route* best = nullptr;
  size_t best_score = 0;
  std::vector<std::string> allowed;
  auto method = req.method == "HEAD" ? std::string_view{"GET"}
                                     : std::string_view{req.method};
  for (auto& r : routes_) {
    auto s = score(r, path);
    if (s == 0)
      continue;
    if (r.method != method && r.method != req.method) {
      if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end())
        allowed.push_back(r.method);
      continue;
    }
    if (s > best_score) {
      best = &r;
      best_score = s;
    }
  }
  if (best == nullptr) {
    if (allowed.empty()) {
      res.status = 404;
      res.body = "not found\n";
      return nullptr;
    }
    std::string allow;
    for (auto& m : allowed)
      allow += (allow.empty() ? "" : ", ") + m;
    res.status = 405;
    res.headers.set("Allow", allow);
    res.body = "method not allowed\n";
    return nullptr;
  }
  req.route = best->pattern;
  for (size_t i = 0; i < best->segments.size(); ++i)
    if (is_param(best->segments[i])) {
      auto& seg = best->segments[i];
      req.params.emplace(seg.substr(1, seg.size() - 2), std::string{path[i]});
    }
  return best;
}

} // namespace ghostnet::transports::http
