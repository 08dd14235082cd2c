#include "ghostnet/actors/middleman.hpp"

#include "ghostnet/actors/error.hpp"

namespace ghostnet {

caf::expected<caf::io::middleman*>
middleman_of(caf::actor_system& sys, const std::string& operation,
             const std::string& endpoint) {
  if (!sys.has_middleman())
    return make_error(errc::invalid_configuration, operation, endpoint, 0,
                      "the actor system has no middleman: call "
                      "cfg.load<caf::io::middleman>()");
  return &sys.middleman();
}

} // namespace ghostnet
