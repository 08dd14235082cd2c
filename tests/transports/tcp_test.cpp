// TCP listener and connection actors against real sockets on loopback.

#include "ghostnet/transports/await_connect.hpp"
#include "tcp_fixture.hpp"

#include <cstdio>
#include <thread>
#include <atomic>
#include <sys/wait.h>

#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

using namespace ghostnet;
using namespace ghostnet::test;

namespace {

/// Echo of `data` over one connection: a writer thread sends, the test
/// thread reads (so neither side deadlocks on full buffers).
std::string echo_through(const tp::endpoint& ep, const std::string& data) {
  client c{ep};
  BOOST_REQUIRE(c.connected());
  std::thread writer([&] { c.send_all(data); });
  auto back = c.read_exactly(data.size());
  writer.join();
  return back;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(tcp, tcp_fixture)

BOOST_AUTO_TEST_CASE(echo_round_trips_from_one_byte_to_sixteen_mebibytes) {
  auto svc = start_service(echo_service());
  for (size_t n : {size_t{1}, size_t{100}, size_t{4096}, size_t{65537},
                   size_t{1} << 20, size_t{16} << 20}) {
    BOOST_TEST_CONTEXT("size " << n) {
      auto data = pattern(n, static_cast<unsigned>(n));
      BOOST_TEST((echo_through(svc.bound, data) == data));
    }
  }
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(echo_works_over_ipv6_loopback) {
  auto svc = start_service(echo_service("::1"));
  BOOST_TEST(svc.bound.host == "::1");
  BOOST_TEST(echo_through(svc.bound, "hello over v6") == "hello over v6");
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_thousand_concurrent_connections_all_echo) {
  raise_fd_limit(8192);
  auto svc = start_service(echo_service());
  constexpr size_t n = 1000;
  std::vector<std::unique_ptr<client>> clients;
  for (size_t i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<client>(svc.bound));
    BOOST_REQUIRE(clients.back()->connected());
  }
  for (size_t i = 0; i < n; ++i)
    BOOST_REQUIRE(clients[i]->send_all("msg-" + std::to_string(i) + ";"));
  size_t ok = 0;
  for (size_t i = 0; i < n; ++i) {
    auto want = "msg-" + std::to_string(i) + ";";
    if (clients[i]->read_exactly(want.size()) == want)
      ++ok;
  }
  BOOST_TEST(ok == n);
  BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == n; }));
  clients.clear();
  BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == 0; }));
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(idle_connection_is_closed_after_idle_timeout) {
  auto opts = echo_service();
  opts.listener.connection.timeouts.idle = 200ms;
  auto svc = start_service(opts);
  // Before the connect: the server's idle timer starts at its accept, which
  // may come before this thread runs again after connect() returned.
  auto t0 = std::chrono::steady_clock::now();
  client silent{svc.bound};
  BOOST_REQUIRE(silent.connected());
  BOOST_TEST(silent.sees_close());
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 200ms));
  // A connection that keeps talking is not idle.
  client chatty{svc.bound};
  for (int i = 0; i < 5; ++i) {
    BOOST_REQUIRE(chatty.send_all("x"));
    BOOST_TEST(chatty.read_exactly(1) == "x");
    std::this_thread::sleep_for(100ms); // below the idle timeout, on purpose
  }
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_peer_that_never_reads_is_held_at_the_high_water_mark) {
  auto opts = echo_service();
  opts.listener.connection.high_water_mark = 256 * 1024;
  opts.listener.connection.low_water_mark = 64 * 1024;
  opts.listener.connection.socket.send_buffer = 64 * 1024;
  auto svc = start_service(opts);
  client hog{svc.bound, 2000};
  int small = 64 * 1024;
  setsockopt(hog.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  // Push far more than all buffers together hold; the send blocks (bounded
  // by SO_SNDTIMEO) once the server stops reading.
  auto chunk = pattern(1 << 20);
  size_t pushed = 0;
  for (int i = 0; i < 64; ++i) {
    auto r = ::send(hog.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (r <= 0)
      break;
    pushed += static_cast<size_t>(r);
  }
  BOOST_TEST(pushed < size_t{64} << 20); // the server stopped taking bytes
  auto conns = children_of(connections_of(svc.root));
  BOOST_REQUIRE_EQUAL(conns.size(), 1u);
  auto conn = caf::actor_cast<tp::connection_actor>(conns[0].actor);
  auto info = info_of(conn);
  BOOST_TEST(info.pending_out <= opts.listener.connection.high_water_mark
                                   + opts.listener.connection.max_read_size);
  BOOST_TEST(info.pending_out >= opts.listener.connection.low_water_mark);
  // Everyone else is served meanwhile.
  BOOST_TEST(echo_through(svc.bound, "still here") == "still here");
  // Sends are refused with a typed error once the hard limit (high-water
  // mark plus one read) is reached; nothing beyond it is queued.
  const auto& copts = opts.listener.connection;
  auto max_sends = (copts.high_water_mark + copts.max_read_size) / (64 * 1024) + 2;
  caf::error refused;
  for (size_t i = 0; i < max_sends && !refused; ++i)
    self->request(conn, patience, send_atom::value, std::vector<char>(64 * 1024, 'x'))
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { refused = err; });
  BOOST_TEST(is(refused, errc::backpressure), describe(refused));
  BOOST_TEST(info_of(conn).pending_out
             <= copts.high_water_mark + copts.max_read_size + 64 * 1024);
  hog.reset();
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_peer_reset_mid_stream_ends_only_its_connection) {
  auto svc = start_service(echo_service());
  client steady{svc.bound};
  BOOST_REQUIRE(steady.send_all("a"));
  BOOST_TEST(steady.read_exactly(1) == "a");
  {
    client rude{svc.bound};
    BOOST_REQUIRE(rude.send_all(pattern(100000)));
    rude.reset();
  }
  BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == 1; }));
  BOOST_REQUIRE(steady.send_all("b"));
  BOOST_TEST(steady.read_exactly(1) == "b");
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_reset_is_reported_with_the_peer_it_came_from) {
  auto opts = echo_service();
  opts.handler = tp::actor_handler(caf::actor{self});
  auto svc = start_service(opts);
  std::string peer;
  {
    client rude{svc.bound};
    BOOST_REQUIRE(rude.send_all("x"));
    self->receive([](tp::opened_atom, tp::connection_actor&, tp::connection_info&) {},
                  caf::after(patience) >> [] { BOOST_FAIL("no opened"); });
    self->receive([](received_atom, tp::connection_actor&, std::vector<char>&) {},
                  caf::after(patience) >> [] { BOOST_FAIL("no frame"); });
    peer = tp::local_endpoint_of(rude.fd()).to_string();
    rude.reset();
  }
  caf::error reason;
  self->receive([&](closed_atom, tp::connection_actor&, caf::error& err) { reason = err; },
                caf::after(patience) >> [] { BOOST_FAIL("no closed message"); });
  BOOST_TEST(is(reason, errc::connection_reset), describe(reason));
  BOOST_TEST(context_of(reason).endpoint == peer);
  BOOST_TEST(context_of(reason).os_errno == ECONNRESET);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(await_connect_reports_a_refusal_even_after_the_connection_is_gone) {
  // No retries: the connection may end before a request reaches it.
  tp::connect_options opts;
  opts.remote = tp::endpoint{"127.0.0.1", unused_port()};
  for (int i = 0; i < 20; ++i) {
    auto conn = tp::connect(sys, opts, tp::echo_handler());
    BOOST_REQUIRE(conn);
    if (i % 2 == 1) // sometimes it is surely gone first
      std::this_thread::sleep_for(5ms);
    auto up = tp::await_connect(*self, *conn, patience);
    BOOST_REQUIRE(!up);
    BOOST_TEST(is(up.error(), errc::connection_refused), describe(up.error()));
  }
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(connecting_to_a_closed_port_is_connection_refused) {
  tp::connect_options opts;
  opts.remote = tp::endpoint{"127.0.0.1", unused_port()};
  opts.retries = 2;
  opts.backoff_min = 10ms;
  auto conn = tp::connect(sys, opts, tp::echo_handler());
  BOOST_REQUIRE(conn);
  self->request(*conn, patience, connect_atom::value)
    .receive([](tp::connection_info&) { BOOST_FAIL("connected to a closed port"); },
             [&](caf::error& err) {
               BOOST_TEST(is(err, errc::connection_refused), describe(err));
               BOOST_TEST(context_of(err).endpoint == opts.remote.to_string());
               BOOST_TEST(context_of(err).operation == "connect");
             });
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_host_name_is_looked_up_and_connected) {
  // The machine's own name, if it resolves to loopback (a test must not
  // reach past 127.0.0.1); "localhost" never reaches the lookup.
  char name[256] = {0};
  BOOST_REQUIRE(::gethostname(name, sizeof(name) - 1) == 0);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_INET;
  addrinfo* res = nullptr;
  bool loopback = ::getaddrinfo(name, nullptr, &hints, &res) == 0
                  && reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr.s_addr
                       == htonl(INADDR_LOOPBACK);
  if (res)
    ::freeaddrinfo(res);
  if (!loopback) {
    BOOST_TEST_MESSAGE("host name " << name << " is not 127.0.0.1 here");
    return;
  }
  auto svc = start_service(echo_service());
  tp::connect_options opts;
  opts.remote = tp::endpoint{name, svc.bound.port};
  auto conn = tp::connect(sys, opts, tp::echo_handler());
  BOOST_REQUIRE(conn);
  self->request(*conn, patience, connect_atom::value)
    .receive([&](tp::connection_info& info) {
               BOOST_TEST(info.remote.to_string() == svc.bound.to_string());
             },
             [](caf::error& err) { BOOST_FAIL(describe(err)); });
  self->request(*conn, patience, close_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(an_unknown_host_is_a_typed_error_and_a_malformed_one_is_refused) {
  tp::connect_options opts;
  opts.remote = tp::endpoint{"no-such-host.invalid", 80}; // RFC 2606: never exists
  opts.timeout = 10s;
  auto conn = tp::connect(sys, opts, tp::echo_handler());
  BOOST_REQUIRE(conn);
  self->request(*conn, patience, connect_atom::value)
    .receive([](tp::connection_info&) { BOOST_FAIL("connected to nowhere"); },
             [&](caf::error& err) {
               BOOST_TEST(is(err, errc::invalid_address), describe(err));
               BOOST_TEST(context_of(err).operation == "resolve");
               BOOST_TEST(context_of(err).endpoint == "no-such-host.invalid:80");
               BOOST_TEST(context_of(err).detail == "unknown host");
             });
  for (auto bad : {"bad host", "-lead.example", "a..b", "x_y.example", ""}) {
    opts.remote.host = bad;
    auto refused = tp::connect(sys, opts, tp::echo_handler());
    BOOST_REQUIRE_MESSAGE(!refused, "accepted host '" << bad << "'");
    BOOST_TEST(is(refused.error(), errc::invalid_address), describe(refused.error()));
  }
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(connecting_to_a_black_hole_times_out) {
  // A loopback listener with a full accept queue drops further SYNs: a
  // black hole that never leaves this machine.
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  BOOST_REQUIRE(::listen(lfd, 0) == 0);
  socklen_t len = sizeof(sa);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len);
  tp::endpoint ep{"127.0.0.1", ntohs(sa.sin_port)};
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    fillers.push_back(c);
  }
  std::this_thread::sleep_for(50ms); // let the handshakes of the fillers land
  tp::connect_options opts;
  opts.remote = ep;
  opts.timeout = 300ms;
  auto t0 = std::chrono::steady_clock::now(); // the connect starts at spawn
  auto conn = tp::connect(sys, opts, tp::echo_handler());
  BOOST_REQUIRE(conn);
  self->request(*conn, patience, connect_atom::value)
    .receive([](tp::connection_info&) { BOOST_FAIL("connected to a black hole"); },
             [&](caf::error& err) {
               BOOST_TEST(is(err, errc::timeout), describe(err));
               BOOST_TEST(context_of(err).operation == "connect");
             });
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 300ms));
  for (auto c : fillers)
    ::close(c);
  ::close(lfd);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(an_oversized_frame_is_a_protocol_error_for_that_connection_only) {
  auto app = sys.spawn([](caf::event_based_actor* ac) -> caf::behavior {
    return {
      [](tp::opened_atom, const tp::connection_actor&, const tp::connection_info&) {},
      [](received_atom, const tp::connection_actor&, const std::vector<char>&) {},
      [](closed_atom, const tp::connection_actor&, caf::error&) {},
    };
  });
  auto opts = echo_service();
  opts.listener.connection.framing.kind = tp::framing_kind::length_prefixed;
  opts.listener.connection.framing.max_frame_size = 1024;
  auto svc = start_service(opts);
  // A well-formed frame is echoed with its prefix.
  client good{svc.bound};
  std::string frame{"\0\0\0\5hello", 9};
  BOOST_REQUIRE(good.send_all(frame));
  BOOST_TEST(good.read_exactly(9) == frame);
  // A header announcing 1 MiB ends that connection at once.
  client bad{svc.bound};
  std::string header{"\0\x10\0\0", 4};
  BOOST_REQUIRE(bad.send_all(header));
  BOOST_TEST(bad.sees_close());
  BOOST_REQUIRE(good.send_all(frame));
  BOOST_TEST(good.read_exactly(9) == frame);
  self->send_exit(app, caf::exit_reason::user_shutdown);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(actor_mode_delivers_typed_messages_and_reports_protocol_errors) {
  auto opts = echo_service();
  opts.listener.connection.framing.kind = tp::framing_kind::line;
  opts.listener.connection.framing.max_frame_size = 64;
  opts.handler = tp::actor_handler(caf::actor{self});
  auto svc = start_service(opts);
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("one\ntwo\n"));
  tp::connection_actor conn;
  self->receive([&](tp::opened_atom, tp::connection_actor& x, tp::connection_info& info) {
    conn = x;
    BOOST_TEST(info.remote.port != 0);
  }, caf::after(patience) >> [] { BOOST_FAIL("no opened message"); });
  std::vector<std::string> frames;
  for (int i = 0; i < 2; ++i)
    self->receive([&](received_atom, tp::connection_actor&, std::vector<char>& f) {
      frames.emplace_back(f.begin(), f.end());
    }, caf::after(patience) >> [] { BOOST_FAIL("no frame"); });
  BOOST_TEST(frames == (std::vector<std::string>{"one", "two"}), boost::test_tools::per_element());
  // The application answers through the connection actor.
  self->request(conn, patience, send_atom::value, std::vector<char>{'o', 'k'})
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(c.read_exactly(3) == "ok\n");
  // A line longer than max_frame_size closes it with a protocol error.
  BOOST_REQUIRE(c.send_all(std::string(100, 'z')));
  caf::error reason;
  self->receive([&](closed_atom, tp::connection_actor&, caf::error& err) { reason = err; },
                caf::after(patience) >> [] { BOOST_FAIL("no closed message"); });
  BOOST_TEST(is(reason, errc::protocol_error), describe(reason));
  BOOST_TEST(context_of(reason).endpoint.find("127.0.0.1") == 0);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(set_receiver_hands_the_connection_to_another_actor) {
  auto opts = echo_service();
  opts.listener.connection.framing.kind = tp::framing_kind::line;
  opts.handler = tp::actor_handler(caf::actor{self});
  auto svc = start_service(opts);
  client c{svc.bound};
  tp::connection_actor conn;
  self->receive([&](tp::opened_atom, tp::connection_actor& x, tp::connection_info&) { conn = x; },
                caf::after(patience) >> [] { BOOST_FAIL("no opened message"); });
  BOOST_REQUIRE(c.send_all("first\n"));
  self->receive([&](received_atom, tp::connection_actor&, std::vector<char>& f) {
    BOOST_TEST(std::string(f.begin(), f.end()) == "first");
  }, caf::after(patience) >> [] { BOOST_FAIL("no frame"); });
  // A null receiver is refused by the connection itself.
  self->request(conn, patience, set_receiver_atom::value, caf::actor{})
    .receive([](caf::ok_atom) { BOOST_FAIL("a null receiver was taken"); },
             [](caf::error& err) {
               BOOST_TEST(is(err, errc::invalid_configuration), describe(err));
             });
  // Hand it over, as a pool does at a lease (gen_tcp's controlling_process).
  caf::scoped_actor other{sys};
  self->request(conn, patience, set_receiver_atom::value, caf::actor{other})
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_REQUIRE(c.send_all("second\n"));
  other->receive([&](received_atom, tp::connection_actor& from, std::vector<char>& f) {
    BOOST_TEST(std::string(f.begin(), f.end()) == "second");
    BOOST_TEST((from == conn));
  }, caf::after(patience) >> [] { BOOST_FAIL("the new receiver got no frame"); });
  c.close();
  other->receive([&](closed_atom, tp::connection_actor&, caf::error& reason) {
    BOOST_TEST(!reason, describe(reason));
  }, caf::after(patience) >> [] { BOOST_FAIL("the new receiver got no closed message"); });
  // The old receiver heard nothing after the switch.
  bool quiet = true;
  self->receive([&](received_atom, tp::connection_actor&, std::vector<char>&) { quiet = false; },
                [&](closed_atom, tp::connection_actor&, caf::error&) { quiet = false; },
                caf::after(50ms) >> [] {});
  BOOST_TEST(quiet);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(set_receiver_on_a_handler_object_is_refused) {
  auto svc = start_service(echo_service());
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("x"));
  BOOST_TEST(c.read_exactly(1) == "x");
  auto conns = children_of(connections_of(svc.root));
  BOOST_REQUIRE_EQUAL(conns.size(), 1u);
  auto conn = caf::actor_cast<tp::connection_actor>(conns[0].actor);
  self->request(conn, patience, set_receiver_atom::value, caf::actor{self})
    .receive([](caf::ok_atom) { BOOST_FAIL("an echo handler took a receiver"); },
             [](caf::error& err) {
               BOOST_TEST(is(err, errc::invalid_state), describe(err));
               BOOST_TEST(context_of(err).operation == "set receiver");
             });
  // The connection is unharmed.
  BOOST_REQUIRE(c.send_all("y"));
  BOOST_TEST(c.read_exactly(1) == "y");
  c.close();
  stop(svc.root);
}

namespace {

/// Resident set size of this process, in bytes.
size_t rss_bytes() {
  long pages = 0;
  long resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

using flow_done_atom = caf::atom_constant<caf::atom("flowdone")>;

/// A handler actor that takes 10 ms per frame, checks that the bytes come
/// in order (byte i is i % 251) and asks for one more frame after each.
caf::behavior slow_reader(caf::event_based_actor* self, caf::actor report,
                          uint64_t expected) {
  auto offset = std::make_shared<uint64_t>(0);
  auto in_order = std::make_shared<bool>(true);
  return {
    [](tp::opened_atom, tp::connection_actor&, tp::connection_info&) {},
    [=](received_atom, tp::connection_actor& conn, std::vector<char>& frame) {
      for (char c : frame)
        if (static_cast<unsigned char>(c) != (*offset)++ % 251)
          *in_order = false;
      std::this_thread::sleep_for(10ms);
      self->send(conn, demand_atom::value, uint32_t{1});
      if (*offset >= expected)
        self->send(report, flow_done_atom::value, *offset, *in_order);
    },
    [=](closed_atom, tp::connection_actor&, caf::error&) {
      if (*offset < expected)
        self->send(report, flow_done_atom::value, *offset, *in_order);
    },
  };
}

} // namespace

BOOST_AUTO_TEST_CASE(a_handler_actor_gets_its_window_of_frames_then_one_per_demand) {
  auto opts = echo_service();
  opts.listener.connection.framing.kind = tp::framing_kind::line;
  opts.handler = tp::actor_handler(caf::actor{self}, {2});
  auto svc = start_service(opts);
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("a\nb\nc\nd\n"));
  tp::connection_actor conn;
  self->receive([&](tp::opened_atom, tp::connection_actor& x, tp::connection_info&) { conn = x; },
                caf::after(patience) >> [] { BOOST_FAIL("no opened message"); });
  auto next_frame = [&](caf::timespan wait) {
    std::string result;
    self->receive([&](received_atom, tp::connection_actor&, std::vector<char>& f) {
                    result.assign(f.begin(), f.end());
                  },
                  caf::after(wait) >> [] {});
    return result;
  };
  BOOST_TEST(next_frame(patience) == "a");
  BOOST_TEST(next_frame(patience) == "b");
  BOOST_TEST(next_frame(200ms).empty()); // the window is used up
  self->send(conn, demand_atom::value, uint32_t{1});
  BOOST_TEST(next_frame(patience) == "c");
  BOOST_TEST(next_frame(200ms).empty());
  // Frames still waiting when the peer closes arrive before `closed`.
  c.close();
  std::vector<std::string> tail;
  bool closed = false;
  while (!closed) {
    self->send(conn, demand_atom::value, uint32_t{1});
    self->receive([&](received_atom, tp::connection_actor&, std::vector<char>& f) {
                    tail.emplace_back(f.begin(), f.end());
                  },
                  [&](closed_atom, tp::connection_actor&, caf::error&) { closed = true; },
                  caf::after(patience) >> [&] {
                    BOOST_FAIL("neither a frame nor closed");
                  });
  }
  BOOST_TEST(tail == std::vector<std::string>{"d"}, boost::test_tools::per_element());
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_slow_handler_actor_pauses_its_peer_instead_of_growing_its_mailbox) {
  constexpr uint64_t total = 256ull << 20;
  auto reader = sys.spawn<caf::detached>(slow_reader, caf::actor{self}, total);
  auto opts = echo_service();
  opts.listener.connection.max_read_size = 256 * 1024;
  opts.handler = tp::actor_handler(reader, {4});
  auto svc = start_service(opts);
  auto before = rss_bytes();
  std::atomic<bool> sent_all{false};
  std::thread flooder{[&] {
    client c{svc.bound, 60000};
    std::vector<char> chunk(1 << 20);
    uint64_t pos = 0;
    while (pos < total) {
      for (auto& b : chunk)
        b = static_cast<char>(pos++ % 251);
      if (!c.send_all(chunk.data(), chunk.size()))
        return;
    }
    sent_all = true;
    // Stay connected until the reader has everything (a close would not
    // lose data, but the test is about the flow, not the close).
    c.read_exactly(1);
  }};
  size_t peak = before;
  uint64_t got = 0;
  bool in_order = false;
  bool done = false;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    self->receive([&](flow_done_atom, uint64_t n, bool ordered) {
                    got = n;
                    in_order = ordered;
                    done = true;
                  },
                  caf::after(100ms) >> [&] { peak = std::max(peak, rss_bytes()); });
  }
  BOOST_TEST(done);
  BOOST_TEST(sent_all.load());
  BOOST_TEST(got == total);
  BOOST_TEST(in_order);
  // Without the window the mailbox would hold most of the 256 MiB (250 MiB
  // measured with window 0).
  auto growth = peak > before ? peak - before : 0;
  BOOST_TEST_MESSAGE("RSS growth " << (growth >> 20) << " MiB");
#ifndef __SANITIZE_ADDRESS__ // ASan keeps freed memory in quarantine
  BOOST_TEST(growth < (64u << 20));
#endif
  stop(svc.root);
  flooder.join();
  caf::anon_send_exit(reader, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(max_connections_rejects_extra_clients_and_keeps_the_others) {
  auto opts = echo_service();
  opts.listener.max_connections = 2;
  auto svc = start_service(opts);
  client a{svc.bound}, b{svc.bound};
  BOOST_REQUIRE(a.send_all("a"));
  BOOST_REQUIRE(b.send_all("b"));
  BOOST_TEST(a.read_exactly(1) == "a");
  BOOST_TEST(b.read_exactly(1) == "b");
  client extra{svc.bound};
  BOOST_TEST(extra.sees_close());
  BOOST_TEST(eventually([&] { return listener_info_of(svc.root).rejected == 1; }));
  BOOST_REQUIRE(a.send_all("again"));
  BOOST_TEST(a.read_exactly(5) == "again");
  a.close();
  BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == 1; }));
  client late{svc.bound};
  BOOST_REQUIRE(late.send_all("late"));
  BOOST_TEST(late.read_exactly(4) == "late");
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(pause_policy_stops_accepting_until_below_the_mark) {
  auto opts = echo_service();
  opts.listener.max_connections = 1;
  opts.listener.at_limit = tp::limit_policy::pause;
  auto svc = start_service(opts);
  client first{svc.bound};
  BOOST_REQUIRE(first.send_all("1"));
  BOOST_TEST(first.read_exactly(1) == "1");
  BOOST_TEST(eventually([&] { return !listener_info_of(svc.root).accepting; }));
  client waiting{svc.bound, 5000}; // sits in the backlog
  BOOST_REQUIRE(waiting.send_all("2"));
  first.close();
  BOOST_TEST(waiting.read_exactly(1) == "2");
  BOOST_TEST(listener_info_of(svc.root).rejected == 0u);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(killing_a_connection_actor_closes_its_socket) {
  auto svc = start_service(echo_service());
  client c{svc.bound};
  BOOST_REQUIRE(c.send_all("x"));
  BOOST_TEST(c.read_exactly(1) == "x");
  auto fds_with_one = count_open_fds();
  auto conns = children_of(connections_of(svc.root));
  BOOST_REQUIRE_EQUAL(conns.size(), 1u);
  self->send_exit(conns[0].actor, caf::exit_reason::kill);
  BOOST_TEST(c.sees_close());
  // The server side of the socket is gone; only the client's remains.
  BOOST_TEST(eventually([&] { return count_open_fds() == fds_with_one - 1; }));
  stop(svc.root);
  c.close();
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(stopping_the_service_delivers_every_accepted_byte) {
  auto opts = echo_service();
  auto svc = start_service(opts);
  client c{svc.bound};
  auto data = pattern(4 << 20);
  std::thread writer([&] { c.send_all(data); c.shutdown_write(); });
  // Wait until the server has taken some of it, then stop the tree.
  auto first = c.read_exactly(1);
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  std::promise<void> stopped;
  std::thread stopper([&] { stop(svc.root); stopped.set_value(); });
  auto rest = c.read_exactly(data.size() - 1);
  writer.join();
  stopper.join();
  // What the server echoed before its graceful close is intact and in order.
  auto got = first + rest;
  BOOST_TEST(got.size() > 0u);
  BOOST_TEST((got == data.substr(0, got.size())));
  c.close();
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(netcat_talks_to_the_echo_service) {
  auto svc = start_service(echo_service());
  auto cmd = "printf 'hello netcat\\n' | timeout 10 nc -N 127.0.0.1 "
             + std::to_string(svc.bound.port);
  std::string out;
  if (auto* p = popen(cmd.c_str(), "r")) {
    char buf[256];
    while (auto n = fread(buf, 1, sizeof(buf), p))
      out.append(buf, n);
    BOOST_TEST(WEXITSTATUS(pclose(p)) == 0);
  }
  BOOST_TEST(out == "hello netcat\n");
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(the_connect_reply_names_the_real_local_endpoint) {
  auto svc = start_service(echo_service());
  tp::connect_options opts;
  opts.remote = svc.bound;
  auto conn = tp::connect(sys, opts, tp::echo_handler());
  BOOST_REQUIRE(conn);
  tp::connection_info replied;
  self->request(*conn, patience, connect_atom::value)
    .receive([&](tp::connection_info& info) { replied = info; },
             [](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(replied.local.host == "127.0.0.1");
  BOOST_TEST(replied.local.port != 0); // was 127.0.0.1:0
  BOOST_TEST(replied.remote.port == svc.bound.port);
  self->request(*conn, patience, info_atom::value)
    .receive([&](tp::connection_info& info) {
               BOOST_TEST(info.local.to_string() == replied.local.to_string());
             },
             [](caf::error& err) { BOOST_FAIL(describe(err)); });
  // A second connect request, after the connect, answers the same.
  self->request(*conn, patience, connect_atom::value)
    .receive([&](tp::connection_info& info) {
               BOOST_TEST(info.local.to_string() == replied.local.to_string());
             },
             [](caf::error& err) { BOOST_FAIL(describe(err)); });
  self->request(*conn, patience, close_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(an_outbound_connection_talks_to_netcat_as_server) {
  // socat serves one connection, echoing what it gets, on a port we pick.
  auto port = unused_port();
  auto cmd = "timeout 10 socat TCP-LISTEN:" + std::to_string(port)
             + ",bind=127.0.0.1,reuseaddr EXEC:cat >/dev/null 2>&1 &";
  BOOST_REQUIRE(std::system(cmd.c_str()) == 0);
  tp::connect_options opts;
  opts.remote = tp::endpoint{"127.0.0.1", port};
  opts.retries = 50; // socat may still be starting
  opts.backoff_min = 20ms;
  opts.backoff_max = 100ms;
  opts.connection.framing.kind = tp::framing_kind::line;
  auto conn = tp::connect(sys, opts, tp::actor_handler(caf::actor{self}));
  BOOST_REQUIRE(conn);
  self->request(*conn, patience, connect_atom::value)
    .receive([](tp::connection_info& info) { BOOST_TEST(info.remote.port != 0); },
             [](caf::error& err) { BOOST_FAIL(describe(err)); });
  self->receive([](tp::opened_atom, tp::connection_actor&, tp::connection_info&) {},
                caf::after(patience) >> [] { BOOST_FAIL("no opened"); });
  self->request(*conn, patience, send_atom::value, std::vector<char>{'p', 'i', 'n', 'g'})
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  self->receive([](received_atom, tp::connection_actor&, std::vector<char>& f) {
    BOOST_TEST(std::string(f.begin(), f.end()) == "ping");
  }, caf::after(patience) >> [] { BOOST_FAIL("no echo from socat"); });
  self->request(*conn, patience, close_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(bad_listener_and_connect_options_are_typed_errors) {
  auto opts = echo_service();
  opts.listener.max_connections = 0;
  auto spec = tp::tcp_service(opts);
  BOOST_REQUIRE(!spec);
  BOOST_TEST(is(spec.error(), errc::invalid_configuration));
  BOOST_TEST(context_of(spec.error()).detail.find("max_connections") != std::string::npos);
  auto bad_host = echo_service("not-an-address");
  BOOST_TEST(is(tp::tcp_service(bad_host).error(), errc::invalid_address));
  tp::connect_options copts;
  copts.remote = tp::endpoint{"127.0.0.1", 0};
  BOOST_TEST(is(tp::connect(sys, copts, tp::echo_handler()).error(),
                errc::invalid_configuration));
  BOOST_TEST(!tp::parse_endpoint("127.0.0.1"));
  BOOST_TEST(!tp::parse_endpoint("127.0.0.1:70000"));
  BOOST_TEST(!tp::parse_endpoint("::1:80"));
  BOOST_TEST(tp::parse_endpoint("[::1]:80").value().port == 80);
}

BOOST_AUTO_TEST_CASE(binding_a_port_in_use_fails_the_service_start_typed) {
  auto first = start_service(echo_service());
  auto opts = echo_service();
  opts.listener.bind.port = first.bound.port;
  opts.listener.reuse_address = false;
  auto spec = tp::tcp_service(opts);
  BOOST_REQUIRE(spec);
  sv::supervisor_spec root;
  root.name = "second";
  root.children.push_back(*spec);
  auto sup = sv::spawn_supervisor(sys, root);
  BOOST_REQUIRE(sup);
  self->monitor(*sup);
  caf::error reason;
  self->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(patience) >> [] { BOOST_FAIL("second root kept running"); });
  // The service's supervisor gave up after its listener kept failing; the
  // address in use is named in the chain of reasons.
  BOOST_TEST(describe(reason).find("address_in_use") != std::string::npos,
             describe(reason));
  stop(first.root);
}

BOOST_AUTO_TEST_CASE(running_out_of_descriptors_backs_off_instead_of_spinning) {
  auto svc = start_service(echo_service());
  // The client's socket exists before the cap; it connects after it.
  int cfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(cfd >= 0);
  timeval tv{10, 0};
  setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  // Let descriptors closed by earlier tests finish closing (CAF's loop lets
  // go of them one turn later), then fill every hole below the highest one
  // and cap the table there: accept4 now fails with EMFILE while the
  // connection waits in the backlog.
  size_t last = 0;
  BOOST_REQUIRE(eventually([&] {
    auto now = count_open_fds();
    bool stable = now == last;
    last = now;
    std::this_thread::sleep_for(20ms);
    return stable;
  }));
  std::vector<int> fillers;
  int lowest = ::dup(0);
  while (lowest >= 0 && static_cast<size_t>(lowest) < last + 16) {
    fillers.push_back(lowest);
    lowest = ::dup(0);
  }
  BOOST_REQUIRE(lowest >= 0);
  ::close(lowest);
  rlimit saved;
  getrlimit(RLIMIT_NOFILE, &saved);
  rlimit capped = saved;
  capped.rlim_cur = static_cast<rlim_t>(lowest);
  BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &capped) == 0);
  auto addr = tp::to_socket_address(svc.bound);
  BOOST_REQUIRE(::connect(cfd, addr->get(), addr->length) == 0);
  BOOST_REQUIRE(::send(cfd, "after emfile", 12, MSG_NOSIGNAL) == 12);
  bool saw_errors = eventually([&] { return listener_info_of(svc.root).accept_errors >= 2; });
  std::this_thread::sleep_for(300ms); // a spinning accept loop would count thousands here
  auto errors = listener_info_of(svc.root).accept_errors;
  BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  for (auto fd : fillers)
    ::close(fd);
  BOOST_TEST(saw_errors);
  BOOST_TEST(errors <= 30u); // 10 ms doubling to 1 s: a handful, not thousands
  // Once descriptors are available again, the waiting client is served.
  char buf[12];
  size_t got = 0;
  while (got < sizeof(buf)) {
    auto r = ::recv(cfd, buf + got, sizeof(buf) - got, 0);
    if (r <= 0)
      break;
    got += static_cast<size_t>(r);
  }
  BOOST_TEST(std::string(buf, got) == "after emfile");
  ::close(cfd);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(max_connections_is_exact_under_a_burst_of_connects) {
  auto opts = echo_service();
  opts.listener.max_connections = 5;
  auto svc = start_service(opts);
  for (int round = 0; round < 2; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      // 40 connects land in the backlog at once; the listener takes them in
      // bursts (one adoption message per burst).
      std::vector<std::unique_ptr<client>> clients;
      for (int i = 0; i < 40; ++i)
        clients.push_back(std::make_unique<client>(svc.bound, 5000));
      size_t served = 0;
      size_t closed = 0;
      for (auto& c : clients) {
        c->send_all("x");
        auto got = c->read_exactly(1);
        if (got == "x")
          ++served;
        else if (c->sees_close())
          ++closed;
      }
      BOOST_TEST(served == 5u);
      BOOST_TEST(closed == 35u);
      auto info = listener_info_of(svc.root);
      BOOST_TEST(info.active == 5u);
      BOOST_TEST(info.rejected == 35u * static_cast<unsigned>(round + 1));
      BOOST_TEST(children_of(connections_of(svc.root)).size() == 5u);
      // Every end frees exactly its slot: the next round gets 5 again.
      clients.clear();
      BOOST_TEST(eventually([&] { return listener_info_of(svc.root).active == 0; }));
      BOOST_TEST(eventually([&] { return children_of(connections_of(svc.root)).empty(); }));
    }
  }
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(pause_policy_never_exceeds_the_limit_under_a_burst) {
  auto opts = echo_service();
  opts.listener.max_connections = 3;
  opts.listener.at_limit = tp::limit_policy::pause;
  opts.listener.resume_below = 2;
  auto svc = start_service(opts);
  std::vector<std::unique_ptr<client>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::make_unique<client>(svc.bound, 200));
    BOOST_REQUIRE(clients.back()->send_all("p"));
  }
  // Serve them in waves: whoever is admitted echoes and is closed; the
  // others wait in the backlog (never rejected), at most 3 at a time.
  std::vector<bool> done(clients.size(), false);
  size_t finished = 0;
  for (int wave = 0; wave < 50 && finished < clients.size(); ++wave) {
    size_t admitted = 0;
    for (size_t i = 0; i < clients.size(); ++i)
      if (!done[i] && clients[i]->read_exactly(1) == "p") {
        done[i] = true;
        ++admitted;
      }
    BOOST_TEST(admitted <= 3u);
    BOOST_TEST(listener_info_of(svc.root).active <= 3u);
    for (size_t i = 0; i < clients.size(); ++i)
      if (done[i] && clients[i]->fd() >= 0) {
        clients[i]->close();
        ++finished;
      }
  }
  BOOST_TEST(finished == clients.size());
  BOOST_TEST(listener_info_of(svc.root).rejected == 0u);
  stop(svc.root);
  clients.clear();
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(killing_the_connections_supervisor_closes_every_connection_and_the_service_recovers) {
  auto svc = start_service(echo_service());
  std::vector<std::unique_ptr<client>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<client>(svc.bound));
    BOOST_REQUIRE(clients.back()->send_all("k"));
    BOOST_REQUIRE(clients.back()->read_exactly(1) == "k");
  }
  auto old_sup = connections_of(svc.root);
  self->send_exit(old_sup, caf::exit_reason::kill);
  // Its on_exit (adopted connections) and the listener's hook (any not yet
  // adopted) leave no connection behind.
  for (auto& c : clients)
    BOOST_TEST(c->sees_close());
  clients.clear();
  // rest_for_one: a new supervisor and a new listener on the same port.
  BOOST_TEST(eventually([&] {
    auto sup = connections_of(svc.root);
    return sup && sup != old_sup && listener_of(svc.root);
  }));
  client again{svc.bound};
  BOOST_REQUIRE(again.send_all("back"));
  BOOST_TEST(again.read_exactly(4) == "back");
  again.close();
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_CASE(a_killed_listener_rebinds_its_port_at_once) {
  // The listener's socket leaves LISTEN in its on_exit, before the
  // supervisor sees the exit: the restart's bind of the same port never
  // races the multiplexer's deferred close (which under ASan lost often
  // enough for the service to give up on address_in_use).
  auto svc = start_service(echo_service());
  auto service = service_of(svc.root);
  for (int round = 0; round < 3; ++round) {
    auto old_listener = listener_of(svc.root);
    self->send_exit(old_listener, caf::exit_reason::kill);
    BOOST_TEST(eventually([&] {
      auto now = listener_of(svc.root);
      return now && now != old_listener;
    }));
    client c{svc.bound};
    BOOST_REQUIRE(c.send_all("up"));
    BOOST_TEST(c.read_exactly(2) == "up");
  }
  // Three restarts of the listener, none of the service itself.
  BOOST_TEST((service_of(svc.root) == service));
  auto kids = children_of(service);
  BOOST_REQUIRE_EQUAL(kids.size(), 2u);
  BOOST_TEST(kids[1].restarts == 3u);
  stop(svc.root);
  BOOST_TEST(fds_restored());
}

BOOST_AUTO_TEST_SUITE_END()
