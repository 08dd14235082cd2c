// chat: a chat room on ws://127.0.0.1:PORT/chat, and a page at / to try it
// in a browser. The room (chat_room.cpp) is a supervised actor; the HTTP
// listener is its sibling under the node's root supervisor.
//
//   chat [--chat.port=8090] [--ready-file=F]
//
// Ctrl-C: members get 1001 (going away), the node exits 0.

#include <iostream>
#include <mutex>

#include "chat_room.hpp"
#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/node.hpp"
#include "ghostnet/transports/http/http_server.hpp"
#include "ghostnet/transports/tcp_service.hpp"

namespace tp = ghostnet::transports;
namespace http = ghostnet::transports::http;

namespace {

const char* page = R"(<!doctype html>
<meta charset="utf-8"><title>ghostnet chat</title>
<pre id="log"></pre>
<form id="f"><input id="msg" autofocus autocomplete="off"> <button>send</button></form>
<script>
const log = document.getElementById('log');
const ws = new WebSocket(`ws://${location.host}/chat`);
ws.onmessage = (e) => { log.textContent += e.data + '\n'; };
ws.onclose = (e) => { log.textContent += `(closed ${e.code} ${e.reason})\n`; };
document.getElementById('f').onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById('msg');
  ws.send(input.value);
  input.value = '';
};
</script>
)";

int fail(const caf::error& err) {
  std::cerr << "chat: " << ghostnet::describe(err) << "\n";
  return 2;
}

} // namespace

int main(int argc, char** argv, char** envp) {
  ghostnet::node_options_parser parser;
  if (auto err = parser.declare("chat.port", "8090", "HTTP and WebSocket port",
                                ghostnet::setting_type::uint16))
    return fail(err);
  auto opts = parser.parse(argc, argv, envp);
  if (!opts)
    return fail(opts.error());
  if (opts->help_requested) {
    std::cout << parser.help_text(argv[0]);
    return 0;
  }
  auto port = opts->get_uint16("chat.port");
  if (!port)
    return fail(port.error());
  ghostnet::node node{*opts};
  auto routes = std::make_shared<http::http_router>();
  if (auto err = routes->add("GET", "/", [](http::http_request&, http::http_response& res) {
        res.headers.set("Content-Type", "text/html; charset=utf-8");
        res.body = page;
      }))
    return fail(err);
  http::websocket_route chat_route;
  chat_route.make_handler = chat::room_member(node.system());
  if (auto err = routes->add_websocket("/chat", chat_route))
    return fail(err);
  tp::tcp_service_options svc;
  svc.name = "chat";
  svc.listener.bind = tp::endpoint{opts->host, *port};
  svc.listener.connection.protocol = http::http_server(routes);
  // Called in the supervisor on each bind, the first before node.start returns.
  std::mutex mtx;
  std::string address;
  svc.on_bound = [&](const tp::endpoint& ep) {
    std::lock_guard<std::mutex> guard{mtx};
    address = ep.to_string();
  };
  auto http_child = tp::tcp_service(svc);
  if (!http_child)
    return fail(http_child.error());
  if (node.start({chat::room_child(), std::move(*http_child)}))
    return 1; // the node logged why
  {
    std::lock_guard<std::mutex> guard{mtx};
    if (auto err = node.write_ready_file({{"chat", address}}))
      return fail(err);
  }
  return node.run();
}
