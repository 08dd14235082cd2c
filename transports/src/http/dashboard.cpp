// The dashboard actor and its routes (dashboard.hpp). The actor walks the
// supervision tree with which_children requests, renders it as JSON and
// pushes it to every open page when it changed; it carries out the pages'
// actions on the tree it walked last.

#include "ghostnet/transports/http/dashboard.hpp"

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "dashboard_page.hpp"
#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/actors/log.hpp"
#include "ghostnet/actors/metrics.hpp"
#include "ghostnet/supervision/supervisor_messages.hpp"
#include "ghostnet/transports/websocket/websocket_handler.hpp"

namespace ghostnet::transports::http {

namespace {

namespace sv = ghostnet::supervision;
namespace ws = ghostnet::transports::ws;

constexpr caf::atom_value registry_name = caf::atom("gndashbrd");
using tick_atom = caf::atom_constant<caf::atom("dashtick")>;

/// A supervisor's children beyond this many are summed up ("+N more"): a
/// connections supervisor may have ten thousand.
constexpr size_t shown_children = 40;

struct tree_node {
  std::string id;
  std::string kind = "supervisor";
  std::string state = "running";
  std::string last_exit;
  uint64_t restarts = 0;
  size_t more = 0; ///< children not shown
  caf::actor actor;
  std::vector<tree_node> children;
};

struct walk {
  tree_node root;
  size_t pending = 0;
};

struct dashboard_state {
  std::set<ws::websocket_actor> pages;
  tree_node tree; ///< the last complete walk
  std::string last_json;
  bool walking = false;
  static inline const char* name = "dashboard";
};

using dashboard_actor = caf::stateful_actor<dashboard_state>;

void render(std::string& out, const tree_node& n, const std::string& path) {
  out += "{\"id\":";
  append_json_string(out, n.id);
  out += ",\"path\":";
  append_json_string(out, path);
  out += ",\"kind\":\"" + n.kind + "\",\"state\":\"" + n.state
         + "\",\"restarts\":" + std::to_string(n.restarts) + ",\"more\":"
         + std::to_string(n.more) + ",\"last_exit\":";
  append_json_string(out, n.last_exit);
  out += ",\"children\":[";
  for (size_t i = 0; i < n.children.size(); ++i) {
    if (i > 0)
      out += ',';
    render(out, n.children[i], path + "/" + n.children[i].id);
  }
  out += "]}";
}

std::string state_json(const tree_node& tree) {
  auto& m = metrics::global();
  std::string out = "{\"type\":\"state\",\"log_level\":\"";
  out += log::to_string(log::min_level());
  out += "\",\"metrics\":{\"connections_open\":"
         + std::to_string(m.gauge("ghostnet_connections_open", "").value())
         + ",\"bytes_in\":"
         + std::to_string(m.counter("ghostnet_bytes_received_total", "").value())
         + ",\"bytes_out\":"
         + std::to_string(m.counter("ghostnet_bytes_sent_total", "").value())
         + "},\"tree\":";
  render(out, tree, tree.id);
  return out + "}";
}

void push(dashboard_actor* self, const std::string& json) {
  for (auto& page : self->state.pages)
    self->send(page, ws::text_atom::value, json);
}

void finished(dashboard_actor* self, const std::shared_ptr<walk>& w) {
  self->state.walking = false;
  self->state.tree = std::move(w->root);
  auto json = state_json(self->state.tree);
  if (json != self->state.last_json) {
    self->state.last_json = json;
    push(self, json);
  }
}

/// Asks `sup` for its children into `into`, then each supervisor child for
/// its own; `w` completes once every answer (or error) is in.
void walk_supervisor(dashboard_actor* self, const sv::supervisor_actor& sup,
                     tree_node* into, std::shared_ptr<walk> w) {
  ++w->pending;
  self->request(sup, std::chrono::seconds(2), which_children_atom::value)
    .then(
      [self, into, w](std::vector<sv::child_info>& kids) {
        auto shown = std::min(kids.size(), shown_children);
        into->more = kids.size() - shown;
        into->children.reserve(shown); // the pointers below stay valid
        for (size_t i = 0; i < shown; ++i) {
          auto& k = kids[i];
          tree_node n;
          n.id = k.id;
          n.kind = sv::to_string(k.kind);
          n.state = sv::to_string(k.state);
          n.restarts = k.restarts;
          n.last_exit = k.last_exit ? describe(k.last_exit) : std::string{};
          n.actor = k.actor;
          into->children.push_back(std::move(n));
        }
        for (auto& child : into->children)
          if (child.kind == "supervisor" && child.actor)
            walk_supervisor(self, caf::actor_cast<sv::supervisor_actor>(child.actor),
                            &child, w);
        if (--w->pending == 0)
          finished(self, w);
      },
      [self, w](caf::error&) {
        if (--w->pending == 0)
          finished(self, w);
      });
}

/// The node at `path` ("root/workers/crashy-1") in the last walk, and its
/// parent (null for the root).
std::pair<const tree_node*, const tree_node*> find(const tree_node& root,
                                                   const std::string& path) {
  std::vector<std::string> parts;
  std::istringstream in{path};
  for (std::string part; std::getline(in, part, '/');)
    parts.push_back(part);
  if (parts.empty() || parts[0] != root.id)
    return {nullptr, nullptr};
  const tree_node* parent = nullptr;
  const tree_node* at = &root;
  for (size_t i = 1; i < parts.size() && at != nullptr; ++i) {
    parent = at;
    at = nullptr;
    for (auto& c : parent->children)
      if (c.id == parts[i])
        at = &c;
  }
  return {at, parent};
}

void reply(dashboard_actor* self, const ws::websocket_actor& page, bool ok,
           const std::string& text) {
  std::string out = ok ? "{\"type\":\"result\",\"ok\":true,\"text\":"
                       : "{\"type\":\"result\",\"ok\":false,\"text\":";
  append_json_string(out, text);
  self->send(page, ws::text_atom::value, out + "}");
}

/// "kill <path>", "restart <path>", "terminate <path>", "drain <path>",
/// "log-level <level>".
void act(dashboard_actor* self, const ws::websocket_actor& page, const std::string& line) {
  auto space = line.find(' ');
  auto verb = line.substr(0, space);
  auto arg = space == std::string::npos ? std::string{} : line.substr(space + 1);
  log::warn("dashboard", "action", {log::kv("action", verb), log::kv("target", arg)});
  if (verb == "log-level") {
    auto lvl = log::parse_level(arg);
    if (!lvl)
      return reply(self, page, false, "not a level: " + arg);
    log::set_min_level(*lvl);
    return reply(self, page, true, "log level " + arg);
  }
  auto [node, parent] = find(self->state.tree, arg);
  if (node == nullptr || !node->actor)
    return reply(self, page, false, "no running child " + arg);
  if (verb == "kill") {
    caf::anon_send_exit(node->actor, caf::exit_reason::kill);
    return reply(self, page, true, "killed " + arg);
  }
  if (verb == "drain") {
    caf::anon_send(node->actor, drain_atom::value);
    return reply(self, page, true, "drain sent to " + arg);
  }
  if (parent == nullptr || (verb != "restart" && verb != "terminate"))
    return reply(self, page, false, "cannot " + verb + " " + arg);
  auto sup = caf::actor_cast<sv::supervisor_actor>(parent->actor);
  auto done = [self, page, arg, verb](bool ok, const std::string& why) {
    reply(self, page, ok, (ok ? verb + " " : verb + " failed: ") + arg + why);
  };
  if (verb == "restart")
    self->request(sup, std::chrono::seconds(10), restart_child_atom::value, node->id)
      .then([done](caf::actor&) { done(true, ""); },
            [done](caf::error& err) { done(false, " (" + describe(err) + ")"); });
  else
    self->request(sup, std::chrono::seconds(10), terminate_child_atom::value, node->id)
      .then([done](caf::ok_atom) { done(true, ""); },
            [done](caf::error& err) { done(false, " (" + describe(err) + ")"); });
}

caf::behavior dashboard(dashboard_actor* self, dashboard_options opts) {
  self->set_down_handler([self](caf::down_msg& msg) {
    for (auto i = self->state.pages.begin(); i != self->state.pages.end(); ++i)
      if (i->address() == msg.source) {
        self->state.pages.erase(i);
        return;
      }
  });
  self->send(self, tick_atom::value);
  return {
    [self, opts](tick_atom) {
      self->delayed_send(self, opts.refresh, tick_atom::value);
      auto root = opts.root->get();
      if (!root || self->state.walking || self->state.pages.empty())
        return;
      self->state.walking = true;
      auto w = std::make_shared<walk>();
      w->root.id = "root";
      w->root.actor = caf::actor_cast<caf::actor>(root);
      walk_supervisor(self, root, &w->root, w);
    },
    [self](opened_atom, ws::websocket_actor& page, connection_info&) {
      self->monitor(page);
      self->state.pages.insert(page);
      if (!self->state.last_json.empty())
        self->send(page, ws::text_atom::value, self->state.last_json);
    },
    [self](ws::text_atom, ws::websocket_actor& page, std::string& line) {
      act(self, page, line);
    },
    [](ws::binary_atom, ws::websocket_actor&, std::vector<char>&) {},
    [self](closed_atom, ws::websocket_actor& page, ws::ws_close&) {
      self->state.pages.erase(page);
    },
  };
}

} // namespace

supervision::child_spec dashboard_child(dashboard_options opts) {
  return supervision::worker(
    "dashboard", [opts](caf::actor_system& sys, const caf::message&) {
      auto self = sys.spawn(dashboard, opts);
      sys.registry().put(registry_name, self);
      return caf::expected<caf::actor>{self};
    });
}

caf::error add_dashboard(http_router& router, caf::actor_system& sys,
                         dashboard_options opts) {
  if (auto err = router.add("GET", "/", [](http_request&, http_response& res) {
        res.headers.set("Content-Type", "text/html; charset=utf-8");
        res.headers.set("Cache-Control", "no-store");
        res.body = detail::dashboard_page;
      }))
    return err;
  websocket_route live;
  live.make_handler = ws::websocket_actor_handler(
    [&sys] { return sys.registry().get<caf::actor>(registry_name); });
  live.accept = [guard = opts.guard](const http_request& req, http_response& res) {
    // A browser cannot set headers on a WebSocket: the token may come as
    // ?token=... instead.
    http_request checked = req;
    auto at = req.query.find("token=");
    if (at != std::string::npos && (at == 0 || req.query[at - 1] == '&'))
      checked.headers.set("Authorization",
                          "Bearer " + req.query.substr(at + 6, req.query.find('&', at) - at - 6));
    return admin_refusal(guard, checked, res) == 0;
  };
  return router.add_websocket("/dashboard/live", live);
}

} // namespace ghostnet::transports::http
