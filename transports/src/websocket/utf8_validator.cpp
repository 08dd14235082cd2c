#include "ghostnet/transports/websocket/utf8_validator.hpp"

#include <cstring>

namespace ghostnet::transports::ws {

// The byte ranges of RFC 3629, section 4, one lead byte at a time; the
// first continuation byte's range excludes overlong forms (E0, F0),
// surrogates (ED) and code points above U+10FFFF (F4).
bool utf8_validator::feed(std::string_view piece) noexcept {
  if (failed_)
    return false;
  auto p = reinterpret_cast<const unsigned char*>(piece.data());
  auto end = p + piece.size();
  while (p != end) {
    if (need_ == 0) {
      // ASCII runs are the common case: skip eight bytes at a time.
      while (end - p >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        if ((word & 0x8080808080808080ull) != 0)
          break;
        p += 8;
      }
      if (p == end)
        break;
      auto b = *p++;
      if (b < 0x80)
        continue;
      lower_ = 0x80;
      upper_ = 0xBF;
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1;
      } else if (b >= 0xE0 && b <= 0xEF) {
        need_ = 2;
        if (b == 0xE0)
          lower_ = 0xA0;
        else if (b == 0xED)
          upper_ = 0x9F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        need_ = 3;
        if (b == 0xF0)
          lower_ = 0x90;
        else if (b == 0xF4)
          upper_ = 0x8F;
      } else {
        failed_ = true; // 80..C1 (continuation, overlong), F5..FF
        return false;
      }
      continue;
    }
    auto b = *p++;
    if (b < lower_ || b > upper_) {
      failed_ = true;
      return false;
    }
    lower_ = 0x80;
    upper_ = 0xBF;
    --need_;
  }
  return true;
}

bool is_valid_utf8(std::string_view text) noexcept {
  utf8_validator v;
  return v.feed(text) && v.complete();
}

} // namespace ghostnet::transports::ws
