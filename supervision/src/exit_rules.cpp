#include "ghostnet/supervision/detail/exit_rules.hpp"

#include <caf/exit_reason.hpp>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::supervision::detail {

bool is_shutdown_exit(const caf::error& reason) noexcept {
  return !reason || reason == caf::exit_reason::normal
         || reason == caf::exit_reason::user_shutdown
         || is(reason, errc::restart_intensity_exceeded);
}

bool should_restart(restart_type type, const caf::error& reason) noexcept {
  switch (type) {
    case restart_type::permanent: return true;
    case restart_type::transient: return !is_shutdown_exit(reason);
    case restart_type::temporary: return false;
  }
  return false;
}

} // namespace ghostnet::supervision::detail
