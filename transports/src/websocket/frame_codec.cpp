#include "ghostnet/transports/websocket/frame_codec.hpp"

#include <cstring>

#include "ghostnet/transports/websocket/utf8_validator.hpp"

namespace ghostnet::transports::ws {

bool is_valid_close_code(uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
         || (code >= 3000 && code <= 4999);
}

bool parse_header(const char* input, size_t size, frame_header& out) noexcept {
  if (size < 2)
    return false;
  auto b0 = static_cast<uint8_t>(input[0]);
  auto b1 = static_cast<uint8_t>(input[1]);
  out.fin = (b0 & 0x80) != 0;
  out.rsv = static_cast<uint8_t>((b0 >> 4) & 0x7);
  out.op = static_cast<uint8_t>(b0 & 0x0F);
  out.masked = (b1 & 0x80) != 0;
  uint64_t len = b1 & 0x7F;
  size_t at = 2;
  if (len == 126) {
    if (size < at + 2)
      return false;
    len = (uint64_t{static_cast<uint8_t>(input[2])} << 8)
          | static_cast<uint8_t>(input[3]);
    at += 2;
  } else if (len == 127) {
    if (size < at + 8)
      return false;
    len = 0;
    for (size_t i = 0; i < 8; ++i)
      len = (len << 8) | static_cast<uint8_t>(input[at + i]);
    at += 8;
  }
  if (out.masked) {
    if (size < at + 4)
      return false;
    std::memcpy(out.mask.data(), input + at, 4);
    at += 4;
  }
  out.length = len;
  out.size = at;
  return true;
}

uint16_t check_header(const frame_header& h, role receiver) noexcept {
  if (h.rsv != 0)
    return close_code::protocol_error;
  switch (static_cast<opcode>(h.op)) {
    case opcode::continuation:
    case opcode::text:
    case opcode::binary:
      break;
    case opcode::close:
    case opcode::ping:
    case opcode::pong:
      if (!h.fin || h.length > 125)
        return close_code::protocol_error;
      break;
    default:
      return close_code::protocol_error;
  }
  if ((h.length >> 63) != 0)
    return close_code::protocol_error;
  if (h.masked != (receiver == role::server))
    return close_code::protocol_error;
  return 0;
}

void apply_mask(char* data, size_t n, const mask_key& key,
                uint64_t offset) noexcept {
  // The key rotated to `offset`, then eight bytes at a time.
  uint8_t k[8];
  for (size_t i = 0; i < 8; ++i)
    k[i] = key[(offset + i) & 3];
  uint64_t wide;
  std::memcpy(&wide, k, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    word ^= wide;
    std::memcpy(data + i, &word, 8);
  }
  for (; i < n; ++i)
    data[i] = static_cast<char>(static_cast<uint8_t>(data[i]) ^ k[i & 7]);
}

void append_frame(std::vector<char>& out, opcode op, bool fin,
                  std::string_view payload, const mask_key* key) {
  uint8_t head[14];
  size_t n = 0;
  head[n++] = static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(op));
  uint8_t mask_bit = key ? 0x80 : 0;
  auto len = payload.size();
  if (len < 126) {
    head[n++] = static_cast<uint8_t>(mask_bit | len);
  } else if (len <= 0xFFFF) {
    head[n++] = static_cast<uint8_t>(mask_bit | 126);
    head[n++] = static_cast<uint8_t>(len >> 8);
    head[n++] = static_cast<uint8_t>(len);
  } else {
    head[n++] = static_cast<uint8_t>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      head[n++] = static_cast<uint8_t>(uint64_t{len} >> shift);
  }
  if (key) {
    std::memcpy(head + n, key->data(), 4);
    n += 4;
  }
  out.insert(out.end(), reinterpret_cast<const char*>(head),
             reinterpret_cast<const char*>(head) + n);
  auto at = out.size();
  out.insert(out.end(), payload.begin(), payload.end());
  if (key)
    apply_mask(out.data() + at, len, *key, 0);
}

std::vector<char> close_payload(uint16_t code, std::string_view reason) {
  // 125 bytes at most: the code's two and 123 of the reason, not cutting a
  // code point in two.
  if (reason.size() > 123) {
    size_t cut = 123;
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80)
      --cut;
    reason = reason.substr(0, cut);
  }
  std::vector<char> out;
  out.reserve(2 + reason.size());
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.insert(out.end(), reason.begin(), reason.end());
  return out;
}

close_frame parse_close_payload(std::string_view payload) noexcept {
  close_frame result;
  if (payload.empty())
    return result;
  if (payload.size() == 1) {
    result.violation = close_code::protocol_error;
    return result;
  }
  result.code = static_cast<uint16_t>(
    (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
  result.reason = payload.substr(2);
  if (!is_valid_close_code(result.code))
    result.violation = close_code::protocol_error;
  else if (!is_valid_utf8(result.reason))
    result.violation = close_code::invalid_payload;
  return result;
}

} // namespace ghostnet::transports::ws
