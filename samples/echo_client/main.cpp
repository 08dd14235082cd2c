// echo-client: a complete TCP client. Connects to an echo server (the
// node's, or any), sends one line, prints the line that comes back, closes.
// docs/transports.md quotes it.
//
//   echo-client [--connect=127.0.0.1:7007] [--message=hello] [--timeout=5s]
//
// Exit 0 with the answer on stdout; 1 with the error (connection refused,
// timeout, the connection closed first) on stderr; 2 for bad options.

#include <iostream>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/node_options.hpp"
#include "ghostnet/transports/await_connect.hpp"
#include "ghostnet/transports/tcp_connection.hpp"

namespace tp = ghostnet::transports;
using ghostnet::describe;

int main(int argc, char** argv, char** envp) {
  ghostnet::node_options_parser parser;
  for (auto err : {parser.declare("connect", "127.0.0.1:7007", "the server, host:port"),
                   parser.declare("message", "hello", "the line to send"),
                   parser.declare("timeout", "5s", "for the connect and for the answer",
                                  ghostnet::setting_type::duration)})
    if (err)
      return std::cerr << describe(err) << "\n", 2;
  auto opts = parser.parse(argc, argv, envp);
  if (!opts)
    return std::cerr << describe(opts.error()) << "\n", 2;
  if (opts->help_requested)
    return std::cout << parser.help_text(argv[0]), 0;
  auto remote = tp::parse_endpoint(*opts->get_string("connect"));
  if (!remote)
    return std::cerr << describe(remote.error()) << "\n", 2;
  auto timeout = *opts->get_duration("timeout");
  auto message = *opts->get_string("message"); // the line framer adds the \n

  caf::actor_system_config cfg;
  ghostnet::register_error_category(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  // Line framing: one received message per line. The connection's
  // messages come to this thread's actor (actor mode).
  tp::connect_options how;
  how.remote = *remote;
  how.timeout = timeout;
  how.connection.framing.kind = tp::framing_kind::line;
  auto conn = tp::connect(sys, how, tp::actor_handler(caf::actor_cast<caf::actor>(self)));
  if (!conn)
    return std::cerr << describe(conn.error()) << "\n", 1;
  int rc = 1;
  auto fail = [&](const caf::error& err) { std::cerr << describe(err) << "\n"; };
  if (auto up = tp::await_connect(*self, *conn, timeout))
    rc = 0;
  else
    fail(up.error()); // connection_refused, timeout, ...
  if (rc == 0) {
    rc = 1;
    self->request(*conn, timeout, ghostnet::send_atom::value,
                  std::vector<char>(message.begin(), message.end()))
      .receive([](caf::ok_atom) {}, fail);
    self->receive_while([&] { return rc == 1; })(
      [](ghostnet::opened_atom, tp::connection_actor&, tp::connection_info&) {},
      [&](ghostnet::received_atom, tp::connection_actor&, std::vector<char>& line) {
        std::cout << std::string(line.begin(), line.end()) << "\n";
        rc = 0;
      },
      [&](ghostnet::closed_atom, tp::connection_actor&, caf::error& why) {
        std::cerr << "closed before the answer: " << describe(why) << "\n";
        rc = 3;
      },
      caf::after(timeout) >> [&] {
        std::cerr << "no answer within the timeout\n";
        rc = 3;
      });
    if (rc == 3)
      rc = 1;
  }
  self->request(*conn, timeout, ghostnet::close_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  return rc;
}
