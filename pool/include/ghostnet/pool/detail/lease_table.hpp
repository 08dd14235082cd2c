#pragma once

// The leases a pool has issued: which member, which holder, since when, and
// which were reported for exceeding max_lease. No actor and no clock
// inside: the caller passes the time (pool_parts_test).

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

namespace ghostnet::pool::detail {

template <class Holder>
class lease_table {
public:
  using time_point = caf::actor_clock::time_point;

  struct record {
    uint64_t member = 0;
    Holder holder;
    time_point issued_at{};
    bool reported = false; ///< reported past max_lease
  };

  [[nodiscard]] size_t size() const noexcept {
    return by_id_.size();
  }

  [[nodiscard]] bool empty() const noexcept {
    return by_id_.empty();
  }

  /// Issues a lease of `member` to `holder` at `now`; returns its id (ids
  /// grow: issue order).
  uint64_t issue(uint64_t member, Holder holder, time_point now) {
    auto id = next_id_++;
    by_id_.emplace(id, record{member, std::move(holder), now, false});
    return id;
  }

  /// Ends lease `id`; nothing if it is unknown (never issued, released).
  std::optional<record> release(uint64_t id) {
    auto i = by_id_.find(id);
    if (i == by_id_.end())
      return std::nullopt;
    auto rec = std::move(i->second);
    by_id_.erase(i);
    return rec;
  }

  /// Ends every lease of `holder`; returns (id, record) pairs in issue order.
  std::vector<std::pair<uint64_t, record>> release_all_of(const Holder& holder) {
    std::vector<std::pair<uint64_t, record>> result;
    for (auto i = by_id_.begin(); i != by_id_.end();) {
      if (i->second.holder == holder) {
        result.emplace_back(i->first, std::move(i->second));
        i = by_id_.erase(i);
      } else {
        ++i;
      }
    }
    return result;
  }

  /// Marks and passes to `fn(id, record)` each lease held for `max` or
  /// longer at `now` and not reported before. Returns when the next lease
  /// will be due (none: no lease left to report).
  template <class F>
  std::optional<time_point> report_overdue(time_point now, caf::timespan max,
                                           F fn) {
    for (auto& kvp : by_id_) {
      auto& rec = kvp.second;
      if (rec.reported)
        continue;
      if (now - rec.issued_at < max)
        return rec.issued_at + max; // issue order: the next one due
      rec.reported = true;
      fn(kvp.first, rec);
    }
    return std::nullopt;
  }

  void clear() noexcept {
    by_id_.clear();
  }

private:
  std::map<uint64_t, record> by_id_; ///< by id = issue order
  uint64_t next_id_ = 1;
};

} // namespace ghostnet::pool::detail
