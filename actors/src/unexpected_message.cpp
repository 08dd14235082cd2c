#include "ghostnet/actors/unexpected_message.hpp"

#include <string>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/log.hpp"

namespace ghostnet {

caf::result<caf::message>
reject_unexpected_message(std::string_view source, std::string_view name,
                          caf::message_view& msg) {
  log::warn(source, "unexpected_message",
            {log::kv("message", caf::to_string(msg.copy_content_to_message()))});
  return make_error(errc::invalid_state, "handle message", std::string{name},
                    0, "unexpected message");
}

} // namespace ghostnet
