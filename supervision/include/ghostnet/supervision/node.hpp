#pragma once

// A ghostnet node: the actor system, its configuration, the signals and the
// root of the supervision tree, in one object that main() owns.
//
//   auto opts = ghostnet::parse_node_options(argc, argv, envp);
//   ghostnet::node n{*opts};
//   if (auto err = n.start({echo_service(*opts)})) { ...; return 1; }
//   return n.run(); // until SIGINT/SIGTERM, then an orderly stop
//
// Thread safety: construct, start, stop and run from one thread (main).
// `system()` and `root()` may be used from any thread once started.
//
// Signals: the constructor blocks SIGINT and SIGTERM in the calling thread
// before CAF starts its threads, which inherit the mask; run() takes them
// with sigtimedwait, so no code runs in a signal handler. Construct the node
// before starting threads of your own (or block the two signals in them), or
// the kernel may deliver a signal to a thread that does not block it. An
// inherited SIG_IGN disposition (shells give one to background jobs) is reset
// to SIG_DFL, because an ignored signal never reaches sigtimedwait. The mask
// is left as it is when the node is destroyed.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "ghostnet/supervision/child_spec.hpp"
#include "ghostnet/supervision/node_options.hpp"
#include "ghostnet/supervision/supervisor_actor.hpp"

namespace ghostnet {

class node {
public:
  /// Blocks SIGINT/SIGTERM, configures logging and starts the actor system
  /// (scheduler threads from `opts`, the middleman loaded with
  /// `middleman.max-consecutive-reads=1`). Never throws for bad options:
  /// `start` returns that error (invalid options or a log file that cannot
  /// be opened), and the system runs with CAF's defaults meanwhile.
  explicit node(node_options opts);

  /// Stops the tree (if still running, with `shutdown_timeout`) before the
  /// actor system ends. Actors the program spawned outside the tree must be
  /// gone by then: CAF's destructor waits for every actor.
  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  [[nodiscard]] caf::actor_system& system() noexcept {
    return *system_;
  }

  [[nodiscard]] const node_options& options() const noexcept {
    return options_;
  }

  /// Spawns the root supervisor ("root", one_for_one, intensity 3 / 5 s)
  /// with `services` as its children and waits, up to `start_timeout`, for
  /// the root's start handshake: every service confirmed its start, a
  /// supervisor service once its own children did (recursively).
  /// `subscribers` receive every supervisor_event of the root from the
  /// first. Errors: invalid options or log file (invalid_configuration), a
  /// bad spec (invalid_configuration, duplicate_child), a service that
  /// failed to start (its cause where that is a ghostnet error, e.g.
  /// address_in_use naming the address and errno; else start_failed naming
  /// the child), the timeout (timeout), a second call (invalid_state). A
  /// failure is logged once (`start_failed service=... err=...`); nothing is
  /// restarted, and the tree is stopped again.
  [[nodiscard]] caf::error start(std::vector<supervision::child_spec> services,
                                 std::vector<caf::actor> subscribers = {});

  /// The root supervisor; invalid before start and after stop.
  [[nodiscard]] supervision::supervisor_actor root() const {
    return root_;
  }

  /// Stops the tree in order: a shutdown request with `deadline` to the
  /// root, which stops its children in reverse start order and kills those
  /// still running at the deadline; children that survive even the kill
  /// (stuck in a handler) are abandoned and the result is errc::timeout. If
  /// the root does not answer within `deadline` + 1 s it is killed (its
  /// children with it), also errc::timeout. Removes the ready file. No-op
  /// when not running.
  [[nodiscard]] caf::error stop(caf::timespan deadline);

  /// Blocks until SIGINT or SIGTERM, then stops the tree with
  /// `shutdown_timeout`. Returns 0 after an orderly stop;
  /// `exit_code_abandoned` (3) if children had to be abandoned at the
  /// deadline (stuck in a handler; their ids and count are logged); 130 if
  /// a second signal arrived during the stop (the root is then killed at
  /// once); 1 if the stop missed its deadline, if the root supervisor exited
  /// on its own with an error (e.g. it gave up: restart intensity exceeded;
  /// the reason is logged) or if the node was not started.
  int run();

  /// run()'s exit code when the stop had to abandon children.
  static constexpr int exit_code_abandoned = 3;

  /// Writes `bound` (service name → "host:port") as one JSON object to
  /// `options().ready_file`, atomically (a temporary file in the same
  /// directory, then rename), so that a script waiting for the file never
  /// reads half of it. Does nothing if no ready file is configured.
  [[nodiscard]] caf::error
  write_ready_file(const std::map<std::string, std::string>& bound);

private:
  struct root_watch;

  enum class stop_outcome {
    stopped,
    abandoned, ///< stopped, but children were abandoned at the deadline
    missed_deadline,
    interrupted,
    not_running
  };

  stop_outcome stop_tree(caf::timespan deadline, bool watch_signals);
  caf::error await_started(caf::scoped_actor& events);
  void remove_ready_file();

  node_options options_;
  caf::error init_error_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  supervision::supervisor_actor root_;
  std::shared_ptr<root_watch> watch_;
  bool wrote_ready_file_ = false;
};

} // namespace ghostnet
