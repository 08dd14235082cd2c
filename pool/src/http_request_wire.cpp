// How the HTTP client writes a request, and what it refuses to write.

#include "http_request_wire.hpp"

#include <cctype>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"

namespace ghostnet::pool::detail {

bool is_token(std::string_view s) {
  if (s.empty())
    return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || std::string_view{"\"(),/:;<=>?@[\\]{}"}.find(
                                    static_cast<char>(c))
                                    != std::string_view::npos)
      return false;
  return true;
}

bool idempotent(std::string_view method) {
  for (auto m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
    if (method == m)
      return true;
  return false;
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307
         || status == 308;
}

/// A request as it goes out: the header block and the body.
std::string serialize(const http_client_request& req,
                      const transports::http::url& target,
                      const std::string& user_agent) {
  std::string out;
  out.reserve(128 + req.body.size());
  out += req.method;
  out += ' ';
  out += target.target;
  out += " HTTP/1.1\r\nHost: ";
  out += target.authority();
  out += "\r\n";
  bool has_agent = false;
  for (auto& [k, v] : req.headers) {
    if (iequals(k, "Host") || iequals(k, "Content-Length")
        || iequals(k, "Transfer-Encoding"))
      continue;
    has_agent = has_agent || iequals(k, "User-Agent");
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (!has_agent && !user_agent.empty()) {
    out += "User-Agent: ";
    out += user_agent;
    out += "\r\n";
  }
  if (req.body_source) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (!req.body.empty() || req.method == "POST" || req.method == "PUT"
             || req.method == "PATCH") {
    out += "Content-Length: ";
    out += std::to_string(req.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += req.body;
  return out;
}

caf::error check_request(const http_client_request& req) {
  auto bad = [&](std::string why) {
    return make_error(errc::invalid_configuration, "http request", req.url, 0,
                      std::move(why));
  };
  if (!is_token(req.method))
    return bad("method is not a token: " + ghostnet::quoted(req.method));
  for (auto& [k, v] : req.headers) {
    if (!is_token(k))
      return bad("header name is not a token: " + ghostnet::quoted(k));
    if (v.find_first_of("\r\n") != std::string::npos
        || v.find('\0') != std::string::npos)
      return bad("header " + k + " contains CR, LF or NUL");
  }
  if (req.timeout < caf::timespan{0})
    return bad("timeout: must be >= 0");
  if (req.body_source && !req.body.empty())
    return bad("body and body_source: one of the two");
  return caf::none;
}

} // namespace ghostnet::pool::detail
