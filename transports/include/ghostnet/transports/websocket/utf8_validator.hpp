#pragma once

// Incremental UTF-8 validation (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF) for WebSocket text, which may be cut anywhere:
// between frames of a fragmented message, inside a code point. The state
// carries over from one piece to the next.

#include <cstdint>
#include <string_view>

namespace ghostnet::transports::ws {

class utf8_validator {
public:
  /// Feeds the next piece. False once the text so far cannot be the start
  /// of valid UTF-8 (and from then on).
  bool feed(std::string_view piece) noexcept;

  /// True if the text fed so far ends on a code point boundary (a complete
  /// message must).
  [[nodiscard]] bool complete() const noexcept {
    return need_ == 0 && !failed_;
  }

  void reset() noexcept {
    need_ = 0;
    lower_ = 0x80;
    upper_ = 0xBF;
    failed_ = false;
  }

private:
  uint8_t need_ = 0;     ///< continuation bytes still expected
  uint8_t lower_ = 0x80; ///< allowed range of the next continuation byte
  uint8_t upper_ = 0xBF;
  bool failed_ = false;
};

/// True if `text` is complete, valid UTF-8.
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

} // namespace ghostnet::transports::ws
