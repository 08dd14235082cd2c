// bench-epoll-echo: the plain single-threaded epoll echo server that marks
// the ceiling for the benchmarks in bench/run.sh.
//
// Listener level-triggered, connections edge-triggered; each read goes into a
// 16 KiB stack buffer and is written back at once. Only what the socket does
// not take is kept per connection, so an idle connection costs one small
// `Conn` slot and no heap.
#include "../bench_util.hpp"

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <csignal>
#include <vector>

namespace {

constexpr size_t kReadBuffer = 16 * 1024;
// Stop reading from a peer that does not read its echo; resume once drained.
constexpr size_t kMaxPending = 1024 * 1024;
constexpr int kAcceptsPerWakeup = 64; // keep serving open connections under a connect storm

struct Conn {
  std::vector<char> out; // bytes the socket did not take yet
  size_t out_off = 0;
  bool open = false;
  bool paused = false; // reading stopped because `out` is too large
};

class EchoServer {
public:
  EchoServer(int listen_fd, int signal_fd) : listen_fd_(listen_fd), signal_fd_(signal_fd) {}

  int run() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0 || !watch(listen_fd_, EPOLLIN) || !watch(signal_fd_, EPOLLIN)) {
      std::perror("epoll");
      return 1;
    }
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::vector<epoll_event> events(1024);
    while (!stopping_) {
      int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0 && errno != EINTR) {
        std::perror("epoll_wait");
        return 1;
      }
      for (int i = 0; i < n; ++i)
        dispatch(events[i]);
    }
    for (size_t fd = 0; fd < conns_.size(); ++fd)
      if (conns_[fd].open)
        close(static_cast<int>(fd));
    if (dropped_ > 0)
      std::fprintf(stderr, "bench-epoll-echo: dropped %zu connections on EMFILE\n", dropped_);
    return 0;
  }

private:
  bool watch(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void dispatch(const epoll_event& ev) {
    int fd = ev.data.fd;
    if (fd == signal_fd_) {
      stopping_ = true;
    } else if (fd == listen_fd_) {
      accept_some();
    } else if (conn_open(fd)) {
      if (ev.events & (EPOLLERR | EPOLLHUP)) {
        close_conn(fd);
        return;
      }
      if (ev.events & EPOLLOUT)
        on_writable(fd);
      if ((ev.events & EPOLLIN) && conn_open(fd))
        on_readable(fd);
    }
  }

  bool conn_open(int fd) const {
    return static_cast<size_t>(fd) < conns_.size() && conns_[fd].open;
  }

  void accept_some() {
    for (int i = 0; i < kAcceptsPerWakeup; ++i) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE)
          shed_one_connection();
        else if (errno != EINTR && errno != ECONNABORTED)
          return; // EAGAIN: queue empty
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<size_t>(fd) >= conns_.size())
        conns_.resize(static_cast<size_t>(fd) + 1024);
      conns_[fd] = Conn{};
      conns_[fd].open = true;
      if (!watch(fd, EPOLLIN | EPOLLOUT | EPOLLET))
        close_conn(fd);
    }
  }

  // Out of descriptors: a level-triggered listener would wake us forever.
  // Free the spare descriptor, accept and close the pending peer, take the
  // spare back (the libev/libuv trick).
  void shed_one_connection() {
    if (reserve_fd_ >= 0)
      close(reserve_fd_);
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd >= 0) {
      close(fd);
      ++dropped_;
    }
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  void on_readable(int fd) {
    char buf[kReadBuffer];
    for (;;) {
      Conn& c = conns_[fd];
      if (c.out.size() - c.out_off > kMaxPending) {
        c.paused = true; // edge-triggered: on_writable resumes us
        return;
      }
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        // A short read emptied the socket (new data brings a new edge).
        if (!echo(fd, buf, static_cast<size_t>(n)) || static_cast<size_t>(n) < sizeof buf)
          return;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_conn(fd);
        return;
      } else if (errno == EAGAIN) {
        return;
      }
    }
  }

  // Writes straight from the read buffer; keeps only the tail the socket refused.
  bool echo(int fd, const char* data, size_t len) {
    Conn& c = conns_[fd];
    size_t done = 0;
    if (c.out.size() == c.out_off) {
      ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        close_conn(fd);
        return false;
      }
      done = w > 0 ? static_cast<size_t>(w) : 0;
    }
    c.out.insert(c.out.end(), data + done, data + len);
    return true;
  }

  void on_writable(int fd) {
    Conn& c = conns_[fd];
    while (c.out_off < c.out.size()) {
      ssize_t w = send(fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        if (errno != EAGAIN)
          close_conn(fd);
        return;
      }
      c.out_off += static_cast<size_t>(w);
    }
    std::vector<char>().swap(c.out); // release it: idle connections hold no heap
    c.out_off = 0;
    if (c.paused) {
      c.paused = false;
      on_readable(fd);
    }
  }

  void close_conn(int fd) {
    conns_[fd] = Conn{};
    close(fd); // also removes it from the epoll set
  }

  int listen_fd_;
  int signal_fd_;
  int epfd_ = -1;
  int reserve_fd_ = -1;
  bool stopping_ = false;
  size_t dropped_ = 0;
  std::vector<Conn> conns_; // indexed by descriptor
};

int open_listener(const bench::PeerOptions& opt, int& bound_port) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!bench::make_sockaddr(opt.host, opt.port, addr, len)) {
    std::fprintf(stderr, "bench-epoll-echo: --host must be an IP literal\n");
    return -1;
  }
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 4096) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("bench-epoll-echo: listen");
    return -1;
  }
  bound_port = ntohs(addr.ss_family == AF_INET
                         ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                         : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return fd;
}

} // namespace

int main(int argc, char** argv) {
  bench::PeerOptions opt = bench::parse_peer_options(argc, argv);
  bench::raise_nofile_limit();

  // Signals arrive as readable data on the loop, no async handler needed.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  int port = 0;
  int listen_fd = open_listener(opt, port);
  if (listen_fd < 0 || signal_fd < 0)
    return 1;
  if (!bench::write_ready_file(opt.ready_file, opt.host, port)) {
    std::perror("bench-epoll-echo: ready file");
    return 1;
  }
  return EchoServer(listen_fd, signal_fd).run();
}
