#include "ghostnet/supervision/detail/event_stream.hpp"

#include <algorithm>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/supervision/detail/exit_rules.hpp"

namespace ghostnet::supervision::detail {

event_stream::event_stream(std::string supervisor)
  : supervisor_(std::move(supervisor)), source_("supervisor:" + supervisor_) {
  // nop
}

bool event_stream::subscribe(caf::actor who) {
  if (!who
      || std::find(subscribers_.begin(), subscribers_.end(), who)
           != subscribers_.end())
    return false;
  subscribers_.push_back(std::move(who));
  return true;
}

void event_stream::unsubscribe(const caf::actor& who) {
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), who),
                     subscribers_.end());
}

bool event_stream::remove(const caf::actor_addr& who) {
  auto i = std::find_if(subscribers_.begin(), subscribers_.end(),
                        [&](const caf::actor& x) { return x.address() == who; });
  if (i == subscribers_.end())
    return false;
  subscribers_.erase(i);
  return true;
}

bool event_stream::wanted(log::level lvl) const noexcept {
  return !subscribers_.empty() || log::enabled(lvl);
}

log::level event_stream::level_of(event_kind kind, const caf::error& reason,
                                  bool routine_exits, bool reported) noexcept {
  switch (kind) {
    case event_kind::child_started:
    case event_kind::child_terminated:
      return log::level::debug;
    case event_kind::child_exited: {
      bool orderly = is_shutdown_exit(reason)
                     && !is(reason, errc::restart_intensity_exceeded);
      return orderly || routine_exits ? log::level::debug : log::level::warn;
    }
    case event_kind::start_failed:
      return reported ? log::level::debug : log::level::error;
    case event_kind::gave_up:
    case event_kind::child_abandoned:
      return log::level::error;
    default:
      return log::level::info;
  }
}

void event_stream::write_log(const supervisor_event& ev, log::level lvl) const {
  if (!log::enabled(lvl))
    return;
  // Only the fields that say something: no "reason=none", no "delay=0ms".
  if (ev.child.empty()) {
    if (ev.reason)
      log::write(lvl, source_, to_string(ev.kind), {log::kv("reason", ev.reason)});
    else
      log::write(lvl, source_, to_string(ev.kind));
  } else if (ev.kind == event_kind::restart_scheduled) {
    log::write(lvl, source_, to_string(ev.kind),
               {log::kv("child", ev.child), log::kv("reason", ev.reason),
                log::kv("restarts", ev.restarts), log::kv("delay", ev.delay)});
  } else if (ev.reason && ev.restarts > 0) {
    log::write(lvl, source_, to_string(ev.kind),
               {log::kv("child", ev.child), log::kv("reason", ev.reason),
                log::kv("restarts", ev.restarts)});
  } else if (ev.reason) {
    log::write(lvl, source_, to_string(ev.kind),
               {log::kv("child", ev.child), log::kv("reason", ev.reason)});
  } else if (ev.restarts > 0) {
    log::write(lvl, source_, to_string(ev.kind),
               {log::kv("child", ev.child), log::kv("restarts", ev.restarts)});
  } else {
    log::write(lvl, source_, to_string(ev.kind), {log::kv("child", ev.child)});
  }
}

} // namespace ghostnet::supervision::detail
