#pragma once

// A raw WebSocket client for tests: the upgrade request, masked frames out,
// frames in (checked to be unmasked), and Debian's python3 for the peers
// written in Python.

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "ghostnet/transports/websocket/frame_codec.hpp"
#include "http_test_support.hpp"

namespace ghostnet::test {

namespace ws = ghostnet::transports::ws;

inline const char* upgrade_request(const char* path) {
  static std::string req;
  req = std::string{"GET "} + path
        + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n";
  return req.c_str();
}

inline std::string masked(ws::opcode op, std::string_view payload, bool fin = true) {
  ws::mask_key key{0x12, 0x34, 0x56, 0x78};
  std::vector<char> out;
  ws::append_frame(out, op, fin, payload, &key);
  return std::string{out.begin(), out.end()};
}

struct frame {
  int op = -1; ///< -1: the connection ended instead
  std::string payload;

  uint16_t close_code() const {
    return payload.size() >= 2
             ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8)
                                     | static_cast<uint8_t>(payload[1]))
             : 1005;
  }
};

inline frame read_frame(client& c) {
  frame f;
  auto head = c.read_exactly(2);
  if (head.size() < 2)
    return f;
  std::string all = head;
  ws::frame_header h;
  while (!ws::parse_header(all.data(), all.size(), h)) {
    auto more = c.read_exactly(1);
    if (more.empty())
      return f;
    all += more;
  }
  BOOST_CHECK_MESSAGE(!h.masked, "a server frame must not be masked");
  f.payload = c.read_exactly(static_cast<size_t>(h.length));
  f.op = h.op;
  return f;
}

/// Sends the upgrade (plus `extra` in the same segment) and reads the 101.
inline void open_raw(client& c, const char* path, const std::string& extra = {}) {
  BOOST_REQUIRE(c.connected());
  BOOST_REQUIRE(c.send_all(std::string{upgrade_request(path)} + extra));
  auto head = read_until(c, "\r\n\r\n");
  BOOST_REQUIRE_MESSAGE(head.rfind("HTTP/1.1 101 ", 0) == 0, head);
  // RFC 6455's own example key and answer.
  BOOST_CHECK(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
              != std::string::npos);
}

/// Expects the server's close frame with `code`, then the end of the
/// connection.
inline void expect_close(client& c, uint16_t code) {
  auto f = read_frame(c);
  BOOST_REQUIRE_EQUAL(f.op, 0x8);
  BOOST_CHECK_EQUAL(f.close_code(), code);
  BOOST_CHECK(c.sees_close());
}

inline std::string debian_python() {
  // The first python3 on PATH may lack Debian's modules (pyenv).
  return "/usr/bin/python3";
}

inline std::string write_script(const std::string& name, const std::string& text) {
  auto path = "/tmp/ghostnet-ws-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream{path} << text;
  return path;
}

} // namespace ghostnet::test
