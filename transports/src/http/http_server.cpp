#include "ghostnet/transports/http/http_server.hpp"

#include <cstdio>
#include <algorithm>
#include <optional>
#include <stdexcept>

#include <boost/beast/http/error.hpp>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/transports/layer.hpp"
#include "handler_answers.hpp"
#include "http_metrics.hpp"
#include "http2_layer.hpp"
#include "request_parser.hpp"
#include "../websocket/handshake.hpp"
#include "../websocket/websocket_layer.hpp"

namespace ghostnet::transports::http {

namespace {

using detail::request_parser;

/// What the answer to a request must look like.
struct answer_to {
  bool head_only;
  unsigned version;
  bool keep_alive; ///< as far as the request goes
};

void append(std::vector<char>& out, std::string_view x) {
  out.insert(out.end(), x.begin(), x.end());
}

class server_layer final : public upper_layer {
public:
  server_layer(std::shared_ptr<const http_router> router,
               std::shared_ptr<const http_server_options> opts)
    : router_(std::move(router)), opts_(std::move(opts)) {
    // nop
  }

  caf::error start(lower_layer& down) override {
    down_ = &down;
    down.established();
    wait_for_request();
    return caf::none;
  }

  caf::expected<size_t> consume(byte_view input) override {
    if (closing_)
      return input.size(); // after a refusal or the last response
    size_t used = 0;
    while (used < input.size() && !closing_ && !streaming_ && !held_back_
           && !awaiting_ && !switched_) {
      auto rest = input.subspan(used, input.size() - used);
      if (served_ == 0 && phase_ == phase::idle && opts_->http2.enabled) {
        // h2c with prior knowledge: the connection begins with HTTP/2's
        // preface, and all of it (the preface included) is HTTP/2's.
        auto& preface = detail::http2_preface;
        auto n = std::min(rest.size(), preface.size());
        if (std::string_view{rest.data(), n} == preface.substr(0, n)) {
          if (n == preface.size()) {
            switched_ = true;
            down_->switch_protocol(detail::make_http2_layer(router_, opts_));
          }
          return used; // or: too little to tell yet
        }
      }
      if (phase_ == phase::idle) {
        phase_ = phase::header;
        deadline_ = down_->now() + opts_->header_timeout;
        parser_.emplace(*opts_);
        header_checked_ = false;
      }
      if (phase_ == phase::header && !header_checked_) {
        std::string_view text{rest.data(), rest.size()};
        // Checked before Beast sees it, the whole header once it is
        // complete (what arrived so far until then).
        auto end = text.find("\r\n\r\n");
        bool complete = end != std::string_view::npos;
        if (complete)
          text = text.substr(0, end + 4);
        if (auto why = detail::bad_line_ending(text, complete)) {
          refuse(400, why);
          return input.size();
        }
        header_checked_ = complete;
      }
      boost::beast::error_code ec;
      auto n = parser_->put(boost::asio::const_buffer{rest.data(), rest.size()},
                            ec);
      used += n;
      down_->info().bytes_in += n;
      if (ec == boost::beast::http::error::need_more)
        break; // the rest stays below until more arrives
      if (ec) {
        auto status = parser_->refused != 0
                        ? parser_->refused
                        : detail::status_of(ec, parser_->request_line_done);
        refuse(status, parser_->refused != 0 ? parser_->why : ec.message());
        return input.size();
      }
      if (phase_ == phase::body && reader_ && n > 0)
        deadline_ = down_->now() + opts_->body_timeout; // a pause, not a total
      if (phase_ == phase::header && parser_->is_header_done()) {
        phase_ = phase::body;
        deadline_ = down_->now() + opts_->body_timeout;
        if (!open_upload())
          return input.size(); // its handler answered at once: closing
        if (auto why = parser_->length_refused()) {
          refuse(413, why);
          return input.size();
        }
        if (parser_->expect_continue && !parser_->is_done()) {
          auto& out = down_->begin_output();
          append(out, "HTTP/1.1 100 Continue\r\n\r\n");
          down_->end_output();
        }
      }
      if (parser_->is_done()) {
        serve();
        if (!closing_ && !streaming_ && !awaiting_ && !down_->can_send_more()) {
          // Answers can be far larger than requests (files): the requests
          // left in this read wait until the answers drained.
          held_back_ = true;
          down_->pause_reading();
          break;
        }
      } else if (n == 0) {
        break;
      }
    }
    return used;
  }

  caf::error on_eof() override {
    if (awaiting_) {
      // The request is complete and its handler actor busy with it: the
      // answer still goes out, then the connection closes.
      peer_done_ = true;
      return caf::none;
    }
    // A request cut short cannot be answered; the responses are out.
    closing_ = true;
    down_->close();
    return caf::none;
  }

  void on_writable() override {
    if (streaming_)
      pump_stream();
    if (held_back_) {
      held_back_ = false;
      wait_for_request(); // the idle time starts once the answers are out
      down_->resume_reading();
    }
  }

  void request_close() override {
    // Graceful drain: a request being received is still served (with
    // Connection: close), bounded by the connection's drain timeout.
    draining_ = true;
    if (phase_ == phase::idle && !closing_ && !awaiting_) {
      closing_ = true;
      down_->close();
    }
  }

  std::optional<layer_time> next_deadline() const override {
    if (closing_ || !down_ || streaming_ || held_back_ || awaiting_)
      return std::nullopt; // output in flight is bounded by the write timeout
    return deadline_;
  }

  caf::error on_timeout(layer_time now) override {
    if (closing_ || now < deadline_)
      return caf::none;
    if (phase_ == phase::idle) {
      closing_ = true; // an idle keep-alive connection: close silently
      down_->close();
      return caf::none;
    }
    refuse(408, phase_ == phase::header
                  ? "request header not complete within "
                      + format_duration(opts_->header_timeout)
                  : "request body not complete within "
                      + format_duration(opts_->body_timeout));
    return caf::none;
  }

  const char* operation() const noexcept override {
    return "http request";
  }

  const char* name() const noexcept override {
    return "http/1.1";
  }

private:
  enum class phase : uint8_t { idle, header, body };

  void wait_for_request() {
    phase_ = phase::idle;
    deadline_ = down_->now() + opts_->keep_alive_timeout;
  }

  void serve() {
    auto& req = parser_->request;
    req.remote = down_->full_info().remote;
    ++down_->info().frames_in;
    ++served_;
    request_started_ = down_->now();
    if (!reader_ && req.headers.contains("Upgrade")
        && ws::detail::has_token(req.headers.get("Upgrade"), "websocket")
        && ws::detail::has_token(req.headers.get("Connection"), "upgrade")) {
      if (auto route = router_->websocket_for(req)) {
        upgrade(req, route);
        return;
      }
    }
    http_response res;
    http_handler_actor actor;
    try {
      if (reader_)
        reader_->on_end(req, res);
      else
        actor = router_->dispatch(req, res);
    } catch (const std::exception& ex) {
      res = handler_threw(req, ex);
    }
    route_ = req.route;
    reader_.reset();
    answer_to next{req.method == "HEAD", req.version, parser_->keep_alive()};
    if (actor) {
      ask_handler(actor, std::move(req), next);
      parser_.reset();
      return;
    }
    parser_.reset();
    respond(res, next);
  }

  /// A WebSocket route got a request with the upgrade headers: a 101 and
  /// the switch (the bytes after this request are the WebSocket layer's),
  /// or the status that refuses it.
  void upgrade(http_request& req, const std::shared_ptr<const websocket_route>& route) {
    answer_to to{false, req.version, parser_->keep_alive()};
    http_response res;
    auto key = req.headers.get("Sec-WebSocket-Key");
    if (req.version != 11) {
      res.status = 400;
      res.body = "a WebSocket upgrade needs HTTP/1.1\n";
    } else if (req.headers.get("Sec-WebSocket-Version") != "13") {
      res.status = 426;
      res.headers.set("Sec-WebSocket-Version", "13");
      res.body = "WebSocket version 13 only\n";
    } else if (!ws::detail::valid_client_key(key)) {
      res.status = 400;
      res.body = "Sec-WebSocket-Key is not 16 bytes in base64\n";
    }
    if (res.status != 200) {
      parser_.reset();
      respond(res, to);
      return;
    }
    std::unique_ptr<ws::websocket_handler> handler;
    try {
      if (route->accept && !route->accept(req, res)) {
        if (res.status == 200)
          res.status = 403;
        parser_.reset();
        respond(res, answer_to{false, req.version, false});
        return;
      }
      handler = route->make_handler();
    } catch (const std::exception& ex) {
      res = handler_threw(req, ex);
    }
    if (!handler) {
      if (res.status == 200) {
        res.status = 500;
        res.body = "the WebSocket route made no handler\n";
      }
      parser_.reset();
      respond(res, answer_to{false, req.version, false});
      return;
    }
    auto subprotocol = ws::detail::choose_subprotocol(
      req.headers.get("Sec-WebSocket-Protocol"), route->options.subprotocols);
    auto& out = down_->begin_output();
    auto before = out.size();
    append(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
    append(out, ws::detail::accept_key(key));
    if (!subprotocol.empty()) {
      append(out, "\r\nSec-WebSocket-Protocol: ");
      append(out, subprotocol);
    }
    append(out, "\r\n\r\n");
    down_->info().bytes_out += out.size() - before;
    ++down_->info().frames_out;
    down_->end_output();
    parser_.reset();
    switched_ = true;
    std::shared_ptr<const ws::websocket_options> opts{route, &route->options};
    down_->switch_protocol(ws::detail::make_websocket_layer(
      ws::role::server, std::move(opts), std::move(handler),
      std::move(subprotocol)));
  }

  http_response handler_threw(const http_request& req, const std::exception& ex) {
    return detail::handler_threw(down_->full_info().remote.to_string(), down_->info().id,
                                 req, ex);
  }

  /// An upload route gets its reader before the body arrives. False if
  /// its handler answered at once instead: the connection closes, the body
  /// unread.
  bool open_upload() {
    auto& req = parser_->request;
    req.remote = down_->full_info().remote;
    auto handler = router_->upload_route(req);
    if (handler == nullptr)
      return true;
    http_response early;
    try {
      reader_ = (*handler)(req, early);
    } catch (const std::exception& ex) {
      reader_.reset();
      early = handler_threw(req, ex);
    }
    if (reader_) {
      parser_->stream_body_to(reader_.get());
      return true;
    }
    ++down_->info().frames_in;
    ++served_;
    write(early, req.method == "HEAD", false, req.version);
    parser_.reset();
    closing_ = true;
    down_->close();
    return false;
  }

  /// Writes the answer to the request described by `to`, then streams its
  /// body, closes, or waits for the next request.
  void respond(http_response& res, const answer_to& to) {
    bool keep = to.keep_alive && !draining_ && !peer_done_
                && (opts_->max_requests == 0 || served_ < opts_->max_requests);
    write(res, to.head_only, keep, to.version);
    if (streaming_) {
      // Later requests wait (in order) until the body is out.
      down_->pause_reading();
      pump_stream();
      return;
    }
    if (!keep) {
      closing_ = true;
      down_->close();
      return;
    }
    wait_for_request();
  }

  /// A route served by an actor: reading pauses (later requests wait, in
  /// order) until its answer is written. The handler timeout bounds the
  /// wait; the connection's other deadlines rest meanwhile.
  void ask_handler(const http_handler_actor& actor, http_request req,
                   answer_to to) {
    awaiting_ = true;
    down_->pause_reading();
    std::weak_ptr<char> alive = alive_;
    auto target = req.target;
    auto on_answer = [this, alive, to](http_response& res) {
      if (alive.expired())
        return; // the protocol was switched meanwhile; nobody to answer
      down_->in_turn([&] {
        awaiting_ = false;
        respond(res, to);
        if (!closing_ && !streaming_)
          down_->resume_reading();
      });
    };
    auto on_error = [this, alive, on_answer, target](caf::error& err) {
      if (alive.expired())
        return;
      auto res = detail::handler_failed(down_->full_info().remote.to_string(),
                                        down_->info().id, target, err,
                                        opts_->handler_timeout);
      on_answer(res);
    };
    down_->ask(caf::actor_cast<caf::actor>(actor), opts_->handler_timeout,
               caf::make_message(std::move(req)),
               caf::behavior{[on_answer](http_response& res) { on_answer(res); },
                             std::move(on_error)});
  }

  /// Pulls body pieces while the connection takes more; on_writable
  /// resumes it. A piece goes out as one chunk (HTTP/1.1) or as is. A file
  /// is handed below whole where the connection sends files itself; the
  /// response ends once the queue is below its mark again, so later
  /// requests (and a close) wait for the file as they wait for a stream.
  void pump_stream() {
    while (streaming_ && down_->can_send_more()) {
      if (file_) {
        auto length = file_->length;
        if (down_->send_file(*file_)) {
          down_->info().bytes_out += length;
          file_.reset();
          continue;
        }
        // A layer below must see every byte (TLS): read it in pieces.
        stream_ = [range = std::move(*file_)](std::string& out) mutable {
          if (auto err = read_file_piece(range, detail::file_read_piece, out))
            throw std::runtime_error(describe(err));
          return range.length > 0;
        };
        file_.reset();
      }
      if (!stream_) {
        finish_stream(); // the file went below whole
        return;
      }
      std::string piece;
      bool more = false;
      try {
        more = stream_(piece);
      } catch (const std::exception& ex) {
        // Mid-body there is no status left to send: the peer sees a reset.
        streaming_ = false;
        closing_ = true;
        down_->abort(make_error(errc::protocol_error, "http response", "", 0,
                                std::string{"body source threw: "} + ex.what()));
        return;
      }
      if (!piece.empty()) {
        auto& out = down_->begin_output();
        auto before = out.size();
        if (stream_chunked_) {
          char size[20];
          auto n = std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
          append(out, std::string_view{size, static_cast<size_t>(n)});
        }
        append(out, piece);
        if (stream_chunked_)
          append(out, "\r\n");
        down_->info().bytes_out += out.size() - before;
        down_->end_output();
      }
      if (!more)
        finish_stream();
    }
  }

  void finish_stream() {
    streaming_ = false;
    stream_ = nullptr;
    file_.reset();
    if (stream_chunked_) {
      auto& out = down_->begin_output();
      append(out, "0\r\n\r\n");
      down_->info().bytes_out += 5;
      down_->end_output();
    }
    if (!stream_keep_ || draining_) {
      closing_ = true;
      down_->close();
      return;
    }
    wait_for_request();
    down_->resume_reading(); // the pipelined requests that waited
  }

  /// Answers `status` and closes: the rest of the input is never read.
  void refuse(unsigned status, std::string why) {
    if (log::enabled(log::level::debug)) // no strings otherwise
      log::debug("http:" + down_->full_info().remote.to_string(),
                 "request_refused",
                 {log::kv("conn", down_->info().id), log::kv("request", served_ + 1),
                  log::kv("status", status), log::kv("why", why)});
    http_response res;
    res.status = status;
    res.body = std::move(why) + "\n";
    write(res, false, false, 11);
    parser_.reset();
    reader_.reset(); // an upload refused mid-body: its reader cleans up
    closing_ = true;
    down_->close();
  }

  void write(http_response& res, bool head_only, bool keep, unsigned version) {
    auto elapsed = request_started_ == layer_time{}
                     ? 0.0
                     : std::chrono::duration<double>(down_->now() - request_started_).count();
    detail::count_request(version == 10 ? "1.0" : "1.1", route_, res.status, elapsed);
    route_.clear();
    request_started_ = {};
    auto& out = down_->begin_output();
    auto before = out.size();
    append(out, version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    append(out, std::to_string(res.status));
    out.push_back(' ');
    append(out, reason_phrase(res.status));
    append(out, "\r\n");
    for (auto& [k, v] : res.headers) {
      if (k.empty() || v.find_first_of("\r\n") != std::string::npos)
        continue; // a handler must not be able to split the response
      append(out, k);
      append(out, ": ");
      append(out, v);
      append(out, "\r\n");
    }
    if (!opts_->server_name.empty() && !res.headers.contains("Server")) {
      append(out, "Server: ");
      append(out, opts_->server_name);
      append(out, "\r\n");
    }
    if (!res.headers.contains("Date")) {
      append(out, "Date: ");
      append(out, detail::date_now());
      append(out, "\r\n");
    }
    bool bodiless = res.status == 204 || res.status == 304
                    || (res.status >= 100 && res.status < 200);
    if (res.file)
      res.stream_length = res.file->length;
    bool streamed = !bodiless && (res.stream || res.file);
    bool chunked = streamed && !res.stream_length && version != 10;
    if (streamed && res.stream_length) {
      append(out, "Content-Length: ");
      append(out, std::to_string(*res.stream_length));
      append(out, "\r\n");
    } else if (streamed) {
      if (version == 10)
        keep = false; // the end of the body is the end of the connection
      else
        append(out, "Transfer-Encoding: chunked\r\n");
    } else if (!bodiless) {
      append(out, "Content-Length: ");
      append(out, std::to_string(res.body.size()));
      append(out, "\r\n");
    }
    if (!keep)
      append(out, "Connection: close\r\n");
    else if (version == 10)
      append(out, "Connection: keep-alive\r\n");
    append(out, "\r\n");
    if (streamed && !head_only) {
      streaming_ = true;
      stream_chunked_ = chunked;
      stream_keep_ = keep;
      stream_ = std::move(res.stream);
      file_ = std::move(res.file);
    } else if (!head_only && !bodiless) {
      append(out, res.body);
    }
    down_->info().bytes_out += out.size() - before;
    ++down_->info().frames_out;
    down_->end_output();
  }

  std::shared_ptr<const http_router> router_;
  std::shared_ptr<const http_server_options> opts_;
  lower_layer* down_ = nullptr;
  std::optional<request_parser> parser_;
  /// The reader of the upload being received (parser_ points to it while
  /// the body arrives; both are reset together).
  std::unique_ptr<http_body_reader> reader_;
  layer_time deadline_{};
  layer_time request_started_{}; ///< of the request being answered
  std::string route_;            ///< its route's pattern, for the metrics
  phase phase_ = phase::idle;
  size_t served_ = 0;
  bool header_checked_ = false;
  bool closing_ = false;
  bool switched_ = false; ///< upgraded to WebSocket: the next layer reads
  bool draining_ = false;
  http_body_source stream_; ///< the body being streamed
  std::optional<file_range> file_; ///< a file body not yet handed below
  bool streaming_ = false;
  bool held_back_ = false; ///< reading paused until the answers drained
  bool awaiting_ = false;  ///< a handler actor has the current request
  bool peer_done_ = false; ///< EOF came while awaiting: close after it
  /// Expires with the layer: a handler actor's late answer finds no one.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  bool stream_chunked_ = false;
  bool stream_keep_ = false;
};

} // namespace

caf::error validate(const http_server_options& opts) {
  auto bad = [](const char* field, const char* why) {
    return config_error("validate http server", "", field, why);
  };
  if (opts.max_target == 0)
    return bad("max_target", "must be > 0");
  if (opts.max_header_bytes == 0)
    return bad("max_header_bytes", "must be > 0");
  if (opts.max_header_count == 0)
    return bad("max_header_count", "must be > 0");
  if (opts.header_timeout <= caf::timespan{0})
    return bad("header_timeout", "must be > 0");
  if (opts.body_timeout <= caf::timespan{0})
    return bad("body_timeout", "must be > 0");
  if (opts.keep_alive_timeout <= caf::timespan{0})
    return bad("keep_alive_timeout", "must be > 0");
  if (opts.handler_timeout <= caf::timespan{0})
    return bad("handler_timeout", "must be > 0");
  if (opts.server_name.find_first_of("\r\n") != std::string::npos)
    return bad("server_name", "must not contain CR or LF");
  auto& h2 = opts.http2;
  if (h2.max_concurrent_streams == 0)
    return bad("http2.max_concurrent_streams", "must be > 0");
  if (h2.window_size < 65535 || h2.window_size > 0x7fffffff)
    return bad("http2.window_size", "must be in [65535, 2^31-1]");
  if (h2.max_continuations == 0)
    return bad("http2.max_continuations", "must be > 0");
  if (h2.max_reset_burst == 0 || h2.max_resets_per_second == 0)
    return bad("http2.max_reset_burst", "and max_resets_per_second must be > 0");
  return caf::none;
}

layer_factory http_server(std::shared_ptr<const http_router> router,
                          http_server_options opts) {
  auto shared = std::make_shared<const http_server_options>(std::move(opts));
  return [router = std::move(router), shared](std::string_view alpn) -> layer_ptr {
    if (!router)
      return nullptr;
    if (alpn == "h2" && shared->http2.enabled)
      return detail::make_http2_layer(router, shared);
    return std::make_unique<server_layer>(router, shared);
  };
}

} // namespace ghostnet::transports::http
