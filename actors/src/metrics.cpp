#include "ghostnet/actors/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace ghostnet::metrics {

namespace detail {

size_t shard_index() noexcept {
  // Threads take shards round-robin as they first count: the multiplexer
  // thread and each scheduler worker mostly end up alone in theirs.
  static std::atomic<size_t> next{0};
  thread_local size_t mine = next.fetch_add(1, std::memory_order_relaxed) % shards;
  return mine;
}

} // namespace detail

uint64_t counter::value() const noexcept {
  uint64_t total = 0;
  for (auto& s : slots_)
    total += s.value.load(std::memory_order_relaxed);
  return total;
}

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  for (auto& s : shards_) {
    s.buckets = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i)
      s.buckets[i].store(0, std::memory_order_relaxed);
  }
}

void histogram::observe(double x) noexcept {
  auto i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), x)
                               - bounds_.begin());
  auto& s = shards_[detail::shard_index()];
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  if (x > 0)
    s.sum_micros.fetch_add(static_cast<uint64_t>(std::llround(x * 1e6)),
                           std::memory_order_relaxed);
}

std::vector<uint64_t> histogram::cumulative_counts() const {
  std::vector<uint64_t> result(bounds_.size() + 1, 0);
  for (auto& s : shards_)
    for (size_t i = 0; i <= bounds_.size(); ++i)
      result[i] += s.buckets[i].load(std::memory_order_relaxed);
  for (size_t i = 1; i < result.size(); ++i)
    result[i] += result[i - 1];
  return result;
}

double histogram::sum() const noexcept {
  uint64_t micros = 0;
  for (auto& s : shards_)
    micros += s.sum_micros.load(std::memory_order_relaxed);
  return static_cast<double>(micros) / 1e6;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,  5, 10};
}

namespace {

bool valid_name(std::string_view name) {
  if (name.empty())
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9'))
      return false;
  }
  return true;
}

/// {a="b",c="d"} with label values escaped (\\, \", \n), or "".
std::string render_labels(const labels& l) {
  if (l.empty())
    return {};
  auto sorted = l;
  std::sort(sorted.begin(), sorted.end());
  std::string out = "{";
  for (auto& [k, v] : sorted) {
    if (!valid_name(k) || k.rfind("__", 0) == 0)
      throw std::invalid_argument("metrics: bad label name " + k);
    if (out.size() > 1)
      out += ',';
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"')
        out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(double x) {
  if (std::isinf(x))
    return x > 0 ? "+Inf" : "-Inf";
  // The shortest form that reads back as the same double: 0.1, not
  // 0.10000000000000001.
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, x);
    if (std::strtod(buf, nullptr) == x)
      break;
  }
  return buf;
}

/// `labels` ("{a=\"b\"}" or "") with one more label `le`.
std::string with_le(const std::string& labels, const std::string& le) {
  auto extra = "le=\"" + le + "\"";
  if (labels.empty())
    return "{" + extra + "}";
  return labels.substr(0, labels.size() - 1) + "," + extra + "}";
}

} // namespace

registry::family& registry::family_of(std::string_view name, std::string_view help,
                                      kind type) {
  if (!valid_name(name))
    throw std::invalid_argument("metrics: bad metric name " + std::string{name});
  auto i = families_.find(name);
  if (i == families_.end())
    i = families_.emplace(std::string{name}, family{std::string{help}, type, {}, {}, {}})
          .first;
  else if (i->second.type != type)
    throw std::invalid_argument("metrics: " + std::string{name}
                                + " registered with another type");
  else if (i->second.help.empty())
    i->second.help = std::string{help}; // a reader looked it up first
  return i->second;
}

metrics::counter& registry::counter(std::string_view name, std::string_view help,
                                    const labels& l) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& f = family_of(name, help, kind::counter);
  auto& slot = f.counters[render_labels(l)];
  if (!slot)
    slot = std::make_unique<metrics::counter>();
  return *slot;
}

metrics::gauge& registry::gauge(std::string_view name, std::string_view help,
                                const labels& l) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& f = family_of(name, help, kind::gauge);
  auto& slot = f.gauges[render_labels(l)];
  if (!slot)
    slot = std::make_unique<metrics::gauge>();
  return *slot;
}

metrics::histogram& registry::histogram(std::string_view name, std::string_view help,
                                        std::vector<double> bounds, const labels& l) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& f = family_of(name, help, kind::histogram);
  auto& slot = f.histograms[render_labels(l)];
  if (!slot)
    slot = std::make_unique<metrics::histogram>(std::move(bounds));
  return *slot;
}

std::string registry::prometheus_text() const {
  std::ostringstream out;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [name, f] : families_) {
    static constexpr const char* type_names[] = {"counter", "gauge", "histogram"};
    out << "# HELP " << name << ' ' << escape_help(f.help) << '\n'
        << "# TYPE " << name << ' ' << type_names[static_cast<int>(f.type)] << '\n';
    for (auto& [l, c] : f.counters)
      out << name << l << ' ' << c->value() << '\n';
    for (auto& [l, g] : f.gauges)
      out << name << l << ' ' << g->value() << '\n';
    for (auto& [l, h] : f.histograms) {
      auto counts = h->cumulative_counts();
      auto& bounds = h->bounds();
      for (size_t i = 0; i < bounds.size(); ++i)
        out << name << "_bucket" << with_le(l, number(bounds[i])) << ' ' << counts[i]
            << '\n';
      out << name << "_bucket" << with_le(l, "+Inf") << ' ' << counts.back() << '\n'
          << name << "_sum" << l << ' ' << number(h->sum()) << '\n'
          << name << "_count" << l << ' ' << counts.back() << '\n';
    }
  }
  return out.str();
}

registry& global() {
  // Never destroyed: metrics are counted until the very end of the
  // process, from threads that may outlive static destruction.
  static auto* instance = new registry;
  return *instance;
}

} // namespace ghostnet::metrics
