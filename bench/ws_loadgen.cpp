// bench-ws-loadgen: an epoll load generator for WebSocket echo servers
// (bench/ws.sh). One thread, plain POSIX sockets; OpenSSL's libcrypto only
// for the SHA-1 of the handshake.
//
//   bench-ws-loadgen --port P [--host 127.0.0.1] [--path /echo]
//     [--connections 50] [--size 64] [--depth 1] [--duration 10]
//     [--warmup 2] [--text] [--handshake-timeout 10]
//
// Opens --connections connections, upgrades each (RFC 6455: checks the 101
// and Sec-WebSocket-Accept), then keeps --depth masked --size-byte messages
// (binary, or text with --text) in flight on each, checking every echoed
// payload byte for byte. Messages echoed during the --warmup seconds are not
// counted; the next --duration seconds are. Prints one line on stdout:
//   RESULT messages_per_s=<x> errors=<n> closed=<n> p50_us=<x> p99_us=<x> cpu=<x>
// (latency: send to echo of each counted message; with --depth > 1 it
// includes the wait behind the messages ahead of it. cpu: the share of one
// CPU this process used while counting; near 1.0 the figure is the load
// generator's limit, not the server's).
// Exit status: 0; 1 if a connection failed mid-run or an echo was wrong (the
// RESULT line still comes); 2 on bad options; 3 if the set-up failed
// (connect refused, upgrade refused or wrong, timeout): no RESULT line then.
#include "bench_util.hpp"

#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

constexpr double kHardMaxSeconds = 60.0;  // bounds --duration and --warmup each
constexpr size_t kMaxSize = 1 << 20;      // largest --size
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxResponseHead = 8192; // a longer 101 response is refused
constexpr size_t kPatternLen = 65521;     // prime, so connections of different seeds differ
constexpr const char* kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum Opcode : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/echo";
  int connections = 50;
  int size = 64;
  int depth = 1;
  double duration = 10;
  double warmup = 2;
  double handshake_timeout = 10;
  bool text = false;
};

[[noreturn]] void fail_setup(const std::string& why) {
  std::fprintf(stderr, "bench-ws-loadgen: %s\n", why.c_str());
  std::exit(3);
}

// The payload bytes: message n of a connection is pattern[(seed + n * size) %
// kPatternLen ...], over-long so that every message is contiguous. Printable
// ASCII, so that --text sends valid UTF-8.
std::vector<unsigned char> g_pattern;

void fill_pattern(size_t size) {
  g_pattern.resize(kPatternLen + size);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < kPatternLen; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    g_pattern[i] = static_cast<unsigned char>('!' + x % 94);
  }
  for (size_t i = kPatternLen; i < g_pattern.size(); ++i)
    g_pattern[i] = g_pattern[i - kPatternLen];
}

// Masks need not be secret here (the peer is our own echo server), only
// varied: xorshift, not RAND_bytes per frame.
uint32_t next_mask() {
  static uint32_t x = 0x9e3779b9u;
  x ^= x << 13, x ^= x >> 17, x ^= x << 5;
  return x;
}

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string expected_accept(const std::string& key) {
  std::string in = key + kAcceptGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  return base64(digest, sizeof digest);
}

// Log-linear histogram of microseconds: exact below 1024, then 128 buckets
// per power of two (under 1 % error), so a long run costs no memory.
class Histogram {
public:
  void add(uint64_t us) {
    ++counts_[index(us)];
    ++total_;
  }
  uint64_t total() const { return total_; }
  // The smallest value at or above which lies (1 - q) of the samples.
  uint64_t quantile(double q) const {
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank)
        return lower_bound(i);
    }
    return 0;
  }

private:
  static constexpr int kLinearBits = 10, kSubBits = 7;
  static size_t index(uint64_t v) {
    if (v < (uint64_t{1} << kLinearBits))
      return v;
    int e = 63 - __builtin_clzll(v); // >= kLinearBits
    size_t sub = (v >> (e - kSubBits)) & ((1u << kSubBits) - 1);
    return (size_t{1} << kLinearBits) + (static_cast<size_t>(e - kLinearBits) << kSubBits) + sub;
  }
  static uint64_t lower_bound(size_t i) {
    if (i < (size_t{1} << kLinearBits))
      return i;
    i -= size_t{1} << kLinearBits;
    int e = static_cast<int>(i >> kSubBits) + kLinearBits;
    uint64_t sub = i & ((1u << kSubBits) - 1);
    return (uint64_t{1} << e) | (sub << (e - kSubBits));
  }
  std::vector<uint64_t> counts_ = std::vector<uint64_t>((size_t{1} << kLinearBits) + (64 << kSubBits));
  uint64_t total_ = 0;
};

enum class Phase { connecting, upgrading, open, dead };

struct Conn {
  int fd = -1;
  size_t id = 0;
  uint32_t seed = 0;
  Phase phase = Phase::connecting;
  std::string accept; // the Sec-WebSocket-Accept the server must send
  std::string request;
  size_t request_sent = 0;
  std::vector<unsigned char> in;  // received, not yet parsed (a few bytes at most)
  std::vector<unsigned char> out; // frames not yet sent (from out_pos)
  size_t out_pos = 0;
  uint64_t sent = 0, echoed = 0;  // messages
  std::vector<Clock::time_point> sent_at; // ring of `depth`, by message number
  // The frame being received: its opcode, payload bytes still to come, FIN.
  bool in_frame = false;
  uint8_t frame_op = 0;
  bool frame_fin = false;
  uint64_t frame_left = 0;
  uint8_t message_op = 0;   // text or binary: the message the frames belong to
  uint64_t message_got = 0; // payload bytes of that message so far
  bool message_bad = false;
};

class Driver {
public:
  explicit Driver(const Options& o)
    : size_(static_cast<size_t>(o.size)), depth_(static_cast<size_t>(o.depth)),
      opcode_(o.text ? kText : kBinary) {}

  uint64_t echoed = 0, errors = 0, closed = 0;
  bool counting = false; // latencies are kept only once the warm-up is over
  Histogram latency;

  // Queues frames until `depth` messages are in flight, then sends.
  bool top_up(Conn& c) {
    auto now = Clock::now();
    while (c.sent - c.echoed < depth_) {
      const unsigned char* payload = expected(c, c.sent);
      append_frame(c, opcode_, payload, size_);
      c.sent_at[c.sent % depth_] = now;
      ++c.sent;
    }
    return flush(c);
  }

  bool flush(Conn& c) {
    while (c.out_pos < c.out.size()) {
      ssize_t w = send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        return errno == EAGAIN || why(c, std::string("send: ") + std::strerror(errno));
      }
      c.out_pos += static_cast<size_t>(w);
    }
    c.out.clear();
    c.out_pos = 0;
    return true;
  }

  // Reads what is queued and handles every complete frame header and any
  // payload bytes. False if the connection is done for (the reason printed).
  bool drain(Conn& c) {
    for (;;) {
      ssize_t n = recv(c.fd, read_buf_.data(), read_buf_.size(), 0);
      if (n > 0) {
        if (!consume(c, read_buf_.data(), static_cast<size_t>(n)))
          return false;
        if (static_cast<size_t>(n) < read_buf_.size())
          return true; // socket emptied; new data brings a new edge
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return true;
      return why(c, n == 0 ? "the server closed the connection (no close frame)"
                           : std::string("recv: ") + std::strerror(errno));
    }
  }

  // Parses what came after the 101 response in the same read.
  bool consume_leftover(Conn& c) {
    std::vector<unsigned char> leftover;
    leftover.swap(c.in);
    return leftover.empty() || consume(c, leftover.data(), leftover.size());
  }

  // Prints why a connection failed; always false.
  bool why(const Conn& c, const std::string& reason) {
    if (++reported_ <= 5)
      std::fprintf(stderr, "bench-ws-loadgen: connection %zu: %s\n", c.id, reason.c_str());
    return false;
  }

private:
  const unsigned char* expected(const Conn& c, uint64_t n) const {
    return &g_pattern[(c.seed + n * size_) % kPatternLen];
  }

  // A client frame: FIN, one opcode, masked payload (RFC 6455 5.2, 5.3).
  static void append_frame(Conn& c, uint8_t op, const unsigned char* payload, size_t n) {
    unsigned char head[14];
    size_t h = 0;
    head[h++] = static_cast<unsigned char>(0x80 | op);
    if (n < 126) {
      head[h++] = static_cast<unsigned char>(0x80 | n);
    } else if (n <= 0xffff) {
      head[h++] = 0x80 | 126;
      head[h++] = static_cast<unsigned char>(n >> 8);
      head[h++] = static_cast<unsigned char>(n);
    } else {
      head[h++] = 0x80 | 127;
      for (int shift = 56; shift >= 0; shift -= 8)
        head[h++] = static_cast<unsigned char>(static_cast<uint64_t>(n) >> shift);
    }
    uint32_t mask_word = next_mask();
    unsigned char mask[4];
    std::memcpy(mask, &mask_word, 4);
    std::memcpy(head + h, mask, 4);
    h += 4;
    size_t at = c.out.size();
    c.out.insert(c.out.end(), head, head + h);
    c.out.insert(c.out.end(), payload, payload + n);
    unsigned char* p = c.out.data() + at + h;
    for (size_t i = 0; i < n; ++i)
      p[i] ^= mask[i & 3];
  }

  // Parses DATA after the tail a previous read left unparsed (an incomplete
  // header or control frame: a few bytes); keeps the new tail.
  bool consume(Conn& c, const unsigned char* data, size_t n) {
    if (c.in.empty()) {
      size_t used = 0;
      if (!parse(c, data, n, used))
        return false;
      c.in.assign(data + used, data + n);
      return true;
    }
    c.in.insert(c.in.end(), data, data + n);
    size_t used = 0;
    if (!parse(c, c.in.data(), c.in.size(), used))
      return false;
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(used));
    return true;
  }

  // Handles the frames in P[0, N) as far as they are complete; USED: the
  // bytes it is done with.
  bool parse(Conn& c, const unsigned char* p, size_t n, size_t& used) {
    for (;;) {
      size_t avail = n - used;
      if (c.in_frame) {
        if (is_control(c.frame_op)) { // wait for the whole (<= 125 B) payload
          if (avail < c.frame_left)
            return true;
          if (!control(c, p + used, static_cast<size_t>(c.frame_left)))
            return false;
          used += static_cast<size_t>(c.frame_left);
          c.in_frame = false;
          continue;
        }
        size_t take = static_cast<size_t>(std::min<uint64_t>(avail, c.frame_left));
        if (take > 0 && !payload(c, p + used, take))
          return false;
        used += take;
        c.frame_left -= take;
        if (c.frame_left > 0)
          return true; // the rest comes in a later read
        c.in_frame = false;
        if (c.frame_fin && !message_done(c))
          return false;
        continue;
      }
      size_t header_len = 0;
      if (!header(c, p + used, avail, header_len))
        return false;
      if (header_len == 0)
        return true; // an incomplete header: wait for more
      used += header_len;
    }
  }

  static bool is_control(uint8_t op) { return op >= 8; }

  // Reads a 2-, 4- or 10-byte server frame header if all of it is there
  // (HEADER_LEN: its size, 0 while incomplete).
  bool header(Conn& c, const unsigned char* p, size_t avail, size_t& header_len) {
    if (avail < 2)
      return true;
    bool fin = p[0] & 0x80;
    uint8_t op = p[0] & 0x0f;
    if (p[0] & 0x70)
      return why(c, "frame with RSV bits set (no extension was negotiated)");
    if (p[1] & 0x80)
      return why(c, "masked frame from the server");
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (avail < 4)
        return true;
      len = (uint64_t{p[2]} << 8) | p[3];
      h = 4;
    } else if (len == 127) {
      if (avail < 10)
        return true;
      len = 0;
      for (int i = 2; i < 10; ++i)
        len = (len << 8) | p[i];
      h = 10;
    }
    if (is_control(op)) {
      if (op != kClose && op != kPing && op != kPong)
        return why(c, "unknown control opcode " + std::to_string(op));
      if (!fin || len > 125)
        return why(c, "fragmented or over-long control frame");
    } else if (op == kContinuation) {
      if (c.message_op == 0)
        return why(c, "continuation frame outside a message");
    } else if (op == kText || op == kBinary) {
      if (c.message_op != 0)
        return why(c, "new data frame inside a fragmented message");
      if (op != opcode_)
        return why(c, std::string("echo came back as ") + (op == kText ? "text" : "binary"));
      c.message_op = op;
    } else {
      return why(c, "unknown data opcode " + std::to_string(op));
    }
    if (!is_control(op) && c.message_got + len > size_)
      return why(c, "echoed message longer than the " + std::to_string(size_) + " B sent");
    header_len = h;
    c.in_frame = true;
    c.frame_op = op;
    c.frame_fin = fin;
    c.frame_left = len;
    if (len == 0 && !is_control(op)) { // an empty frame: nothing to wait for
      c.in_frame = false;
      return !fin || message_done(c);
    }
    return true;
  }

  bool payload(Conn& c, const unsigned char* data, size_t n) {
    if (c.echoed >= c.sent)
      return why(c, "an echo of a message never sent");
    if (std::memcmp(data, expected(c, c.echoed) + c.message_got, n) != 0)
      c.message_bad = true;
    c.message_got += n;
    return true;
  }

  bool message_done(Conn& c) {
    if (c.message_got != size_)
      return why(c, "echoed message of " + std::to_string(c.message_got) + " B, sent " +
                        std::to_string(size_));
    if (c.message_bad)
      ++errors; // a wrong byte: counted, the stream goes on
    if (counting) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          Clock::now() - c.sent_at[c.echoed % depth_]).count();
      latency.add(static_cast<uint64_t>(std::max<long long>(us, 0)));
    }
    ++c.echoed;
    ++echoed;
    c.message_op = 0;
    c.message_got = 0;
    c.message_bad = false;
    return true;
  }

  bool control(Conn& c, const unsigned char* data, size_t n) {
    if (c.frame_op == kPing) {
      append_frame(c, kPong, data, n); // flushed with the next top-up
      return true;
    }
    if (c.frame_op == kPong)
      return true;
    std::string reason = "the server sent a close frame";
    if (n >= 2)
      reason += " (code " + std::to_string((data[0] << 8) | data[1]) +
                (n > 2 ? ", \"" + std::string(data + 2, data + n) + "\")" : ")");
    return why(c, reason);
  }

  size_t size_, depth_;
  uint8_t opcode_;
  uint64_t reported_ = 0;
  std::vector<unsigned char> read_buf_ = std::vector<unsigned char>(kReadChunk);
};

std::string socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  return std::strerror(err);
}

int start_connect(const sockaddr_storage& addr, socklen_t len) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    fail_setup(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS)
    fail_setup(std::string("connect: ") + std::strerror(errno));
  return fd;
}

std::string lower(std::string s) {
  for (char& ch : s)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The value of header NAME (lower case) in a response head, trimmed; "" if absent.
std::string header_value(const std::string& head, const std::string& name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    size_t start = pos + 2, end = head.find("\r\n", start);
    std::string line = head.substr(start, end - start);
    size_t colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == name) {
      size_t b = line.find_first_not_of(" \t", colon + 1);
      size_t e = line.find_last_not_of(" \t");
      return b == std::string::npos ? "" : line.substr(b, e - b + 1);
    }
    pos = end;
  }
  return "";
}

// Checks the 101 response once its head is complete. Returns "" when it
// is good, else what is wrong; leaves the bytes after the head in c.in.
std::string check_upgrade(Conn& c, size_t head_end) {
  std::string head(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(head_end));
  c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(head_end + 4));
  std::string status = head.substr(0, head.find("\r\n"));
  if (status.compare(0, 13, "HTTP/1.1 101 ") != 0 && status != "HTTP/1.1 101")
    return "upgrade refused: \"" + status + "\"";
  if (lower(header_value(head, "upgrade")) != "websocket")
    return "101 without Upgrade: websocket";
  std::string accept = header_value(head, "sec-websocket-accept");
  if (accept != c.accept)
    return "wrong Sec-WebSocket-Accept \"" + accept + "\" (expected \"" + c.accept + "\")";
  if (!header_value(head, "sec-websocket-extensions").empty())
    return "the server chose an extension that was never offered";
  return "";
}

// Moves a connection through connect and upgrade; returns "" or why it failed.
std::string advance_setup(Conn& c, uint32_t events) {
  if (c.phase == Phase::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err != 0)
      return std::string("connect: ") + std::strerror(err);
    if (!(events & EPOLLOUT))
      return "";
    c.phase = Phase::upgrading;
  }
  while (c.request_sent < c.request.size()) {
    ssize_t w = send(c.fd, c.request.data() + c.request_sent, c.request.size() - c.request_sent,
                     MSG_NOSIGNAL);
    if (w < 0)
      return errno == EAGAIN || errno == EINTR ? "" : std::string("send: ") + std::strerror(errno);
    c.request_sent += static_cast<size_t>(w);
  }
  char buf[4096];
  for (;;) {
    ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n == 0)
      return "the server closed the connection during the upgrade";
    if (n < 0)
      return errno == EAGAIN || errno == EINTR ? "" : std::string("recv: ") + std::strerror(errno);
    c.in.insert(c.in.end(), buf, buf + n);
    std::string seen(c.in.begin(), c.in.end());
    size_t end = seen.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string bad = check_upgrade(c, end);
      if (bad.empty())
        c.phase = Phase::open;
      return bad;
    }
    if (c.in.size() > kMaxResponseHead)
      return "no end of the upgrade response within " + std::to_string(kMaxResponseHead) + " bytes";
  }
}

int ms_until(Clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, 100));
}

Clock::time_point after(Clock::time_point t, double secs) {
  return t + std::chrono::duration_cast<Clock::duration>(Seconds(secs));
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "bench-ws-loadgen: %s\n"
               "usage: bench-ws-loadgen --port P [--host 127.0.0.1|::1] [--path /echo]\n"
               "  [--connections N] [--size BYTES] [--depth N] [--duration S] [--warmup S]\n"
               "  [--text] [--handshake-timeout S]\n",
               why);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (key == "--text") {
      o.text = true;
      continue;
    }
    if (i + 1 >= argc)
      usage(("missing value for " + key).c_str());
    std::string v = argv[++i];
    if (key == "--host") o.host = v;
    else if (key == "--port") o.port = std::atoi(v.c_str());
    else if (key == "--path") o.path = v;
    else if (key == "--connections") o.connections = std::atoi(v.c_str());
    else if (key == "--size") o.size = std::atoi(v.c_str());
    else if (key == "--depth") o.depth = std::atoi(v.c_str());
    else if (key == "--duration") o.duration = std::atof(v.c_str());
    else if (key == "--warmup") o.warmup = std::atof(v.c_str());
    else if (key == "--handshake-timeout") o.handshake_timeout = std::atof(v.c_str());
    else usage(("unknown option " + key).c_str());
  }
  if (o.port <= 0 || o.port > 65535) usage("--port is required");
  if (o.connections < 1 || o.size < 1 || o.depth < 1) usage("counts and sizes must be positive");
  if (static_cast<size_t>(o.size) > kMaxSize) usage("--size is at most 1 MiB");
  if (o.path.empty() || o.path[0] != '/') usage("--path must start with /");
  o.duration = std::clamp(o.duration, 0.1, kHardMaxSeconds);
  o.warmup = std::clamp(o.warmup, 0.0, kHardMaxSeconds);
  o.handshake_timeout = std::clamp(o.handshake_timeout, 0.1, kHardMaxSeconds);
  return o;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

void close_with_rst(int fd) {
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

} // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  bench::raise_nofile_limit();
  std::signal(SIGPIPE, SIG_IGN);
  fill_pattern(static_cast<size_t>(o.size));
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  if (!bench::make_sockaddr(o.host, o.port, addr, addr_len))
    usage("--host must be an IPv4 or IPv6 literal");
  bool v6 = o.host.find(':') != std::string::npos;
  std::string host_header = (v6 ? "[" + o.host + "]" : o.host) + ":" + std::to_string(o.port);

  int epfd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Conn> conns(static_cast<size_t>(o.connections));
  for (size_t i = 0; i < conns.size(); ++i) {
    Conn& c = conns[i];
    c.id = i;
    c.seed = static_cast<uint32_t>(i * 7919u % kPatternLen);
    c.sent_at.resize(static_cast<size_t>(o.depth));
    unsigned char nonce[16];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
      fail_setup("RAND_bytes failed");
    std::string key = base64(nonce, sizeof nonce);
    c.accept = expected_accept(key);
    c.request = "GET " + o.path + " HTTP/1.1\r\nHost: " + host_header +
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    c.fd = start_connect(addr, addr_len);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = i;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c.fd, &ev) != 0)
      fail_setup(std::string("epoll_ctl: ") + std::strerror(errno));
  }

  // Set-up: every connection connected and upgraded, or the run is off.
  std::vector<epoll_event> events(256);
  size_t open = 0;
  auto setup_end = after(Clock::now(), o.handshake_timeout);
  while (open < conns.size()) {
    if (Clock::now() >= setup_end)
      fail_setup(std::to_string(conns.size() - open) + " of " + std::to_string(conns.size()) +
                 " connections not upgraded after " + std::to_string(o.handshake_timeout) +
                 " s (" + o.host + ":" + std::to_string(o.port) + o.path + ")");
    int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), ms_until(setup_end));
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[k].data.u64];
      if (c.phase == Phase::open)
        continue;
      std::string bad = advance_setup(c, events[k].events);
      if (!bad.empty())
        fail_setup(o.host + ":" + std::to_string(o.port) + o.path + ": " + bad);
      open += c.phase == Phase::open ? 1 : 0;
    }
  }

  // The run: every connection keeps `depth` messages in flight.
  Driver driver(o);
  auto fail = [&](Conn& c) {
    ++driver.closed;
    close_with_rst(c.fd);
    c.fd = -1;
    c.phase = Phase::dead;
    --open;
  };
  for (Conn& c : conns) // bytes that came with the 101 first
    if (!(driver.consume_leftover(c) && driver.drain(c) && driver.top_up(c)))
      fail(c);
  auto start = Clock::now();
  auto warm_end = after(start, o.warmup), end = after(warm_end, o.duration);
  Clock::time_point counted_from = start;
  uint64_t echoed_at_warm_end = 0;
  double cpu_at_warm_end = 0;
  for (;;) {
    auto now = Clock::now();
    if (!driver.counting && now >= warm_end) {
      driver.counting = true;
      counted_from = now;
      echoed_at_warm_end = driver.echoed;
      cpu_at_warm_end = cpu_seconds();
    }
    if (now >= end || open == 0)
      break;
    int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()),
                       ms_until(driver.counting ? end : warm_end));
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[k].data.u64];
      if (c.phase != Phase::open)
        continue;
      uint32_t ev = events[k].events;
      bool ok = !(ev & EPOLLERR) || driver.why(c, "socket error: " + socket_error(c.fd));
      ok = ok && driver.drain(c) && driver.top_up(c);
      if (!ok)
        fail(c);
    }
  }
  auto stopped = Clock::now();
  double cpu_used = cpu_seconds() - cpu_at_warm_end;
  for (Conn& c : conns)
    if (c.fd >= 0)
      close_with_rst(c.fd);
  close(epfd);

  double secs = std::chrono::duration_cast<Seconds>(stopped - counted_from).count();
  bool counted = driver.counting && secs > 0;
  double rate = counted ? static_cast<double>(driver.echoed - echoed_at_warm_end) / secs : 0.0;
  if (driver.closed > 0)
    std::fprintf(stderr, "bench-ws-loadgen: %llu of %zu connections failed during the run\n",
                 static_cast<unsigned long long>(driver.closed), conns.size());
  if (driver.errors > 0)
    std::fprintf(stderr, "bench-ws-loadgen: %llu echoed messages had wrong bytes\n",
                 static_cast<unsigned long long>(driver.errors));
  bool have_latency = driver.latency.total() > 0;
  std::printf("RESULT messages_per_s=%.1f errors=%llu closed=%llu p50_us=%s p99_us=%s cpu=%.2f\n",
              rate, static_cast<unsigned long long>(driver.errors),
              static_cast<unsigned long long>(driver.closed),
              have_latency ? std::to_string(driver.latency.quantile(0.50)).c_str() : "n/a",
              have_latency ? std::to_string(driver.latency.quantile(0.99)).c_str() : "n/a",
              counted ? cpu_used / secs : 0.0);
  std::fflush(stdout);
  return driver.errors + driver.closed > 0 ? 1 : 0;
}
