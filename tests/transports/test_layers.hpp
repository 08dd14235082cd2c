#pragma once

// Small protocol layers for tests of the layer stack, and a lower layer
// that records what a layer does (for sans-IO tests without a socket).

#include <algorithm>
#include <cctype>
#include <functional>
#include <string>
#include <vector>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/transports/layer.hpp"

namespace ghostnet::test {

namespace tp = ghostnet::transports;

/// Line-based: each complete line goes to on_line; what it returns (if not
/// empty) is sent back with a '\n'.
class line_layer : public tp::upper_layer {
public:
  using line_fn = std::function<std::string(line_layer&, const std::string&)>;

  explicit line_layer(line_fn fn, std::string greeting = {})
    : fn_(std::move(fn)), greeting_(std::move(greeting)) {
  }

  caf::error start(tp::lower_layer& down) override {
    down_ = &down;
    down.established();
    if (!greeting_.empty())
      write(greeting_);
    return caf::none;
  }

  caf::expected<size_t> consume(tp::byte_view input) override {
    size_t used = 0;
    for (;;) {
      auto begin = input.begin() + static_cast<ptrdiff_t>(used);
      auto nl = std::find(begin, input.end(), '\n');
      if (nl == input.end())
        return used;
      std::string line(begin, nl);
      used = static_cast<size_t>(nl - input.begin()) + 1;
      lines.push_back(line);
      auto answer = fn_(*this, line);
      if (!answer.empty())
        write(answer);
      if (switched_ || paused_)
        return used; // the rest belongs to the next layer, or waits
    }
  }

  caf::error on_eof() override {
    down_->close();
    return caf::none;
  }

  void request_close() override {
    down_->close();
  }

  void on_close(const caf::error& reason) override {
    closed = true;
    close_reason = reason;
  }

  const char* name() const noexcept override {
    return "test-lines";
  }

  void write(const std::string& text) {
    auto& out = down_->begin_output();
    out.insert(out.end(), text.begin(), text.end());
    out.push_back('\n');
    down_->end_output();
  }

  /// Stops reading after the current line (from inside on_line).
  void pause() {
    paused_ = true;
    down_->pause_reading();
  }

  /// Resumes reading; the lower layer hands up what waited.
  void resume() {
    paused_ = false;
    down_->resume_reading();
  }

  /// switch_protocol from inside on_line.
  void switch_to(tp::layer_ptr next) {
    switched_ = true;
    down_->switch_protocol(std::move(next));
  }

  tp::lower_layer& down() {
    return *down_;
  }

  std::vector<std::string> lines;
  bool closed = false;
  caf::error close_reason;

private:
  line_fn fn_;
  std::string greeting_;
  tp::lower_layer* down_ = nullptr;
  bool switched_ = false;
  bool paused_ = false;
};

inline std::string upper(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// Answers every line in upper case.
inline tp::layer_ptr upper_case_layer() {
  return std::make_unique<line_layer>(
    [](line_layer&, const std::string& line) { return upper(line); });
}

/// Echoes lines until "UPGRADE", answers "ok" and switches to upper case in
/// the same read (as HTTP's 101 and the first WebSocket frame).
inline tp::layer_ptr upgrading_layer() {
  return std::make_unique<line_layer>(
    [](line_layer& self, const std::string& line) -> std::string {
      if (line != "UPGRADE")
        return line;
      self.switch_to(upper_case_layer());
      return "ok";
    });
}

/// A lower layer that records output, pauses and closes.
class recording_lower : public tp::lower_layer {
public:
  std::vector<char>& begin_output() override {
    return output;
  }
  void end_output() override {
    ++outputs;
  }
  bool can_send_more() const noexcept override {
    return !full;
  }
  bool send_file(tp::file_range range) override {
    if (!takes_files)
      return false;
    files.push_back(range);
    file_at.push_back(output.size());
    return true;
  }
  void pause_reading() override {
    paused = true;
  }
  void resume_reading() override {
    paused = false;
  }
  void established() override {
    is_established = true;
  }
  void close() override {
    closed = true;
  }
  void abort(caf::error reason) override {
    aborted = std::move(reason);
  }
  void ask(const caf::actor& dest, caf::timespan, caf::message msg,
           caf::behavior on_reply) override {
    asked.push_back(asked_request{dest, std::move(msg), std::move(on_reply)});
  }
  void in_turn(const std::function<void()>& f) override {
    f();
  }
  void switch_protocol(tp::layer_ptr next) override {
    switched_to = std::move(next);
  }
  tp::layer_time now() const noexcept override {
    return time;
  }
  tp::connection_info& info() override {
    return conn;
  }
  const tp::connection_info& full_info() override {
    return conn;
  }
  tp::connection_state state() const noexcept override {
    return conn.state;
  }
  tp::connection_actor self() const override {
    return {};
  }

  std::string take_output() {
    std::string result(output.begin(), output.end());
    output.clear();
    return result;
  }

  /// A request ask() was given; answer it with reply.
  struct asked_request {
    caf::actor dest;
    caf::message msg;
    caf::behavior reply;
  };
  std::vector<asked_request> asked;
  std::vector<char> output;
  size_t outputs = 0;
  bool full = false;        ///< can_send_more() answers false
  bool takes_files = false; ///< send_file() accepts ranges (plain TCP)
  std::vector<tp::file_range> files; ///< the ranges taken ...
  std::vector<size_t> file_at;       ///< ... and the output size before each
  bool paused = false;
  bool is_established = false;
  bool closed = false;
  caf::error aborted;
  tp::layer_ptr switched_to;
  tp::layer_time time = tp::layer_clock::time_point{};
  tp::connection_info conn;
};

} // namespace ghostnet::test
