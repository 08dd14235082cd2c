// The chat room (samples/chat) under a supervisor with its HTTP listener:
// broadcast to raw and python3-websockets members, a member that never
// reads (dropped messages counted, then 1008), and a room that is killed
// (its members get 1012, the listener stays, a restarted room serves).

#include <boost/test/unit_test.hpp>

#include <caf/all.hpp>

#include "chat_room.hpp"
#include "ghostnet/transports/websocket/websocket_client.hpp"
#include "../run_command.hpp"
#include "../transports/http_test_support.hpp"
#include "../transports/ws_test_support.hpp"

using namespace ghostnet;
using namespace ghostnet::test;

namespace {

struct room_fixture : tcp_fixture {
  sv::supervisor_actor root;
  tp::endpoint bound;

  /// The room and the HTTP service with /chat, siblings under one root.
  void start(chat::room_options opts = {}) {
    auto r = std::make_shared<http::http_router>();
    http::websocket_route route;
    route.make_handler = chat::room_member(sys, opts);
    BOOST_REQUIRE(!r->add_websocket("/chat", route));
    auto svc = http_service_for(r);
    auto addr = std::make_shared<std::promise<tp::endpoint>>();
    auto fut = addr->get_future();
    svc.on_bound = [addr](const tp::endpoint& ep) { addr->set_value(ep); };
    auto http_child = tp::tcp_service(std::move(svc));
    BOOST_REQUIRE(http_child);
    sv::supervisor_spec spec;
    spec.name = "chat-root";
    spec.children = {chat::room_child(opts), std::move(*http_child)};
    auto sup = sv::spawn_supervisor(sys, spec);
    BOOST_REQUIRE(sup);
    root = *sup;
    BOOST_REQUIRE(fut.wait_for(patience) == std::future_status::ready);
    bound = fut.get();
  }

  caf::actor room() {
    return sys.registry().get<caf::actor>(caf::atom("chatroom"));
  }

  chat::room_stats stats() {
    chat::room_stats result;
    self->request(room(), patience, caf::get_atom::value)
      .receive([&](chat::room_stats& x) { result = x; },
               [](caf::error& err) { BOOST_FAIL(describe(err)); });
    return result;
  }

  bool members_are(uint64_t n) {
    return eventually([&] { return room() && stats().members == n; });
  }

  std::string chat_url() const {
    return "ws://127.0.0.1:" + std::to_string(bound.port) + "/chat";
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(chat_room, room_fixture)

BOOST_AUTO_TEST_CASE(every_member_gets_every_message_a_python_member_included) {
  start();
  client a{bound};
  client b{bound};
  open_raw(a, "/chat");
  open_raw(b, "/chat");
  BOOST_REQUIRE(members_are(2));
  BOOST_REQUIRE(a.send_all(masked(ws::opcode::text, "hello room")));
  for (auto* c : {&a, &b}) {
    auto f = read_frame(*c);
    BOOST_CHECK_EQUAL(f.op, 0x1);
    BOOST_CHECK_EQUAL(f.payload, "hello room");
  }
  // python3-websockets joins, says something and hears it back; the raw
  // members hear it too, then the python member's departure.
  auto script = write_script("chat-member.py", R"(
import asyncio, sys, websockets
async def main(uri):
    async with websockets.connect(uri) as ws:
        await ws.send("from python")
        print("heard", await asyncio.wait_for(ws.recv(), 10))
asyncio.run(main(sys.argv[1]))
)");
  auto out = run_command(debian_python() + " " + script + " " + chat_url()).output;
  BOOST_CHECK_MESSAGE(out.find("heard from python") != std::string::npos, out);
  for (auto* c : {&a, &b}) {
    auto f = read_frame(*c);
    BOOST_CHECK_EQUAL(f.payload, "from python");
  }
  BOOST_REQUIRE(members_are(2));
  auto s = stats();
  BOOST_CHECK_EQUAL(s.messages, 2u);
  BOOST_CHECK_EQUAL(s.delivered, 5u); // 2 + 3
  BOOST_CHECK_EQUAL(s.dropped, 0u);
  ::unlink(script.c_str());
  stop(root);
}

BOOST_AUTO_TEST_CASE(a_member_that_never_reads_loses_messages_then_gets_1008) {
  chat::room_options opts;
  opts.max_consecutive_drops = 8;
  start(opts);
  client slow{bound};
  open_raw(slow, "/chat");
  // The talker: ghostnet's client, its messages to this test's actor.
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto conn = ws::websocket_connect(sys, chat_url(), {},
                                    ws::websocket_actor_handler([me] { return me; }));
  BOOST_REQUIRE(conn);
  ws::websocket_actor talker;
  self->receive([&](opened_atom, ws::websocket_actor& x, tp::connection_info&) { talker = x; },
                caf::after(patience) >> [] { BOOST_FAIL("no opened message"); });
  BOOST_REQUIRE(members_are(2));
  // Each message goes out once the room relayed the one before to the
  // talker: the room is never the bottleneck, the silent member is.
  const std::string text(32 * 1024, 'x');
  size_t sent = 0;
  bool slow_closed = false;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!slow_closed && sent < 4000 && std::chrono::steady_clock::now() < deadline) {
    self->request(talker, patience, ws::text_atom::value, text)
      .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(describe(err)); });
    ++sent;
    self->receive([&](ws::text_atom, ws::websocket_actor&, std::string& got) {
                    BOOST_REQUIRE_EQUAL(got.size(), text.size());
                  },
                  caf::after(patience) >> [] { BOOST_FAIL("the talker heard nothing"); });
    if (sent % 16 == 0)
      slow_closed = stats().slow_closed == 1;
  }
  BOOST_REQUIRE_MESSAGE(slow_closed, "still a member after " << sent << " messages");
  auto s = stats();
  BOOST_CHECK_EQUAL(s.members, 1u);
  BOOST_CHECK_GE(s.dropped, 8u);
  BOOST_CHECK_GE(s.delivered, sent); // the talker heard every one
  BOOST_CHECK_LE(s.delivered + s.dropped, 2 * sent);
  // The silent member, reading at last, finds what its connection took
  // (fewer than were sent), then 1008.
  size_t got = 0;
  frame f;
  for (f = read_frame(slow); f.op == 0x1; f = read_frame(slow))
    ++got;
  BOOST_TEST_MESSAGE("the silent member read " << got << " of " << sent);
  BOOST_CHECK_LT(got, sent);
  BOOST_CHECK_EQUAL(f.op, 0x8);
  BOOST_CHECK_EQUAL(f.close_code(), 1008);
  stop(root);
}

BOOST_AUTO_TEST_CASE(a_killed_room_closes_its_members_with_1012_and_a_new_room_serves) {
  start();
  client a{bound};
  client b{bound};
  open_raw(a, "/chat");
  open_raw(b, "/chat");
  BOOST_REQUIRE(members_are(2));
  auto old_room = room();
  // A message on its way while the room dies: relayed or not, then 1012.
  BOOST_REQUIRE(a.send_all(masked(ws::opcode::text, "last words")));
  caf::anon_send_exit(old_room, caf::exit_reason::kill);
  for (auto* c : {&a, &b}) {
    auto f = read_frame(*c);
    if (f.op == 0x1)
      f = read_frame(*c);
    BOOST_CHECK_EQUAL(f.op, 0x8);
    BOOST_CHECK_EQUAL(f.close_code(), 1012);
  }
  // The supervisor restarted the room under the same name; the listener
  // never stopped.
  BOOST_REQUIRE(eventually([&] { return room() && room() != old_room; }));
  client c{bound};
  open_raw(c, "/chat");
  BOOST_REQUIRE(members_are(1));
  BOOST_REQUIRE(c.send_all(masked(ws::opcode::text, "anyone?")));
  auto f = read_frame(c);
  BOOST_CHECK_EQUAL(f.payload, "anyone?");
  stop(root);
}

BOOST_AUTO_TEST_SUITE_END()
