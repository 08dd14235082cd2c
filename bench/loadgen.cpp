// ghostnet-loadgen: an epoll load generator for TCP echo servers.
//
//   ghostnet-loadgen --host 127.0.0.1 --port P --mode MODE [options]
//
// Modes: pipeline | bulk | rr (streams of `size`-byte messages, `depth` in
// flight per connection), connect (connect, one `size`-byte echo (default
// 1), RST close, repeat; --sources N binds the clients to 127.0.0.1 ..
// 127.0.0.N in turn, so the 4-tuples spread as from N hosts),
// idle (open N connections, echo one message each, print READY, hold them
// until stdin reaches EOF or --hold seconds pass; stdin is only watched when
// it is a pipe, tty or socket, so `< /dev/null` or `&` leave just --hold).
// --tls speaks TLS instead (OpenSSL, default version: 1.3): streams (and
// idle connections) handshake first; connect becomes connect, full
// handshake, one 64 B echo, close_notify, RST close, repeat.
// Prints one line at the end:
//   RESULT mode=<m> msgs_per_s=<x> mb_per_s=<y> connects_per_s=<z> errors=<n>
// (with --tls, ` tls_handshakes=<total of the whole run>` follows).
// Every echoed byte is checked against what was sent.
#include "bench_util.hpp"
#include "tls_client.hpp"

#include <netinet/tcp.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

constexpr double kHardMaxSeconds = 60.0;
constexpr size_t kChunk = 64 * 1024;   // largest single send/recv
constexpr size_t kPatternLen = 65521;  // prime, so streams of different seeds differ
constexpr uint32_t kStdinTag = UINT32_MAX;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string mode = "pipeline";
  int conns = -1; // -1: the mode's default
  int size = -1;
  int depth = -1;
  int concurrency = 50;
  int threads = 1;
  int batch = 500;      // idle: connections being set up at once
  double duration = 5;  // whole run, warm-up included (idle: bounds the set-up)
  double warmup = 0.5;
  double hold = -1;     // idle: seconds to hold after READY (-1: 60, or stdin EOF)
  bool tls = false;
  int sources = 0;      // connect: bind to 127.0.0.1 .. 127.0.0.<sources>
};

struct Result {
  double msgs_per_s = 0, mb_per_s = 0, connects_per_s = 0;
  uint64_t errors = 0;
  uint64_t tls_handshakes = 0;
};

// The byte stream every connection sends: pattern[(offset + seed) % kPatternLen].
// The buffer is over-long so any chunk starting inside the period is contiguous.
std::vector<unsigned char> g_pattern;

void fill_pattern() {
  g_pattern.resize(kPatternLen + kChunk);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < kPatternLen; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    g_pattern[i] = static_cast<unsigned char>(x);
  }
  for (size_t i = kPatternLen; i < g_pattern.size(); ++i) // the chunk is longer than the period
    g_pattern[i] = g_pattern[i - kPatternLen];
}

uint64_t tag(uint32_t index, uint32_t gen) { return (uint64_t{gen} << 32) | index; }

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<Seconds>(b - a).count();
}

int ms_until(Clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, 100));
}

// Starts a non-blocking connect. Returns the descriptor, or -errno.
int start_connect(const sockaddr_storage& addr, socklen_t len, bool rst_on_close,
                  int source = 0) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (source > 0 && addr.ss_family == AF_INET) {
    // 127.0.0.<source>, any port: loopback answers the whole 127/8.
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000000u | static_cast<uint32_t>(source));
    if (bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) {
      int err = errno;
      close(fd);
      return -err;
    }
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (rst_on_close) {
    // close() then sends RST: no TIME_WAIT, so ephemeral ports do not run out.
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

bool connect_failed(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0;
}

bool watch(int epfd, int fd, uint64_t data) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = data;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

// One echo stream: keeps `depth` messages in flight, verifies the echo.
struct Stream {
  int fd = -1;
  uint32_t seed = 0;
  bool connected = false;
  bool bad_msg = false;      // the message being received has a wrong byte
  uint64_t sent = 0, received = 0;
  uint64_t limit = UINT64_MAX; // total bytes to send (idle: one message)
  bench::TlsSession tls;       // --tls only
};

class StreamDriver {
public:
  StreamDriver(size_t size, size_t depth) : size_(size), depth_(depth) {}

  uint64_t errors = 0;
  uint64_t echoed = 0; // all streams, bytes
  uint64_t handshakes = 0;

  // Sends until `depth` messages are in flight. False if the stream broke.
  bool pump_writes(Stream& s) const {
    uint64_t target = std::min((s.received / size_ + depth_) * size_, s.limit);
    while (s.sent < target) {
      size_t off = (s.sent + s.seed) % kPatternLen;
      size_t n = static_cast<size_t>(std::min<uint64_t>(target - s.sent, kChunk));
      ssize_t w = s.tls ? s.tls.send(&g_pattern[off], n)
                        : send(s.fd, &g_pattern[off], n, MSG_NOSIGNAL);
      if (w < 0)
        return errno == EAGAIN || errno == EINTR;
      s.sent += static_cast<uint64_t>(w);
      if (!s.tls && static_cast<size_t>(w) < n)
        return true; // socket full: EPOLLOUT comes back (TLS: a record was sent, go on)
    }
    return true;
  }

  // Reads what is queued, checking each message. False if the stream broke.
  bool drain_reads(Stream& s) {
    unsigned char buf[kChunk];
    for (;;) {
      ssize_t n = s.tls ? s.tls.recv(buf, sizeof buf) : recv(s.fd, buf, sizeof buf, 0);
      if (n > 0) {
        verify(s, buf, static_cast<size_t>(n));
        // A short read emptied the socket; new data brings a new edge, so
        // the EAGAIN round trip would be a wasted syscall. (Not so for TLS:
        // a read returns one record, however much the socket holds.)
        if (!s.tls && static_cast<size_t>(n) < sizeof buf)
          return true;
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      return n < 0 && errno == EAGAIN;
    }
  }

  // Handles one epoll event; false if the stream must be dropped.
  bool on_event(Stream& s, uint32_t events) {
    if (events & EPOLLERR)
      return false;
    if (!s.connected) {
      if (!(events & EPOLLOUT) || connect_failed(s.fd))
        return false;
      s.connected = true;
    }
    if (s.tls && !s.tls.established()) {
      auto step = s.tls.handshake();
      if (step != bench::TlsStep::done)
        return step == bench::TlsStep::again;
      ++handshakes;
    }
    if (!drain_reads(s))
      return false;
    return pump_writes(s) && !(events & EPOLLHUP);
  }

private:
  void verify(Stream& s, const unsigned char* data, size_t n) {
    if (s.received + n > s.sent) { // more than we sent: count and resync
      ++errors;
      n = static_cast<size_t>(s.sent - s.received);
    }
    for (size_t pos = 0; pos < n;) {
      size_t take = std::min(n - pos, size_ - static_cast<size_t>(s.received % size_));
      size_t off = (s.received + s.seed) % kPatternLen;
      if (std::memcmp(data + pos, &g_pattern[off], take) != 0)
        s.bad_msg = true;
      s.received += take;
      pos += take;
      if (s.received % size_ == 0) {
        errors += s.bad_msg ? 1 : 0;
        s.bad_msg = false;
      }
    }
    echoed += n;
  }

  size_t size_, depth_;
};

void close_with_rst(int fd) {
  linger lg{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

// A measurement window: counts at the end of warm-up and at the end.
struct Window {
  Clock::time_point start, warm, end;
  Clock::time_point snap_time;
  uint64_t snap = 0;
  bool snapped = false;

  Window(double duration, double warmup) : start(Clock::now()) {
    warm = start + std::chrono::duration_cast<Clock::duration>(Seconds(warmup));
    end = start + std::chrono::duration_cast<Clock::duration>(Seconds(duration));
  }
  // Records `count` once the warm-up is over. False once the window closed.
  bool tick(uint64_t count) {
    auto now = Clock::now();
    if (!snapped && now >= warm) {
      snapped = true;
      snap_time = now;
      snap = count;
    }
    return now < end;
  }
  double rate(uint64_t count) const {
    double secs = seconds_between(snap_time, Clock::now());
    return snapped && secs > 0 ? static_cast<double>(count - snap) / secs : 0.0;
  }
};

struct WorkerOut {
  double rate = 0; // bytes/s (streams) or connects/s
  uint64_t errors = 0;
  uint64_t tls_handshakes = 0; // whole run, warm-up included
};

// pipeline / bulk / rr: `conns` streams on this thread's own epoll.
WorkerOut run_streams(const Options& o, const sockaddr_storage& addr, socklen_t len,
                      int conns, uint32_t seed_base) {
  StreamDriver driver(static_cast<size_t>(o.size), static_cast<size_t>(o.depth));
  std::vector<Stream> streams(static_cast<size_t>(conns));
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  size_t alive = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    Stream& s = streams[i];
    s.seed = (seed_base + static_cast<uint32_t>(i) * 7919u) % kPatternLen;
    s.fd = start_connect(addr, len, true);
    if (s.fd >= 0 && (!o.tls || s.tls.start(s.fd)) &&
        watch(epfd, s.fd, tag(static_cast<uint32_t>(i), 0))) {
      ++alive;
      continue;
    }
    std::fprintf(stderr, "loadgen: connect: %s\n", std::strerror(s.fd < 0 ? -s.fd : errno));
    ++driver.errors;
    if (s.fd >= 0)
      close(s.fd);
    s.fd = -1;
  }
  Window win(o.duration, o.warmup);
  std::vector<epoll_event> events(256);
  while (alive > 0 && win.tick(driver.echoed)) {
    int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), ms_until(win.end));
    for (int i = 0; i < n; ++i) {
      Stream& s = streams[static_cast<uint32_t>(events[i].data.u64)];
      if (s.fd >= 0 && !driver.on_event(s, events[i].events)) {
        ++driver.errors; // the server closed or reset a stream mid-run
        s.tls.reset();
        close(s.fd);
        s.fd = -1;
        --alive;
      }
    }
  }
  WorkerOut out{win.rate(driver.echoed), driver.errors, driver.handshakes};
  for (Stream& s : streams) {
    s.tls.reset();
    if (s.fd >= 0)
      close_with_rst(s.fd);
  }
  close(epfd);
  return out;
}

// connect: each slot connects, echoes one message, closes with RST, repeats.
WorkerOut run_connects(const Options& o, const sockaddr_storage& addr, socklen_t len,
                       int slots_n) {
  const size_t msg = static_cast<size_t>(o.size);
  struct Slot {
    int fd = -1;
    uint32_t gen = 0;
    bool connected = false;
    size_t off = 0, got = 0;
    Clock::time_point retry_at{};
  };
  std::vector<Slot> slots(static_cast<size_t>(slots_n));
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  uint64_t done = 0, errors = 0, addr_busy = 0, opened = 0;

  auto open_slot = [&](uint32_t i) {
    Slot& s = slots[i];
    s.gen++;
    s.connected = false;
    s.off = (done * 131 + i * 7919u) % kPatternLen; // a different message each time
    s.got = 0;
    int source = o.sources > 0 ? 1 + static_cast<int>(opened++ % static_cast<uint64_t>(o.sources)) : 0;
    s.fd = start_connect(addr, len, true, source);
    if (s.fd >= 0 && watch(epfd, s.fd, tag(i, s.gen)))
      return;
    ++errors;
    addr_busy += s.fd == -EADDRNOTAVAIL ? 1 : 0;
    if (s.fd >= 0)
      close(s.fd);
    s.fd = -1;
    s.retry_at = Clock::now() + std::chrono::milliseconds(10); // back off, do not spin
  };
  auto recycle = [&](uint32_t i, bool ok) {
    close(slots[i].fd); // RST, SO_LINGER was set at connect
    slots[i].fd = -1;
    (ok ? done : errors)++;
    open_slot(i);
  };

  for (uint32_t i = 0; i < slots.size(); ++i)
    open_slot(i);
  Window win(o.duration, o.warmup);
  std::vector<epoll_event> events(256);
  while (win.tick(done)) {
    int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), std::min(ms_until(win.end), 10));
    for (int k = 0; k < n; ++k) {
      uint32_t i = static_cast<uint32_t>(events[k].data.u64);
      Slot& s = slots[i];
      if (s.fd < 0 || s.gen != static_cast<uint32_t>(events[k].data.u64 >> 32))
        continue; // event of an earlier connection of this slot
      uint32_t ev = events[k].events;
      if (!s.connected) {
        // A refused connect reports EPOLLERR|EPOLLHUP without EPOLLOUT.
        if ((ev & (EPOLLERR | EPOLLHUP)) || connect_failed(s.fd) ||
            send(s.fd, &g_pattern[s.off], msg, MSG_NOSIGNAL) != static_cast<ssize_t>(msg)) {
          recycle(i, false);
          continue;
        }
        s.connected = true;
      }
      unsigned char buf[kChunk];
      ssize_t r = recv(s.fd, buf, std::min(msg - s.got, sizeof buf), 0);
      if (r > 0) {
        bool same = std::memcmp(buf, &g_pattern[s.off + s.got], static_cast<size_t>(r)) == 0;
        s.got += static_cast<size_t>(r);
        if (!same || s.got == msg)
          recycle(i, same);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR) || (ev & (EPOLLERR | EPOLLHUP))) {
        recycle(i, false);
      }
    }
    auto now = Clock::now();
    for (uint32_t i = 0; i < slots.size(); ++i)
      if (slots[i].fd < 0 && now >= slots[i].retry_at)
        open_slot(i);
  }
  WorkerOut out{win.rate(done), errors};
  for (Slot& s : slots)
    if (s.fd >= 0)
      close(s.fd);
  close(epfd);
  if (addr_busy > 0)
    std::fprintf(stderr, "loadgen: %llu connects failed with EADDRNOTAVAIL (ports exhausted)\n",
                 static_cast<unsigned long long>(addr_busy));
  return out;
}

// connect --tls: each slot connects, runs a full handshake, echoes one 64 B
// message, sends close_notify, closes with RST, repeats.
WorkerOut run_tls_connects(const Options& o, const sockaddr_storage& addr, socklen_t len,
                           int slots_n) {
  constexpr size_t kMsg = 64;
  enum class Phase { connecting, handshaking, echoing };
  struct Slot {
    int fd = -1;
    uint32_t gen = 0;
    Phase phase = Phase::connecting;
    bench::TlsSession tls;
    size_t off = 0, sent = 0, got = 0;
    Clock::time_point retry_at{};
  };
  std::vector<Slot> slots(static_cast<size_t>(slots_n));
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  uint64_t done = 0, errors = 0, handshakes = 0, addr_busy = 0;

  auto open_slot = [&](uint32_t i) {
    Slot& s = slots[i];
    s.gen++;
    s.phase = Phase::connecting;
    s.off = (done * 131 + i * 7919u) % kPatternLen; // a different message each time
    s.sent = s.got = 0;
    s.fd = start_connect(addr, len, true);
    if (s.fd >= 0 && s.tls.start(s.fd) && watch(epfd, s.fd, tag(i, s.gen)))
      return;
    ++errors;
    addr_busy += s.fd == -EADDRNOTAVAIL ? 1 : 0;
    s.tls.reset();
    if (s.fd >= 0)
      close(s.fd);
    s.fd = -1;
    s.retry_at = Clock::now() + std::chrono::milliseconds(10); // back off, do not spin
  };
  auto recycle = [&](uint32_t i, bool ok) {
    Slot& s = slots[i];
    if (ok)
      s.tls.close_notify();
    s.tls.reset();
    close(s.fd); // RST, SO_LINGER was set at connect
    s.fd = -1;
    (ok ? done : errors)++;
    open_slot(i);
  };
  // Moves a slot as far as its socket allows; false if it failed.
  auto advance = [&](Slot& s, uint32_t ev) {
    if (s.phase == Phase::connecting) {
      if ((ev & (EPOLLERR | EPOLLHUP)) || connect_failed(s.fd))
        return false;
      s.phase = Phase::handshaking;
    }
    if (s.phase == Phase::handshaking) {
      auto step = s.tls.handshake();
      if (step != bench::TlsStep::done)
        return step == bench::TlsStep::again;
      ++handshakes;
      s.phase = Phase::echoing;
    }
    while (s.sent < kMsg) {
      ssize_t w = s.tls.send(&g_pattern[s.off + s.sent], kMsg - s.sent);
      if (w < 0)
        return errno == EAGAIN;
      s.sent += static_cast<size_t>(w);
    }
    unsigned char buf[kMsg];
    while (s.got < kMsg) {
      ssize_t r = s.tls.recv(buf, kMsg - s.got);
      if (r <= 0)
        return r < 0 && errno == EAGAIN;
      if (std::memcmp(buf, &g_pattern[s.off + s.got], static_cast<size_t>(r)) != 0)
        return false;
      s.got += static_cast<size_t>(r);
    }
    return true;
  };

  for (uint32_t i = 0; i < slots.size(); ++i)
    open_slot(i);
  Window win(o.duration, o.warmup);
  std::vector<epoll_event> events(256);
  while (win.tick(done)) {
    int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), std::min(ms_until(win.end), 10));
    for (int k = 0; k < n; ++k) {
      uint32_t i = static_cast<uint32_t>(events[k].data.u64);
      Slot& s = slots[i];
      if (s.fd < 0 || s.gen != static_cast<uint32_t>(events[k].data.u64 >> 32))
        continue; // event of an earlier connection of this slot
      if (!advance(s, events[k].events))
        recycle(i, false);
      else if (s.got == kMsg)
        recycle(i, true);
    }
    auto now = Clock::now();
    for (uint32_t i = 0; i < slots.size(); ++i)
      if (slots[i].fd < 0 && now >= slots[i].retry_at)
        open_slot(i);
  }
  WorkerOut out{win.rate(done), errors, handshakes};
  for (Slot& s : slots) {
    s.tls.reset();
    if (s.fd >= 0)
      close(s.fd);
  }
  close(epfd);
  if (addr_busy > 0)
    std::fprintf(stderr, "loadgen: %llu connects failed with EADDRNOTAVAIL (ports exhausted)\n",
                 static_cast<unsigned long long>(addr_busy));
  return out;
}

// Splits `total` connections over the threads and sums what they measured.
template <class Fn>
WorkerOut run_threads(int threads, int total, Fn fn) {
  threads = std::max(1, std::min(threads, total));
  std::vector<WorkerOut> outs(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    int share = total / threads + (t < total % threads ? 1 : 0);
    pool.emplace_back([&outs, &fn, t, share] { outs[static_cast<size_t>(t)] = fn(share, t); });
  }
  WorkerOut sum;
  for (int t = 0; t < threads; ++t) {
    pool[static_cast<size_t>(t)].join();
    sum.rate += outs[static_cast<size_t>(t)].rate;
    sum.errors += outs[static_cast<size_t>(t)].errors;
    sum.tls_handshakes += outs[static_cast<size_t>(t)].tls_handshakes;
  }
  return sum;
}

// An idle connection that got echoed has nothing more to say; EPOLLOUT edges
// (ACKs freeing send space) are harmless, anything else means trouble.
bool closed_or_chatty(uint32_t events) {
  return events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP);
}

// Waits until stdin hits EOF (if it can be watched) or `hold` seconds pass.
// Connections the server closes meanwhile count as errors.
void hold_connections(int epfd, std::vector<Stream>& streams, double hold, uint64_t& errors) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kStdinTag;
  // Fails (EPERM) for /dev/null or a regular file: then only the timer ends it.
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(Seconds(hold));
  std::vector<epoll_event> events(256);
  char buf[4096];
  while (Clock::now() < end) {
    int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), ms_until(end));
    for (int i = 0; i < n; ++i) {
      uint32_t index = static_cast<uint32_t>(events[i].data.u64);
      if (index == kStdinTag) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
          return;
        continue;
      }
      Stream& s = streams[index];
      if (s.fd >= 0 && closed_or_chatty(events[i].events)) {
        ++errors;
        close(s.fd);
        s.fd = -1;
      }
    }
  }
}

// idle: opens `conns` connections, `batch` at a time, echoes one message on
// each, prints READY, holds them, closes them all.
uint64_t run_idle(const Options& o, const sockaddr_storage& addr, socklen_t len) {
  StreamDriver driver(static_cast<size_t>(o.size), 1);
  std::vector<Stream> streams(static_cast<size_t>(o.conns));
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  size_t next = 0, settling = 0, ready = 0, failed = 0;
  auto drop = [&](Stream& s) {
    ++driver.errors;
    ++failed;
    if (s.fd >= 0)
      close(s.fd);
    s.fd = -1;
  };

  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(Seconds(o.duration));
  std::vector<epoll_event> events(512);
  while (ready + failed < streams.size() && Clock::now() < deadline) {
    for (; settling < static_cast<size_t>(o.batch) && next < streams.size(); ++next) {
      Stream& s = streams[next];
      s.seed = static_cast<uint32_t>(next * 7919u % kPatternLen);
      s.limit = static_cast<uint64_t>(o.size);
      s.fd = start_connect(addr, len, true);
      if (s.fd >= 0 && (!o.tls || s.tls.start(s.fd))
          && watch(epfd, s.fd, tag(static_cast<uint32_t>(next), 0)))
        ++settling;
      else
        drop(s);
    }
    int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), ms_until(deadline));
    for (int i = 0; i < n; ++i) {
      Stream& s = streams[static_cast<uint32_t>(events[i].data.u64)];
      if (s.fd < 0)
        continue;
      bool was_ready = s.received == s.limit;
      if (was_ready ? closed_or_chatty(events[i].events) : !driver.on_event(s, events[i].events)) {
        was_ready ? --ready : --settling;
        drop(s);
      } else if (s.received == s.limit) {
        ++ready;
        --settling;
      }
    }
  }
  // Whatever did not come up in time counts as failed.
  for (size_t i = 0; i < streams.size(); ++i) {
    Stream& s = streams[i];
    if (i >= next || (s.fd >= 0 && s.received < s.limit)) {
      ++driver.errors;
      if (s.fd >= 0)
        close(s.fd);
      s.fd = -1;
    }
  }
  std::fprintf(stderr, "loadgen: idle: %zu/%zu connections echoed in %.2f s\n", ready,
               streams.size(), seconds_between(start, Clock::now()));
  std::printf("READY\n");
  std::fflush(stdout);

  uint64_t errors = driver.errors;
  hold_connections(epfd, streams, o.hold < 0 ? kHardMaxSeconds : o.hold, errors);
  for (Stream& s : streams)
    if (s.fd >= 0)
      close_with_rst(s.fd);
  close(epfd);
  return errors;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "ghostnet-loadgen: %s\n"
               "usage: ghostnet-loadgen --port P [--host 127.0.0.1|::1]\n"
               "  [--mode pipeline|bulk|rr|connect|idle] [--conns N] [--size BYTES]\n"
               "  [--depth N] [--concurrency N] [--duration S] [--warmup S]\n"
               "  [--threads N] [--batch N] [--hold S] [--sources N] [--tls]\n",
               why);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (key == "--tls") {
      o.tls = true;
      continue;
    }
    if (i + 1 >= argc)
      usage(("missing value for " + key).c_str());
    std::string v = argv[++i];
    if (key == "--host") o.host = v;
    else if (key == "--port") o.port = std::atoi(v.c_str());
    else if (key == "--mode") o.mode = v;
    else if (key == "--conns") o.conns = std::atoi(v.c_str());
    else if (key == "--size") o.size = std::atoi(v.c_str());
    else if (key == "--depth") o.depth = std::atoi(v.c_str());
    else if (key == "--concurrency") o.concurrency = std::atoi(v.c_str());
    else if (key == "--threads") o.threads = std::atoi(v.c_str());
    else if (key == "--batch") o.batch = std::atoi(v.c_str());
    else if (key == "--duration") o.duration = std::atof(v.c_str());
    else if (key == "--warmup") o.warmup = std::atof(v.c_str());
    else if (key == "--hold") o.hold = std::atof(v.c_str());
    else if (key == "--sources") o.sources = std::atoi(v.c_str());
    else usage(("unknown option " + key).c_str());
  }
  bool bulk = o.mode == "bulk";
  if (o.conns < 0) o.conns = o.mode == "idle" ? 10000 : bulk ? 4 : 50;
  if (o.size < 0) o.size = bulk ? 16384 : 64;
  if (o.depth < 0) o.depth = bulk ? 4 : o.mode == "pipeline" ? 16 : 1;
  if (o.mode == "rr") o.depth = 1;
  o.duration = std::clamp(o.duration, 0.1, kHardMaxSeconds);
  o.warmup = std::clamp(o.warmup, 0.0, o.duration / 2);
  if (o.port <= 0 || o.port > 65535) usage("--port is required");
  if (o.conns < 1 || o.size < 1 || o.depth < 1 || o.concurrency < 1 || o.batch < 1)
    usage("counts and sizes must be positive");
  return o;
}

// Prints a figure, or a plain 0 where it does not apply to the mode.
std::string figure(double x, int decimals) {
  if (x == 0)
    return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  bench::raise_nofile_limit();
  std::signal(SIGPIPE, SIG_IGN);
  fill_pattern();
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!bench::make_sockaddr(o.host, o.port, addr, len))
    usage("--host must be an IPv4 or IPv6 literal");

  Result r;
  if (o.mode == "pipeline" || o.mode == "bulk" || o.mode == "rr") {
    WorkerOut w = run_threads(o.threads, o.conns, [&](int share, int t) {
      return run_streams(o, addr, len, share, static_cast<uint32_t>(t) * 104729u);
    });
    double msgs = w.rate / o.size, mb = w.rate / 1e6;
    std::fprintf(stderr, "loadgen: %s: %.0f msg/s, %.2f MB/s echoed\n", o.mode.c_str(), msgs, mb);
    if (o.mode == "bulk")
      r.mb_per_s = mb;
    else
      r.msgs_per_s = msgs;
    r.errors = w.errors;
    r.tls_handshakes = w.tls_handshakes;
  } else if (o.mode == "connect") {
    WorkerOut w = run_threads(o.threads, o.concurrency, [&](int share, int) {
      return o.tls ? run_tls_connects(o, addr, len, share) : run_connects(o, addr, len, share);
    });
    r.connects_per_s = w.rate;
    r.errors = w.errors;
    r.tls_handshakes = w.tls_handshakes;
  } else if (o.mode == "idle") {
    r.errors = run_idle(o, addr, len);
  } else {
    usage("unknown --mode");
  }
  std::printf("RESULT mode=%s msgs_per_s=%s mb_per_s=%s connects_per_s=%s errors=%llu",
              o.mode.c_str(), figure(r.msgs_per_s, 1).c_str(), figure(r.mb_per_s, 2).c_str(),
              figure(r.connects_per_s, 1).c_str(), static_cast<unsigned long long>(r.errors));
  if (o.tls)
    std::printf(" tls_handshakes=%llu", static_cast<unsigned long long>(r.tls_handshakes));
  std::printf("\n");
  std::fflush(stdout);
  return 0;
}
