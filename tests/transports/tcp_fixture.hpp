#pragma once

// Shared fixture for TCP tests: an actor system with the middleman, a root
// supervisor to put services under, and small blocking client sockets
// (with receive timeouts, so that no wait is unbounded).

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/supervisor.hpp"
#include "ghostnet/transports/tcp_connection.hpp"
#include "ghostnet/transports/tcp_listener.hpp"
#include "ghostnet/transports/tcp_service.hpp"

namespace ghostnet::test {

namespace sv = ghostnet::supervision;
namespace tp = ghostnet::transports;
using namespace std::chrono_literals;

constexpr auto patience = std::chrono::seconds(10);

/// Open descriptors of this process.
inline size_t count_open_fds() {
  size_t n = 0;
  if (auto* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr)
      ++n;
    closedir(dir);
  }
  return n;
}

/// Polls `pred` until it holds or `within` passes; true if it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = 10s) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// A blocking client socket with a receive timeout.
class client {
public:
  explicit client(const tp::endpoint& ep, int rcv_timeout_ms = 10000) {
    auto addr = tp::to_socket_address(ep);
    BOOST_REQUIRE(addr);
    fd_ = ::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd_ >= 0);
    timeval tv{rcv_timeout_ms / 1000, (rcv_timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    connected_ = ::connect(fd_, addr->get(), addr->length) == 0;
  }

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  ~client() {
    close();
  }

  bool connected() const {
    return connected_;
  }

  int fd() const {
    return fd_;
  }

  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

  /// Closes with RST instead of FIN.
  void reset() {
    linger lg{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close();
  }

  bool send_all(const char* data, size_t n) {
    while (n > 0) {
      auto r = ::send(fd_, data, n, MSG_NOSIGNAL);
      if (r <= 0)
        return false;
      data += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }

  bool send_all(const std::string& s) {
    return send_all(s.data(), s.size());
  }

  /// Reads exactly n bytes (or fewer on EOF/timeout).
  std::string read_exactly(size_t n) {
    std::string result;
    result.resize(n);
    size_t got = 0;
    while (got < n) {
      auto r = ::recv(fd_, &result[got], n - got, 0);
      if (r <= 0)
        break;
      got += static_cast<size_t>(r);
    }
    result.resize(got);
    return result;
  }

  /// True if the server closed the connection (EOF or reset) in time.
  bool sees_close() {
    char buf[4096];
    for (;;) {
      auto r = ::recv(fd_, buf, sizeof(buf), 0);
      if (r == 0)
        return true;
      if (r < 0)
        return errno == ECONNRESET;
    }
  }

  void shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
  }

private:
  int fd_ = -1;
  bool connected_ = false;
};

/// A loopback port nobody listens on right now (bound once, then closed).
inline uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

inline void raise_fd_limit(rlim_t want) {
  rlimit lim;
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < want) {
    lim.rlim_cur = std::min(want, lim.rlim_max);
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

struct tcp_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  size_t fds_at_start;

  static caf::actor_system_config& prepare(caf::actor_system_config& cfg) {
    register_error_category(cfg);
    cfg.load<caf::io::middleman>();
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  tcp_fixture() : sys(prepare(cfg)), self(sys), fds_at_start(count_open_fds()) {
    // nop
  }

  ~tcp_fixture() {
    self->send_exit(self, caf::exit_reason::user_shutdown);
  }

  /// Starts a TCP service under a fresh root supervisor; returns the root
  /// and the bound endpoint.
  struct running_service {
    sv::supervisor_actor root;
    tp::endpoint bound;
  };

  running_service start_service(tp::tcp_service_options opts) {
    auto bound = std::make_shared<std::promise<tp::endpoint>>();
    auto fut = bound->get_future();
    opts.on_bound = [bound](const tp::endpoint& ep) { bound->set_value(ep); };
    auto spec = tp::tcp_service(std::move(opts));
    BOOST_REQUIRE_MESSAGE(spec, (spec ? std::string{} : describe(spec.error())));
    sv::supervisor_spec root;
    root.name = "test-root";
    root.children.push_back(std::move(*spec));
    auto sup = sv::spawn_supervisor(sys, root);
    BOOST_REQUIRE(sup);
    BOOST_REQUIRE(fut.wait_for(patience) == std::future_status::ready);
    return {*sup, fut.get()};
  }

  void stop(const sv::supervisor_actor& root) {
    self->request(root, patience, shutdown_atom::value, caf::timespan{10s})
      .receive([](ghostnet::supervision::shutdown_report&) {},
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  }

  /// The service's children: [connections supervisor, listener].
  sv::supervisor_actor service_of(const sv::supervisor_actor& root) {
    sv::supervisor_actor result;
    self->request(root, patience, which_children_atom::value)
      .receive(
        [&](std::vector<sv::child_info>& xs) {
          result = caf::actor_cast<sv::supervisor_actor>(xs.at(0).actor);
        },
        [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  std::vector<sv::child_info> children_of(const sv::supervisor_actor& sup) {
    std::vector<sv::child_info> result;
    self->request(sup, patience, which_children_atom::value)
      .receive([&](std::vector<sv::child_info>& xs) { result = std::move(xs); },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  tp::tcp_listener_actor listener_of(const sv::supervisor_actor& root) {
    auto service = service_of(root);
    return caf::actor_cast<tp::tcp_listener_actor>(children_of(service).at(1).actor);
  }

  sv::supervisor_actor connections_of(const sv::supervisor_actor& root) {
    auto service = service_of(root);
    return caf::actor_cast<sv::supervisor_actor>(children_of(service).at(0).actor);
  }

  tp::listener_info listener_info_of(const sv::supervisor_actor& root) {
    tp::listener_info result;
    self->request(listener_of(root), patience, info_atom::value)
      .receive([&](tp::listener_info& x) { result = x; },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  tp::connection_info info_of(const tp::connection_actor& conn) {
    tp::connection_info result;
    self->request(conn, patience, info_atom::value)
      .receive([&](tp::connection_info& x) { result = x; },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  /// Waits until the descriptor count is back where the fixture started.
  bool fds_restored(size_t extra = 0) {
    return eventually([&] { return count_open_fds() <= fds_at_start + extra; });
  }
};

inline tp::tcp_service_options echo_service(std::string host = "127.0.0.1") {
  tp::tcp_service_options opts;
  opts.name = "echo";
  opts.listener.bind = tp::endpoint{std::move(host), 0};
  opts.handler = tp::echo_handler();
  // Tests that stop a service with clients still open need not wait 5 s.
  opts.listener.connection.timeouts.drain = 500ms;
  return opts;
}

/// FNV-1a of `x`, continuing from `h`: a checksum for "every byte, in
/// order" over bodies too large to keep.
inline uint64_t fnv1a(std::string_view x, uint64_t h = 1469598103934665603ull) {
  for (auto c : x)
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

inline std::string pattern(size_t n, unsigned seed = 1) {
  std::string result(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : result) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return result;
}

} // namespace ghostnet::test
