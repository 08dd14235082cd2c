#pragma once

// Every socket actor of ghostnet is a broker on CAF's middleman: spawning
// one in a system without it is a configuration error, reported the same
// way wherever it happens.

#include <string>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/io/middleman.hpp>

namespace ghostnet {

/// The system's middleman, or `invalid_configuration` naming `operation`
/// and `endpoint` if it was not loaded (`cfg.load<caf::io::middleman>()`).
[[nodiscard]] caf::expected<caf::io::middleman*>
middleman_of(caf::actor_system& sys, const std::string& operation,
             const std::string& endpoint);

} // namespace ghostnet
