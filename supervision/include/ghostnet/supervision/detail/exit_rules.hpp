#pragma once

// How an exit reason meets a restart type (OTP's rules, plus ghostnet's
// give-up reason), in one place for the supervisor and its event log.

#include <caf/error.hpp>

#include "ghostnet/supervision/child_spec.hpp"

namespace ghostnet::supervision::detail {

/// An exit that a transient child is NOT restarted after: normal, shutdown
/// (`user_shutdown`), and `restart_intensity_exceeded`, the reason of a
/// supervisor that gave up. OTP's supervisor exits `shutdown` when it gives
/// up, so a transient parent leaves it stopped; ghostnet keeps the typed
/// reason (it says why) and treats it the same way. A permanent parent
/// restarts it (and counts that against its own intensity: escalation).
[[nodiscard]] bool is_shutdown_exit(const caf::error& reason) noexcept;

/// Whether a child of `type` that exited with `reason` is restarted.
[[nodiscard]] bool should_restart(restart_type type,
                                  const caf::error& reason) noexcept;

} // namespace ghostnet::supervision::detail
