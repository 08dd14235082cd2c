// A user's program against an installed ghostnet: a supervisor with one
// worker, asked for its children.
#include <iostream>

#include <caf/all.hpp>

#include <ghostnet/actors/error.hpp>
#include <ghostnet/supervision/supervisor.hpp>

int main() {
  caf::actor_system_config cfg;
  ghostnet::register_error_category(cfg);
  caf::actor_system sys{cfg};
  namespace sv = ghostnet::supervision;
  sv::supervisor_spec spec;
  spec.name = "consumer";
  spec.children.push_back(sv::worker("idle", [](caf::actor_system& sys, const caf::message&)
                                       -> caf::expected<caf::actor> {
    return sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
  }));
  auto sup = sv::spawn_supervisor(sys, spec);
  if (!sup) {
    std::cerr << ghostnet::describe(sup.error()) << "\n";
    return 1;
  }
  caf::scoped_actor self{sys};
  int rc = 1;
  self->request(*sup, std::chrono::seconds(10), ghostnet::count_children_atom::value)
    .receive([&](const sv::child_counts& n) { rc = n.active == 1 ? 0 : 1; },
             [&](caf::error&) { rc = 1; });
  self->request(*sup, std::chrono::seconds(10), ghostnet::shutdown_atom::value,
                caf::timespan{std::chrono::seconds(5)})
    .receive([&](ghostnet::supervision::shutdown_report& r) { rc = r.clean() ? 0 : 1; },
             [&](caf::error&) { rc = 1; });
  if (rc == 0)
    std::cout << "consumer ok\n";
  return rc;
}
