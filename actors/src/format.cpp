#include "ghostnet/actors/format.hpp"

#include <charconv>
#include <cstdint>

namespace ghostnet {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

} // namespace

namespace detail {

void append_unicode_escape(std::string& out, unsigned char c) {
  out += "\\u00";
  out += hex_digits[c >> 4];
  out += hex_digits[c & 0xF];
}

bool append_common_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out += "\\\""; return true;
    case '\\': out += "\\\\"; return true;
    case '\n': out += "\\n"; return true;
    case '\r': out += "\\r"; return true;
    case '\t': out += "\\t"; return true;
    default:
      if (c < 0x20) {
        append_unicode_escape(out, c);
        return true;
      }
      return false;
  }
}

} // namespace detail

namespace {

// Length of the valid UTF-8 sequence starting at `p` (of `n` bytes), 0 if
// none: overlong forms, surrogates and code points past U+10FFFF are invalid.
size_t utf8_sequence_length(const unsigned char* p, size_t n) noexcept {
  unsigned c = p[0];
  if (c < 0x80)
    return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  constexpr uint32_t min_code_point[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_code_point[len] || cp > 0x10FFFF
      || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

} // namespace

// A JSON string, quotes included. Invalid UTF-8 (bytes from the network end
// up in error details) becomes U+FFFD so that every line stays valid JSON.
void append_json_string(std::string& out, std::string_view str) {
  out += '"';
  auto p = reinterpret_cast<const unsigned char*>(str.data());
  size_t n = str.size();
  for (size_t i = 0; i < n;) {
    auto c = p[i];
    if (c < 0x80) {
      if (!detail::append_common_escape(out, c))
        out += static_cast<char>(c);
      ++i;
    } else if (auto len = utf8_sequence_length(p + i, n - i); len > 0) {
      out.append(str.data() + i, len);
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
}

std::string quoted(std::string_view str) {
  std::string result;
  result.reserve(str.size() + 2);
  result += '"';
  result += str;
  result += '"';
  return result;
}

void append_duration(std::string& out, caf::timespan x) {
  auto ns = x.count();
  if (ns == 0) {
    out += "0s";
    return;
  }
  struct unit {
    int64_t factor;
    const char* suffix;
  };
  constexpr unit units[] = {{3'600'000'000'000, "h"}, {60'000'000'000, "min"},
                            {1'000'000'000, "s"},     {1'000'000, "ms"},
                            {1'000, "us"},            {1, "ns"}};
  for (auto& u : units) {
    if (ns % u.factor == 0) {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof(buf), ns / u.factor);
      out.append(buf, res.ptr);
      out += u.suffix;
      return;
    }
  }
}

std::string format_duration(caf::timespan x) {
  std::string result;
  append_duration(result, x);
  return result;
}

} // namespace ghostnet
