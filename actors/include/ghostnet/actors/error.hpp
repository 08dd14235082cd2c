#pragma once

// ghostnet's error model: every failure is a caf::error in the "ghostnet"
// category whose context says which operation on which endpoint failed and,
// where the OS was involved, which errno it reported.

#include <cstdint>
#include <optional>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace ghostnet {

/// The category atom of all ghostnet errors.
constexpr caf::atom_value error_category = caf::atom("ghostnet");

/// ghostnet error codes. Values start at 1 (0 means "no error" in CAF) and
/// never change meaning: they cross the network in mesh messages.
enum class errc : uint8_t {
  /// The peer actively refused the connection (ECONNREFUSED). Temporary.
  connection_refused = 1,
  /// The peer reset the connection or the pipe broke (ECONNRESET, EPIPE).
  connection_reset,
  /// No route to the network or host (ENETUNREACH, EHOSTUNREACH). Temporary.
  network_unreachable,
  /// The local address is taken (EADDRINUSE).
  address_in_use,
  /// A host, port or address could not be parsed or resolved.
  invalid_address,
  /// A deadline passed; the context names the operation (connect, idle, ...).
  timeout,
  /// A connection limit was reached (listener max_connections, EMFILE).
  too_many_connections,
  /// The peer sent bytes the protocol layer rejects (e.g. oversized frame).
  protocol_error,
  /// The transport is closed; nothing more can be sent or received.
  transport_closed,
  /// The operation does not fit the current state of the component.
  invalid_state,
  /// A pool has no connection and no room in its wait queue.
  pool_exhausted,
  /// The TLS handshake failed; the context carries OpenSSL's reason.
  tls_handshake_failed,
  /// A configuration value or a spec is invalid; the context names it.
  invalid_configuration,
  /// A supervisor already has a child with this id.
  duplicate_child,
  /// A supervisor has no child with this id (or actor).
  unknown_child,
  /// A child's start function returned an error or threw.
  start_failed,
  /// A supervisor exceeded its restart intensity and gave up.
  restart_intensity_exceeded,
  /// The send buffer of a connection is above its high-water mark.
  backpressure,
  /// Any other OS error; the errno in the context says which.
  io_error,
  /// A resource (descriptors, memory) ran out (EMFILE, ENFILE, ENOBUFS).
  out_of_resources,
  /// Every endpoint's circuit breaker is open (a pool skips endpoints whose
  /// connects keep failing); the detail names the last connect error and
  /// when the next probe is due. Temporary.
  circuit_open,
};

/// Returns the name of `x`, e.g. "connection_refused".
[[nodiscard]] const char* to_string(errc x) noexcept;

/// True for errors that may go away by retrying (a supervisor or pool may
/// retry after a backoff); false for errors that need a change first.
[[nodiscard]] bool is_temporary(errc x) noexcept;

/// Maps an errno value to the closest ghostnet error code.
[[nodiscard]] errc errc_from_errno(int os_errno) noexcept;

/// Context of a ghostnet error: which operation, on which endpoint.
struct error_context {
  std::string operation; ///< e.g. "connect", "accept", "tls handshake"
  std::string endpoint;  ///< e.g. "127.0.0.1:8080"; empty when none applies
  int os_errno = 0;      ///< errno reported by the OS, 0 when none
  std::string detail;    ///< free text: OpenSSL's reason, the bad value, ...
};

/// Creates a ghostnet error without context.
[[nodiscard]] caf::error make_error(errc code);

/// Creates a ghostnet error with context.
[[nodiscard]] caf::error make_error(errc code, std::string operation,
                                    std::string endpoint = {},
                                    int os_errno = 0, std::string detail = {});

/// invalid_configuration: `field` of what `operation` checks is wrong, with
/// the detail "field: why"; `endpoint` names the component, if any.
[[nodiscard]] caf::error config_error(std::string operation,
                                      std::string endpoint,
                                      const std::string& field,
                                      std::string why, int os_errno = 0);

/// Creates a ghostnet error from an errno value (mapped with errc_from_errno).
[[nodiscard]] caf::error make_os_error(int os_errno, std::string operation,
                                       std::string endpoint = {});

/// Returns the ghostnet code of `err`, or nothing if `err` is of another
/// category (or no error at all).
[[nodiscard]] std::optional<errc> code_of(const caf::error& err) noexcept;

/// True if `err` is the ghostnet error `code`.
[[nodiscard]] bool is(const caf::error& err, errc code) noexcept;

/// Returns the context of a ghostnet error (empty fields otherwise).
[[nodiscard]] error_context context_of(const caf::error& err);

/// Renders any caf::error for a log line: ghostnet errors as
/// `timeout(operation="connect", endpoint="10.0.0.1:80", errno=110 (...))`,
/// CAF's own categories (system, exit) by their names.
[[nodiscard]] std::string describe(const caf::error& err);

/// Registers the "ghostnet" renderer so that actor_system::render() and CAF's
/// own logs print ghostnet errors readably.
void register_error_category(caf::actor_system_config& cfg);

} // namespace ghostnet
