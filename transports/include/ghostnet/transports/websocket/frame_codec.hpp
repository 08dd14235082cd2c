#pragma once

// The WebSocket frame format (RFC 6455, section 5) without I/O: headers
// parsed from and written to byte buffers, masking, close payloads. The
// WebSocket layer (websocket_layer.cpp) drives it; the fuzz target and the
// unit tests use it directly.
//
// Why ghostnet has its own codec instead of wslay: wslay's event API reads
// through a callback until EAGAIN and copies every message into its own
// queue, in and out, so a message crosses three buffers and the send queue
// has no bound the connection controls. Here a frame's payload is unmasked
// from the connection's read buffer straight into the message being
// reassembled (or handed up in place when a message is one frame), output
// goes straight into the connection's send buffer, and reading pauses at
// message boundaries for backpressure. The format is small; the rules
// (masking, control frames, close codes, UTF-8) are checked here and in
// the layer, each with a test (docs/websocket.md).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ghostnet::transports::ws {

enum class opcode : uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// Close codes ghostnet sends (RFC 6455, section 7.4.1; 1012 from IANA's
/// registry).
namespace close_code {
constexpr uint16_t normal = 1000;
constexpr uint16_t going_away = 1001;
constexpr uint16_t protocol_error = 1002;
constexpr uint16_t unsupported_data = 1003;
constexpr uint16_t no_status = 1005;   ///< never sent: the close had no code
constexpr uint16_t abnormal = 1006;    ///< never sent: no close frame at all
constexpr uint16_t invalid_payload = 1007;
constexpr uint16_t policy_violation = 1008;
constexpr uint16_t message_too_big = 1009;
constexpr uint16_t internal_error = 1011;
constexpr uint16_t service_restart = 1012;
} // namespace close_code

/// True for a code a peer may send in a close frame: 1000-1003, 1007-1014,
/// 3000-4999.
[[nodiscard]] bool is_valid_close_code(uint16_t code) noexcept;

using mask_key = std::array<uint8_t, 4>;

struct frame_header {
  bool fin = true;
  uint8_t rsv = 0; ///< RSV1..3 as bits 2..0
  uint8_t op = 0;  ///< an opcode, maybe an unknown one
  bool masked = false;
  mask_key mask{};
  uint64_t length = 0;
  size_t size = 0; ///< bytes of the header itself (2..14)

  [[nodiscard]] bool is_control() const noexcept {
    return (op & 0x8) != 0;
  }
};

/// Parses the header at the start of `input`. Returns false if `input`
/// does not hold all of it yet. Checks nothing but the encoding (a 64-bit
/// length with its top bit set is read as is: see check_header).
[[nodiscard]] bool parse_header(const char* input, size_t size,
                                frame_header& out) noexcept;

enum class role : uint8_t { server, client };

/// The close code a header violates as received by `receiver` (0: none):
/// 1002 for reserved bits (no extension is negotiated), unknown opcodes,
/// control frames fragmented or longer than 125 bytes, a length with its
/// top bit set, and for masking the wrong way (client frames must be
/// masked, server frames must not).
[[nodiscard]] uint16_t check_header(const frame_header& h,
                                    role receiver) noexcept;

/// XORs `n` bytes at `data` with `key`, starting at byte `offset` of the
/// payload (a payload may arrive in pieces).
void apply_mask(char* data, size_t n, const mask_key& key,
                uint64_t offset) noexcept;

/// Appends a frame: the header (masked with `key` if not null) and the
/// payload (masked in the copy).
void append_frame(std::vector<char>& out, opcode op, bool fin,
                  std::string_view payload, const mask_key* key = nullptr);

/// A close frame's payload: the code (big-endian) and the reason, cut to
/// fit 125 bytes on a UTF-8 boundary.
[[nodiscard]] std::vector<char> close_payload(uint16_t code,
                                              std::string_view reason);

struct close_frame {
  uint16_t code = close_code::no_status;
  std::string_view reason;
  /// 0, or the close code the payload violates: 1002 for a one-byte
  /// payload or a code not allowed on the wire, 1007 for a reason that is
  /// not UTF-8.
  uint16_t violation = 0;
};

[[nodiscard]] close_frame parse_close_payload(std::string_view payload) noexcept;

} // namespace ghostnet::transports::ws
