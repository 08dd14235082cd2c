#pragma once

// The layer stack of a connection: sans-IO protocol layers, bottom to top
//
//   socket ⇄ connection broker ⇄ [TLS] ⇄ framing | HTTP | your layer ⇄ ...
//
// Every layer has two faces. Towards the layer below it is an upper_layer:
// it is started, receives bytes, is told about EOF, writability, time and
// close requests. Towards the layer above it is a lower_layer: it offers an
// output buffer, pausing, closing and switching the protocol above it. The
// connection broker is the lower_layer of the bottom layer; it owns the
// socket, the timers and nothing protocol-specific.
//
// Rules every layer follows (and its tests check on byte arrays):
// - All calls come from the connection's thread, one at a time. A layer
//   calls down from inside any of its callbacks (e.g. answer 400 from
//   consume, a pong from on_timeout), never up into its caller.
// - No clock inside a layer: lower_layer::now() is the time of the current
//   turn, next_deadline() says when the layer wants on_timeout(now).
// - Output appended between begin_output() and end_output() is sent at the
//   end of the turn (after every layer's prepare_send), so that all answers
//   to one read leave in one send() (and, over TLS, in one record).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "ghostnet/transports/connection_actor.hpp"
#include "ghostnet/transports/file_range.hpp"
#include "ghostnet/transports/framing.hpp"
#include "ghostnet/transports/layer_fwd.hpp"

namespace ghostnet::transports {

/// The time layers see (CLOCK_MONOTONIC); the broker's timers use it too.
using layer_clock = std::chrono::steady_clock;
using layer_time = layer_clock::time_point;

/// What a layer sees of the layer below it.
class lower_layer {
public:
  virtual ~lower_layer() = default;

  // -- output -----------------------------------------------------------------

  /// The buffer to append bytes for the peer to; valid until end_output().
  [[nodiscard]] virtual std::vector<char>& begin_output() = 0;

  /// Done appending. The bytes go out at the end of the current turn.
  virtual void end_output() = 0;

  /// False while the bytes accepted for sending are above the high-water
  /// mark: the layer should hold back; on_writable() follows once they
  /// drained.
  [[nodiscard]] virtual bool can_send_more() const noexcept = 0;

  /// Queues `range` after the bytes appended so far, to go out without a
  /// copy through user space (sendfile(2)); it counts towards
  /// can_send_more() like appended bytes. False if this layer cannot send
  /// files (TLS must encrypt every byte): the caller writes the bytes
  /// itself (read_file_piece).
  [[nodiscard]] virtual bool send_file(file_range range) {
    (void) range;
    return false;
  }

  // -- input ------------------------------------------------------------------

  /// Stops handing bytes up (and reading the socket) until resume_reading.
  /// Bytes already received stay with this layer and are handed up again,
  /// in order, once reading resumes (from the end of the turn).
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;

  // -- lifetime ---------------------------------------------------------------

  /// The layer above is open for its application: answers pending connect
  /// requests and starts the connection's idle/read/write timeouts. Called
  /// by the layer that carries application data, once (later calls do
  /// nothing).
  virtual void established() = 0;

  /// Graceful close from above: sends what was written, ends this layer's
  /// own protocol (TLS close_notify), then closes below. Bounded by the
  /// drain timeout.
  virtual void close() = 0;

  /// Drops the connection at once (a reset) with `reason` as its reason.
  virtual void abort(caf::error reason) = 0;

  /// Replaces the layer above this one. Called from the upper layer's
  /// consume(), the bytes after the ones it reports used go to `next`
  /// (after next->start), in the same turn: an HTTP 101 and the first
  /// WebSocket frame of the same segment both arrive. The old layer is
  /// destroyed once its call returned.
  virtual void switch_protocol(layer_ptr next) = 0;

  // -- other actors -----------------------------------------------------------

  /// Sends `msg` to `dest` as a request of the connection actor. The reply,
  /// or an error (sec::request_timeout after `timeout`,
  /// sec::request_receiver_down, the receiver's own), goes to `on_reply`
  /// as a message of the connection, between its reads: wrap what the
  /// handlers do in in_turn(), and guard them against a layer that is gone
  /// by then (a weak_ptr). A reply that comes after the connection closed
  /// is dropped with it.
  virtual void ask(const caf::actor& dest, caf::timespan timeout,
                   caf::message msg, caf::behavior on_reply) = 0;

  /// Runs `f` as a turn of the connection: output written in it leaves at
  /// its end, deadlines are re-armed. For work that continues outside a
  /// callback of the stack, such as the reply to ask().
  virtual void in_turn(const std::function<void()>& f) = 0;

  // -- the connection ---------------------------------------------------------

  /// The time of the current turn.
  [[nodiscard]] virtual layer_time now() const noexcept = 0;

  /// The connection's state and counters, shared by all layers (a layer
  /// adds what it knows, e.g. TLS its version and ALPN). The addresses may
  /// not be filled in yet: see full_info().
  [[nodiscard]] virtual connection_info& info() = 0;

  /// info() with the local and remote addresses (looked up on first use:
  /// a system call most connections never need).
  [[nodiscard]] virtual const connection_info& full_info() = 0;

  [[nodiscard]] virtual connection_state state() const noexcept = 0;

  /// The connection actor (to hand to other actors).
  [[nodiscard]] virtual connection_actor self() const = 0;
};

/// A protocol layer, as the layer below sees it.
class upper_layer {
public:
  virtual ~upper_layer() = default;

  /// The layer below is ready (TCP connected or accepted, TLS handshake
  /// done). `down` outlives this layer. An error closes the connection.
  [[nodiscard]] virtual caf::error start(lower_layer& down) = 0;

  /// Bytes from below: `input` starts with every byte not consumed before.
  /// Returns how many bytes were used (0: need more, the layer below keeps
  /// them and calls again with more appended), or an error, which closes
  /// the connection after what the layer wrote (e.g. a 400) is sent.
  [[nodiscard]] virtual caf::expected<size_t> consume(byte_view input) = 0;

  /// The peer sends nothing more. Call close() below once done (e.g. after
  /// the responses in flight); the drain timeout bounds the wait. An error
  /// (e.g. a stream cut short) becomes the connection's close reason.
  [[nodiscard]] virtual caf::error on_eof() = 0;

  /// The connection is asked to close (close request, supervisor shutdown):
  /// finish what is in flight, then call close() below. Bounded by the
  /// drain timeout.
  virtual void request_close() = 0;

  /// can_send_more() turned true again.
  virtual void on_writable() {
    // nop
  }

  /// When this layer (or one above it) wants on_timeout.
  [[nodiscard]] virtual std::optional<layer_time> next_deadline() const {
    return std::nullopt;
  }

  /// A deadline passed. An error closes the connection with it.
  [[nodiscard]] virtual caf::error on_timeout(layer_time /*now*/) {
    return caf::none;
  }

  /// End of a turn, before the bytes go out: a layer that batches output
  /// (TLS) writes it below now.
  [[nodiscard]] virtual caf::error prepare_send() {
    return caf::none;
  }

  /// The connection is gone; `reason` is none after a clean close. Called
  /// exactly once, also for a layer that was never started (the connection
  /// failed before it was ready: connect refused, TLS handshake failed).
  virtual void on_close(const caf::error& /*reason*/) {
    // nop
  }

  /// A `send` request reached the connection actor: one message of the
  /// protocol (a frame for the framing layer). Default: refused.
  [[nodiscard]] virtual caf::error on_send(byte_view payload);

  /// A `demand` message reached the connection actor: its handler actor
  /// may take `n` more messages (actor_flow).
  virtual void on_demand(uint32_t /*n*/) {
    // nop
  }

  /// A `layer_request` reached the connection actor: a request of the
  /// protocol on top that connection_actor has no word for (a facade's,
  /// e.g. websocket_actor's text or close(code, reason)); answered ok or
  /// with the error. Default: refused (errc::invalid_state).
  [[nodiscard]] virtual caf::error on_request(const caf::message& msg);

  /// A `set_receiver` request reached the connection actor: the messages
  /// this protocol sends to an actor go to `receiver` from now on. Default:
  /// refused (errc::invalid_state).
  [[nodiscard]] virtual caf::error on_set_receiver(caf::actor receiver);

  /// What is in progress, for error contexts (e.g. "tls handshake" while
  /// the handshake runs); null: nothing particular ("read").
  [[nodiscard]] virtual const char* operation() const noexcept {
    return nullptr;
  }

  /// The protocol's name in logs and errors, e.g. "tls", "framing".
  [[nodiscard]] virtual const char* name() const noexcept = 0;
};

} // namespace ghostnet::transports
