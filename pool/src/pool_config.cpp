#include "ghostnet/pool/pool_config.hpp"

#include <limits>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::pool {

namespace {

std::string join(const std::vector<transports::endpoint>& eps) {
  std::string result;
  for (auto& ep : eps) {
    if (!result.empty())
      result += ',';
    result += ep.to_string();
  }
  return result;
}

std::string text_of(const std::vector<char>& xs) {
  return std::string(xs.begin(), xs.end());
}

caf::expected<std::vector<transports::endpoint>>
split_endpoints(const std::string& key, const std::string& str) {
  std::vector<transports::endpoint> result;
  size_t pos = 0;
  while (pos <= str.size()) {
    auto comma = str.find(',', pos);
    auto item = str.substr(pos, comma == std::string::npos ? std::string::npos
                                                           : comma - pos);
    auto first = item.find_first_not_of(" \t");
    auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) {
      auto text = item.substr(first, last - first + 1);
      auto ep = transports::parse_endpoint(text);
      if (!ep)
        return make_error(errc::invalid_configuration, "read pool options", "",
                          0, key + ": " + describe(ep.error()));
      result.push_back(std::move(*ep));
    }
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return result;
}

/// Reads the settings one after the other, keeping the first error.
class reader {
public:
  reader(const node_options& opts, const std::string& section)
    : opts_(opts), prefix_(section + ".") {
    // nop
  }

  void count(const char* name, int32_t& out) {
    if (err_)
      return;
    auto x = opts_.get_uint64(prefix_ + name);
    if (!x) {
      err_ = std::move(x.error());
      return;
    }
    if (*x > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      err_ = make_error(errc::invalid_configuration, "read pool options", "",
                        0, prefix_ + name + ": " + std::to_string(*x)
                             + " is too large");
      return;
    }
    out = static_cast<int32_t>(*x);
  }

  void duration(const char* name, caf::timespan& out) {
    if (err_)
      return;
    if (auto x = opts_.get_duration(prefix_ + name))
      out = *x;
    else
      err_ = std::move(x.error());
  }

  void text(const char* name, std::string& out) {
    if (err_)
      return;
    if (auto x = opts_.get_string(prefix_ + name))
      out = std::move(*x);
    else
      err_ = std::move(x.error());
  }

  void bytes(const char* name, std::vector<char>& out) {
    std::string str;
    text(name, str);
    if (!err_)
      out.assign(str.begin(), str.end());
  }

  template <class T, class Parse>
  void choice(const char* name, T& out, Parse parse) {
    std::string str;
    text(name, str);
    if (err_)
      return;
    if (auto x = parse(str))
      out = *x;
    else
      err_ = std::move(x.error());
  }

  void endpoints(const char* name, std::vector<transports::endpoint>& out) {
    std::string str;
    text(name, str);
    if (err_)
      return;
    if (auto x = split_endpoints(prefix_ + name, str))
      out = std::move(*x);
    else
      err_ = std::move(x.error());
  }

  caf::error error() && {
    return std::move(err_);
  }

private:
  const node_options& opts_;
  std::string prefix_;
  caf::error err_;
};

} // namespace

caf::error declare_pool_options(node_options_parser& parser,
                                const std::string& section,
                                const pool_options& d) {
  using st = setting_type;
  auto num = [](int32_t x) { return std::to_string(x < 0 ? 0 : x); };
  struct row {
    const char* name;
    std::string value;
    const char* help;
    setting_type type;
  };
  const row rows[] = {
    {"endpoints", join(d.endpoints), "destinations, host:port,...", st::string},
    {"max-connections", num(d.max_connections),
     "connections at most", st::uint64},
    {"max-idle", num(d.max_idle), "idle connections kept at most", st::uint64},
    {"min-idle", num(d.min_idle), "idle connections kept ready", st::uint64},
    {"max-waiters", num(d.max_waiters), "acquires waiting at most", st::uint64},
    {"idle-timeout", format_duration(d.idle_timeout),
     "idle connections close after", st::duration},
    {"connect-timeout", format_duration(d.connect_timeout),
     "per connect attempt", st::duration},
    {"connect-retries", num(d.connect_retries),
     "further attempts per connect", st::uint64},
    {"connect-backoff-min", format_duration(d.connect_backoff_min),
     "first retry delay", st::duration},
    {"connect-backoff-max", format_duration(d.connect_backoff_max),
     "largest retry delay", st::duration},
    {"max-lifetime", format_duration(d.max_lifetime),
     "close connections older than this, 0 = never", st::duration},
    {"acquire-timeout", format_duration(d.acquire_timeout),
     "default acquire timeout", st::duration},
    {"max-lease", format_duration(d.max_lease),
     "report leases held longer, 0 = never", st::duration},
    {"reuse", to_string(d.reuse), "lifo or fifo", st::string},
    {"balancing", to_string(d.balancing),
     "round_robin, least_outstanding or power_of_two", st::string},
    {"health-interval", format_duration(d.health.interval),
     "probe idle connections, 0 = off", st::duration},
    {"health-timeout", format_duration(d.health.timeout),
     "probe deadline", st::duration},
    {"health-request", text_of(d.health.request),
     "probe frame, empty = TCP check", st::string},
    {"health-reply", text_of(d.health.expected_reply),
     "expected answer to the probe", st::string},
    {"greeting-frames", num(d.greeting_frames),
     "frames the server sends first, 0 = none", st::uint64},
    {"receive-window", num(d.receive_window),
     "received messages outstanding at a holder, 0 = no limit", st::uint64},
    {"idle-data", to_string(d.idle_data),
     "data while idle: evict or discard", st::string},
    {"breaker-failures", num(d.breaker.failure_threshold),
     "failed connects that open the breaker", st::uint64},
    {"breaker-cooldown", format_duration(d.breaker.cooldown),
     "breaker stays open this long", st::duration},
  };
  for (auto& r : rows)
    if (auto err = parser.declare(section + "." + r.name, r.value, r.help,
                                  r.type))
      return err;
  return caf::none;
}

caf::expected<pool_options> pool_options_from(const node_options& opts,
                                              const std::string& section,
                                              pool_options base) {
  reader rd{opts, section};
  rd.endpoints("endpoints", base.endpoints);
  rd.count("max-connections", base.max_connections);
  rd.count("max-idle", base.max_idle);
  rd.count("min-idle", base.min_idle);
  rd.count("max-waiters", base.max_waiters);
  rd.duration("idle-timeout", base.idle_timeout);
  rd.duration("connect-timeout", base.connect_timeout);
  rd.count("connect-retries", base.connect_retries);
  rd.duration("connect-backoff-min", base.connect_backoff_min);
  rd.duration("connect-backoff-max", base.connect_backoff_max);
  rd.duration("max-lifetime", base.max_lifetime);
  rd.duration("acquire-timeout", base.acquire_timeout);
  rd.duration("max-lease", base.max_lease);
  rd.choice("reuse", base.reuse, parse_reuse_order);
  rd.choice("balancing", base.balancing, parse_balancing_policy);
  rd.duration("health-interval", base.health.interval);
  rd.duration("health-timeout", base.health.timeout);
  rd.bytes("health-request", base.health.request);
  rd.bytes("health-reply", base.health.expected_reply);
  rd.count("greeting-frames", base.greeting_frames);
  rd.count("receive-window", base.receive_window);
  rd.choice("idle-data", base.idle_data, parse_idle_data_policy);
  rd.count("breaker-failures", base.breaker.failure_threshold);
  rd.duration("breaker-cooldown", base.breaker.cooldown);
  if (auto err = std::move(rd).error())
    return err;
  if (auto err = validate(base))
    return err;
  return base;
}

} // namespace ghostnet::pool
