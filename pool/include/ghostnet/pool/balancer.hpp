#pragma once

// Picks an endpoint among candidates, sans-IO: the pool passes the
// endpoints that may take a connection (breaker allows it, or they have an
// idle one) with their load; the balancer returns one. Deterministic for a
// given seed. Not thread-safe: one balancer belongs to one pool actor.

#include <cstddef>
#include <cstdint>
#include <random>
#include <string_view>

#include <caf/expected.hpp>
#include <caf/span.hpp>

namespace ghostnet::pool {

enum class balancing_policy : uint8_t {
  /// Endpoints in turn (skipping those that are not candidates).
  round_robin,
  /// The candidate with the fewest outstanding connections (leased or
  /// connecting); ties in turn.
  least_outstanding,
  /// Two random candidates, the one with fewer outstanding connections
  /// (Mitzenmacher's "power of two choices").
  power_of_two,
};

[[nodiscard]] const char* to_string(balancing_policy x) noexcept;

/// Parses "round_robin", "least_outstanding" or "power_of_two"; anything
/// else is errc::invalid_configuration.
[[nodiscard]] caf::expected<balancing_policy>
parse_balancing_policy(std::string_view str);

/// One endpoint that may be picked.
struct candidate {
  size_t endpoint = 0;     ///< index in the pool's endpoint list
  uint64_t outstanding = 0; ///< its connections leased or connecting
};

class balancer {
public:
  explicit balancer(balancing_policy policy, uint64_t seed = 1) noexcept;

  /// Returns the index into `xs` of the chosen candidate. Precondition:
  /// `xs` is not empty and sorted by `endpoint`.
  [[nodiscard]] size_t pick(caf::span<const candidate> xs);

  [[nodiscard]] balancing_policy policy() const noexcept {
    return policy_;
  }

private:
  /// The first of `xs` (restricted to those for which `ok` holds) at or
  /// after the cursor, cyclically; advances the cursor past it.
  template <class Pred>
  size_t next_in_turn(caf::span<const candidate> xs, Pred ok);

  balancing_policy policy_;
  size_t cursor_ = 0; ///< the endpoint index whose turn is next
  std::minstd_rand rng_;
};

} // namespace ghostnet::pool
