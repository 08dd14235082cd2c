#include "ghostnet/transports/framing.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

namespace {

caf::error decode_error(const char* framing, std::string why) {
  return make_error(errc::protocol_error, "decode frame", {}, 0,
                    framing + (": " + why));
}

caf::error encode_error(const char* framing, std::string why) {
  return make_error(errc::protocol_error, "encode frame", {}, 0,
                    framing + (": " + why));
}

caf::error too_large(const char* framing, size_t size, size_t limit) {
  return encode_error(framing, "payload of " + std::to_string(size)
                                 + " bytes exceeds the limit of "
                                 + std::to_string(limit) + " bytes");
}

// -- raw ----------------------------------------------------------------------

// Whatever arrived is a frame; only max_frame_size cuts it.
class raw_framer final : public framer {
public:
  explicit raw_framer(size_t max_frame_size) noexcept : max_(max_frame_size) {
    // nop
  }

  caf::expected<size_t> decode(byte_view input, frame_sink& sink) override {
    for (size_t pos = 0; pos < input.size();) {
      auto len = std::min(max_, input.size() - pos);
      sink.on_frame(input.subspan(pos, len));
      pos += len;
    }
    return input.size();
  }

  caf::error encode(byte_view payload, std::vector<char>& out) override {
    if (payload.size() > max_)
      return too_large(name(), payload.size(), max_);
    out.insert(out.end(), payload.begin(), payload.end());
    return caf::none;
  }

  const char* name() const noexcept override {
    return "raw";
  }

private:
  size_t max_;
};

// -- length_prefixed ----------------------------------------------------------

class length_prefixed_framer final : public framer {
public:
  length_prefixed_framer(size_t max_frame_size, uint8_t field_size) noexcept
    : field_size_(field_size) {
    auto field_max = field_size >= 8
                       ? std::numeric_limits<uint64_t>::max()
                       : (uint64_t{1} << (8 * field_size)) - 1;
    max_ = static_cast<uint64_t>(max_frame_size) < field_max
             ? max_frame_size
             : static_cast<size_t>(field_max);
  }

  caf::expected<size_t> decode(byte_view input, frame_sink& sink) override {
    auto data = reinterpret_cast<const unsigned char*>(input.data());
    auto size = input.size();
    size_t pos = 0;
    while (size - pos >= field_size_) {
      uint64_t len = 0;
      for (size_t i = 0; i < field_size_; ++i)
        len = (len << 8) | data[pos + i];
      // Reject at once: waiting for the payload would let a peer make us
      // buffer up to 2^64 bytes.
      if (len > max_)
        return decode_error(name(), "declared length of "
                                      + std::to_string(len)
                                      + " bytes exceeds the limit of "
                                      + std::to_string(max_) + " bytes");
      if (size - pos - field_size_ < len)
        break;
      sink.on_frame(input.subspan(pos + field_size_, static_cast<size_t>(len)));
      pos += field_size_ + static_cast<size_t>(len);
    }
    return pos;
  }

  caf::error encode(byte_view payload, std::vector<char>& out) override {
    if (payload.size() > max_)
      return too_large(name(), payload.size(), max_);
    auto len = static_cast<uint64_t>(payload.size());
    for (size_t i = field_size_; i > 0; --i)
      out.push_back(static_cast<char>((len >> (8 * (i - 1))) & 0xFF));
    out.insert(out.end(), payload.begin(), payload.end());
    return caf::none;
  }

  const char* name() const noexcept override {
    return "length_prefixed";
  }

private:
  size_t field_size_;
  size_t max_; // min(max_frame_size, largest value of the length field)
};

// -- line ---------------------------------------------------------------------

class line_framer final : public framer {
public:
  line_framer(size_t max_frame_size, bool strip_carriage_return) noexcept
    : max_(max_frame_size), strip_(strip_carriage_return) {
    // nop
  }

  caf::expected<size_t> decode(byte_view input, frame_sink& sink) override {
    auto data = input.data();
    auto size = input.size();
    size_t start = 0;
    // The tail we left last time holds no '\n': scan only the new bytes, so
    // a long line fed in small pieces costs one pass, not one per piece.
    size_t scan = scanned_ <= size ? scanned_ : 0;
    while (scan < size) {
      auto nl = static_cast<const char*>(
        std::memchr(data + scan, '\n', size - scan));
      if (nl == nullptr)
        break;
      auto end = static_cast<size_t>(nl - data);
      auto len = end - start;
      if (strip_ && len > 0 && data[end - 1] == '\r')
        --len;
      if (len > max_)
        return line_too_long(len);
      sink.on_frame(input.subspan(start, len));
      start = end + 1;
      scan = start;
    }
    auto tail = size - start;
    // A tail of max_ + 1 bytes may still be a valid line if its last byte is
    // the '\r' of a "\r\n" still on the way.
    if (tail > max_
        && !(tail - 1 == max_ && strip_ && data[size - 1] == '\r'))
      return line_too_long(tail);
    scanned_ = tail;
    return start;
  }

  caf::error encode(byte_view payload, std::vector<char>& out) override {
    auto size = payload.size();
    if (size > max_)
      return too_large(name(), size, max_);
    if (size > 0 && std::memchr(payload.data(), '\n', size) != nullptr)
      return encode_error(name(), "payload contains '\\n'");
    if (strip_ && size > 0 && payload[size - 1] == '\r')
      return encode_error(name(), "payload ends with '\\r', which the peer "
                                  "strips (strip_carriage_return)");
    out.insert(out.end(), payload.begin(), payload.end());
    out.push_back('\n');
    return caf::none;
  }

  const char* name() const noexcept override {
    return "line";
  }

private:
  caf::error line_too_long(size_t len) const {
    return decode_error(name(), "line of at least " + std::to_string(len)
                                  + " bytes exceeds the limit of "
                                  + std::to_string(max_) + " bytes");
  }

  size_t max_;
  bool strip_;
  size_t scanned_ = 0; // bytes at the front of the next input without '\n'
};

} // namespace

const char* to_string(framing_kind x) noexcept {
  switch (x) {
    case framing_kind::raw: return "raw";
    case framing_kind::length_prefixed: return "length_prefixed";
    case framing_kind::line: return "line";
  }
  return "invalid";
}

caf::error validate(const framing_options& opts) {
  auto invalid = [](std::string detail) {
    return make_error(errc::invalid_configuration, "validate framing options",
                      {}, 0, std::move(detail));
  };
  if (opts.kind > framing_kind::line)
    return invalid("kind: " + std::to_string(static_cast<int>(opts.kind))
                   + " is not a framing kind");
  if (opts.max_frame_size == 0)
    return invalid("max_frame_size: must be at least 1 byte");
  switch (opts.length_field_size) {
    case 1:
    case 2:
    case 4:
    case 8:
      break;
    default:
      return invalid("length_field_size: "
                     + std::to_string(opts.length_field_size)
                     + " is not 1, 2, 4 or 8");
  }
  return caf::none;
}

caf::expected<framing_kind> parse_framing_kind(std::string_view str) {
  for (auto x :
       {framing_kind::raw, framing_kind::length_prefixed, framing_kind::line})
    if (str == to_string(x))
      return x;
  return make_error(errc::invalid_configuration, "parse framing kind", {}, 0,
                    "kind: unknown framing \"" + std::string{str}
                      + "\" (expected raw, length_prefixed or line)");
}

std::unique_ptr<framer> make_framer(const framing_options& opts) {
  switch (opts.kind) {
    case framing_kind::length_prefixed:
      return std::make_unique<length_prefixed_framer>(opts.max_frame_size,
                                                      opts.length_field_size);
    case framing_kind::line:
      return std::make_unique<line_framer>(opts.max_frame_size,
                                           opts.strip_carriage_return);
    case framing_kind::raw:
    default:
      return std::make_unique<raw_framer>(opts.max_frame_size);
  }
}

} // namespace ghostnet::transports
