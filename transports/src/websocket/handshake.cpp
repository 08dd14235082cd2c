#include "handshake.hpp"

#include <cctype>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ghostnet/transports/http/http_message.hpp"

namespace ghostnet::transports::ws::detail {

namespace {

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  auto len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                             static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

template <class F>
void for_each_token(std::string_view value, F f) {
  while (!value.empty()) {
    auto comma = value.find(',');
    auto token = http::trim_ows(value.substr(0, comma));
    if (!token.empty() && f(token))
      return;
    if (comma == std::string_view::npos)
      return;
    value.remove_prefix(comma + 1);
  }
}

} // namespace

std::string accept_key(std::string_view client_key) {
  std::string input{client_key};
  input += websocket_guid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return base64(digest, sizeof digest);
}

std::string make_client_key() {
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1)
    for (size_t i = 0; i < sizeof nonce; ++i)
      nonce[i] = static_cast<unsigned char>(i * 37 + 11);
  return base64(nonce, sizeof nonce);
}

bool valid_client_key(std::string_view key) noexcept {
  if (key.size() != 24 || key.substr(22) != "==")
    return false;
  for (size_t i = 0; i < 22; ++i) {
    auto c = static_cast<unsigned char>(key[i]);
    if (!std::isalnum(c) && c != '+' && c != '/')
      return false;
  }
  return true;
}

bool has_token(std::string_view value, std::string_view token) noexcept {
  bool found = false;
  for_each_token(value, [&](std::string_view t) {
    found = http::iequals(t, token);
    return found;
  });
  return found;
}

std::string choose_subprotocol(std::string_view offered,
                               const std::vector<std::string>& ours) {
  for (auto& mine : ours)
    if (has_token(offered, mine))
      return mine;
  return {};
}

} // namespace ghostnet::transports::ws::detail
