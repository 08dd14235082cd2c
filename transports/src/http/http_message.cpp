#include "ghostnet/transports/http/http_message.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace ghostnet::transports::http {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

std::string_view trim_ows(std::string_view x) noexcept {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  return x;
}

std::string_view http_fields::get(std::string_view name) const noexcept {
  for (auto& [k, v] : fields_)
    if (iequals(k, name))
      return v;
  return {};
}

bool http_fields::contains(std::string_view name) const noexcept {
  return std::any_of(fields_.begin(), fields_.end(),
                     [&](auto& kv) { return iequals(kv.first, name); });
}

void http_fields::add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void http_fields::set(std::string name, std::string value) {
  erase(name);
  add(std::move(name), std::move(value));
}

void http_fields::erase(std::string_view name) {
  fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                               [&](auto& kv) { return iequals(kv.first, name); }),
                fields_.end());
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  auto n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  // IMF-fixdate only: the obsolete RFC 850 and asctime forms that RFC 9110
  // still lets a recipient accept are not worth their ambiguity here.
  if (text.size() != 29 || text.substr(25) != " GMT")
    return std::nullopt;
  std::string copy{text};
  std::tm tm{};
  auto end = ::strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0')
    return std::nullopt;
  return ::timegm(&tm);
}

const char* reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
  }
  return "Unknown";
}

} // namespace ghostnet::transports::http
