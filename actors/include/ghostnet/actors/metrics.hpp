#pragma once

// Metrics: counters, gauges and histograms with fixed buckets in a registry
// that renders the Prometheus text exposition format (docs/metrics.md).
//
// Hot paths (a read, a request) touch one relaxed atomic in a slot of the
// calling thread's own cache line: no lock, no sharing between the
// multiplexer thread and the scheduler's workers. Registration takes a
// lock; code on a hot path looks its metric up once and keeps the
// reference (metrics live as long as the registry, which never drops one).
//
//   static auto& accepted = metrics::global().counter(
//     "ghostnet_connections_accepted_total", "connections accepted",
//     {{"listener", "127.0.0.1:7007"}});
//   accepted.inc();

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ghostnet::metrics {

/// Label names and values of one series, e.g. {{"reason", "timeout"}}.
using labels = std::vector<std::pair<std::string, std::string>>;

namespace detail {

constexpr size_t shards = 8;

/// The calling thread's shard (fixed for the thread's life).
[[nodiscard]] size_t shard_index() noexcept;

struct alignas(64) padded_counter {
  std::atomic<uint64_t> value{0};
};

} // namespace detail

/// Only goes up.
class counter {
public:
  void inc(uint64_t n = 1) noexcept {
    slots_[detail::shard_index()].value.fetch_add(n, std::memory_order_relaxed);
  }

  [[nodiscard]] uint64_t value() const noexcept;

private:
  std::array<detail::padded_counter, detail::shards> slots_;
};

/// Goes up and down (connections open, waiters).
class gauge {
public:
  void add(int64_t n) noexcept {
    value_.fetch_add(n, std::memory_order_relaxed);
  }

  void set(int64_t n) noexcept {
    value_.store(n, std::memory_order_relaxed);
  }

  [[nodiscard]] int64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<int64_t> value_{0};
};

/// Observations counted in fixed buckets (upper bounds, ascending), with
/// their sum, as Prometheus histograms are.
class histogram {
public:
  explicit histogram(std::vector<double> bounds);

  void observe(double x) noexcept;

  [[nodiscard]] const std::vector<double>& bounds() const noexcept {
    return bounds_;
  }

  /// Observations <= bounds()[i] (cumulative), the last entry all of them.
  [[nodiscard]] std::vector<uint64_t> cumulative_counts() const;

  [[nodiscard]] double sum() const noexcept;

private:
  struct alignas(64) shard {
    std::unique_ptr<std::atomic<uint64_t>[]> buckets; ///< bounds + 1 (+Inf)
    std::atomic<uint64_t> sum_micros{0}; ///< the sum in millionths
  };
  std::vector<double> bounds_;
  std::array<shard, detail::shards> shards_;
};

/// Latency buckets in seconds: 100 µs to 10 s.
[[nodiscard]] std::vector<double> latency_buckets();

class registry {
public:
  /// The series `name` with `labels` (made on first use). `help` is the
  /// family's, taken from its first registration. Names follow
  /// Prometheus' rules ([a-zA-Z_:][a-zA-Z0-9_:]*); counters end in _total.
  [[nodiscard]] metrics::counter& counter(std::string_view name, std::string_view help,
                                          const labels& l = {});
  [[nodiscard]] metrics::gauge& gauge(std::string_view name, std::string_view help,
                                      const labels& l = {});
  [[nodiscard]] metrics::histogram&
  histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
            const labels& l = {});

  /// Every family in the text exposition format (version 0.0.4), sorted
  /// by name, label values escaped.
  [[nodiscard]] std::string prometheus_text() const;

private:
  enum class kind : uint8_t { counter, gauge, histogram };

  struct family {
    std::string help;
    kind type;
    /// Rendered label set ("{a=\"b\"}" or "") -> series.
    std::map<std::string, std::unique_ptr<metrics::counter>> counters;
    std::map<std::string, std::unique_ptr<metrics::gauge>> gauges;
    std::map<std::string, std::unique_ptr<metrics::histogram>> histograms;
  };

  family& family_of(std::string_view name, std::string_view help, kind type);

  mutable std::mutex mtx_;
  std::map<std::string, family, std::less<>> families_;
};

/// The process's registry: what ghostnet itself counts, and the
/// application's own metrics if it likes.
[[nodiscard]] registry& global();

} // namespace ghostnet::metrics
