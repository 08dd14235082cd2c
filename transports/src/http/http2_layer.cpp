// The HTTP/2 server layer: nghttp2's session does the framing, HPACK,
// stream states and flow control without I/O (mem_recv / mem_send); this
// layer feeds it the connection's bytes, turns each request stream into an
// http_request for the router, and answers with data providers that pull
// the body only while the connection can take more. See docs/http2.md.

#include "http2_layer.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/transports/layer.hpp"
#include "handler_answers.hpp"
#include "http_metrics.hpp"

namespace ghostnet::transports::http {

namespace {

std::atomic<uint64_t> rapid_reset_cutoffs{0};
std::atomic<uint64_t> continuation_cutoffs{0};

} // namespace

http2_defence_counts http2_defences() noexcept {
  return {rapid_reset_cutoffs.load(), continuation_cutoffs.load()};
}

namespace detail {

namespace {

/// One request stream, from its HEADERS to its close.
struct h2_stream {
  int32_t id = 0;
  http_request req;
  bool head = false;          ///< a HEAD request: headers only
  size_t header_bytes = 0;    ///< as SETTINGS_MAX_HEADER_LIST_SIZE counts
  uint64_t upload_bytes = 0;
  unsigned refuse_status = 0; ///< answer this instead of serving
  std::string refuse_why;
  std::unique_ptr<http_body_reader> reader; ///< an upload route's
  bool header_done = false;   ///< the header block is in
  bool request_done = false;  ///< END_STREAM came
  bool answered = false;      ///< the response was submitted
  bool reset_after_answer = false; ///< answered before the request ended
  bool deferred = false;      ///< its body waits for the connection
  layer_time deadline{};      ///< for the request, until request_done
  layer_time started{};       ///< request_done's time, for the metrics
  std::string route;          ///< the matched route's pattern
  // The response body: `body` from `offset`, then `source` or `file`.
  std::string body;
  size_t offset = 0;
  http_body_source source;
  std::optional<file_range> file;
};

/// Header fields HTTP/2 forbids (RFC 9113, 8.2.2): a handler may set them
/// for HTTP/1.1, they are left out here.
bool connection_specific(std::string_view name) {
  for (auto x : {"connection", "keep-alive", "proxy-connection",
                 "transfer-encoding", "upgrade"})
    if (iequals(name, x))
      return true;
  return false;
}

std::string lowercase(std::string_view x) {
  std::string out{x};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

class http2_layer final : public upper_layer {
public:
  http2_layer(std::shared_ptr<const http_router> router,
              std::shared_ptr<const http_server_options> opts)
    : router_(std::move(router)), opts_(std::move(opts)),
      reset_tokens_(opts_->http2.max_reset_burst) {
    // nop
  }

  ~http2_layer() override {
    if (session_ != nullptr)
      nghttp2_session_del(session_);
  }

  caf::error start(lower_layer& down) override {
    down_ = &down;
    auto& h2 = opts_->http2;
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    // Window updates go out as the application takes the body (consume()).
    nghttp2_option_set_no_auto_window_update(opt, 1);
    // nghttp2's own flood limits stay as a backstop behind this layer's,
    // which count and name what they cut off.
    nghttp2_option_set_max_continuations(opt, h2.max_continuations + 2);
    nghttp2_option_set_stream_reset_rate_limit(opt, uint64_t{h2.max_reset_burst} * 4,
                                               uint64_t{h2.max_resets_per_second} * 4);
    auto rv = nghttp2_session_server_new2(&session_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
      return make_error(errc::invalid_state, "http2 session", remote(), 0,
                        nghttp2_strerror(rv));
    nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h2.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h2.window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(std::min<size_t>(opts_->max_header_bytes, UINT32_MAX))},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings,
                            sizeof(settings) / sizeof(settings[0]));
    if (h2.window_size > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE)
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                            static_cast<int32_t>(h2.window_size));
    down.established();
    idle_deadline_ = down.now() + opts_->keep_alive_timeout;
    flush();
    return caf::none;
  }

  caf::expected<size_t> consume(byte_view input) override {
    if (closing_)
      return input.size();
    if (!down_->can_send_more()) {
      // Responses pile up below: the peer's requests wait (in the socket,
      // then in its flow-control windows) until they drained.
      held_back_ = true;
      down_->pause_reading();
      return size_t{0};
    }
    auto n = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(input.data()), input.size());
    if (n < 0) {
      caf::error err = cut_off_;
      if (!err) {
        err = make_error(errc::protocol_error, "http2", remote(), 0,
                         nghttp2_strerror(static_cast<int>(n)));
        nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
      }
      send_frames(); // the GOAWAY
      closing_ = true;
      return err;
    }
    down_->info().bytes_in += static_cast<uint64_t>(n);
    flush();
    return input.size();
  }

  caf::error on_eof() override {
    // The peer sends nothing more (it may still read): the streams it
    // completed are answered, those it left half-sent are reset, then the
    // connection closes.
    if (closing_)
      return caf::none;
    peer_done_ = true;
    for (auto& [id, s] : streams_)
      if (!s->request_done)
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    flush();
    return caf::none;
  }

  void request_close() override {
    // Graceful drain: GOAWAY names the last stream that will be served;
    // the streams up to it finish, then the connection closes (bounded by
    // the drain timeout).
    if (closing_ || draining_)
      return;
    draining_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    flush();
  }

  void on_writable() override {
    for (auto& [id, s] : streams_)
      if (s->deferred) {
        s->deferred = false;
        nghttp2_session_resume_data(session_, id);
      }
    if (held_back_) {
      held_back_ = false;
      down_->resume_reading();
    }
    flush();
  }

  std::optional<layer_time> next_deadline() const override {
    if (closing_ || !down_)
      return std::nullopt;
    std::optional<layer_time> result;
    if (streams_.empty())
      result = idle_deadline_;
    for (auto& [id, s] : streams_)
      if (!s->request_done && !s->answered && (!result || s->deadline < *result))
        result = s->deadline;
    return result;
  }

  caf::error on_timeout(layer_time now) override {
    if (closing_)
      return caf::none;
    if (streams_.empty() && now >= idle_deadline_) {
      // Idle: GOAWAY and close, as an HTTP/1.1 keep-alive connection
      // closes silently.
      draining_ = true;
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(session_),
                            NGHTTP2_NO_ERROR, nullptr, 0);
    }
    for (auto& [id, s] : streams_)
      if (!s->request_done && !s->answered && now >= s->deadline)
        refuse(*s, 408, s->header_done
                          ? "request body not complete within "
                              + format_duration(opts_->body_timeout)
                          : "request header not complete within "
                              + format_duration(opts_->header_timeout));
    flush();
    return caf::none;
  }

  const char* operation() const noexcept override {
    return "http2 stream";
  }

  const char* name() const noexcept override {
    return "http/2";
  }

private:
  // -- nghttp2 callbacks ------------------------------------------------------

  static http2_layer& self(void* user_data) {
    return *static_cast<http2_layer*>(user_data);
  }

  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd,
                            void* user_data) {
    auto& self = http2_layer::self(user_data);
    if (hd->type == NGHTTP2_HEADERS) {
      self.continuations_ = 0;
    } else if (hd->type == NGHTTP2_CONTINUATION
               && ++self.continuations_ > self.opts_->http2.max_continuations) {
      ++continuation_cutoffs;
      return self.cut_off("continuation_flood",
                          "more than "
                            + std::to_string(self.opts_->http2.max_continuations)
                            + " CONTINUATION frames in one header block");
    }
    return 0;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame,
                              void* user_data) {
    auto& self = http2_layer::self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS
        || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
      return 0;
    auto s = std::make_unique<h2_stream>();
    s->id = frame->hd.stream_id;
    s->req.version = 20;
    s->req.remote = self.down_->full_info().remote;
    s->deadline = self.down_->now() + self.opts_->header_timeout;
    self.streams_[s->id] = std::move(s);
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame,
                       const uint8_t* name, size_t namelen, const uint8_t* value,
                       size_t valuelen, uint8_t, void* user_data) {
    auto& self = http2_layer::self(user_data);
    auto* s = self.find(frame->hd.stream_id);
    if (s == nullptr || s->refuse_status != 0 || s->request_done)
      return 0; // trailers, or a stream that is refused anyway
    std::string_view n{reinterpret_cast<const char*>(name), namelen};
    std::string_view v{reinterpret_cast<const char*>(value), valuelen};
    s->header_bytes += namelen + valuelen + 32; // RFC 9113, 6.5.2
    if (s->header_bytes > self.opts_->max_header_bytes
        || s->req.headers.size() >= self.opts_->max_header_count) {
      s->refuse_status = 431;
      s->refuse_why = "request header fields too large";
      return 0;
    }
    if (n == ":method")
      s->req.method = std::string{v};
    else if (n == ":path")
      s->req.target = std::string{v};
    else if (n == ":authority")
      s->req.headers.add("host", std::string{v});
    else if (n.empty() || n[0] != ':')
      s->req.headers.add(std::string{n}, std::string{v});
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame,
                           void* user_data) {
    auto& self = http2_layer::self(user_data);
    auto id = frame->hd.stream_id;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        if (auto* s = self.find(id)) {
          if (frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            self.header_done(*s);
          if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 && self.find(id))
            self.request_done(*s);
        }
        break;
      case NGHTTP2_DATA:
        if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0)
          if (auto* s = self.find(id))
            self.request_done(*s);
        break;
      case NGHTTP2_RST_STREAM:
        return self.count_reset();
      default:
        break;
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, uint8_t, int32_t id,
                           const uint8_t* data, size_t len, void* user_data) {
    auto& self = http2_layer::self(user_data);
    auto* s = self.find(id);
    if (s != nullptr && s->refuse_status == 0 && !s->answered)
      self.body_piece(*s, std::string_view{reinterpret_cast<const char*>(data), len});
    // The application took the piece (or it was discarded): the windows
    // open again by as much.
    nghttp2_session_consume(session, id, len);
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame,
                           void* user_data) {
    auto& self = http2_layer::self(user_data);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)
        && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0)
      if (auto* s = self.find(frame->hd.stream_id); s && s->reset_after_answer)
        // Answered before its body ended (413, an early upload answer):
        // the client may stop sending (RFC 9113, 8.1).
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_NO_ERROR);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t,
                             void* user_data) {
    auto& self = http2_layer::self(user_data);
    self.streams_.erase(id);
    if (self.streams_.empty())
      self.idle_deadline_ = self.down_->now() + self.opts_->keep_alive_timeout;
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf,
                           size_t length, uint32_t* flags, nghttp2_data_source*,
                           void* user_data) {
    auto& self = http2_layer::self(user_data);
    auto* s = self.find(id);
    if (s == nullptr)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (!self.down_->can_send_more()) {
      s->deferred = true; // on_writable resumes it
      return NGHTTP2_ERR_DEFERRED;
    }
    if (s->offset == s->body.size() && !self.refill(*s))
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; // RST_STREAM(INTERNAL_ERROR)
    auto n = std::min(length, s->body.size() - s->offset);
    std::memcpy(buf, s->body.data() + s->offset, n);
    s->offset += n;
    if (s->offset == s->body.size() && !s->source && !s->file)
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  // -- requests ---------------------------------------------------------------

  h2_stream* find(int32_t id) {
    auto i = streams_.find(id);
    return i == streams_.end() ? nullptr : i->second.get();
  }

  /// The request's header block is in: split the target, open an upload.
  void header_done(h2_stream& s) {
    auto& req = s.req;
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    req.query = q == std::string::npos ? std::string{} : req.target.substr(q + 1);
    s.head = req.method == "HEAD";
    s.header_done = true;
    s.deadline = down_->now() + opts_->body_timeout;
    if (s.refuse_status != 0) {
      refuse(s, s.refuse_status, s.refuse_why);
      return;
    }
    if (auto* handler = router_->upload_route(req)) {
      http_response early;
      try {
        s.reader = (*handler)(req, early);
      } catch (const std::exception& ex) {
        s.reader.reset();
        early = handler_threw(remote(), down_->info().id, req, ex);
      }
      if (!s.reader) {
        ++down_->info().frames_in;
        answer(s, early);
      }
      return;
    }
    auto length = req.headers.get("content-length");
    if (!length.empty()) {
      uint64_t n = 0;
      for (char c : length)
        n = c >= '0' && c <= '9' ? n * 10 + static_cast<uint64_t>(c - '0') : UINT64_MAX;
      if (n > opts_->max_body)
        refuse(s, 413, "request body larger than " + std::to_string(opts_->max_body)
                         + " bytes");
    }
  }

  void body_piece(h2_stream& s, std::string_view piece) {
    if (s.reader) {
      s.upload_bytes += piece.size();
      s.deadline = down_->now() + opts_->body_timeout; // a pause, not a total
      if (opts_->max_upload != 0 && s.upload_bytes > opts_->max_upload) {
        refuse(s, 413, "upload larger than " + std::to_string(opts_->max_upload)
                         + " bytes");
        return;
      }
      unsigned status = 0;
      try {
        status = s.reader->on_body(piece);
      } catch (const std::exception& ex) {
        auto res = handler_threw(remote(), down_->info().id, s.req, ex);
        s.reader.reset();
        answer(s, res);
        return;
      }
      if (status != 0)
        refuse(s, status, "upload refused");
      return;
    }
    if (s.req.body.size() + piece.size() > opts_->max_body) {
      refuse(s, 413, "request body larger than " + std::to_string(opts_->max_body)
                       + " bytes");
      return;
    }
    s.req.body.append(piece);
  }

  /// END_STREAM: the request is complete; serve it unless answered.
  void request_done(h2_stream& s) {
    s.request_done = true;
    if (s.answered)
      return;
    ++down_->info().frames_in;
    s.started = down_->now();
    http_response res;
    http_handler_actor actor;
    try {
      if (s.reader)
        s.reader->on_end(s.req, res);
      else
        actor = router_->dispatch(s.req, res);
    } catch (const std::exception& ex) {
      res = handler_threw(remote(), down_->info().id, s.req, ex);
    }
    s.reader.reset();
    s.route = s.req.route;
    if (actor) {
      ask_handler(s, actor);
      return;
    }
    answer(s, res);
  }

  /// A route served by an actor: the stream waits for its answer, the
  /// others go on. A stream the client reset meanwhile drops it.
  void ask_handler(h2_stream& s, const http_handler_actor& actor) {
    std::weak_ptr<char> alive = alive_;
    auto id = s.id;
    auto target = s.req.target;
    auto on_answer = [this, alive, id](http_response& res) {
      if (alive.expired())
        return;
      down_->in_turn([&] {
        if (auto* s = find(id); s && !s->answered)
          answer(*s, res);
        flush();
      });
    };
    auto on_error = [this, alive, on_answer, target](caf::error& err) {
      if (alive.expired())
        return;
      auto res = handler_failed(remote(), down_->info().id, target, err, opts_->handler_timeout);
      on_answer(res);
    };
    down_->ask(caf::actor_cast<caf::actor>(actor), opts_->handler_timeout,
               caf::make_message(std::move(s.req)),
               caf::behavior{[on_answer](http_response& res) { on_answer(res); },
                             std::move(on_error)});
  }

  /// Answers `status` on this stream only; the connection and its other
  /// streams go on.
  void refuse(h2_stream& s, unsigned status, std::string why) {
    if (s.answered)
      return;
    if (log::enabled(log::level::debug))
      log::debug("http2:" + remote(), "request_refused",
                 {log::kv("conn", down_->info().id), log::kv("stream", s.id),
                  log::kv("status", status),
                  log::kv("why", why)});
    s.reader.reset(); // an upload refused mid-body: its reader cleans up
    http_response res;
    res.status = status;
    res.body = std::move(why) + "\n";
    answer(s, res);
  }

  // -- responses --------------------------------------------------------------

  void answer(h2_stream& s, http_response& res) {
    s.answered = true;
    count_request("2", s.route, res.status,
                  s.started == layer_time{}
                    ? 0.0
                    : std::chrono::duration<double>(down_->now() - s.started).count());
    s.reset_after_answer = !s.request_done;
    std::deque<std::string> text; // stable storage for the name/value views
    std::vector<nghttp2_nv> nva;
    auto add = [&](std::string name, std::string value) {
      auto& n = text.emplace_back(std::move(name));
      auto& v = text.emplace_back(std::move(value));
      nva.push_back({reinterpret_cast<uint8_t*>(n.data()),
                     reinterpret_cast<uint8_t*>(v.data()), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    };
    add(":status", std::to_string(res.status));
    bool bodiless = res.status == 204 || res.status == 304
                    || (res.status >= 100 && res.status < 200);
    if (res.file)
      res.stream_length = res.file->length;
    bool streamed = !bodiless && (res.stream || res.file);
    for (auto& [k, v] : res.headers) {
      if (k.empty() || v.find_first_of("\r\n") != std::string::npos
          || connection_specific(k) || iequals(k, "content-length"))
        continue;
      add(lowercase(k), v);
    }
    if (!opts_->server_name.empty() && !res.headers.contains("Server"))
      add("server", opts_->server_name);
    if (!res.headers.contains("Date"))
      add("date", date_now());
    if (streamed && res.stream_length)
      add("content-length", std::to_string(*res.stream_length));
    else if (!streamed && !bodiless)
      add("content-length", std::to_string(res.body.size()));
    bool has_body = !s.head && !bodiless && (streamed || !res.body.empty());
    nghttp2_data_provider provider{};
    provider.read_callback = read_body;
    if (has_body) {
      s.body = streamed ? std::string{} : std::move(res.body);
      s.offset = 0;
      s.source = std::move(res.stream);
      s.file = std::move(res.file);
    }
    auto rv = nghttp2_submit_response(session_, s.id, nva.data(), nva.size(),
                                      has_body ? &provider : nullptr);
    if (rv != 0) {
      log::warn("http2:" + remote(), "submit_response_failed",
                {log::kv("conn", down_->info().id), log::kv("stream", s.id),
                 log::kv("error", nghttp2_strerror(rv))});
      return;
    }
    ++down_->info().frames_out;
  }

  /// The next piece of a streamed body into s.body. False if its source
  /// failed: the stream is reset, the connection goes on.
  bool refill(h2_stream& s) {
    s.body.clear();
    s.offset = 0;
    try {
      while (s.body.empty() && (s.source || s.file)) {
        if (s.file) {
          if (auto err = read_file_piece(*s.file, file_read_piece, s.body))
            throw std::runtime_error(describe(err));
          if (s.file->length == 0)
            s.file.reset();
        } else if (!s.source(s.body)) {
          s.source = nullptr;
        }
      }
    } catch (const std::exception& ex) {
      log::warn("http2:" + remote(), "body_source_failed",
                {log::kv("conn", down_->info().id), log::kv("stream", s.id),
                 log::kv("target", s.req.target),
                 log::kv("what", std::string{ex.what()})});
      s.source = nullptr;
      s.file.reset();
      return false;
    }
    return true;
  }

  // -- floods -----------------------------------------------------------------

  /// A RST_STREAM from the client: one token of the rapid-reset bucket.
  int count_reset() {
    auto& h2 = opts_->http2;
    auto now = down_->now();
    if (last_refill_ != layer_time{}) {
      auto elapsed = std::chrono::duration<double>(now - last_refill_).count();
      reset_tokens_ = std::min<double>(h2.max_reset_burst,
                                       reset_tokens_ + elapsed * h2.max_resets_per_second);
    }
    last_refill_ = now;
    if (reset_tokens_ < 1.0) {
      ++rapid_reset_cutoffs;
      return cut_off("rapid_reset", "more than " + std::to_string(h2.max_reset_burst)
                                      + " streams reset at more than "
                                      + std::to_string(h2.max_resets_per_second)
                                      + "/s");
    }
    reset_tokens_ -= 1.0;
    return 0;
  }

  /// Ends the connection for a flood: GOAWAY(ENHANCE_YOUR_CALM), logged
  /// and counted; the callback's failure stops nghttp2 reading at once.
  int cut_off(const char* event, std::string why) {
    log::warn("http2:" + remote(), event,
              {log::kv("conn", down_->info().id), log::kv("why", why)});
    cut_off_ = make_error(errc::protocol_error, "http2", remote(), 0, std::move(why));
    nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }

  // -- output -----------------------------------------------------------------

  /// Hands what nghttp2 has to send below (bodies only while the
  /// connection takes more: read_body defers).
  void send_frames() {
    for (;;) {
      const uint8_t* data = nullptr;
      auto n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) {
        if (n < 0)
          down_->abort(make_error(errc::protocol_error, "http2", remote(), 0,
                                  nghttp2_strerror(static_cast<int>(n))));
        return;
      }
      auto& out = down_->begin_output();
      out.insert(out.end(), data, data + n);
      down_->info().bytes_out += static_cast<uint64_t>(n);
      down_->end_output();
    }
  }

  /// send_frames, then closes once the session is done: after a GOAWAY
  /// and its last stream, or when nghttp2 wants neither to read nor write.
  void flush() {
    if (closing_)
      return;
    send_frames();
    bool done = nghttp2_session_want_read(session_) == 0
                && nghttp2_session_want_write(session_) == 0;
    if (done || ((draining_ || peer_done_) && streams_.empty())) {
      closing_ = true;
      down_->close();
    }
  }

  std::string remote() {
    return down_->full_info().remote.to_string();
  }

  std::shared_ptr<const http_router> router_;
  std::shared_ptr<const http_server_options> opts_;
  lower_layer* down_ = nullptr;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<h2_stream>> streams_;
  layer_time idle_deadline_{};
  uint32_t continuations_ = 0; ///< of the header block being received
  double reset_tokens_;
  layer_time last_refill_{};
  caf::error cut_off_; ///< why a flood ended the connection
  bool closing_ = false;
  bool draining_ = false;
  bool peer_done_ = false; ///< EOF came: close once the streams are done
  bool held_back_ = false; ///< reading paused until the responses drained
  /// Expires with the layer: a handler actor's late answer finds no one.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

} // namespace

layer_ptr make_http2_layer(std::shared_ptr<const http_router> router,
                           std::shared_ptr<const http_server_options> opts) {
  return std::make_unique<http2_layer>(std::move(router), std::move(opts));
}

} // namespace detail

} // namespace ghostnet::transports::http
