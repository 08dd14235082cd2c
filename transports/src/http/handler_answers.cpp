#include "handler_answers.hpp"

#include <ctime>

#include <caf/sec.hpp>

#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"

namespace ghostnet::transports::http::detail {

const std::string& date_now() {
  thread_local std::time_t cached_at = 0;
  thread_local std::string cached;
  auto now = std::time(nullptr);
  if (now != cached_at) {
    cached_at = now;
    cached = http_date(now);
  }
  return cached;
}

http_response handler_threw(const std::string& remote, uint64_t conn,
                            const http_request& req, const std::exception& ex) {
  log::warn("http:" + remote, "handler_threw",
            {log::kv("conn", conn), log::kv("target", req.target),
             log::kv("what", std::string{ex.what()})});
  http_response res;
  res.status = 500;
  res.body = "internal server error\n";
  return res;
}

http_response handler_failed(const std::string& remote, uint64_t conn,
                             const std::string& target, const caf::error& err,
                             caf::timespan handler_timeout) {
  http_response res;
  if (err == caf::sec::request_timeout) {
    res.status = 504;
    res.body = "the handler did not answer within " + format_duration(handler_timeout)
               + "\n";
  } else if (err == caf::sec::request_receiver_down) {
    res.status = 503;
    res.body = "the handler is not available\n";
  } else {
    res.status = 500;
    res.body = "internal server error\n";
  }
  log::warn("http:" + remote, "handler_failed",
            {log::kv("conn", conn), log::kv("target", target), log::kv("status", res.status),
             log::kv("error", err)});
  return res;
}

} // namespace ghostnet::transports::http::detail
