#include "ghostnet/transports/detail/socket_ops.hpp"
#include "ghostnet/transports/udp_endpoint.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <utility>

#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/typed_broker.hpp>
#include <caf/send.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/middleman.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/unexpected_message.hpp"
#include "ghostnet/supervision/child_spec.hpp"
#include "ghostnet/actors/detail/broker_cleanup.hpp"
#include "ghostnet/transports/detail/fd_watcher.hpp"
#include "ghostnet/transports/socket_handle.hpp"

#ifndef SO_MEMINFO
#  define SO_MEMINFO 55
#endif

namespace ghostnet::transports {

// -- options ------------------------------------------------------------------

caf::error validate(const udp_options& opts) {
  auto invalid = [&](std::string detail) {
    return make_error(errc::invalid_configuration, "validate udp options",
                      opts.bind.to_string(), 0, std::move(detail));
  };
  if (opts.max_datagram_size == 0)
    return invalid("max_datagram_size: must be at least 1 byte");
  // The bind address itself is checked (as invalid_address) when binding;
  // here it only decides which payload limit applies.
  auto addr = to_socket_address(opts.bind);
  bool v4 = addr && addr->family() == AF_INET;
  auto limit = v4 ? max_udp_payload_v4 : max_udp_payload_v6;
  if (opts.max_datagram_size > limit)
    return invalid("max_datagram_size: " + std::to_string(opts.max_datagram_size)
                   + " bytes exceeds the " + (v4 ? "IPv4" : "IPv6")
                   + " limit of " + std::to_string(limit) + " bytes");
  if (opts.send_buffer < 0)
    return invalid("send_buffer: must not be negative (0 = OS default)");
  if (opts.receive_buffer < 0)
    return invalid("receive_buffer: must not be negative (0 = OS default)");
  if (opts.max_reads_per_event == 0)
    return invalid("max_reads_per_event: must be at least 1");
  return caf::none;
}

namespace {

using caf::io::network::default_multiplexer;
using caf::io::network::operation;

/// Datagrams read with one recvmmsg call at most. Each needs a receive slot
/// of max_datagram_size bytes (allocated, but touched only as far as
/// datagrams fill it).
constexpr size_t max_batch = 16;

// -- socket helpers -----------------------------------------------------------

struct bound_socket {
  socket_handle sock;
  endpoint local;
  int family = AF_UNSPEC;
};

caf::expected<bound_socket> open_udp_socket(const udp_options& opts) {
  auto where = opts.bind.to_string();
  auto addr = to_socket_address(opts.bind);
  if (!addr)
    return make_error(errc::invalid_address, "bind", where, 0,
                      context_of(addr.error()).detail);
  int fd = ::socket(addr->family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    IPPROTO_UDP);
  if (fd < 0) {
    auto err = errno;
    return make_os_error(err, "socket", where);
  }
  socket_handle sock{fd}; // closes fd on every error path below
  auto set = [&](int name, int value, const char* what) -> caf::error {
    if (::setsockopt(fd, SOL_SOCKET, name, &value, sizeof(value)) == 0)
      return caf::none;
    auto err = errno;
    return make_os_error(err, std::string{"setsockopt "} + what, where);
  };
  if (opts.reuse_address)
    if (auto err = set(SO_REUSEADDR, 1, "SO_REUSEADDR"))
      return err;
  if (opts.reuse_port)
    if (auto err = set(SO_REUSEPORT, 1, "SO_REUSEPORT"))
      return err;
  if (opts.send_buffer > 0)
    if (auto err = set(SO_SNDBUF, opts.send_buffer, "SO_SNDBUF"))
      return err;
  if (opts.receive_buffer > 0)
    if (auto err = set(SO_RCVBUF, opts.receive_buffer, "SO_RCVBUF"))
      return err;
  if (::bind(fd, addr->get(), addr->length) != 0) {
    auto err = errno;
    return make_os_error(err, "bind", where);
  }
  auto local = local_endpoint_of(fd);
  if (local.host.empty()) {
    auto err = errno;
    return make_os_error(err, "getsockname", where);
  }
  return bound_socket{std::move(sock), std::move(local), addr->family()};
}

int int_option(int fd, int name) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (fd < 0 || ::getsockopt(fd, SOL_SOCKET, name, &value, &len) != 0)
    return 0;
  return value;
}

/// The kernel's count of datagrams dropped for this socket (sk_drops).
bool kernel_drops(int fd, uint32_t& out) {
  uint32_t mem[SK_MEMINFO_VARS] = {0};
  socklen_t len = sizeof(mem);
  if (fd < 0 || ::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0
      || len < (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t))
    return false;
  out = mem[SK_MEMINFO_DROPS];
  return true;
}

/// The sender of a datagram; IPv4 peers of a dual-stack IPv6 socket
/// (::ffff:a.b.c.d) are reported as plain IPv4.
endpoint sender_of(const sockaddr_storage& storage, socklen_t length) {
  socket_address addr;
  if (storage.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&addr.storage);
      v4->sin_family = AF_INET;
      v4->sin_port = v6->sin6_port;
      std::memcpy(&v4->sin_addr, &v6->sin6_addr.s6_addr[12], 4);
      addr.length = sizeof(sockaddr_in);
      return to_endpoint(addr);
    }
  }
  std::memcpy(&addr.storage, &storage, sizeof(storage));
  addr.length = length;
  return to_endpoint(addr);
}

/// Maps an IPv4 address to ::ffff:a.b.c.d for an IPv6 socket.
socket_address v4_mapped(const socket_address& v4addr) {
  socket_address result;
  auto* v4 = reinterpret_cast<const sockaddr_in*>(&v4addr.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&result.storage);
  v6->sin6_family = AF_INET6;
  v6->sin6_port = v4->sin_port;
  v6->sin6_addr.s6_addr[10] = 0xff;
  v6->sin6_addr.s6_addr[11] = 0xff;
  std::memcpy(&v6->sin6_addr.s6_addr[12], &v4->sin_addr, 4);
  result.length = sizeof(sockaddr_in6);
  return result;
}

// -- the endpoint broker ------------------------------------------------------

/// Owns the socket through an fd_watcher on the multiplexer (the broker's own
/// thread). Everything here runs on that thread: message handlers, the
/// watcher's callback and functions posted to the multiplexer.
class udp_endpoint_impl final : public udp_endpoint_actor::broker_base {
public:
  using super = udp_endpoint_actor::broker_base;

  udp_endpoint_impl(caf::actor_config& cfg, socket_handle sock,
                    udp_options opts, caf::actor handler, endpoint local,
                    int family)
    : super(cfg),
      socket_(std::move(sock)),
      opts_(std::move(opts)),
      handler_(caf::actor_cast<udp_handler_actor>(std::move(handler))),
      local_(std::move(local)),
      family_(family),
      source_("udp:" + local_.to_string()) {
    // nop
  }

  const char* name() const override {
    return "ghostnet.udp_endpoint";
  }

  behavior_type make_behavior() override {
    set_down_handler([this](caf::down_msg& dm) { on_down(dm); });
    set_exit_handler([this](caf::exit_msg& em) {
      // As CAF's default: a normal exit message is ignored.
      if (em.reason)
        begin_close(std::move(em.reason));
    });
    set_default_handler([this](caf::scheduled_actor*, caf::message_view& x) {
      return reject_unexpected_message(source_, local_.to_string(), x);
    });
    monitor(handler_);
    adopt_socket();
    return {
      [this](send_to_atom, const endpoint& to,
             const std::vector<char>& payload) -> caf::result<caf::ok_atom> {
        return send_to(to, payload);
      },
      [this](info_atom) -> udp_info { return info(); },
      [this](close_atom) { on_close(); },
    };
  }

  void on_exit() override {
    ghostnet::detail::close_mailbox_on_exit(*this);
    close_socket_now();
    socket_ = socket_handle{}; // a socket never adopted (never initialized)
    log::info(source_, "udp_endpoint_stopped",
              {{"reason", fail_state()},
               {"datagrams_in", datagrams_in_},
               {"datagrams_out", datagrams_out_}});
  }

private:
  // -- setup ------------------------------------------------------------------

  void adopt_socket() {
    // spawn_udp_endpoint checked that the backend is the default multiplexer.
    auto& mpx = static_cast<default_multiplexer&>(backend());
    fd_ = socket_.take();
    // The callback holds a strong reference: the broker outlives every call
    // (as CAF's own servants keep their broker alive). close()/release()
    // drop the callback and with it this reference.
    caf::strong_actor_ptr keep{ctrl()};
    watcher_ = detail::fd_watcher::make(mpx, fd_, [this, keep](operation op) {
      on_socket_event(op);
    });
    watcher_->want_read(true);
    slots_ = std::min(opts_.max_reads_per_event, max_batch);
    buffer_.reset(new char[slots_ * opts_.max_datagram_size]); // not zeroed
    addrs_.reset(new sockaddr_storage[slots_]);
    iovs_.reset(new iovec[slots_]);
    msgs_.reset(new mmsghdr[slots_]);
    for (size_t i = 0; i < slots_; ++i) {
      iovs_[i].iov_base = buffer_.get() + i * opts_.max_datagram_size;
      iovs_[i].iov_len = opts_.max_datagram_size;
      std::memset(&msgs_[i], 0, sizeof(mmsghdr));
      msgs_[i].msg_hdr.msg_name = &addrs_[i];
      msgs_[i].msg_hdr.msg_iov = &iovs_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    send_buffer_ = int_option(fd_, SO_SNDBUF);
    receive_buffer_ = int_option(fd_, SO_RCVBUF);
    kernel_drops(fd_, drops_at_start_);
    log::info(source_, "udp_endpoint_started",
              {{"fd", fd_},
               {"max_datagram_size", opts_.max_datagram_size},
               {"receive_buffer", receive_buffer_},
               {"send_buffer", send_buffer_}});
  }

  // -- sending ----------------------------------------------------------------

  caf::result<caf::ok_atom> send_to(const endpoint& to,
                                    const std::vector<char>& payload) {
    auto fail = [&](caf::error err) -> caf::result<caf::ok_atom> {
      ++send_failures_;
      log::debug(source_, "send_to_failed", {{"err", err}});
      return err;
    };
    if (closing_ || fd_ < 0)
      return fail(make_error(errc::transport_closed, "send_to", to.to_string(),
                             0, "the endpoint is closing; datagram not sent"));
    if (payload.size() > opts_.max_datagram_size)
      return fail(make_error(
        errc::protocol_error, "send_to", to.to_string(), 0,
        "datagram of " + std::to_string(payload.size())
          + " bytes exceeds max_datagram_size of "
          + std::to_string(opts_.max_datagram_size) + " bytes; not sent"));
    auto addr = destination(to);
    if (!addr)
      return fail(std::move(addr.error()));
    for (;;) {
      auto n = ::sendto(fd_, payload.data(), payload.size(),
                        MSG_DONTWAIT | MSG_NOSIGNAL, addr->get(), addr->length);
      if (n >= 0) {
        ++datagrams_out_;
        bytes_out_ += payload.size();
        return caf::ok_atom::value;
      }
      auto err = errno;
      switch (err) {
        case EINTR:
          continue;
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
        case ENOBUFS:
          return fail(make_error(errc::backpressure, "send_to", to.to_string(),
                                 err,
                                 "socket send buffer full: datagram NOT "
                                 "sent, retry later or drop it"));
        case EMSGSIZE:
          return fail(make_error(errc::protocol_error, "send_to",
                                 to.to_string(), err,
                                 "datagram too large for the OS; not sent"));
        default:
          return fail(make_os_error(err, "send_to", to.to_string()));
      }
    }
  }

  caf::expected<socket_address> destination(const endpoint& to) const {
    auto addr = to_socket_address(to);
    if (!addr)
      return make_error(errc::invalid_address, "send_to", to.to_string(), 0,
                        context_of(addr.error()).detail);
    if (to.port == 0)
      return make_error(errc::invalid_address, "send_to", to.to_string(), 0,
                        "port 0 is not a destination");
    if (addr->family() == family_)
      return addr;
    if (family_ == AF_INET6)
      return v4_mapped(*addr);
    return make_error(errc::invalid_address, "send_to", to.to_string(), 0,
                      "IPv6 destination on an IPv4 socket (bound to "
                        + local_.to_string() + ")");
  }

  // -- receiving --------------------------------------------------------------

  void on_socket_event(operation op) {
    // Runs on the multiplexer thread but outside of a message handler: an
    // exception here would unwind through CAF's event loop.
    try {
      if (op == operation::read) {
        read_datagrams();
      } else if (op == operation::propagate_error) {
        // An unconnected UDP socket gets no ICMP errors (no IP_RECVERR), so
        // this is unexpected; the multiplexer has dropped the socket by now.
        auto err = detail::pending_socket_error(fd_);
        ++receive_errors_;
        log::error(source_, "socket_error", {{"errno", err}});
        begin_close(make_os_error(err != 0 ? err : EIO, "receive",
                                  local_.to_string()));
      }
    } catch (std::exception& ex) {
      log::error(source_, "receive_failed", {{"what", ex.what()}});
      begin_close(make_error(errc::out_of_resources, "receive",
                             local_.to_string(), 0, ex.what()));
    }
  }

  void read_datagrams() {
    auto self_hdl = caf::actor_cast<udp_endpoint_actor>(this);
    size_t budget = opts_.max_reads_per_event;
    size_t oversized = 0;
    endpoint oversized_from;
    while (budget > 0 && !closing_) {
      auto want = std::min(budget, slots_);
      for (size_t i = 0; i < want; ++i) {
        msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        msgs_[i].msg_hdr.msg_flags = 0;
        msgs_[i].msg_len = 0;
      }
      auto n = ::recvmmsg(fd_, msgs_.get(), static_cast<unsigned>(want),
                          MSG_DONTWAIT, nullptr);
      if (n < 0) {
        auto err = errno;
        if (err == EINTR)
          continue;
        if (err == EAGAIN || err == EWOULDBLOCK)
          break;
        ++receive_errors_;
        if (err == ENOMEM || err == ENOBUFS || err == ECONNREFUSED
            || err == EHOSTUNREACH || err == ENETUNREACH) {
          // Temporary; the datagrams still queued are read on the next event.
          log::warn(source_, "receive_failed", {{"errno", err}});
          break;
        }
        log::error(source_, "receive_failed", {{"errno", err}});
        begin_close(make_os_error(err, "receive", local_.to_string()));
        return;
      }
      auto got = static_cast<size_t>(n);
      for (size_t i = 0; i < got; ++i) {
        auto& hdr = msgs_[i].msg_hdr;
        if ((hdr.msg_flags & MSG_TRUNC) != 0) {
          ++dropped_oversized_;
          ++oversized;
          oversized_from = sender_of(addrs_[i], hdr.msg_namelen);
          continue;
        }
        auto* data = static_cast<const char*>(iovs_[i].iov_base);
        std::vector<char> payload(data, data + msgs_[i].msg_len);
        ++datagrams_in_;
        bytes_in_ += payload.size();
        send(handler_, datagram_atom::value, self_hdl,
             sender_of(addrs_[i], hdr.msg_namelen), std::move(payload));
      }
      budget -= got;
      if (got < want)
        break; // the socket's queue is empty (recvmmsg stopped at EAGAIN)
    }
    if (oversized > 0)
      log::warn(source_, "datagram_dropped_oversized",
                {{"count", oversized},
                 {"total", dropped_oversized_},
                 {"last_from", oversized_from.to_string()},
                 {"max_datagram_size", opts_.max_datagram_size}});
  }

  // -- info -------------------------------------------------------------------

  udp_info info() {
    uint32_t drops = 0;
    if (kernel_drops(fd_, drops))
      dropped_by_kernel_ = static_cast<uint32_t>(drops - drops_at_start_);
    udp_info result;
    result.local = local_;
    result.datagrams_in = datagrams_in_;
    result.bytes_in = bytes_in_;
    result.datagrams_out = datagrams_out_;
    result.bytes_out = bytes_out_;
    result.dropped_oversized = dropped_oversized_;
    result.dropped_by_kernel = dropped_by_kernel_;
    result.send_failures = send_failures_;
    result.receive_errors = receive_errors_;
    result.send_buffer = send_buffer_;
    result.receive_buffer = receive_buffer_;
    return result;
  }

  // -- closing ----------------------------------------------------------------

  // A graceful close takes two turns of the I/O loop so that the socket is
  // closed BEFORE monitors learn of the exit (a supervisor may bind the same
  // port again at once). The multiplexer applies our "stop reading" at the
  // end of the current turn; only then may the descriptor be closed (closed
  // while CAF still has it queued for epoll, CAF's later EPOLL_CTL_DEL would
  // fail). So: stop reading now; on the next turn (a function posted to the
  // multiplexer runs after the change was applied) close the socket and send
  // ourselves close_atom, which then finds the socket closed and quits.

  void begin_close(caf::error reason) {
    if (closing_)
      return;
    closing_ = true;
    close_reason_ = std::move(reason);
    if (watcher_)
      watcher_->want_read(false);
    log::info(source_, "udp_endpoint_closing", {{"reason", close_reason_}});
    auto& mpx = static_cast<default_multiplexer&>(backend());
    mpx.post([this, self_hdl = caf::actor_cast<udp_endpoint_actor>(this)] {
      // self_hdl keeps this object alive; after a kill in the meantime,
      // on_exit closed the socket already and the message is dropped.
      close_socket_now();
      caf::anon_send(self_hdl, close_atom::value);
    });
  }

  void on_close() {
    if (!closing_)
      begin_close(caf::exit_reason::normal);
    else if (!watcher_)
      quit(close_reason_); // the socket is closed
    // else: a repeated close_atom; ours follows once the socket is closed
  }

  void on_down(const caf::down_msg& dm) {
    if (dm.source != handler_.address())
      return;
    log::info(source_, "handler_down", {{"reason", dm.reason}});
    begin_close(caf::exit_reason::normal);
  }

  /// Closes the socket now if the multiplexer no longer has it, else the
  /// watcher closes it once the multiplexer let go (next loop turn).
  void close_socket_now() {
    if (!watcher_)
      return;
    uint32_t drops = 0;
    if (kernel_drops(fd_, drops))
      dropped_by_kernel_ = static_cast<uint32_t>(drops - drops_at_start_);
    if (watcher_->reading() || watcher_->eventbf() != 0)
      log::debug(source_, "socket_close_deferred",
                 {{"fd", fd_}, {"closing", closing_}});
    watcher_->close(); // closes at once when CAF no longer watches it
    watcher_.reset();
    fd_ = -1;
  }

  // -- state ------------------------------------------------------------------

  socket_handle socket_; ///< until adopted by the watcher
  udp_options opts_;
  udp_handler_actor handler_;
  endpoint local_;
  int family_;
  std::string source_;  ///< log source, "udp:127.0.0.1:5000"
  int fd_ = -1;         ///< owned by watcher_; -1 once closed
  detail::fd_watcher_ptr watcher_;
  bool closing_ = false;
  caf::error close_reason_;

  // Receive slots for recvmmsg.
  size_t slots_ = 0;
  std::unique_ptr<char[]> buffer_;
  std::unique_ptr<sockaddr_storage[]> addrs_;
  std::unique_ptr<iovec[]> iovs_;
  std::unique_ptr<mmsghdr[]> msgs_;

  // Counters (udp_info).
  uint64_t datagrams_in_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t datagrams_out_ = 0;
  uint64_t bytes_out_ = 0;
  uint64_t dropped_oversized_ = 0;
  uint64_t dropped_by_kernel_ = 0;
  uint32_t drops_at_start_ = 0;
  uint64_t send_failures_ = 0;
  uint64_t receive_errors_ = 0;
  int send_buffer_ = 0;
  int receive_buffer_ = 0;
};

} // namespace

// -- spawning -----------------------------------------------------------------

caf::expected<udp_endpoint_actor>
spawn_udp_endpoint(caf::actor_system& sys, const udp_options& opts,
                   caf::actor handler) {
  if (auto err = validate(opts))
    return err;
  auto where = opts.bind.to_string();
  if (!handler)
    return make_error(errc::invalid_configuration, "spawn udp endpoint", where,
                      0, "handler: must not be null");
  auto mm = middleman_of(sys, "spawn udp endpoint", where);
  if (!mm)
    return std::move(mm.error());
  auto& backend = (*mm)->backend();
  if (dynamic_cast<default_multiplexer*>(&backend) == nullptr)
    return make_error(errc::invalid_configuration, "spawn udp endpoint", where,
                      0, "middleman.network-backend must be the default "
                         "multiplexer");
  auto bound = open_udp_socket(opts);
  if (!bound)
    return std::move(bound.error());
  caf::actor_config cfg{&backend};
  // If spawning throws, the socket_handle closes the socket.
  return sys.spawn_class<udp_endpoint_impl, caf::no_spawn_options>(
    cfg, std::move(bound->sock), opts, std::move(handler),
    std::move(bound->local), bound->family);
}

supervision::child_spec udp_endpoint_child(std::string id, udp_options opts,
                                           caf::actor handler,
                                           supervision::restart_type restart) {
  auto start = [opts = std::move(opts), handler = std::move(handler)](
                 caf::actor_system& sys,
                 const caf::message&) -> caf::expected<caf::actor> {
    auto ep = spawn_udp_endpoint(sys, opts, handler);
    if (!ep)
      return std::move(ep.error());
    return caf::actor_cast<caf::actor>(std::move(*ep));
  };
  return supervision::worker(std::move(id), std::move(start), restart);
}

} // namespace ghostnet::transports
