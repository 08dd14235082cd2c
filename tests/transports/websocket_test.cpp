// WebSocket over real sockets: ghostnet's server against raw sockets (the
// malformed cases), python3-websockets and Node's ws; ghostnet's client
// against python3-websockets and Node's ws servers and against ghostnet's
// server in actor mode.

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>

#include <cstdio>
#include <fstream>

#include <caf/all.hpp>

#include "ghostnet/transports/await_connect.hpp"
#include "ghostnet/transports/websocket/frame_codec.hpp"
#include "ghostnet/transports/websocket/websocket_client.hpp"
#include "http_test_support.hpp"
#include "ws_test_support.hpp"
#include "../run_command.hpp"

using namespace ghostnet;
using namespace ghostnet::test;
using namespace std::chrono_literals;
namespace ws = ghostnet::transports::ws;

namespace {

constexpr size_t test_max_message = 64 * 1024;

/// /echo (in the connection), /actor (actor mode, to `app`).
std::shared_ptr<http::http_router> ws_router(std::function<caf::actor()> app) {
  auto r = test_router();
  http::websocket_route echo;
  echo.options.max_message_size = test_max_message;
  echo.options.subprotocols = {"chat.v2", "chat.v1"};
  echo.make_handler = ws::websocket_echo();
  BOOST_REQUIRE(!r->add_websocket("/echo", echo));
  http::websocket_route actor;
  actor.make_handler = ws::websocket_actor_handler(std::move(app));
  BOOST_REQUIRE(!r->add_websocket("/actor", actor));
  http::websocket_route guarded = echo;
  guarded.accept = [](const http::http_request& req, http::http_response& res) {
    if (req.headers.get("Origin") == "http://good.example")
      return true;
    res.status = 403;
    res.body = "origin not allowed\n";
    return false;
  };
  BOOST_REQUIRE(!r->add_websocket("/guarded", guarded));
  return r;
}

struct ws_fixture : tcp_fixture {
  caf::actor app; ///< the /actor route's handler actor (set per test)

  /// ghostnet's client against an echo server that `command` starts and
  /// that prints its port: text, a 100 kB binary message, the close.
  void client_against(const std::string& command, const std::string& script) {
    auto* p = popen(("timeout -k 2 25 " + command).c_str(), "r");
    BOOST_REQUIRE(p != nullptr);
    char line[64] = {0};
    BOOST_REQUIRE(fgets(line, sizeof line, p) != nullptr);
    auto port = std::stoi(line);
    caf::actor me = caf::actor_cast<caf::actor>(self);
    auto conn = ws::websocket_connect(sys, "ws://127.0.0.1:" + std::to_string(port) + "/",
                                      {}, ws::websocket_actor_handler([me] { return me; }));
    BOOST_REQUIRE(conn);
    ws::websocket_actor peer;
    self->receive([&](opened_atom, ws::websocket_actor& x, tp::connection_info&) { peer = x; },
                  caf::after(patience) >> [] { BOOST_FAIL("no opened message"); });
    std::vector<char> blob(100000);
    for (size_t i = 0; i < blob.size(); ++i)
      blob[i] = static_cast<char>(i * 13);
    self->send(peer, ws::text_atom::value, std::string{"über"});
    self->send(peer, ws::binary_atom::value, blob);
    self->receive([](ws::text_atom, ws::websocket_actor&, std::string& t) {
      BOOST_CHECK_EQUAL(t, "über");
    }, caf::after(patience) >> [] { BOOST_FAIL("no text echo"); });
    self->receive([&](ws::binary_atom, ws::websocket_actor&, std::vector<char>& b) {
      BOOST_CHECK(b == blob);
    }, caf::after(patience) >> [] { BOOST_FAIL("no binary echo"); });
    self->send(peer, close_atom::value, uint16_t{1000}, std::string{"bye"});
    self->receive([](closed_atom, ws::websocket_actor&, ws::ws_close& how) {
      BOOST_CHECK_EQUAL(how.code, 1000);
      BOOST_CHECK_MESSAGE(!how.error, describe(how.error));
    }, caf::after(patience) >> [] { BOOST_FAIL("no closed message"); });
    ::system(("pkill -f " + script).c_str());
    pclose(p);
    std::remove(script.c_str());
  }

  running_service start() {
    auto find = [this] { return app; };
    auto svc = http_service_for(ws_router(find));
    return start_service(std::move(svc));
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(websocket, ws_fixture)

BOOST_AUTO_TEST_CASE(echo_over_raw_frames_with_the_first_frame_in_the_upgrade_segment) {
  auto svc = start();
  client c{svc.bound};
  // The first frame travels with the upgrade request: it is the WebSocket
  // layer's, not HTTP's.
  open_raw(c, "/echo", masked(ws::opcode::text, "first"));
  auto f = read_frame(c);
  BOOST_CHECK_EQUAL(f.op, 0x1);
  BOOST_CHECK_EQUAL(f.payload, "first");
  // Binary, and a fragmented text message with a ping between fragments:
  // the pong comes at once, the echo once the message is whole.
  std::string bin(60000, '\0');
  for (size_t i = 0; i < bin.size(); ++i)
    bin[i] = static_cast<char>(i);
  BOOST_REQUIRE(c.send_all(masked(ws::opcode::binary, bin)));
  f = read_frame(c);
  BOOST_CHECK_EQUAL(f.op, 0x2);
  BOOST_CHECK(f.payload == bin);
  BOOST_REQUIRE(c.send_all(masked(ws::opcode::text, "frag-", false)
                           + masked(ws::opcode::ping, "p1")
                           + masked(ws::opcode::continuation, "\xCE", false)
                           + masked(ws::opcode::continuation, "\xBA!", true)));
  f = read_frame(c);
  BOOST_CHECK_EQUAL(f.op, 0xA);
  BOOST_CHECK_EQUAL(f.payload, "p1");
  f = read_frame(c);
  BOOST_CHECK_EQUAL(f.op, 0x1);
  BOOST_CHECK_EQUAL(f.payload, "frag-\xCE\xBA!");
  // The close handshake: our 1000 is answered with 1000, then the server
  // ends the TCP connection.
  BOOST_REQUIRE(c.send_all(masked(ws::opcode::close, std::string{"\x03\xE8"} + "bye")));
  expect_close(c, 1000);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(protocol_violations_close_with_their_codes) {
  auto svc = start();
  struct bad_case {
    const char* what;
    std::string bytes;
    uint16_t code;
  };
  std::string unmasked;
  {
    std::vector<char> out;
    ws::append_frame(out, ws::opcode::text, true, "no mask");
    unmasked.assign(out.begin(), out.end());
  }
  std::string reserved = masked(ws::opcode::text, "x");
  reserved[0] = static_cast<char>(reserved[0] | 0x40); // RSV1
  std::string opcode3 = masked(ws::opcode::text, "x");
  opcode3[0] = static_cast<char>((opcode3[0] & 0xF0) | 0x3);
  // Announces more than max_message_size: refused from the header alone.
  std::string oversized = masked(ws::opcode::binary, std::string(16, 'x'));
  oversized[1] = static_cast<char>(0x80 | 127);
  oversized.insert(2, std::string{"\0\0\0\0\0\x10\0\0", 8}); // 1 MiB
  oversized.resize(14);
  const bad_case cases[] = {
    {"unmasked client frame", unmasked, 1002},
    {"reserved bit", reserved, 1002},
    {"reserved opcode", opcode3, 1002},
    {"oversized frame", oversized, 1009},
    {"bad UTF-8 split across fragments",
     masked(ws::opcode::text, "ok \xED", false)
       + masked(ws::opcode::continuation, "\xA0\x80", true),
     1007},
    {"text ending inside a code point", masked(ws::opcode::text, "ab\xE2\x82"), 1007},
    {"continuation without a message", masked(ws::opcode::continuation, "x"), 1002},
    {"close with an invalid code", masked(ws::opcode::close, "\x03\xE7"), 1002},
    {"close with a one-byte payload", masked(ws::opcode::close, "x"), 1002},
    {"fragmented ping", masked(ws::opcode::ping, "x", false), 1002},
  };
  for (auto& bad : cases) {
    BOOST_TEST_CONTEXT(bad.what) {
      client c{svc.bound};
      open_raw(c, "/echo");
      BOOST_REQUIRE(c.send_all(bad.bytes));
      expect_close(c, bad.code);
    }
  }
  // Messages across many fragments are counted whole: over the limit is
  // 1009 too, and the connection's memory never held more than the limit.
  client c{svc.bound};
  open_raw(c, "/echo");
  std::string piece(16 * 1024, 'a');
  bool sent = c.send_all(masked(ws::opcode::text, piece, false));
  for (int i = 0; i < 4 && sent; ++i)
    sent = c.send_all(masked(ws::opcode::continuation, piece, false));
  expect_close(c, 1009);
  BOOST_CHECK(fds_restored(2)); // the service's own descriptors
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(upgrade_refusals_are_http_answers) {
  auto svc = start();
  {
    client c{svc.bound};
    BOOST_REQUIRE(c.send_all("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
    BOOST_CHECK_EQUAL(status_line(read_until(c, "\r\n\r\n")), "HTTP/1.1 426 Upgrade Required");
  }
  {
    client c{svc.bound};
    std::string req = upgrade_request("/echo");
    req.replace(req.find("Version: 13"), 11, "Version: 12");
    BOOST_REQUIRE(c.send_all(req));
    auto head = read_until(c, "\r\n\r\n");
    BOOST_CHECK_EQUAL(status_line(head), "HTTP/1.1 426 Upgrade Required");
    BOOST_CHECK(head.find("Sec-WebSocket-Version: 13") != std::string::npos);
  }
  {
    client c{svc.bound};
    std::string req = upgrade_request("/echo");
    req.replace(req.find("dGhl"), 4, "dGh");
    BOOST_REQUIRE(c.send_all(req));
    BOOST_CHECK_EQUAL(status_line(read_until(c, "\r\n\r\n")), "HTTP/1.1 400 Bad Request");
  }
  {
    client c{svc.bound};
    BOOST_REQUIRE(c.send_all(upgrade_request("/guarded")));
    BOOST_CHECK_EQUAL(status_line(read_until(c, "\r\n\r\n")), "HTTP/1.1 403 Forbidden");
    BOOST_CHECK(c.sees_close());
  }
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_client_that_never_reads_is_paused_not_buffered) {
  auto svc = start();
  client c{svc.bound};
  open_raw(c, "/echo");
  ::fcntl(c.fd(), F_SETFL, ::fcntl(c.fd(), F_GETFL) | O_NONBLOCK);
  auto frame_bytes = masked(ws::opcode::binary, std::string(16 * 1024, 'z'));
  size_t sent = 0;
  int stalls = 0;
  size_t partial = 0; // bytes of the current frame already sent
  auto deadline = std::chrono::steady_clock::now() + 20s;
  // Bounded: 256 MiB or 20 s at most; a server that keeps reading (and
  // buffering echoes) would take all of it.
  while (sent < (size_t{256} << 20) && stalls < 20
         && std::chrono::steady_clock::now() < deadline) {
    auto r = ::send(c.fd(), frame_bytes.data() + partial,
                    frame_bytes.size() - partial, MSG_NOSIGNAL);
    if (r > 0) {
      sent += static_cast<size_t>(r);
      partial = (partial + static_cast<size_t>(r)) % frame_bytes.size();
      stalls = 0;
      continue;
    }
    BOOST_REQUIRE(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    // A stall: the socket stays unwritable for 50 ms.
    pollfd pfd{c.fd(), POLLOUT, 0};
    if (::poll(&pfd, 1, 50) == 0)
      ++stalls;
  }
  BOOST_TEST_MESSAGE("sent " << sent / 1024 << " KiB before the server paused");
  BOOST_CHECK_EQUAL(stalls, 20); // the server stopped reading
  // What it took: the kernel's buffers both ways and one high-water mark.
  BOOST_CHECK_LT(sent, size_t{48} << 20);
  c.reset();
  BOOST_CHECK(fds_restored(2));
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(actor_mode_and_the_ghostnet_client) {
  // The server's /actor route hands messages to `app`, which answers each
  // text with "re: " + text; ghostnet's client is in actor mode too, its
  // messages going to the test's scoped actor.
  app = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {
      [](opened_atom, ws::websocket_actor&, tp::connection_info&) {},
      [self](ws::text_atom, ws::websocket_actor& peer, std::string& text) {
        self->send(peer, ws::text_atom::value, "re: " + text);
      },
      [](ws::binary_atom, ws::websocket_actor&, std::vector<char>&) {},
      [](closed_atom, ws::websocket_actor&, ws::ws_close&) {},
    };
  });
  auto svc = start();
  caf::actor me = caf::actor_cast<caf::actor>(self);
  ws::websocket_client_options opts;
  auto conn = ws::websocket_connect(
    sys, "ws://127.0.0.1:" + std::to_string(svc.bound.port) + "/actor", opts,
    ws::websocket_actor_handler([me] { return me; }));
  BOOST_REQUIRE_MESSAGE(conn, (conn ? std::string{} : describe(conn.error())));
  self->request(*conn, patience, connect_atom::value)
    .receive([](tp::connection_info&) {},
             [](caf::error& err) { BOOST_FAIL(describe(err)); });
  ws::websocket_actor peer;
  self->receive([&](opened_atom, ws::websocket_actor& x, tp::connection_info&) { peer = x; },
                caf::after(patience) >> [] { BOOST_FAIL("no opened message"); });
  self->request(peer, patience, ws::text_atom::value, std::string{"hi"})
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  self->receive(
    [&](ws::text_atom, ws::websocket_actor& from, std::string& text) {
      BOOST_CHECK(from == peer);
      BOOST_CHECK_EQUAL(text, "re: hi");
    },
    caf::after(patience) >> [] { BOOST_FAIL("no answer"); });
  // Text that is not UTF-8 is refused before it leaves.
  self->request(peer, patience, ws::text_atom::value, std::string{"\xC0\xAF"})
    .receive([](caf::ok_atom) { BOOST_FAIL("sent invalid UTF-8"); },
             [](caf::error& err) { BOOST_CHECK(is(err, errc::protocol_error)); });
  // A code that may not be sent is refused; 4000 starts the handshake.
  self->request(peer, patience, close_atom::value, uint16_t{1005}, std::string{})
    .receive([](caf::ok_atom) { BOOST_FAIL("sent 1005"); },
             [](caf::error& err) { BOOST_CHECK_MESSAGE(is(err, errc::invalid_configuration), describe(err)); });
  self->request(peer, patience, close_atom::value, uint16_t{4000}, std::string{"done"})
    .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  self->receive(
    [&](closed_atom, ws::websocket_actor&, ws::ws_close& how) {
      BOOST_CHECK_EQUAL(how.code, 4000);
      BOOST_CHECK(!how.by_peer);
      BOOST_CHECK_MESSAGE(!how.error, describe(how.error));
    },
    caf::after(patience) >> [] { BOOST_FAIL("no closed message"); });
  caf::anon_send_exit(app, caf::exit_reason::kill);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(a_handler_actor_that_dies_closes_its_websockets_with_1012) {
  auto opened = std::make_shared<std::promise<void>>();
  auto is_open = opened->get_future();
  app = sys.spawn([opened]() -> caf::behavior {
    return {[opened](opened_atom, ws::websocket_actor&, tp::connection_info&) {
              opened->set_value();
            },
            [](closed_atom, ws::websocket_actor&, ws::ws_close&) {}};
  });
  auto svc = start();
  client c{svc.bound};
  open_raw(c, "/actor");
  // The facade watches the actor from before the opened message on.
  BOOST_REQUIRE(is_open.wait_for(patience) == std::future_status::ready);
  caf::anon_send_exit(app, caf::exit_reason::kill);
  auto f = read_frame(c);
  BOOST_REQUIRE_EQUAL(f.op, 0x8);
  BOOST_CHECK_EQUAL(f.close_code(), 1012);
  BOOST_REQUIRE(c.send_all(masked(ws::opcode::close, "\x03\xF4"))); // 1012 back
  BOOST_CHECK(c.sees_close());
  // The listener is not affected: a new upgrade is answered (and, with no
  // handler actor alive, closed with 1012 at once).
  client d{svc.bound};
  open_raw(d, "/actor");
  BOOST_CHECK_EQUAL(read_frame(d).close_code(), 1012);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(an_abrupt_disconnect_mid_message_reaches_the_handler_actor) {
  auto closed = std::make_shared<std::promise<ws::ws_close>>();
  auto fut = closed->get_future();
  app = sys.spawn([closed]() -> caf::behavior {
    return {[](opened_atom, ws::websocket_actor&, tp::connection_info&) {},
            [closed](closed_atom, ws::websocket_actor&, ws::ws_close& how) {
              closed->set_value(how);
            }};
  });
  auto svc = start();
  {
    client c{svc.bound};
    open_raw(c, "/actor");
    BOOST_REQUIRE(c.send_all(masked(ws::opcode::text, "half a mess", false)));
  } // closed without a close frame, mid-message (read with it or before)
  BOOST_REQUIRE(fut.wait_for(patience) == std::future_status::ready);
  auto how = fut.get();
  BOOST_CHECK_EQUAL(how.code, 1006);
  BOOST_CHECK(is(how.error, errc::connection_reset));
  caf::anon_send_exit(app, caf::exit_reason::kill);
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(python_websockets_client_against_the_server) {
  auto svc = start();
  auto script = write_script("client.py", R"(
import asyncio, sys, websockets
async def main(uri):
    async with websockets.connect(uri, subprotocols=["chat.v1"], max_size=None) as ws:
        assert ws.subprotocol == "chat.v1", ws.subprotocol
        await ws.send("hello κόσμε")
        assert await ws.recv() == "hello κόσμε"
        data = bytes(range(256)) * 200
        await ws.send(data)
        assert await ws.recv() == data
        await ws.send(["frag", "mented ", "text"])
        assert await ws.recv() == "fragmented text"
        await ws.ping()
        try:
            await ws.send(b"x" * 70000)
            await ws.recv()
            print("no 1009")
        except websockets.ConnectionClosed as e:
            print("closed", e.rcvd.code)
asyncio.run(main(sys.argv[1]))
)");
  auto r = run_command(debian_python() + " " + script + " ws://127.0.0.1:"
                       + std::to_string(svc.bound.port) + "/echo");
  BOOST_CHECK_EQUAL(r.status, 0);
  BOOST_CHECK_MESSAGE(r.output.find("closed 1009") != std::string::npos, r.output);
  std::remove(script.c_str());
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(node_ws_client_against_the_server) {
  auto svc = start();
  auto script = write_script("client.js", R"(
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[2]);
const want = ['text one', Buffer.alloc(50000, 7)];
let got = 0;
ws.on('open', () => { ws.send(want[0]); ws.send(want[1]); });
ws.on('message', (data, isBinary) => {
  const w = want[got++];
  if (typeof w === 'string' ? (isBinary || data.toString() !== w) : !(isBinary && Buffer.compare(data, w) === 0)) {
    console.log('mismatch'); process.exit(1);
  }
  if (got === want.length) ws.close(1000, 'done');
});
ws.on('close', (code) => { console.log('closed', code); process.exit(code === 1000 ? 0 : 1); });
ws.on('error', (e) => { console.log('error', e.message); process.exit(1); });
)");
  auto r = run_command("NODE_PATH=/usr/share/nodejs node " + script + " ws://127.0.0.1:"
                       + std::to_string(svc.bound.port) + "/echo");
  BOOST_CHECK_EQUAL(r.status, 0);
  BOOST_CHECK_MESSAGE(r.output.find("closed 1000") != std::string::npos, r.output);
  std::remove(script.c_str());
  stop(svc.root);
}

BOOST_AUTO_TEST_CASE(the_ghostnet_client_against_a_python_websockets_server) {
  auto script = write_script("server.py", R"(
import asyncio, sys, websockets
async def echo(ws, *args):
    async for msg in ws:
        await ws.send(msg)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(20)
asyncio.run(main())
)");
  client_against(debian_python() + " " + script, script);
}

BOOST_AUTO_TEST_CASE(the_ghostnet_client_against_a_node_ws_server) {
  auto script = write_script("server.js", R"(
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
setTimeout(() => process.exit(0), 20000);
)");
  client_against("env NODE_PATH=/usr/share/nodejs node " + script, script);
}

BOOST_AUTO_TEST_CASE(the_client_refuses_a_server_that_does_not_upgrade) {
  auto svc = start();
  auto conn = ws::websocket_connect(
    sys, "ws://127.0.0.1:" + std::to_string(svc.bound.port) + "/hello", {},
    ws::websocket_echo());
  BOOST_REQUIRE(conn);
  // The connection may fail before a connect request reaches it:
  // await_connect takes its exit reason then.
  auto up = tp::await_connect(*self, *conn, patience);
  BOOST_REQUIRE_MESSAGE(!up, "upgraded on /hello");
  auto err = up.error();
  BOOST_CHECK_MESSAGE(is(err, errc::protocol_error), describe(err));
  BOOST_CHECK_MESSAGE(describe(err).find("200") != std::string::npos, describe(err));
  auto bad = ws::websocket_connect(sys, "http://127.0.0.1:1/", {}, ws::websocket_echo());
  BOOST_CHECK(!bad && is(bad.error(), errc::invalid_address));
  auto no_tls = ws::websocket_connect(sys, "wss://127.0.0.1:1/", {}, ws::websocket_echo());
  BOOST_CHECK(!no_tls && is(no_tls.error(), errc::invalid_configuration));
  stop(svc.root);
}

BOOST_AUTO_TEST_SUITE_END()
