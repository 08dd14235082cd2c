#pragma once

// Waiting for a connection made by connect() or websocket_connect() from a
// blocking actor (a scoped_actor in main or a test). The connect request is
// answered once the connection is up, or with what ended it; but a
// connection that fails fast (a refused port) may be gone before the
// request reaches it, and a request to a gone actor only says
// sec::request_receiver_down. Monitoring it first keeps the real reason:
// its exit reason is the error.

#include <caf/blocking_actor.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/transports/connection_actor.hpp"

namespace ghostnet::transports {

/// The connection's info once it is up, or the error that ended it
/// (errc::timeout after `timeout`).
[[nodiscard]] caf::expected<connection_info>
await_connect(caf::blocking_actor& self, const connection_actor& conn, caf::timespan timeout);

} // namespace ghostnet::transports
