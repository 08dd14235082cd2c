#pragma once

// Lets Boost.Test print the pool's values in failed assertions.

#include <ostream>

#include "ghostnet/pool/balancer.hpp"
#include "ghostnet/pool/circuit_breaker.hpp"
#include "ghostnet/pool/pool_options.hpp"
#include "ghostnet/transports/endpoint.hpp"

namespace ghostnet::pool {

inline std::ostream& boost_test_print_type(std::ostream& out, breaker_state x) {
  return out << to_string(x);
}

inline std::ostream& boost_test_print_type(std::ostream& out, balancing_policy x) {
  return out << to_string(x);
}

inline std::ostream& boost_test_print_type(std::ostream& out, reuse_order x) {
  return out << to_string(x);
}

inline std::ostream& boost_test_print_type(std::ostream& out,
                                           idle_data_policy x) {
  return out << to_string(x);
}

} // namespace ghostnet::pool

namespace ghostnet::transports {

inline std::ostream& boost_test_print_type(std::ostream& out, const endpoint& x) {
  return out << x.to_string();
}

} // namespace ghostnet::transports
