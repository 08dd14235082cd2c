#pragma once

// The supervisor's children: one record per child, in start order, with the
// instance (generation) that each exit is matched against. No actor code:
// the supervisor actor is a shell around this table.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

#include "ghostnet/supervision/child_spec.hpp"
#include "ghostnet/supervision/detail/restart_intensity.hpp"
#include "ghostnet/supervision/supervisor_messages.hpp"

namespace ghostnet::supervision::detail {

struct child_record {
  uint64_t key = 0; ///< increases with each added child: keys order the table
  std::shared_ptr<const child_spec> spec; ///< dynamic children share one
  caf::message args;  ///< start arguments (released after a temporary starts)
  caf::actor actor;   ///< the live instance, if any
  child_state state = child_state::stopped;
  uint64_t restarts = 0;        ///< automatic restarts
  uint64_t manual_restarts = 0; ///< restart_child requests
  caf::error last_exit;
  time_point started_at;
  uint32_t consecutive_failures = 0; ///< for the backoff delay
  /// The instance: bumped at each start. An exit or a start confirmation
  /// carries the generation it belongs to; an old one is stale.
  uint64_t generation = 0;
  /// While `restarting`: the child whose scheduled restart brings this one
  /// back (itself, or the child whose exit restarts the whole group).
  uint64_t restart_leader = 0;
  /// Only for a leader: the children restarted with it, in start order, and
  /// the token of its restart timer (0 = none scheduled).
  std::vector<uint64_t> restart_group;
  uint64_t restart_token = 0;
};

class child_table {
public:
  /// `dynamic`: simple_one_for_one (ids are "<template>#<key>", made when
  /// shown, so a connection supervisor stores no string per child).
  explicit child_table(bool dynamic) noexcept : dynamic_(dynamic) {
    // nop
  }

  child_record& add(std::shared_ptr<const child_spec> spec, caf::message args);

  void remove(uint64_t key);

  [[nodiscard]] child_record* find(uint64_t key);
  [[nodiscard]] child_record* find(const std::string& id);
  [[nodiscard]] child_record* find(const caf::actor_addr& instance);

  /// Records that `c` runs as `instance` (a new generation).
  void bind(child_record& c, caf::actor instance);

  /// Forgets the instance of `c` (it exited, or was given up on).
  void unbind(child_record& c);

  [[nodiscard]] std::string id_of(const child_record& c) const;

  /// Keys in start order; from `first` on (inclusive) if given.
  [[nodiscard]] std::vector<uint64_t> keys(std::optional<uint64_t> first = {}) const;

  [[nodiscard]] size_t size() const noexcept {
    return records_.size();
  }

  [[nodiscard]] bool empty() const noexcept {
    return records_.empty();
  }

  /// Start order (which_children's order).
  auto begin() {
    return records_.begin();
  }
  auto end() {
    return records_.end();
  }
  auto begin() const {
    return records_.begin();
  }
  auto end() const {
    return records_.end();
  }

  void clear();

private:
  bool dynamic_;
  uint64_t next_key_ = 1;
  std::map<uint64_t, child_record> records_;
  std::unordered_map<std::string, uint64_t> by_id_; ///< static children
  std::unordered_map<caf::actor_addr, uint64_t> by_instance_;
  std::string template_id_;
};

} // namespace ghostnet::supervision::detail
