#include "ghostnet/pool/pool_options.hpp"

#include <algorithm>
#include <string>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"

namespace ghostnet::pool {

namespace {

caf::error bad(const pool_options& opts, const std::string& field,
               std::string why) {
  return config_error("validate pool options", opts.name, field,
                      std::move(why));
}

/// A count that must be at least `min`.
caf::error at_least(const pool_options& opts, const char* field, int32_t value,
                    int32_t min) {
  if (value >= min)
    return caf::none;
  return bad(opts, field,
             "must be >= " + std::to_string(min) + ", got "
               + std::to_string(value));
}

caf::error positive(const pool_options& opts, const char* field,
                    caf::timespan value) {
  if (value > caf::timespan{0})
    return caf::none;
  return bad(opts, field, "must be > 0, got " + format_duration(value));
}

caf::error not_negative(const pool_options& opts, const char* field,
                        caf::timespan value) {
  if (value >= caf::timespan{0})
    return caf::none;
  return bad(opts, field, "must not be negative (0 = off), got " + format_duration(value));
}

caf::error check_endpoints(const pool_options& opts) {
  if (opts.endpoints.empty())
    return bad(opts, "endpoints", "at least one is needed");
  for (size_t i = 0; i < opts.endpoints.size(); ++i) {
    const auto& ep = opts.endpoints[i];
    auto field = "endpoints[" + std::to_string(i) + "]";
    if (!transports::to_socket_address(ep))
      return bad(opts, field,
                 "'" + ep.host + "' is not a numeric address or localhost");
    if (ep.port == 0)
      return bad(opts, field, "port must not be 0");
    for (size_t j = 0; j < i; ++j)
      if (opts.endpoints[j] == ep)
        return bad(opts, field, ep.to_string() + " is listed twice");
  }
  return caf::none;
}

caf::error check_limits(const pool_options& opts) {
  if (auto err = at_least(opts, "max_connections", opts.max_connections, 1))
    return err;
  if (auto err = at_least(opts, "max_idle", opts.max_idle, 1))
    return err;
  if (opts.max_idle > opts.max_connections)
    return bad(opts, "max_idle", "must not exceed max_connections ("
                                   + std::to_string(opts.max_connections)
                                   + "), got "
                                   + std::to_string(opts.max_idle));
  if (auto err = at_least(opts, "min_idle", opts.min_idle, 0))
    return err;
  if (opts.min_idle > opts.max_idle)
    return bad(opts, "min_idle", "must not exceed max_idle ("
                                   + std::to_string(opts.max_idle) + "), got "
                                   + std::to_string(opts.min_idle));
  if (auto err = at_least(opts, "max_waiters", opts.max_waiters, 1))
    return err;
  if (auto err = at_least(opts, "connect_retries", opts.connect_retries, 0))
    return err;
  if (auto err = at_least(opts, "receive_window", opts.receive_window, 0))
    return err;
  if (auto err = at_least(opts, "greeting_frames", opts.greeting_frames, 0))
    return err;
  return at_least(opts, "breaker.failure_threshold",
                  opts.breaker.failure_threshold, 1);
}

caf::error check_durations(const pool_options& opts) {
  if (auto err = positive(opts, "idle_timeout", opts.idle_timeout))
    return err;
  if (auto err = positive(opts, "connect_timeout", opts.connect_timeout))
    return err;
  if (auto err = positive(opts, "acquire_timeout", opts.acquire_timeout))
    return err;
  if (auto err = positive(opts, "connect_backoff_min",
                          opts.connect_backoff_min))
    return err;
  if (opts.connect_backoff_max < opts.connect_backoff_min)
    return bad(opts, "connect_backoff_max",
               "must not be below connect_backoff_min ("
                 + format_duration(opts.connect_backoff_min) + "), got "
                 + format_duration(opts.connect_backoff_max));
  if (!(opts.connect_jitter >= 0.0 && opts.connect_jitter <= 1.0))
    return bad(opts, "connect_jitter",
               "must be in [0, 1], got " + std::to_string(opts.connect_jitter));
  if (auto err = not_negative(opts, "max_lifetime", opts.max_lifetime))
    return err;
  if (auto err = not_negative(opts, "max_lease", opts.max_lease))
    return err;
  if (auto err = not_negative(opts, "health.interval", opts.health.interval))
    return err;
  if (auto err = positive(opts, "health.timeout", opts.health.timeout))
    return err;
  if (opts.health.request.empty() != opts.health.expected_reply.empty())
    return bad(opts, "health.expected_reply",
               "request and expected_reply go together (both empty = TCP "
               "check)");
  return positive(opts, "breaker.cooldown", opts.breaker.cooldown);
}

} // namespace

const char* to_string(reuse_order x) noexcept {
  switch (x) {
    case reuse_order::lifo: return "lifo";
    case reuse_order::fifo: return "fifo";
  }
  return "?";
}

caf::expected<reuse_order> parse_reuse_order(std::string_view str) {
  if (str == "lifo")
    return reuse_order::lifo;
  if (str == "fifo")
    return reuse_order::fifo;
  return make_error(errc::invalid_configuration, "parse reuse order", "", 0,
                    "reuse: expected lifo or fifo, got '" + std::string{str}
                      + "'");
}

const char* to_string(idle_data_policy x) noexcept {
  switch (x) {
    case idle_data_policy::evict: return "evict";
    case idle_data_policy::discard: return "discard";
  }
  return "?";
}

caf::expected<idle_data_policy> parse_idle_data_policy(std::string_view str) {
  if (str == "evict")
    return idle_data_policy::evict;
  if (str == "discard")
    return idle_data_policy::discard;
  return make_error(errc::invalid_configuration, "parse idle data policy", "",
                    0,
                    "idle_data: expected evict or discard, got '"
                      + std::string{str} + "'");
}

caf::error validate(const pool_options& opts) {
  if (opts.name.empty())
    return bad(opts, "name", "must not be empty");
  if (auto err = check_endpoints(opts))
    return err;
  if (auto err = check_limits(opts))
    return err;
  if (auto err = check_durations(opts))
    return err;
  if (auto err = transports::validate(opts.connection))
    return bad(opts, "connection", describe(err));
  return caf::none;
}

transports::connect_options
connect_options_for(const pool_options& opts, const transports::endpoint& ep) {
  transports::connect_options result;
  result.remote = ep;
  result.timeout = opts.connect_timeout;
  result.retries = static_cast<uint32_t>(std::max(opts.connect_retries, 0));
  result.backoff_min = opts.connect_backoff_min;
  result.backoff_max = opts.connect_backoff_max;
  result.backoff_jitter = opts.connect_jitter;
  result.connection = opts.connection;
  return result;
}

} // namespace ghostnet::pool
