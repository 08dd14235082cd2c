#pragma once

// Names of the layer stack that options and factories need (layer.hpp has
// the interfaces).

#include <functional>
#include <memory>
#include <string_view>

namespace ghostnet::transports {

class upper_layer;
class lower_layer;

using layer_ptr = std::unique_ptr<upper_layer>;

/// Makes the layer above the transport (above TLS, when TLS is on). Called
/// once per connection, with the application protocol TLS negotiated
/// (ALPN; empty without TLS or when none was agreed), so one factory can
/// pick HTTP/1.1 or HTTP/2 by it. Returning null closes the connection with
/// errc::invalid_configuration.
using layer_factory = std::function<layer_ptr(std::string_view alpn)>;

} // namespace ghostnet::transports
