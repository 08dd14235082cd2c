#pragma once

// A supervisor's event stream: its subscribers, and the log line of each
// event at the level the event deserves.

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "ghostnet/actors/log.hpp"
#include "ghostnet/supervision/supervisor_messages.hpp"

namespace ghostnet::supervision::detail {

class event_stream {
public:
  explicit event_stream(std::string supervisor);

  /// False if `who` is invalid or subscribed already (each event is
  /// delivered once per subscriber).
  bool subscribe(caf::actor who);

  void unsubscribe(const caf::actor& who);

  /// Drops a subscriber that went down; false if `who` was none.
  bool remove(const caf::actor_addr& who);

  /// Whether an event at `lvl` reaches anyone (a connections supervisor
  /// publishes two per connection: with no one to tell, none is built).
  [[nodiscard]] bool wanted(log::level lvl) const noexcept;

  /// Starts and orderly stops are routine: debug. Failures stand out, unless
  /// the child's spec says its abnormal exits are routine too (a connection
  /// reset by its peer). Start failures that someone else is told of (the
  /// parent in the start handshake, a requester) are debug: the one at the
  /// top logs it, once.
  [[nodiscard]] static log::level level_of(event_kind kind,
                                           const caf::error& reason,
                                           bool routine_exits = false,
                                           bool reported = false) noexcept;

  /// Logs `ev` at `lvl` and sends it to every subscriber as `self`.
  template <class Self>
  void emit(Self* self, const supervisor_event& ev, log::level lvl) {
    write_log(ev, lvl);
    for (auto& sub : subscribers_)
      self->send(sub, ev);
  }

  [[nodiscard]] const std::string& supervisor() const noexcept {
    return supervisor_;
  }

  [[nodiscard]] const std::string& source() const noexcept {
    return source_;
  }

  void clear() noexcept {
    subscribers_.clear();
  }

private:
  void write_log(const supervisor_event& ev, log::level lvl) const;

  std::string supervisor_;
  std::string source_; ///< "supervisor:<name>"
  std::vector<caf::actor> subscribers_;
};

} // namespace ghostnet::supervision::detail
