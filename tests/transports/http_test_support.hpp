#pragma once

// What the HTTP server tests share: a router with the usual routes, the
// layer on a recording lower layer (sans-IO), and the service, URL and
// read helpers of the socket tests, and a slow handler actor.

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "ghostnet/transports/detail/layer_slot.hpp"
#include "ghostnet/transports/http/http_server.hpp"
#include "tcp_fixture.hpp"
#include "test_layers.hpp"

namespace ghostnet::test {

namespace http = ghostnet::transports::http;

inline std::shared_ptr<http::http_router> test_router() {
  auto r = std::make_shared<http::http_router>();
  auto ok = [](caf::error err) { BOOST_REQUIRE_MESSAGE(!err, describe(err)); };
  ok(r->add("GET", "/hello", [](http::http_request&, http::http_response& res) {
    res.headers.set("Content-Type", "text/plain");
    res.body = "hello\n";
  }));
  ok(r->add("GET", "/users/{id}", [](http::http_request& req, http::http_response& res) {
    res.body = "user " + req.params.at("id") + "\n";
  }));
  ok(r->add("GET", "/files/*", [](http::http_request& req, http::http_response& res) {
    res.body = "file " + req.path + "\n";
  }));
  ok(r->add("POST", "/echo", [](http::http_request& req, http::http_response& res) {
    res.body = req.body;
  }));
  ok(r->add("GET", "/throw", [](http::http_request&, http::http_response&) {
    throw std::runtime_error("boom");
  }));
  ok(r->add("GET", "/pieces", [](http::http_request&, http::http_response& res) {
    auto left = std::make_shared<int>(3);
    res.stream = [left](std::string& out) {
      out += std::string(static_cast<size_t>(*left), 'a' + static_cast<char>(*left));
      return --*left > 0;
    };
  }));
  return r;
}

/// 8 MiB in 16 KiB pieces; `pulled` counts what the server asked for.
inline void add_big_route(http::http_router& r, std::shared_ptr<std::atomic<size_t>> pulled) {
  auto err = r.add("GET", "/big", [pulled](http::http_request&, http::http_response& res) {
    auto sent = std::make_shared<size_t>(0);
    res.stream = [pulled, sent](std::string& out) {
      constexpr size_t piece = 16 * 1024, total = 8 * 1024 * 1024;
      out.assign(piece, static_cast<char>('a' + (*sent / piece) % 26));
      *sent += piece;
      *pulled += piece;
      return *sent < total;
    };
  });
  BOOST_REQUIRE(!err);
}

/// The layer on a recording lower layer, fed through a slot as the broker
/// does.
struct sans_io {
  recording_lower down;
  tp::detail::layer_slot slot;

  explicit sans_io(http::http_server_options opts = {}) {
    slot.reset(http::http_server(test_router(), std::move(opts))(""));
    BOOST_REQUIRE(!slot.start(down));
  }

  void feed(const std::string& bytes) {
    BOOST_REQUIRE(!slot.deliver(down, tp::byte_view{bytes.data(), bytes.size()}));
  }
};

/// Drops the Date line (it changes every second).
inline std::string without_date(std::string x) {
  auto pos = x.find("Date: ");
  while (pos != std::string::npos) {
    auto end = x.find("\r\n", pos);
    x.erase(pos, end + 2 - pos);
    pos = x.find("Date: ");
  }
  return x;
}

inline std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

/// The service "http" serving `router` (no connection handler: the HTTP
/// layer is the top of the stack).
inline tp::tcp_service_options http_service_for(std::shared_ptr<http::http_router> router,
                                         http::http_server_options opts = {}) {
  auto svc = echo_service();
  svc.name = "http";
  svc.handler = nullptr;
  svc.listener.connection.protocol = http::http_server(std::move(router), std::move(opts));
  return svc;
}

inline tp::tcp_service_options http_service(http::http_server_options opts = {}) {
  return http_service_for(test_router(), std::move(opts));
}

inline std::string url(const tp::endpoint& ep, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(ep.port) + path;
}

/// Reads until the peer closes or `want` appears.
inline std::string read_until(client& c, const std::string& want) {
  std::string got;
  while (got.find(want) == std::string::npos) {
    auto ch = c.read_exactly(1);
    if (ch.empty())
      break;
    got += ch;
  }
  return got;
}

/// A handler actor: /slow/{ms} answers after that many milliseconds (from a
/// response promise, as real work would), /never keeps the request and
/// never answers, /quit exits without answering.
struct slow_handler_state {
  std::map<uint64_t, caf::typed_response_promise<http::http_response>> pending;
  std::map<uint64_t, http::http_response> answers;
  uint64_t next = 0;
};

/// (get_atom) -> size_t: the requests it holds unanswered.
using slow_handler_actor = http::http_handler_actor::extend<
  caf::reacts_to<caf::ok_atom, uint64_t>,
  caf::replies_to<caf::get_atom>::with<size_t>>;

inline slow_handler_actor::behavior_type
slow_handler(slow_handler_actor::stateful_pointer<slow_handler_state> self) {
  return {
    [self](http::http_request& req) -> caf::result<http::http_response> {
      auto rp = self->make_response_promise<http::http_response>();
      if (req.path == "/quit") {
        self->quit();
        return rp;
      }
      auto id = self->state.next++;
      self->state.pending.emplace(id, rp); // /never: kept, never delivered
      if (req.path == "/never")
        return rp;
      auto ms = std::stoi(req.params.at("ms"));
      http::http_response res;
      res.headers.set("X-Handler", "actor");
      res.body = "slept " + std::to_string(ms) + " " + req.method + "\n";
      self->state.answers.emplace(id, std::move(res));
      self->delayed_send(self, std::chrono::milliseconds(ms), caf::ok_atom::value, id);
      return rp;
    },
    [self](caf::get_atom) { return self->state.pending.size(); },
    [self](caf::ok_atom, uint64_t id) {
      self->state.pending.at(id).deliver(self->state.answers.at(id));
      self->state.pending.erase(id);
      self->state.answers.erase(id);
    },
  };
}


} // namespace ghostnet::test
