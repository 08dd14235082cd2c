#pragma once

// TLS as a layer of the connection stack: ciphertext from below, plaintext
// to the layer above, which the ALPN result picks once the handshake is
// done (see layer_factory). The session itself is sans-IO (tls_session.hpp);
// this layer adds the handshake deadline, batching (everything the layer
// above writes in one turn leaves as one record), close_notify on close and
// the EOF rules (a stream that ends without close_notify was truncated).

#include <string>

#include <caf/timespan.hpp>

#include "ghostnet/transports/layer.hpp"
#include "ghostnet/transports/tcp_options.hpp"

namespace ghostnet::transports {

/// A TLS layer for one connection, under the layers `above` makes.
/// `default_server_name` is the client's server name when neither
/// `opts.server_name` nor the context names one (the host connect() was
/// given, as curl does). The session is created when the layer starts;
/// failing that (a client without a server name) closes the connection.
[[nodiscard]] layer_ptr make_tls_layer(const tls_layer_options& opts,
                                       std::string default_server_name,
                                       layer_factory above);

} // namespace ghostnet::transports
