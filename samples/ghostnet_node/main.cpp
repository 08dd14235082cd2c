// ghostnet-node: the demo node of `make run`. A root supervisor owns a TCP
// echo service; later issues add TLS, HTTP/WebSocket and the dashboard.
//
//   ghostnet-node [--config-file=node.ini] [--echo.port=7007] [--ready-file=F]
//   GHOSTNET_ECHO_PORT=0 ghostnet-node
//
// Ctrl-C (SIGINT) or SIGTERM: the listener stops accepting, connections
// finish what was sent to them, the node exits 0. A second signal: at once.

#include <iostream>
#include <map>
#include <mutex>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/supervision/node.hpp"
#include "ghostnet/transports/tcp_service.hpp"

namespace tp = ghostnet::transports;
using ghostnet::setting_type;

namespace {

/// The settings this node adds to the node's own (see --help).
caf::error declare_settings(ghostnet::node_options_parser& parser) {
  struct decl {
    const char* key;
    const char* value;
    const char* help;
    setting_type type;
  };
  const decl decls[] = {
    {"echo.port", "7007", "TCP echo service port (0: any free port)",
     setting_type::uint16},
    {"echo.max-connections", "10000", "open echo connections at most",
     setting_type::uint64},
    {"echo.idle-timeout", "0s", "close echo connections idle this long (0s: never)",
     setting_type::duration},
    {"echo.framing", "raw", "raw | line | length_prefixed", setting_type::string},
  };
  for (auto& d : decls)
    if (auto err = parser.declare(d.key, d.value, d.help, d.type))
      return err;
  return caf::none;
}

caf::expected<tp::tcp_service_options>
echo_options(const ghostnet::node_options& opts) {
  tp::tcp_service_options echo;
  echo.name = "echo";
  echo.handler = tp::echo_handler();
  auto port = opts.get_uint16("echo.port");
  auto max_conns = opts.get_uint64("echo.max-connections");
  auto idle = opts.get_duration("echo.idle-timeout");
  auto framing = opts.get_string("echo.framing");
  if (!port || !max_conns || !idle || !framing)
    return !port ? port.error()
                 : !max_conns ? max_conns.error()
                              : !idle ? idle.error() : framing.error();
  auto kind = tp::parse_framing_kind(*framing);
  if (!kind)
    return kind.error();
  echo.listener.bind = tp::endpoint{opts.host, *port};
  echo.listener.max_connections = *max_conns;
  echo.listener.connection.timeouts.idle = *idle;
  echo.listener.connection.framing.kind = *kind;
  return echo;
}

} // namespace

int main(int argc, char** argv, char** envp) {
  ghostnet::node_options_parser parser;
  if (auto err = declare_settings(parser)) {
    std::cerr << ghostnet::describe(err) << "\n";
    return 2;
  }
  auto opts = parser.parse(argc, argv, envp);
  if (!opts) {
    std::cerr << "ghostnet-node: " << ghostnet::describe(opts.error()) << "\n";
    return 2;
  }
  if (opts->help_requested) {
    std::cout << parser.help_text(argv[0]);
    return 0;
  }
  auto echo = echo_options(*opts);
  if (!echo) {
    std::cerr << "ghostnet-node: " << ghostnet::describe(echo.error()) << "\n";
    return 2;
  }
  ghostnet::node node{*opts};
  std::mutex mtx;
  std::map<std::string, std::string> bound;
  echo->on_bound = [&](const tp::endpoint& ep) {
    std::lock_guard<std::mutex> guard{mtx};
    bound["echo"] = ep.to_string();
  };
  auto echo_spec = tp::tcp_service(*echo);
  if (!echo_spec) {
    std::cerr << "ghostnet-node: " << ghostnet::describe(echo_spec.error()) << "\n";
    return 2;
  }
  if (auto err = node.start({*echo_spec})) {
    std::cerr << "ghostnet-node: " << ghostnet::describe(err) << "\n";
    return 1;
  }
  {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& [name, addr] : bound)
      ghostnet::log::info("node", "service_ready",
                          {ghostnet::log::kv("service", name),
                           ghostnet::log::kv("address", addr)});
    if (auto err = node.write_ready_file(bound)) {
      std::cerr << "ghostnet-node: " << ghostnet::describe(err) << "\n";
      return 1;
    }
  }
  return node.run();
}
