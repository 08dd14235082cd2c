#include "ghostnet/pool/balancer.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::pool {

const char* to_string(balancing_policy x) noexcept {
  switch (x) {
    case balancing_policy::round_robin: return "round_robin";
    case balancing_policy::least_outstanding: return "least_outstanding";
    case balancing_policy::power_of_two: return "power_of_two";
  }
  return "?";
}

caf::expected<balancing_policy> parse_balancing_policy(std::string_view str) {
  for (auto x : {balancing_policy::round_robin,
                 balancing_policy::least_outstanding,
                 balancing_policy::power_of_two})
    if (str == to_string(x))
      return x;
  return make_error(errc::invalid_configuration, "parse balancing policy", "",
                    0,
                    "balancing: expected round_robin, least_outstanding or "
                    "power_of_two, got '"
                      + std::string{str} + "'");
}

balancer::balancer(balancing_policy policy, uint64_t seed) noexcept
  : policy_(policy), rng_(static_cast<std::minstd_rand::result_type>(seed)) {
  // nop
}

template <class Pred>
size_t balancer::next_in_turn(caf::span<const candidate> xs, Pred ok) {
  auto first = xs.size();
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!ok(xs[i]))
      continue;
    if (first == xs.size())
      first = i;
    if (xs[i].endpoint >= cursor_) {
      cursor_ = xs[i].endpoint + 1;
      return i;
    }
  }
  // Wrapped around: the first eligible one.
  cursor_ = xs[first].endpoint + 1;
  return first;
}

size_t balancer::pick(caf::span<const candidate> xs) {
  if (xs.size() <= 1)
    return 0;
  switch (policy_) {
    case balancing_policy::round_robin:
      return next_in_turn(xs, [](const candidate&) { return true; });
    case balancing_policy::least_outstanding: {
      auto least = std::numeric_limits<uint64_t>::max();
      for (auto& x : xs)
        least = std::min(least, x.outstanding);
      return next_in_turn(xs, [least](const candidate& x) {
        return x.outstanding == least;
      });
    }
    case balancing_policy::power_of_two: {
      // Two distinct candidates, uniformly: j skips over i.
      auto i = std::uniform_int_distribution<size_t>{0, xs.size() - 1}(rng_);
      auto j = std::uniform_int_distribution<size_t>{0, xs.size() - 2}(rng_);
      if (j >= i)
        ++j;
      return xs[j].outstanding < xs[i].outstanding ? j : i;
    }
  }
  return 0;
}

} // namespace ghostnet::pool
