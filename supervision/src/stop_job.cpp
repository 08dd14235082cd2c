#include "ghostnet/supervision/detail/stop_job.hpp"

#include <algorithm>
#include <cstdint>

namespace ghostnet::supervision::detail {

stop_job::stop_job(std::vector<uint64_t> keys, order how, pacing pace)
  : how_(how), pace_(pace), queue_(keys.begin(), keys.end()) {
  if (pace_.window == 0)
    pace_.window = 1;
}

std::vector<uint64_t> stop_job::take_next(time_point now) {
  std::vector<uint64_t> result;
  if (deadline_passed_)
    take(SIZE_MAX, now, result);
  else if (how_ == order::parallel)
    take(waiting_.size() < pace_.window ? pace_.window - waiting_.size() : 0,
         now, result);
  else if (waiting_.empty())
    take(1, now, result);
  return result;
}

void stop_job::take(size_t n, time_point now, std::vector<uint64_t>& out) {
  for (; n > 0 && !queue_.empty(); --n) {
    auto k = queue_.front();
    queue_.pop_front();
    waiting_.emplace(k, asked_child{});
    out.push_back(k);
  }
  if (how_ != order::parallel || queue_.empty() || deadline_passed_)
    next_wave_.reset();
  else if (!next_wave_ || *next_wave_ <= now)
    next_wave_ = now + pace_.interval;
}

void stop_job::asked(uint64_t key, std::optional<time_point> kill_at) {
  auto i = waiting_.find(key);
  if (i == waiting_.end())
    return;
  cancel_timer(i->second);
  if (kill_at && !deadline_passed_)
    i->second.timer = kill_at_.emplace_hint(kill_at_.end(), *kill_at, key);
}

bool stop_job::gone(uint64_t key) {
  if (auto i = waiting_.find(key); i != waiting_.end()) {
    cancel_timer(i->second);
    waiting_.erase(i);
    return true;
  }
  if (auto i = std::find(queue_.begin(), queue_.end(), key); i != queue_.end()) {
    queue_.erase(i);
    return true;
  }
  return false;
}

bool stop_job::contains(uint64_t key) const {
  return waiting_.count(key) > 0
         || std::find(queue_.begin(), queue_.end(), key) != queue_.end();
}

void stop_job::add(uint64_t key) {
  if (!contains(key))
    queue_.push_back(key);
}

void stop_job::set_deadline(time_point deadline, caf::timespan grace) {
  if (!deadline_ || deadline < *deadline_)
    deadline_ = deadline;
  grace_ = grace;
}

stop_job::due stop_job::poll(time_point now) {
  due result;
  if (deadline_ && !deadline_passed_ && now >= *deadline_) {
    // Everyone still here is killed now: queued children are taken as
    // asked (and killed at once), per-child timers are moot.
    deadline_passed_ = true;
    for (auto k : queue_)
      waiting_.emplace(k, asked_child{});
    queue_.clear();
    next_wave_.reset();
    kill_at_.clear();
    for (auto& [key, x] : waiting_) {
      x.timer.reset();
      if (!x.killed) {
        x.killed = true;
        result.kill.push_back(key);
      }
    }
  }
  if (next_wave_ && *next_wave_ <= now)
    take(pace_.window, now, result.ask);
  while (!kill_at_.empty() && kill_at_.begin()->first <= now) {
    auto key = kill_at_.begin()->second;
    kill_at_.erase(kill_at_.begin());
    auto& x = waiting_.at(key);
    x.timer.reset();
    if (!x.killed) {
      x.killed = true;
      result.kill.push_back(key);
    }
  }
  if (deadline_passed_ && now >= *deadline_ + grace_) {
    for (auto& kvp : waiting_)
      result.abandon.push_back(kvp.first);
    waiting_.clear();
  }
  std::sort(result.kill.begin(), result.kill.end());
  std::sort(result.abandon.begin(), result.abandon.end());
  return result;
}

std::optional<time_point> stop_job::next_deadline() const {
  std::optional<time_point> result;
  if (!kill_at_.empty())
    result = kill_at_.begin()->first;
  if (next_wave_ && (!result || *next_wave_ < *result))
    result = next_wave_;
  if (deadline_ && !done()) {
    auto t = deadline_passed_ ? *deadline_ + grace_ : *deadline_;
    if (!result || t < *result)
      result = t;
  }
  return result;
}

void stop_job::cancel_timer(asked_child& x) {
  if (x.timer) {
    kill_at_.erase(*x.timer);
    x.timer.reset();
  }
}

} // namespace ghostnet::supervision::detail
