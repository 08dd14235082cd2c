#include "ghostnet/transports/websocket/websocket_client.hpp"

#include <cctype>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/transports/http/http_message.hpp"
#include "ghostnet/transports/http/url.hpp"
#include "ghostnet/transports/layer.hpp"
#include "ghostnet/transports/tcp_connection.hpp"
#include "handshake.hpp"
#include "websocket_layer.hpp"

namespace ghostnet::transports::ws {

namespace {

struct client_config {
  websocket_client_options opts;
  std::shared_ptr<const websocket_options> websocket;
  std::string host_header;
  std::string target;
};

/// The client's opening handshake as a layer: writes the upgrade request,
/// reads the answer's header (and not a byte beyond it) and switches to the
/// WebSocket layer. The 101 is parsed here rather than by the HTTP
/// response parser, which skips 1xx responses as interim.
class upgrade_layer final : public upper_layer {
public:
  upgrade_layer(std::shared_ptr<const client_config> cfg,
                std::unique_ptr<websocket_handler> handler)
    : cfg_(std::move(cfg)), handler_(std::move(handler)) {
    // nop
  }

  caf::error start(lower_layer& down) override {
    down_ = &down;
    key_ = detail::make_client_key();
    deadline_ = down.now() + cfg_->opts.handshake_timeout;
    std::string req = "GET " + cfg_->target + " HTTP/1.1\r\nHost: "
                      + cfg_->host_header
                      + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: "
                      + key_ + "\r\nSec-WebSocket-Version: 13\r\n";
    auto& protos = cfg_->websocket->subprotocols;
    if (!protos.empty()) {
      req += "Sec-WebSocket-Protocol: ";
      for (size_t i = 0; i < protos.size(); ++i)
        req += (i == 0 ? "" : ", ") + protos[i];
      req += "\r\n";
    }
    for (auto& [k, v] : cfg_->opts.headers)
      req += k + ": " + v + "\r\n";
    req += "\r\n";
    auto& out = down.begin_output();
    out.insert(out.end(), req.begin(), req.end());
    down.info().bytes_out += req.size();
    down.end_output();
    return caf::none;
  }

  caf::expected<size_t> consume(byte_view input) override {
    std::string_view text{input.data(), input.size()};
    auto end = text.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (text.size() > cfg_->opts.max_header_bytes)
        return refused("the answer's header is longer than "
                       + std::to_string(cfg_->opts.max_header_bytes) + " bytes");
      return size_t{0}; // kept below until the header is complete
    }
    if (end + 4 > cfg_->opts.max_header_bytes)
      return refused("the answer's header is longer than "
                     + std::to_string(cfg_->opts.max_header_bytes) + " bytes");
    if (auto err = check(text.substr(0, end + 2)))
      return err;
    down_->info().bytes_in += end + 4;
    switched_ = true;
    down_->switch_protocol(detail::make_websocket_layer(
      role::client, cfg_->websocket, std::move(handler_), std::move(subprotocol_)));
    return end + 4; // the rest (a first frame) is the WebSocket layer's
  }

  caf::error on_eof() override {
    return make_error(errc::transport_closed, "websocket handshake", remote(), 0,
                      "the server closed the connection before its answer");
  }

  void request_close() override {
    down_->close();
  }

  std::optional<layer_time> next_deadline() const override {
    return deadline_;
  }

  caf::error on_timeout(layer_time now) override {
    if (now < deadline_)
      return caf::none;
    return make_error(errc::timeout, "websocket handshake", remote(), 0,
                      "no answer to the upgrade within "
                        + format_duration(cfg_->opts.handshake_timeout));
  }

  void on_close(const caf::error& reason) override {
    if (handler_ && !switched_) {
      ws_close how;
      how.error = reason;
      handler_->on_close(how);
    }
  }

  const char* operation() const noexcept override {
    return "websocket handshake";
  }

  const char* name() const noexcept override {
    return "websocket upgrade";
  }

private:
  std::string remote() {
    return down_->full_info().remote.to_string();
  }

  caf::error refused(std::string why) {
    return make_error(errc::protocol_error, "websocket handshake", remote(), 0,
                      std::move(why));
  }

  /// Checks the status line and header fields (each line ends in CRLF).
  caf::error check(std::string_view head) {
    auto eol = head.find("\r\n");
    auto status_line = head.substr(0, eol);
    if (status_line.size() < 12 || status_line.substr(0, 9) != "HTTP/1.1 ")
      return refused("not an HTTP/1.1 answer: \"" + std::string{status_line.substr(0, 64)} + "\"");
    if (status_line.substr(9, 3) != "101")
      return refused("the server answered \"" + std::string{status_line.substr(9, 64)}
                     + "\", not 101 Switching Protocols");
    head.remove_prefix(eol + 2);
    bool upgrade = false;
    bool connection = false;
    std::string accept;
    bool has_protocol = false;
    while (!head.empty()) {
      eol = head.find("\r\n");
      auto line = head.substr(0, eol);
      head.remove_prefix(eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0)
        return refused("malformed header line in the 101");
      auto name = line.substr(0, colon);
      auto value = http::trim_ows(line.substr(colon + 1));
      if (http::iequals(name, "Upgrade"))
        upgrade = detail::has_token(value, "websocket");
      else if (http::iequals(name, "Connection"))
        connection = detail::has_token(value, "upgrade");
      else if (http::iequals(name, "Sec-WebSocket-Accept"))
        accept = std::string{value};
      else if (http::iequals(name, "Sec-WebSocket-Extensions"))
        return refused("the server agreed to an extension that was not offered");
      else if (http::iequals(name, "Sec-WebSocket-Protocol")) {
        has_protocol = true;
        subprotocol_ = std::string{value};
      }
    }
    if (!upgrade || !connection)
      return refused("the 101 lacks Upgrade: websocket or Connection: Upgrade");
    if (accept != detail::accept_key(key_))
      return refused("Sec-WebSocket-Accept does not match the key sent");
    if (has_protocol) {
      auto& ours = cfg_->websocket->subprotocols;
      if (std::find(ours.begin(), ours.end(), subprotocol_) == ours.end())
        return refused("the server chose subprotocol \"" + subprotocol_
                       + "\", which was not offered");
    }
    return caf::none;
  }

  std::shared_ptr<const client_config> cfg_;
  std::unique_ptr<websocket_handler> handler_;
  lower_layer* down_ = nullptr;
  std::string key_;
  std::string subprotocol_;
  layer_time deadline_{};
  bool switched_ = false;
};

} // namespace

caf::expected<connection_actor>
websocket_connect(caf::actor_system& sys, std::string_view url_text,
                  websocket_client_options opts,
                  websocket_handler_factory make_handler) {
  // ws and wss are http and https for the URL's syntax (RFC 6455, 3).
  std::string as_http{url_text};
  bool secure = false;
  if (as_http.compare(0, 5, "ws://") == 0) {
    as_http.replace(0, 2, "http");
  } else if (as_http.compare(0, 6, "wss://") == 0) {
    as_http.replace(0, 3, "https");
    secure = true;
  } else {
    return make_error(errc::invalid_address, "parse url", std::string{url_text},
                      0, "a WebSocket URL starts with ws:// or wss://");
  }
  auto u = http::parse_url(as_http);
  if (!u)
    return u.error();
  if (!make_handler)
    return config_error("websocket connect", std::string{url_text},
                        "make_handler", "must not be empty");
  if (auto err = validate(opts.websocket))
    return err;
  if (opts.handshake_timeout <= caf::timespan{0})
    return config_error("websocket connect", std::string{url_text},
                        "handshake_timeout", "must be > 0");
  for (auto& [k, v] : opts.headers)
    if (k.empty() || (k + v).find_first_of("\r\n") != std::string::npos)
      return config_error("websocket connect", std::string{url_text}, "headers",
                          "names must not be empty; no CR or LF anywhere");
  auto& tls = opts.connect.connection.tls;
  if (secure && !tls.context)
    return config_error("websocket connect", std::string{url_text},
                        "connect.connection.tls.context",
                        "wss:// needs a TLS client context");
  if (!secure)
    tls.context.reset();
  if (secure && tls.server_name.empty())
    tls.server_name = u->host;
  auto cfg = std::make_shared<client_config>();
  cfg->websocket = std::make_shared<const websocket_options>(opts.websocket);
  cfg->host_header = u->authority();
  cfg->target = u->target;
  opts.connect.remote = endpoint{u->host, u->port};
  auto handler = make_handler();
  if (!handler)
    return config_error("websocket connect", std::string{url_text},
                        "make_handler", "returned no handler");
  // One connection, one handler: the factory hands it over once.
  auto pending = std::make_shared<std::unique_ptr<websocket_handler>>(
    std::move(handler));
  cfg->opts = opts;
  std::shared_ptr<const client_config> shared = cfg;
  opts.connect.connection.protocol = [shared, pending](std::string_view) -> layer_ptr {
    if (!*pending)
      return nullptr;
    return std::make_unique<upgrade_layer>(shared, std::move(*pending));
  };
  return connect(sys, opts.connect, handler_factory{});
}

} // namespace ghostnet::transports::ws
