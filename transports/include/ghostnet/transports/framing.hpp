#pragma once

// Sans-IO framing layers: bytes in, frames out, and frames in, bytes out.
// A framer holds no socket, clock or actor; the connection owns the receive
// buffer and hands its unconsumed front to decode() whenever bytes arrive.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/span.hpp>

namespace ghostnet::transports {

/// A read-only view of bytes.
using byte_view = caf::span<const char>;

/// Receives the frames a framer decodes.
class frame_sink {
public:
  virtual ~frame_sink() = default;

  /// Called once per complete frame. `frame` views the caller's input and is
  /// valid only during the call; the sink must not call back into the framer.
  virtual void on_frame(byte_view frame) = 0;
};

/// Splits a byte stream into frames and frames payloads for sending.
/// Not thread-safe: one framer belongs to one connection.
class framer {
public:
  virtual ~framer() = default;

  /// Calls `sink.on_frame` for every complete frame at the front of `input`
  /// and returns the number of bytes consumed. The caller keeps the
  /// unconsumed tail and calls again, with that tail at the front of `input`,
  /// once more bytes arrived (a framer may remember how far it already
  /// scanned the tail). Returns errc::protocol_error (operation
  /// "decode frame", detail says why) if the input can never be framed; the
  /// connection is then closed and the framer not used again.
  [[nodiscard]] virtual caf::expected<size_t> decode(byte_view input,
                                                     frame_sink& sink)
    = 0;

  /// Appends the wire form of one frame carrying `payload` to `out`, or
  /// returns errc::protocol_error (operation "encode frame") and leaves `out`
  /// unchanged if `payload` cannot be framed (too large, or a delimiter).
  [[nodiscard]] virtual caf::error encode(byte_view payload,
                                          std::vector<char>& out)
    = 0;

  /// Returns the name of the framing, e.g. "length_prefixed".
  [[nodiscard]] virtual const char* name() const noexcept = 0;
};

/// How a byte stream is cut into frames.
enum class framing_kind : uint8_t {
  /// No framing: whatever arrived is a frame (split at max_frame_size).
  raw,
  /// A big-endian length field, then that many payload bytes.
  length_prefixed,
  /// Frames end at '\n' (not part of the frame).
  line,
};

/// Returns "raw", "length_prefixed" or "line".
[[nodiscard]] const char* to_string(framing_kind x) noexcept;

/// Options of a framer.
struct framing_options {
  /// Framing on the wire; default raw.
  framing_kind kind = framing_kind::raw;
  /// Largest frame payload accepted or sent, in bytes; default 16 MiB. For
  /// length_prefixed, the largest length the field can hold also applies
  /// (255 bytes for a 1-byte field, 65535 for a 2-byte field).
  size_t max_frame_size = 16 * 1024 * 1024;
  /// Bytes of the big-endian length prefix: 1, 2, 4 or 8; default 4.
  uint8_t length_field_size = 4;
  /// Line framing: a '\r' before the '\n' is not part of the frame; default
  /// true (then payloads ending in '\r' cannot be sent).
  bool strip_carriage_return = true;
};

/// Checks `opts`; returns errc::invalid_configuration naming the bad option.
[[nodiscard]] caf::error validate(const framing_options& opts);

/// Parses "raw", "length_prefixed" or "line"; anything else is
/// errc::invalid_configuration.
[[nodiscard]] caf::expected<framing_kind>
parse_framing_kind(std::string_view str);

/// Creates the framer `opts` describes. Precondition: validate(opts) passed.
[[nodiscard]] std::unique_ptr<framer> make_framer(const framing_options& opts);

} // namespace ghostnet::transports
