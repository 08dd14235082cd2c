#pragma once

// What ghostnet's actors do with a message outside their interface: log it
// (warn, with the message) and answer `invalid_state` naming the actor, so
// a request sent by mistake fails at once instead of at its timeout.

#include <string_view>

#include <caf/message_view.hpp>
#include <caf/result.hpp>

namespace ghostnet {

/// For `set_default_handler`: `source` is the actor's log source, `name`
/// its name in the error's endpoint.
[[nodiscard]] caf::result<caf::message>
reject_unexpected_message(std::string_view source, std::string_view name,
                          caf::message_view& msg);

} // namespace ghostnet
