// ghostnet-node: the demo node of `make run`. A root supervisor owns a TCP
// echo service, a TLS echo service, a chat room, the dashboard and an HTTP
// service: the dashboard at /, GET /hello, /metrics, /admin/log-level,
// WebSocket /echo and WebSocket /chat (the room, samples/chat).
//
//   ghostnet-node [--config-file=node.ini] [--echo.port=7007]
//                 [--tls-echo.port=7443] [--http.port=8080] [--http.root=DIR]
//                 [--ws.max-message=1048576] [--data-dir=D]
//                 [--ready-file=F] [--check-config] [-h]
//   ghostnet-node --config-reference   (the key table of docs/configuration.md)
//   GHOSTNET_ECHO_PORT=0 ghostnet-node
//
// The TLS echo uses --tls-echo.certificate / --tls-echo.private-key, or, if
// neither is given, a self-signed certificate for localhost that it makes in
// <data-dir>/tls on first run (and says so in the log).
//
// Ctrl-C (SIGINT) or SIGTERM: the listener stops accepting, connections
// finish what was sent to them, the node exits 0. A second signal: at once.

#include <iostream>
#include <map>
#include <mutex>
#include <string_view>

#include "chat_room.hpp"
#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/supervision/node.hpp"
#include "ghostnet/transports/http/admin_routes.hpp"
#include "ghostnet/transports/http/dashboard.hpp"
#include "ghostnet/transports/http/http_server.hpp"
#include "ghostnet/transports/http/metrics_route.hpp"
#include "ghostnet/transports/http/static_files.hpp"
#include "ghostnet/transports/tcp_service.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "ghostnet/transports/tls_self_signed.hpp"

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
    {"tls-echo.port", "7443", "TLS echo service port (0: any free port)",
     setting_type::uint16},
    {"tls-echo.max-connections", "10000", "open TLS echo connections at most",
     setting_type::uint64},
    {"tls-echo.certificate", "",
     "PEM certificate chain; empty: a self-signed one in <data-dir>/tls",
     setting_type::string},
    {"tls-echo.private-key", "", "PEM private key of the certificate",
     setting_type::string},
    {"tls-echo.handshake-timeout", "10s",
     "close TLS connections whose handshake takes longer",
     setting_type::duration},
    {"http.port", "8080", "HTTP service port (0: any free port)",
     setting_type::uint16},
    {"http.max-connections", "10000", "open HTTP connections at most",
     setting_type::uint64},
    {"http.root", "",
     "a directory served under /static/ (empty: none)", setting_type::string},
    {"http.keep-alive-timeout", "15s",
     "close idle keep-alive HTTP connections after this long",
     setting_type::duration},
    {"http.admin-token", "",
     "bearer token of the admin API (/admin/); empty: loopback peers only",
     setting_type::string},
    {"ws.max-message", "1048576",
     "bytes a WebSocket message (/echo, /chat) may have; longer: closed with 1009",
     setting_type::uint64},
    {"data-dir", "ghostnet-data",
     "where the node keeps what it makes itself (certificates)",
     setting_type::string},
  };
  for (auto& d : decls)
    if (auto err = parser.declare(d.key, d.value, d.help, d.type))
      return err;
  return parser.declare_choice("echo.framing", "raw", "how echo messages are delimited",
                               {"raw", "line", "length_prefixed"});
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

/// The certificate files of the TLS echo: configured, or self-signed.
caf::expected<std::pair<std::string, std::string>>
tls_echo_certificate(const ghostnet::node_options& opts) {
  auto cert = opts.get_string("tls-echo.certificate");
  auto key = opts.get_string("tls-echo.private-key");
  auto dir = opts.get_string("data-dir");
  if (!cert || !key || !dir)
    return !cert ? cert.error() : !key ? key.error() : dir.error();
  if (!cert->empty() || !key->empty()) {
    if (cert->empty() || key->empty())
      return ghostnet::make_error(
        ghostnet::errc::invalid_configuration, "validate settings", "", 0,
        "tls-echo.certificate and tls-echo.private-key go together");
    return std::make_pair(*cert, *key);
  }
  tp::self_signed_options so;
  so.directory = *dir + "/tls";
  auto files = tp::ensure_self_signed_certificate(so);
  if (!files)
    return files.error();
  ghostnet::log::info("node", files->generated ? "self_signed_certificate_created"
                                               : "self_signed_certificate_reused",
                      {ghostnet::log::kv("certificate", files->certificate_chain_file),
                       ghostnet::log::kv("private_key", files->private_key_file)});
  return std::make_pair(files->certificate_chain_file, files->private_key_file);
}

caf::expected<tp::tcp_service_options>
tls_echo_options(const ghostnet::node_options& opts) {
  auto port = opts.get_uint16("tls-echo.port");
  auto max_conns = opts.get_uint64("tls-echo.max-connections");
  auto handshake = opts.get_duration("tls-echo.handshake-timeout");
  if (!port || !max_conns || !handshake)
    return !port ? port.error() : !max_conns ? max_conns.error() : handshake.error();
  auto files = tls_echo_certificate(opts);
  if (!files)
    return files.error();
  tp::tls_options tls;
  tls.role = tp::tls_role::server;
  tls.certificate_chain_file = files->first;
  tls.private_key_file = files->second;
  auto ctx = tp::make_tls_context(tls);
  if (!ctx)
    return ctx.error();
  tp::tcp_service_options echo;
  echo.name = "tls-echo";
  echo.handler = tp::echo_handler();
  echo.listener.bind = tp::endpoint{opts.host, *port};
  echo.listener.max_connections = *max_conns;
  echo.listener.connection.tls.context
    = std::make_shared<tp::tls_context_holder>(std::move(*ctx));
  echo.listener.connection.tls.handshake_timeout = *handshake;
  return echo;
}

/// The HTTP service: the dashboard (GET /, WebSocket /dashboard/live),
/// GET /hello, GET /metrics (Prometheus), the admin API (/admin/log-level),
/// WebSocket /echo and /chat (members of the room registered in `sys`).
caf::expected<tp::tcp_service_options>
http_options(const ghostnet::node_options& opts, caf::actor_system& sys,
             tp::http::dashboard_options& dashboard) {
  namespace http = tp::http;
  auto port = opts.get_uint16("http.port");
  auto max_conns = opts.get_uint64("http.max-connections");
  auto keep_alive = opts.get_duration("http.keep-alive-timeout");
  auto root = opts.get_string("http.root");
  auto max_message = opts.get_uint64("ws.max-message");
  auto admin_token = opts.get_string("http.admin-token");
  if (!port || !max_conns || !keep_alive || !root || !max_message || !admin_token)
    return !port ? port.error()
                 : !max_conns ? max_conns.error()
                 : !keep_alive ? keep_alive.error()
                 : !root ? root.error()
                 : !max_message ? max_message.error() : admin_token.error();
  auto routes = std::make_shared<http::http_router>();
  auto err = routes->add("GET", "/hello", [](http::http_request&, http::http_response& res) {
    res.headers.set("Content-Type", "text/plain; charset=utf-8");
    res.body = "hello from ghostnet\n";
  });
  if (err)
    return err;
  http::websocket_route echo;
  echo.options.max_message_size = *max_message;
  echo.make_handler = tp::ws::websocket_echo();
  http::websocket_route chat = echo;
  chat.make_handler = chat::room_member(sys);
  if (auto err = http::add_metrics_route(*routes))
    return err;
  http::admin_options admin;
  admin.bearer_token = *admin_token;
  if (auto err = http::add_admin_routes(*routes, admin))
    return err;
  dashboard.guard = admin;
  if (auto err = http::add_dashboard(*routes, sys, dashboard))
    return err;
  if (auto err = routes->add_websocket("/echo", echo))
    return err;
  if (auto err = routes->add_websocket("/chat", chat))
    return err;
  if (!root->empty()) {
    http::static_files_options files;
    files.root = *root;
    if (auto err = http::add_static_files(*routes, "/static/", files))
      return err;
  }
  http::http_server_options server;
  server.keep_alive_timeout = *keep_alive;
  if (auto err = http::validate(server))
    return err;
  tp::tcp_service_options svc;
  svc.name = "http";
  svc.listener.bind = tp::endpoint{opts.host, *port};
  svc.listener.max_connections = *max_conns;
  svc.listener.connection.protocol = http::http_server(std::move(routes), server);
  return svc;
}

} // namespace

int main(int argc, char** argv, char** envp) {
  ghostnet::node_options_parser parser;
  if (auto err = declare_settings(parser)) {
    std::cerr << ghostnet::describe(err) << "\n";
    return 2;
  }
  if (argc == 2 && std::string_view{argv[1]} == "--config-reference") {
    // The tables of docs/configuration.md (a test checks they match).
    std::cout << parser.reference_markdown();
    return 0;
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
  ghostnet::node node{*opts}; // logging is set up from here on
  tp::http::dashboard_options dashboard;
  std::vector<tp::tcp_service_options> services;
  for (auto svc : {echo_options(*opts), tls_echo_options(*opts),
                   http_options(*opts, node.system(), dashboard)}) {
    if (!svc) {
      std::cerr << "ghostnet-node: " << ghostnet::describe(svc.error()) << "\n";
      return 2;
    }
    services.push_back(std::move(*svc));
  }
  if (opts->check_config_requested) {
    // Everything the services are built from was checked above (the TLS
    // certificate loaded, the framing known): print what is in effect.
    std::cout << parser.effective_config(*opts);
    return 0;
  }
  std::mutex mtx;
  std::map<std::string, std::string> bound;
  // The room and the dashboard start before the HTTP service that serves
  // them.
  std::vector<ghostnet::supervision::child_spec> specs{chat::room_child(),
                                                       tp::http::dashboard_child(dashboard)};
  for (auto& svc : services) {
    svc.on_bound = [&mtx, &bound, name = svc.name](const tp::endpoint& ep) {
      std::lock_guard<std::mutex> guard{mtx};
      bound[name] = ep.to_string();
    };
    auto spec = tp::tcp_service(svc);
    if (!spec) {
      std::cerr << "ghostnet-node: " << ghostnet::describe(spec.error()) << "\n";
      return 2;
    }
    specs.push_back(std::move(*spec));
  }
  if (node.start(specs))
    return 1; // the node logged why, once
  dashboard.root->set(node.root());

  {
    std::lock_guard<std::mutex> guard{mtx};
    // The dashboard first: it is where a new user looks.
    ghostnet::log::info("node", "dashboard",
                        {ghostnet::log::kv("url", "http://" + bound["http"] + "/")});
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
