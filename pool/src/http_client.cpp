// The HTTP client actor: requests in, one pool per origin, the sans-IO
// response parser per exchange, deadlines as delayed messages (a stale one
// names an exchange or attempt that is gone and is dropped).

#include "ghostnet/pool/http_client.hpp"

#include <deque>
#include <optional>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/middleman.hpp"
#include "ghostnet/actors/unexpected_message.hpp"
#include "ghostnet/pool/pool.hpp"
#include "ghostnet/transports/http/url.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "http_request_wire.hpp"

namespace ghostnet::pool {

namespace {

namespace tp = transports;
namespace th = transports::http;
using detail::check_request;
using detail::idempotent;
using detail::iequals;
using detail::is_redirect;
using detail::serialize;

enum class timer_kind : uint8_t { request = 0, header = 1 };

/// Received messages a connection may have outstanding at the client
/// (pool_options::receive_window); demand is granted in halves of it.
constexpr uint32_t receive_window = 8;

/// Bytes of a streamed body handed to its sink in one piece at most.
constexpr size_t max_sink_piece = 256 * 1024;

struct exchange {
  caf::response_promise rp;
  http_client_request req;
  th::url target;
  uint32_t redirects = 0;
  uint32_t attempt = 0; ///< one per lease asked for: stale answers differ
  bool retried = false; ///< the keep-alive race was retried once
  pool_actor pool;
  std::optional<lease> held;
  std::optional<th::response_parser> parser;
  caf::actor_clock::time_point deadline;
  uint32_t ungranted = 0; ///< frames taken since the last demand
  // A body streamed to req.body_sink:
  std::deque<std::pair<std::string, uint32_t>> pieces; ///< bytes, frames
  bool sink_busy = false; ///< a piece is with the sink
  /// The reply, once the response is complete: sent when the sink has
  /// taken every piece.
  std::optional<http_client_response> final_response;
  // A body pulled from req.body_source:
  bool body_sent = false;     ///< its last chunk went out
  std::vector<char> blocked;  ///< a chunk refused (backpressure): resent
                              ///< once the connection is writable
};

class http_client_impl : public caf::event_based_actor {
public:
  http_client_impl(caf::actor_config& cfg, http_client_options opts,
                   std::shared_ptr<tp::tls_context_holder> tls)
    : caf::event_based_actor(cfg),
      opts_(std::move(opts)),
      tls_(std::move(tls)),
      source_("http_client:" + opts_.name) {
    // nop
  }

  const char* name() const override {
    return "ghostnet.http_client";
  }

  void on_exit() override {
    // Pools are not linked to us: they close when we go, however we go.
    for (auto& [origin, pool] : pools_)
      caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
    pools_.clear();
  }

  caf::behavior make_behavior() override {
    set_default_handler([this](caf::scheduled_actor*, caf::message_view& x) {
      return reject_unexpected_message(source_, opts_.name, x);
    });
    set_down_handler([this](caf::down_msg& msg) { on_peer_down(msg); });
    return {
      [this](http_client_request& req) -> caf::result<http_client_response> {
        return start(std::move(req));
      },
      [this](stats_atom) { return collect_stats(); },
      [this](close_atom) -> caf::result<caf::ok_atom> { return close(); },
      [this](received_atom, const tp::connection_actor& conn,
             const std::vector<char>& frame) { on_bytes(conn, frame); },
      [this](closed_atom, const tp::connection_actor& conn,
             const caf::error& reason) { on_closed(conn, reason); },
      [this](writable_atom, const tp::connection_actor& conn) {
        on_writable(conn);
      },
      [this](http_timer_atom, uint64_t id, uint32_t attempt, uint8_t kind) {
        on_timer(id, attempt, static_cast<timer_kind>(kind));
      },
    };
  }

private:
  // -- requests --------------------------------------------------------------

  caf::result<http_client_response> start(http_client_request req) {
    if (closing_)
      return make_error(errc::invalid_state, "http request", req.url, 0,
                        "the client is closing");
    if (auto err = check_request(req))
      return err;
    auto target = th::parse_url(req.url);
    if (!target)
      return std::move(target.error());
    if (target->tls() && !tls_)
      return make_error(errc::invalid_configuration, "http request", req.url,
                        0, "https needs the client's TLS options");
    auto id = next_id_++;
    for (auto* peer : {&req.body_sink, &req.body_source})
      if (*peer && peers_[peer->address()]++ == 0)
        monitor(*peer);
    auto& ex = exchanges_[id];
    ex.rp = make_response_promise();
    auto timeout = req.timeout > caf::timespan{0} ? req.timeout
                                                  : opts_.request_timeout;
    ex.deadline = clock().now() + timeout;
    ex.req = std::move(req);
    ex.target = std::move(*target);
    delayed_send(this, timeout, http_timer_atom::value, id, uint32_t{0},
                 static_cast<uint8_t>(timer_kind::request));
    auto rp = ex.rp;
    attempt(id, ex);
    return rp;
  }

  /// Asks the origin's pool for a connection; the rest follows its answer.
  void attempt(uint64_t id, exchange& ex) {
    auto pool = pool_for(ex.target);
    if (!pool) {
      fail(id, std::move(pool.error()));
      return;
    }
    ex.pool = *pool;
    auto n = ++ex.attempt;
    auto wait = ex.deadline - clock().now();
    if (wait <= caf::timespan{0})
      wait = caf::timespan{1};
    // The pool answers every acquire by its deadline: no request timeout.
    request(ex.pool, caf::infinite, acquire_atom::value,
            caf::timespan{wait})
      .then(
        [this, id, n, pool = ex.pool](lease& l) {
          on_lease(id, n, pool, std::move(l));
        },
        [this, id, n](caf::error& err) {
          auto i = exchanges_.find(id);
          if (i == exchanges_.end() || i->second.attempt != n)
            return;
          if (is(err, errc::timeout))
            err = make_error(errc::timeout, "http request",
                             i->second.req.url, 0,
                             "no connection within the request timeout ("
                               + describe(err) + ")");
          fail(id, std::move(err));
        });
  }

  void on_lease(uint64_t id, uint32_t n, const pool_actor& pool, lease l) {
    auto i = exchanges_.find(id);
    if (i == exchanges_.end() || i->second.attempt != n) {
      // Timed out or failed meanwhile: the connection was not used.
      caf::anon_send(pool, release_atom::value, l.id, true);
      return;
    }
    auto& ex = i->second;
    by_connection_[l.connection.address()] = id;
    auto limits = opts_.limits;
    if (ex.req.body_sink)
      limits.max_body = SIZE_MAX; // the body never piles up here
    ex.parser.emplace(limits);
    ex.parser->reset(ex.req.method == "HEAD");
    ex.ungranted = 0; // a lease starts with a full window
    auto bytes = serialize(ex.req, ex.target, opts_.user_agent);
    auto conn = l.connection;
    ex.held = std::move(l);
    request(conn, caf::infinite, send_atom::value,
            std::vector<char>{bytes.begin(), bytes.end()})
      .then(
        [this, id, n](caf::ok_atom) {
          auto j = exchanges_.find(id);
          if (j == exchanges_.end() || j->second.attempt != n)
            return;
          if (j->second.req.body_source)
            pull_source(id, j->second);
          else
            request_sent(id, j->second);
        },
        [this, id, n](caf::error& err) {
          auto j = exchanges_.find(id);
          if (j == exchanges_.end() || j->second.attempt != n)
            return;
          connection_lost(id, j->second, std::move(err));
        });
  }

  void on_bytes(const tp::connection_actor& conn,
                const std::vector<char>& frame) {
    auto i = by_connection_.find(conn.address());
    if (i == by_connection_.end())
      return; // a connection we already gave back; the pool deals with it
    auto id = i->second;
    auto& ex = exchanges_.at(id);
    if (auto err = ex.parser->feed({frame.data(), frame.size()})) {
      fail(id, with_url(std::move(err), ex));
      return;
    }
    if (ex.req.body_sink && ex.parser->header_done()) {
      auto piece = ex.parser->take_body();
      if (!piece.empty() && !follows_redirect(ex)) {
        // The frame's credit comes back once the sink took its bytes.
        ex.pieces.emplace_back(std::move(piece), 1);
        pump_sink(id, ex);
      } else {
        grant(ex, 1);
      }
    } else {
      grant(ex, 1);
    }
    if (ex.parser->done())
      complete(id, ex);
  }

  /// The connection may hand on `frames` more (the receive window).
  void grant(exchange& ex, uint32_t frames) {
    ex.ungranted += frames;
    if (ex.held && ex.ungranted >= receive_window / 2) {
      send(ex.held->connection, demand_atom::value, ex.ungranted);
      ex.ungranted = 0;
    }
  }

  /// The response is a redirect the client follows (its body is dropped).
  bool follows_redirect(exchange& ex) {
    auto& got = ex.parser->response();
    return is_redirect(got.status) && opts_.max_redirects > 0
           && !got.headers.get("Location").empty() && !ex.req.body_source;
  }

  /// Hands the sink the next pieces (one request at a time); the reply
  /// goes once the sink took the last.
  void pump_sink(uint64_t id, exchange& ex) {
    if (ex.sink_busy)
      return;
    if (ex.pieces.empty()) {
      if (ex.final_response) {
        ex.rp.deliver(std::move(*ex.final_response));
        forget(id);
      }
      return;
    }
    std::string piece;
    uint32_t frames = 0;
    while (!ex.pieces.empty() && piece.size() < max_sink_piece) {
      piece += ex.pieces.front().first;
      frames += ex.pieces.front().second;
      ex.pieces.pop_front();
    }
    ex.sink_busy = true;
    auto n = ex.attempt;
    request(ex.req.body_sink, caf::infinite, http_body_atom::value,
            std::move(piece))
      .then(
        [this, id, n, frames](caf::ok_atom) {
          auto i = exchanges_.find(id);
          if (i == exchanges_.end() || i->second.attempt != n)
            return; // failed or timed out meanwhile
          i->second.sink_busy = false;
          grant(i->second, frames);
          pump_sink(id, i->second);
        },
        [this, id, n](caf::error& err) {
          auto i = exchanges_.find(id);
          if (i == exchanges_.end() || i->second.attempt != n)
            return;
          fail(id, make_error(errc::io_error, "http body", i->second.req.url,
                              0, "the body's sink failed: " + describe(err)));
        });
  }

  void on_closed(const tp::connection_actor& conn, const caf::error& reason) {
    auto i = by_connection_.find(conn.address());
    if (i == by_connection_.end())
      return;
    auto id = i->second;
    auto& ex = exchanges_.at(id);
    if (!ex.parser->feed_eof() && ex.parser->done()) {
      complete(id, ex);
      return;
    }
    connection_lost(id, ex, reason);
  }

  /// The connection ended before the response did. A request on a reused
  /// connection that got no byte back met the server closing it while
  /// idle: an idempotent one is sent once more on another connection.
  void connection_lost(uint64_t id, exchange& ex, caf::error reason) {
    bool race = ex.held && ex.held->earlier_leases > 0 && !ex.parser->started();
    if (race && !ex.retried && idempotent(ex.req.method)
        && !ex.req.body_source) {
      ex.retried = true;
      give_back(ex, false);
      attempt(id, ex);
      return;
    }
    // The connection's own error names its socket and operation; the
    // caller asked for a URL: the code stays, the context becomes the
    // request's.
    std::string why = ex.parser->started() ? "the server closed mid-response"
                                           : "the server closed before answering";
    auto code = errc::transport_closed;
    int os_errno = 0;
    if (reason && code_of(reason)) {
      code = *code_of(reason);
      os_errno = context_of(reason).os_errno;
      why += " (" + describe(reason) + ")";
    }
    fail(id, make_error(code, "http response", ex.req.url, os_errno,
                        std::move(why)));
  }

  void on_timer(uint64_t id, uint32_t n, timer_kind kind) {
    auto i = exchanges_.find(id);
    if (i == exchanges_.end())
      return;
    auto& ex = i->second;
    if (kind == timer_kind::request) {
      fail(id, make_error(errc::timeout, "http request", ex.req.url, 0,
                          "no complete response within the request timeout"));
      return;
    }
    if (ex.attempt == n && ex.held && !ex.parser->header_done())
      fail(id, make_error(errc::timeout, "http response header", ex.req.url,
                          0,
                          "no response header within "
                            + format_duration(opts_.response_header_timeout)));
  }

  void complete(uint64_t id, exchange& ex) {
    auto& got = ex.parser->response();
    bool reused = ex.held->earlier_leases > 0;
    // An answer before the whole streamed body went out (e.g. 413) leaves
    // the request half-sent: that connection cannot carry another.
    give_back(ex, ex.parser->reusable()
                    && (!ex.req.body_source || ex.body_sent));
    auto location = got.headers.get("Location");
    if (is_redirect(got.status) && opts_.max_redirects > 0
        && !location.empty() && !ex.req.body_source) {
      if (ex.redirects >= opts_.max_redirects) {
        fail(id, make_error(errc::protocol_error, "http redirect", ex.req.url,
                            0,
                            "more than " + std::to_string(opts_.max_redirects)
                              + " redirects"));
        return;
      }
      auto next = th::resolve_location(ex.target, location);
      if (!next) {
        fail(id, std::move(next.error()));
        return;
      }
      if (next->tls() && !tls_) {
        fail(id, make_error(errc::invalid_configuration, "http redirect",
                            ex.req.url, 0,
                            "redirect to https needs the client's TLS options"));
        return;
      }
      if (got.status == 303
          || ((got.status == 301 || got.status == 302)
              && ex.req.method == "POST")) {
        ex.req.method = "GET";
        ex.req.body.clear();
      }
      ++ex.redirects;
      ex.retried = false;
      ex.target = std::move(*next);
      ex.req.url = ex.target.to_string();
      attempt(id, ex);
      return;
    }
    http_client_response res;
    res.status = got.status;
    res.reason = std::move(got.reason);
    for (auto& [k, v] : got.headers)
      res.headers.emplace_back(k, v);
    res.body = std::move(got.body);
    res.url = ex.target.to_string();
    res.redirects = ex.redirects;
    res.reused = reused;
    if (ex.req.body_sink) {
      ex.final_response = std::move(res); // after the sink took the rest
      pump_sink(id, ex);
      return;
    }
    ex.rp.deliver(std::move(res));
    forget(id);
  }

  void fail(uint64_t id, caf::error err) {
    auto i = exchanges_.find(id);
    if (i == exchanges_.end())
      return;
    auto& ex = i->second;
    give_back(ex, false);
    ++ex.attempt; // answers still coming for this attempt are stale
    log::debug(source_, "request_failed",
               {log::kv("url", ex.req.url), log::kv("reason", err)});
    ex.rp.deliver(std::move(err));
    forget(id);
  }

  /// The exchange is over; so is its share of the sink's monitor.
  void forget(uint64_t id) {
    auto i = exchanges_.find(id);
    if (i == exchanges_.end())
      return;
    for (auto* peer : {&i->second.req.body_sink, &i->second.req.body_source}) {
      if (!*peer)
        continue;
      auto j = peers_.find(peer->address());
      if (j != peers_.end() && --j->second == 0) {
        demonitor(*peer);
        peers_.erase(j);
      }
    }
    exchanges_.erase(i);
  }

  /// A body's sink or source is gone: its exchanges fail now, not at
  /// their deadlines (a request it held is never answered).
  void on_peer_down(const caf::down_msg& msg) {
    std::vector<std::pair<uint64_t, const char*>> gone;
    for (auto& [id, ex] : exchanges_) {
      if (ex.req.body_sink && ex.req.body_sink.address() == msg.source)
        gone.emplace_back(id, "sink");
      else if (ex.req.body_source && ex.req.body_source.address() == msg.source)
        gone.emplace_back(id, "source");
    }
    for (auto& [id, what] : gone)
      fail(id, make_error(errc::io_error, "http body", exchanges_.at(id).req.url,
                          0, std::string{"the body's "} + what + " is gone ("
                               + describe(msg.reason) + ")"));
  }

  /// The request is out: the response header is due within its timeout.
  void request_sent(uint64_t id, exchange& ex) {
    delayed_send(this, opts_.response_header_timeout, http_timer_atom::value,
                 id, ex.attempt, static_cast<uint8_t>(timer_kind::header));
  }

  /// Asks the body's source for its next piece and sends it as a chunk.
  void pull_source(uint64_t id, exchange& ex) {
    auto n = ex.attempt;
    request(ex.req.body_source, caf::infinite, http_body_atom::value)
      .then(
        [this, id, n](std::string& piece) {
          auto i = exchanges_.find(id);
          if (i == exchanges_.end() || i->second.attempt != n
              || !i->second.held)
            return; // failed, timed out or answered meanwhile
          auto& ex = i->second;
          std::string chunk;
          if (piece.empty()) {
            chunk = "0\r\n\r\n";
            ex.body_sent = true;
          } else {
            char size[20];
            auto len = std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
            chunk.reserve(piece.size() + static_cast<size_t>(len) + 2);
            chunk.append(size, static_cast<size_t>(len));
            chunk += piece;
            chunk += "\r\n";
          }
          send_chunk(id, ex, std::vector<char>(chunk.begin(), chunk.end()));
        },
        [this, id, n](caf::error& err) {
          auto i = exchanges_.find(id);
          if (i == exchanges_.end() || i->second.attempt != n)
            return;
          fail(id, make_error(errc::io_error, "http body", i->second.req.url,
                              0, "the body's source failed: " + describe(err)));
        });
  }

  /// One chunk to the connection; the next is pulled once it was taken.
  void send_chunk(uint64_t id, exchange& ex, std::vector<char> chunk) {
    auto n = ex.attempt;
    request(ex.held->connection, caf::infinite, send_atom::value, chunk)
      .then(
        [this, id, n](caf::ok_atom) {
          auto i = exchanges_.find(id);
          if (i == exchanges_.end() || i->second.attempt != n
              || !i->second.held)
            return;
          if (i->second.body_sent)
            request_sent(id, i->second);
          else
            pull_source(id, i->second);
        },
        [this, id, n, chunk](caf::error& err) mutable {
          auto i = exchanges_.find(id);
          if (i == exchanges_.end() || i->second.attempt != n)
            return;
          if (is(err, errc::backpressure)) {
            // The server reads slower than the source writes: wait for
            // the connection to drain (writable_atom), then again.
            i->second.blocked = std::move(chunk);
            return;
          }
          connection_lost(id, i->second, std::move(err));
        });
  }

  void on_writable(const tp::connection_actor& conn) {
    auto i = by_connection_.find(conn.address());
    if (i == by_connection_.end())
      return;
    auto id = i->second;
    auto& ex = exchanges_.at(id);
    if (ex.blocked.empty())
      return;
    auto chunk = std::move(ex.blocked);
    ex.blocked.clear();
    send_chunk(id, ex, std::move(chunk));
  }

  /// Returns the held lease: healthy keeps the connection for the next
  /// request, else the pool closes it (its state is unknown).
  void give_back(exchange& ex, bool healthy) {
    if (!ex.held)
      return;
    by_connection_.erase(ex.held->connection.address());
    caf::anon_send(ex.pool, release_atom::value, ex.held->id, healthy);
    ex.held.reset();
  }

  caf::error with_url(caf::error err, const exchange& ex) {
    auto ctx = context_of(err);
    if (!ctx.endpoint.empty() || !code_of(err))
      return err;
    return make_error(*code_of(err), ctx.operation, ex.req.url, ctx.os_errno,
                      ctx.detail);
  }

  // -- pools -----------------------------------------------------------------

  caf::expected<pool_actor> pool_for(const th::url& target) {
    auto origin = target.origin();
    if (auto i = pools_.find(origin); i != pools_.end())
      return i->second;
    pool_options po;
    po.name = opts_.name + " " + origin;
    po.endpoints = {tp::endpoint{target.host, target.port}};
    po.max_connections = opts_.max_connections_per_host;
    po.max_idle = opts_.max_idle_per_host;
    po.max_waiters = opts_.max_waiters_per_host;
    po.idle_timeout = opts_.idle_timeout;
    po.connect_timeout = opts_.connect_timeout;
    po.acquire_timeout = opts_.request_timeout;
    po.breaker = opts_.breaker;
    // Flow control: a response whose body goes to a slow sink pauses its
    // connection instead of filling the client's mailbox.
    po.receive_window = static_cast<int32_t>(receive_window);
    // A server that speaks while the connection is idle breaks HTTP/1.1:
    // such a connection is evicted (the pool's default).
    if (target.tls()) {
      po.connection.tls.context = tls_;
      po.connection.tls.server_name = target.host;
      po.connection.tls.handshake_timeout = opts_.connect_timeout;
    }
    auto pool = spawn_pool(system(), std::move(po));
    if (!pool)
      return std::move(pool.error());
    pools_.emplace(origin, *pool);
    return *pool;
  }

  caf::result<std::vector<std::pair<std::string, pool_stats>>>
  collect_stats() {
    using result_type = std::vector<std::pair<std::string, pool_stats>>;
    auto rp = make_response_promise<result_type>();
    if (pools_.empty()) {
      rp.deliver(result_type{});
      return rp;
    }
    struct pending {
      result_type stats;
      size_t left = 0;
    };
    auto state = std::make_shared<pending>();
    state->left = pools_.size();
    for (auto& [origin, pool] : pools_) {
      auto done = [rp, state]() mutable {
        if (--state->left == 0)
          rp.deliver(std::move(state->stats));
      };
      request(pool, caf::infinite, stats_atom::value)
        .then(
          [state, done, origin = origin](pool_stats& s) mutable {
            state->stats.emplace_back(origin, std::move(s));
            done();
          },
          [done](caf::error&) mutable { done(); });
    }
    return rp;
  }

  caf::result<caf::ok_atom> close() {
    closing_ = true;
    std::vector<uint64_t> ids;
    for (auto& [id, ex] : exchanges_)
      ids.push_back(id);
    for (auto id : ids)
      fail(id, make_error(errc::transport_closed, "http request",
                          exchanges_.at(id).req.url, 0,
                          "the client is closing"));
    auto rp = make_response_promise<caf::ok_atom>();
    auto left = std::make_shared<size_t>(pools_.size());
    if (*left == 0) {
      rp.deliver(caf::ok_atom::value);
      quit();
      return rp;
    }
    for (auto& [origin, pool] : pools_) {
      request(pool, caf::infinite, close_atom::value)
        .then([this, rp, left](caf::ok_atom) mutable { closed_one(rp, left); },
              [this, rp, left](caf::error&) mutable { closed_one(rp, left); });
    }
    return rp;
  }

  void closed_one(caf::typed_response_promise<caf::ok_atom>& rp,
                  const std::shared_ptr<size_t>& left) {
    if (--*left > 0)
      return;
    pools_.clear();
    rp.deliver(caf::ok_atom::value);
    quit();
  }

  http_client_options opts_;
  std::shared_ptr<tp::tls_context_holder> tls_;
  std::string source_;
  std::unordered_map<std::string, pool_actor> pools_; ///< by origin
  std::unordered_map<uint64_t, exchange> exchanges_;
  std::unordered_map<caf::actor_addr, uint64_t> by_connection_;
  /// Body sinks and sources monitored, and by how many exchanges.
  std::unordered_map<caf::actor_addr, size_t> peers_;
  uint64_t next_id_ = 1;
  bool closing_ = false;
};

} // namespace

std::string http_client_response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name))
      return v;
  return {};
}

http_client_request http_get(std::string url) {
  http_client_request req;
  req.url = std::move(url);
  return req;
}

caf::error validate(const http_client_options& opts) {
  auto bad = [&](const char* field, std::string why) {
    return config_error("validate http client", opts.name, field,
                        std::move(why));
  };
  if (opts.max_connections_per_host < 1)
    return bad("max_connections_per_host", "must be >= 1");
  if (opts.max_idle_per_host < 1
      || opts.max_idle_per_host > opts.max_connections_per_host)
    return bad("max_idle_per_host", "must be in 1..max_connections_per_host");
  if (opts.max_waiters_per_host < 1)
    return bad("max_waiters_per_host", "must be >= 1");
  for (auto [field, value] :
       {std::pair{"idle_timeout", opts.idle_timeout},
        std::pair{"connect_timeout", opts.connect_timeout},
        std::pair{"response_header_timeout", opts.response_header_timeout},
        std::pair{"request_timeout", opts.request_timeout}})
    if (value <= caf::timespan{0})
      return bad(field, "must be > 0");
  if (opts.limits.max_header_bytes == 0)
    return bad("limits.max_header_bytes", "must be > 0");
  if (opts.user_agent.find_first_of("\r\n") != std::string::npos)
    return bad("user_agent", "must not contain CR or LF");
  if (opts.breaker.failure_threshold < 1)
    return bad("breaker.failure_threshold", "must be >= 1");
  return caf::none;
}

caf::expected<http_client_actor>
spawn_http_client(caf::actor_system& sys, http_client_options opts) {
  if (auto err = validate(opts))
    return err;
  if (auto mm = middleman_of(sys, "spawn http client", opts.name); !mm)
    return std::move(mm.error());
  auto tls = opts.tls;
  tls.role = tp::tls_role::client;
  tls.alpn = {"http/1.1"};
  auto ctx = tp::make_tls_context(tls);
  if (!ctx)
    return std::move(ctx.error());
  auto holder = std::make_shared<tp::tls_context_holder>(std::move(*ctx));
  return caf::actor_cast<http_client_actor>(
    sys.spawn<http_client_impl>(std::move(opts), std::move(holder)));
}

} // namespace ghostnet::pool
