#include "ghostnet/transports/http/url.hpp"

#include <algorithm>
#include <cctype>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports::http {

namespace {

caf::error bad_url(std::string_view text, std::string why) {
  return make_error(errc::invalid_address, "parse url", std::string{text}, 0,
                    std::move(why));
}

uint16_t default_port(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

} // namespace

std::string url::authority() const {
  auto out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != default_port(scheme))
    out += ":" + std::to_string(port);
  return out;
}

std::string url::to_string() const {
  return scheme + "://" + authority() + target;
}

std::string url::origin() const {
  return scheme + "://" + authority();
}

caf::expected<url> parse_url(std::string_view text) {
  for (auto c : text)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad_url(text, "contains a space or a control character");
  auto sep = text.find("://");
  if (sep == std::string_view::npos)
    return bad_url(text, "not an absolute URL (no scheme://)");
  url out;
  out.scheme = std::string{text.substr(0, sep)};
  std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (out.scheme != "http" && out.scheme != "https")
    return bad_url(text, "scheme must be http or https, got " + out.scheme);
  auto rest = text.substr(sep + 3);
  auto end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, end);
  auto tail = end == std::string_view::npos ? std::string_view{}
                                            : rest.substr(end);
  if (authority.find('@') != std::string_view::npos)
    return bad_url(text, "user info in a URL is not accepted");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return bad_url(text, "IPv6 address without ']'");
    out.host = std::string{authority.substr(1, close - 1)};
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return bad_url(text, "garbage after the IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    out.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos)
      port_text = authority.substr(colon + 1);
  }
  if (out.host.empty())
    return bad_url(text, "no host");
  out.port = default_port(out.scheme);
  if (!port_text.empty()) {
    unsigned long port = 0;
    for (auto c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535)
        return bad_url(text, "port is not a number in 1..65535");
      port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port == 0 || port > 65535)
      return bad_url(text, "port is not a number in 1..65535");
    out.port = static_cast<uint16_t>(port);
  }
  auto fragment = tail.find('#');
  tail = tail.substr(0, fragment);
  if (tail.empty() || tail.front() == '?')
    out.target = "/" + std::string{tail};
  else
    out.target = std::string{tail};
  return out;
}

caf::expected<url> resolve_location(const url& base,
                                    std::string_view location) {
  if (location.empty())
    return bad_url(location, "empty Location");
  if (location.find("://") != std::string_view::npos)
    return parse_url(location);
  if (location.size() >= 2 && location.substr(0, 2) == "//")
    return parse_url(base.scheme + ":" + std::string{location});
  std::string target;
  if (location.front() == '/') {
    target = std::string{location};
  } else {
    auto path = base.target.substr(0, base.target.find('?'));
    target = path.substr(0, path.rfind('/') + 1) + std::string{location};
  }
  return parse_url(base.origin() + target);
}

} // namespace ghostnet::transports::http
