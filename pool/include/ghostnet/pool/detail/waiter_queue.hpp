#pragma once

// The acquires a pool could not serve at once: first come, first served,
// each with a deadline. No actor and no clock inside: the caller passes the
// time, so the queue is tested on plain values (pool_parts_test).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>

namespace ghostnet::pool::detail {

template <class Waiter>
class waiter_queue {
public:
  using time_point = caf::actor_clock::time_point;

  /// time_point::max() is "no deadline".
  static constexpr time_point no_deadline = time_point::max();

  [[nodiscard]] bool empty() const noexcept {
    return by_id_.empty();
  }

  [[nodiscard]] size_t size() const noexcept {
    return by_id_.size();
  }

  /// Appends `w`, due at `deadline`; returns its id (arrival order).
  uint64_t push(Waiter w, time_point deadline) {
    auto id = next_id_++;
    by_id_.emplace(id, entry{std::move(w), deadline});
    deadlines_.emplace(deadline, id);
    return id;
  }

  /// The waiter that came first. Precondition: !empty().
  Waiter pop_front() {
    auto i = by_id_.begin();
    auto w = std::move(i->second.waiter);
    deadlines_.erase({i->second.deadline, i->first});
    by_id_.erase(i);
    return w;
  }

  /// Removes every waiter due at `now` or before, in deadline order, and
  /// calls `fn(waiter)` for each; returns how many.
  template <class F>
  size_t expire(time_point now, F fn) {
    size_t n = 0;
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      auto id = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      auto i = by_id_.find(id);
      auto w = std::move(i->second.waiter);
      by_id_.erase(i);
      ++n;
      fn(w);
    }
    return n;
  }

  /// Removes the waiters `pred` holds for (e.g. of a holder that died);
  /// returns how many.
  template <class Pred>
  size_t erase_if(Pred pred) {
    size_t n = 0;
    for (auto i = by_id_.begin(); i != by_id_.end();) {
      if (pred(i->second.waiter)) {
        deadlines_.erase({i->second.deadline, i->first});
        i = by_id_.erase(i);
        ++n;
      } else {
        ++i;
      }
    }
    return n;
  }

  /// The earliest deadline, if any waiter has one.
  [[nodiscard]] std::optional<time_point> next_deadline() const {
    if (deadlines_.empty() || deadlines_.begin()->first == no_deadline)
      return std::nullopt;
    return deadlines_.begin()->first;
  }

  /// Empties the queue; returns the waiters in arrival order.
  std::vector<Waiter> take_all() {
    std::vector<Waiter> result;
    result.reserve(by_id_.size());
    for (auto& kvp : by_id_)
      result.push_back(std::move(kvp.second.waiter));
    by_id_.clear();
    deadlines_.clear();
    return result;
  }

private:
  struct entry {
    Waiter waiter;
    time_point deadline;
  };

  std::map<uint64_t, entry> by_id_; ///< by id = arrival order
  std::set<std::pair<time_point, uint64_t>> deadlines_;
  uint64_t next_id_ = 1;
};

} // namespace ghostnet::pool::detail
