#pragma once

// The default protocol of a connection: a framer (raw, line or
// length-prefixed; see framing.hpp) cuts the byte stream into frames, and a
// connection_handler gets each one inside the connection actor.

#include "ghostnet/transports/connection_handler.hpp"
#include "ghostnet/transports/framing.hpp"
#include "ghostnet/transports/layer.hpp"

namespace ghostnet::transports {

/// A framing layer for one connection. Preconditions: validate(framing)
/// passed, `handler` is not null.
[[nodiscard]] layer_ptr
make_framing_layer(const framing_options& framing,
                   std::unique_ptr<connection_handler> handler);

/// One framing layer per connection, each with a handler of `make_handler`
/// (a factory returning null makes no layer: the connection closes with
/// errc::invalid_configuration). Ignores ALPN.
[[nodiscard]] layer_factory framing_layer(framing_options framing,
                                          handler_factory make_handler);

} // namespace ghostnet::transports
