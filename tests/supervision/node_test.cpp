// The node: configuration from defaults, INI, environment and flags (in
// that order of precedence, every bad input named with its source), and the
// node's life cycle: start, stop in reverse order, start failures as typed
// errors, the ready file, and run() driven by real signals.

#include "supervisor_fixture.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <dirent.h>
#include <unistd.h>

#include "ghostnet/supervision/node.hpp"

using namespace ghostnet;
using namespace ghostnet::test;
using namespace std::chrono_literals;

namespace ghostnet::log {

inline std::ostream& boost_test_print_type(std::ostream& os, level x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, format x) {
  return os << to_string(x);
}

} // namespace ghostnet::log

namespace {

using env_map = std::map<std::string, std::string>;
using args_list = std::vector<std::string>;

/// A temporary directory, removed with its files at the end of the test.
struct temp_dir {
  std::string path;

  temp_dir() {
    char tmpl[] = "/tmp/ghostnet-node-test-XXXXXX";
    auto p = ::mkdtemp(tmpl);
    BOOST_REQUIRE(p != nullptr);
    path = p;
  }

  ~temp_dir() {
    for (auto& name : files())
      ::unlink((path + "/" + name).c_str());
    ::rmdir(path.c_str());
  }

  std::string write(const std::string& name, const std::string& content) {
    auto file = path + "/" + name;
    std::ofstream out{file};
    out << content;
    return file;
  }

  std::vector<std::string> files() const {
    std::vector<std::string> result;
    if (auto dir = ::opendir(path.c_str())) {
      while (auto entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..")
          result.push_back(name);
      }
      ::closedir(dir);
    }
    return result;
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// A parser that knows a service "echo", as later services declare theirs.
node_options_parser echo_parser() {
  node_options_parser parser;
  BOOST_REQUIRE(!parser.declare("echo.port", "7007", "TCP port of echo",
                                setting_type::uint16));
  BOOST_REQUIRE(!parser.declare("echo.greeting", "hello", "first line"));
  BOOST_REQUIRE(!parser.declare("echo.idle-timeout", "30s", "idle timeout",
                                setting_type::duration));
  BOOST_REQUIRE(!parser.declare("echo.enabled", "true", "serve echo",
                                setting_type::boolean));
  return parser;
}

/// Parses and requires an error; returns its rendering.
std::string parse_error(const node_options_parser& parser, const args_list& args,
                        const env_map& env = {}) {
  auto res = parser.parse(args, env);
  BOOST_REQUIRE_MESSAGE(!res, "parse unexpectedly succeeded");
  BOOST_TEST(is(res.error(), errc::invalid_configuration));
  return describe(res.error());
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

node_options quiet_options() {
  node_options opts;
  opts.scheduler_threads = 2;
  opts.log_level = log::level::error;
  opts.shutdown_timeout = 5s;
  return opts;
}

sv::child_spec failing_child(std::string id) {
  return sv::worker(std::move(id), [](caf::actor_system&, const caf::message&)
                                     -> caf::expected<caf::actor> {
    return make_error(errc::address_in_use, "bind", "127.0.0.1:1");
  });
}

/// A worker that refuses to stop until killed and reports the request.
sv::child_spec stubborn_child(std::string id,
                              std::shared_ptr<std::promise<void>> asked) {
  auto spec = sv::worker(std::move(id), [asked](caf::actor_system& sys,
                                                const caf::message&)
                                          -> caf::expected<caf::actor> {
    return sys.spawn([asked](caf::event_based_actor* self) -> caf::behavior {
      self->set_exit_handler([asked](caf::exit_msg&) {
        try {
          asked->set_value();
        } catch (const std::future_error&) {
          // asked twice: nothing more to report
        }
      });
      return {[](ping_atom) { return ping_atom::value; }};
    });
  });
  spec.shutdown = sv::shutdown_policy::after(5s);
  return spec;
}

} // namespace

// -- configuration ------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(node_configuration)

BOOST_AUTO_TEST_CASE(defaults_apply_when_no_source_sets_a_key) {
  auto opts = echo_parser().parse(args_list{}, env_map{});
  BOOST_REQUIRE(opts);
  BOOST_TEST(opts->scheduler_threads == 0u);
  BOOST_TEST(opts->log_level == log::level::info);
  BOOST_TEST(opts->log_format == log::format::text);
  BOOST_TEST(opts->log_file.empty());
  BOOST_TEST(format_duration(opts->shutdown_timeout) == "10s");
  BOOST_TEST(opts->ready_file.empty());
  BOOST_TEST(opts->host == "127.0.0.1");
  BOOST_TEST(*opts->get_uint16("echo.port") == 7007);
  BOOST_TEST(*opts->get_string("echo.greeting") == "hello");
  BOOST_TEST(!opts->help_requested);
}

BOOST_AUTO_TEST_CASE(ini_overrides_defaults_env_overrides_ini_flags_override_env) {
  temp_dir dir;
  auto ini = dir.write("node.ini", "# a comment\n"
                                   "; another comment\n"
                                   "log-level = warn\n"
                                   "shutdown-timeout = 3s\n"
                                   "host = 0.0.0.0\n"
                                   "\n"
                                   "[echo]\n"
                                   "port = 1000\n"
                                   "greeting = \"from ini\"\n"
                                   "[ghostnet]\n"
                                   "log_format = json\n");
  env_map env{{"GHOSTNET_LOG_LEVEL", "error"},
              {"GHOSTNET_ECHO_PORT", "2000"},
              {"GHOSTNET_HOST", "::1"},
              {"PATH", "/usr/bin"}};
  args_list args{"--config-file=" + ini, "--echo.port=3000", "--host",
                 "192.0.2.1"};
  auto opts = echo_parser().parse(args, env);
  BOOST_REQUIRE_MESSAGE(opts, describe(opts.error()));
  BOOST_TEST(opts->config_file == ini);
  BOOST_TEST(format_duration(opts->shutdown_timeout) == "3s"); // INI
  BOOST_TEST(opts->log_format == log::format::json);          // INI
  BOOST_TEST(*opts->get_string("echo.greeting") == "from ini"); // INI
  BOOST_TEST(opts->log_level == log::level::error);           // env
  BOOST_TEST(*opts->get_uint16("echo.port") == 3000);         // flag
  BOOST_TEST(opts->host == "192.0.2.1");                      // flag
  BOOST_TEST(format_duration(*opts->get_duration("echo.idle-timeout"))
             == "30s");
}

BOOST_AUTO_TEST_CASE(env_names_map_to_keys_by_the_documented_rule) {
  auto parser = echo_parser();
  BOOST_TEST(parser.key_of_env("GHOSTNET_LOG_LEVEL") == "log-level");
  BOOST_TEST(parser.key_of_env("GHOSTNET_ECHO_PORT") == "echo.port");
  BOOST_TEST(parser.key_of_env("GHOSTNET_ECHO_IDLE_TIMEOUT")
             == "echo.idle-timeout");
  BOOST_TEST(parser.key_of_env("GHOSTNET_ECHO_PROT") == "echo.prot");
  BOOST_TEST(parser.key_of_env("GHOSTNET_SOME_THING") == "some-thing");
  BOOST_TEST(parser.key_of_env("PATH").empty());
  // The config file may come from the environment too.
  temp_dir dir;
  auto ini = dir.write("env.ini", "[echo]\nport = 4242\n");
  auto opts = parser.parse(args_list{}, env_map{{"GHOSTNET_CONFIG_FILE", ini},
                                                {"GHOSTNET_ECHO_ENABLED", "no"}});
  BOOST_REQUIRE_MESSAGE(opts, describe(opts.error()));
  BOOST_TEST(*opts->get_uint16("echo.port") == 4242);
  BOOST_TEST(*opts->get_bool("echo.enabled") == false);
}

BOOST_AUTO_TEST_CASE(a_bad_number_names_the_flag_and_the_value) {
  auto err = parse_error(echo_parser(), {"--echo.port=abc"});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "command-line flag --echo.port"));
  BOOST_TEST(contains(err, "abc"));
  err = parse_error(echo_parser(), {"--echo.port", "70000"});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "70000"));
  err = parse_error(echo_parser(), {"--scheduler-threads=-2"});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "scheduler-threads"));
}

BOOST_AUTO_TEST_CASE(a_bad_duration_names_the_environment_variable) {
  auto err = parse_error(echo_parser(), {},
                         {{"GHOSTNET_SHUTDOWN_TIMEOUT", "-1s"}});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "environment variable GHOSTNET_SHUTDOWN_TIMEOUT"));
  BOOST_TEST(contains(err, "negative"));
  err = parse_error(echo_parser(), {}, {{"GHOSTNET_ECHO_IDLE_TIMEOUT", "10"}});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "missing unit"));
  // Zero is a valid duration but not a valid shutdown deadline.
  err = parse_error(echo_parser(), {"--shutdown-timeout=0s"});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "--shutdown-timeout"));
  BOOST_TEST(contains(err, "must be > 0"));
}

BOOST_AUTO_TEST_CASE(an_unknown_key_is_an_error_with_a_suggestion) {
  auto err = parse_error(echo_parser(), {"--log-levl=debug"});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "unknown option \\\"log-levl\\\""));
  BOOST_TEST(contains(err, "log-level"));
  err = parse_error(echo_parser(), {}, {{"GHOSTNET_ECHO_PROT", "1"}});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "GHOSTNET_ECHO_PROT"));
  BOOST_TEST(contains(err, "echo.port"));
  // A key no service declared is unknown even if well-formed.
  err = parse_error(node_options_parser{}, {"--echo.port=1"});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "unknown option"));
  err = parse_error(node_options_parser{}, {"stray"});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "stray"));
}

BOOST_AUTO_TEST_CASE(an_unknown_log_level_names_the_file_and_line) {
  temp_dir dir;
  auto ini = dir.write("bad-level.ini", "# line 1\n\nlog-level = loud\n");
  auto err = parse_error(echo_parser(), {"--config-file", ini});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "bad-level.ini"));
  BOOST_TEST(contains(err, "line 3"));
  BOOST_TEST(contains(err, "loud"));
  // A bad value is an error even where a later source overrides it.
  err = parse_error(echo_parser(), {"--config-file=" + ini, "--log-level=info"});
  BOOST_TEST(contains(err, "loud"));
}

BOOST_AUTO_TEST_CASE(a_missing_config_file_is_named) {
  auto err = parse_error(echo_parser(),
                         {"--config-file=/nonexistent/ghostnet.ini"});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "/nonexistent/ghostnet.ini"));
  BOOST_TEST(contains(err, "cannot open"));
}

BOOST_AUTO_TEST_CASE(a_malformed_ini_line_is_named_with_its_number) {
  temp_dir dir;
  auto ini = dir.write("bad.ini", "[echo]\nport = 1\nthis is not a setting\n");
  auto err = parse_error(echo_parser(), {"--config-file=" + ini});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "bad.ini"));
  BOOST_TEST(contains(err, "line 3"));
  BOOST_TEST(contains(err, "malformed line"));
  ini = dir.write("bad2.ini", "[echo\n");
  err = parse_error(echo_parser(), {"--config-file=" + ini});
  BOOST_TEST_INFO(err);
  BOOST_TEST(contains(err, "line 1"));
}

BOOST_AUTO_TEST_CASE(durations_parse_with_units) {
  BOOST_TEST(parse_duration("250ms")->count() == caf::timespan{250ms}.count());
  BOOST_TEST(parse_duration("10s")->count() == caf::timespan{10s}.count());
  BOOST_TEST(parse_duration("2min")->count() == caf::timespan{120s}.count());
  BOOST_TEST(parse_duration("1h")->count() == caf::timespan{3600s}.count());
  BOOST_TEST(parse_duration("15us")->count() == caf::timespan{15us}.count());
  BOOST_TEST(parse_duration("0s")->count() == caf::timespan{0}.count());
  for (auto bad : {"", "10", "1.5s", "-1s", "10 parsecs", "s", "10sec",
                   "99999999999999999999h"}) {
    BOOST_TEST_CONTEXT("input \"" << bad << "\"") {
      auto x = parse_duration(bad);
      BOOST_TEST(!x);
      if (!x)
        BOOST_TEST(is(x.error(), errc::invalid_configuration));
    }
  }
  for (auto x : {caf::timespan{250ms}, caf::timespan{10s},
                 caf::timespan{120s}, caf::timespan{1500us}})
    BOOST_TEST(parse_duration(format_duration(x))->count() == x.count());
  BOOST_TEST(format_duration(120s) == "2min");
}

BOOST_AUTO_TEST_CASE(help_is_requested_and_lists_every_key_with_its_default) {
  auto parser = echo_parser();
  auto opts = parser.parse(args_list{"--echo.port=abc", "--help"}, env_map{});
  BOOST_REQUIRE(opts);
  BOOST_TEST(opts->help_requested);
  auto text = parser.help_text("node");
  BOOST_TEST_INFO(text);
  BOOST_TEST(contains(text, "--echo.port=<port>"));
  BOOST_TEST(contains(text, "(default: 7007)"));
  BOOST_TEST(contains(text, "--shutdown-timeout=<duration>"));
  BOOST_TEST(contains(text, "(default: 10s)"));
}

BOOST_AUTO_TEST_CASE(short_help_and_choice_settings_name_the_source_and_the_choices) {
  auto parser = echo_parser();
  auto help = parser.parse(args_list{"-h"}, env_map{});
  BOOST_REQUIRE(help);
  BOOST_TEST(help->help_requested);
  BOOST_TEST(contains(parser.help_text("node"), "-h, --help"));
  BOOST_TEST(is(parser.declare_choice("echo.mode", "fast", "", {"slow"}),
                errc::invalid_configuration));
  BOOST_REQUIRE(!parser.declare_choice("echo.style", "raw", "framing",
                                       {"raw", "line", "length_prefixed"}));
  BOOST_TEST(contains(parser.help_text("node"), "--echo.style=<raw|line|length_prefixed>"));
  auto bad = parser.parse(args_list{"--echo.style=xml"}, env_map{});
  BOOST_REQUIRE(!bad);
  // describe() escapes the quotes around the value.
  BOOST_TEST(contains(describe(bad.error()), "command-line flag --echo.style: echo.style: "
                                             "\\\"xml\\\" is not one of raw, line, length_prefixed"),
             describe(bad.error()));
  auto from_env = parser.parse(args_list{}, env_map{{"GHOSTNET_ECHO_STYLE", "zip"}});
  BOOST_REQUIRE(!from_env);
  BOOST_TEST(contains(describe(from_env.error()), "GHOSTNET_ECHO_STYLE"), describe(from_env.error()));
  auto good = parser.parse(args_list{"--echo.style=line"}, env_map{});
  BOOST_REQUIRE(good);
  BOOST_TEST(*good->get_string("echo.style") == "line");
}

BOOST_AUTO_TEST_CASE(typed_getters_reject_undeclared_and_mistyped_settings) {
  node_options opts;
  opts.settings["a.port"] = "80";
  opts.settings["a.name"] = "x";
  BOOST_TEST(*opts.get_uint16("a.port") == 80);
  BOOST_TEST(!opts.get_uint16("a.name"));
  BOOST_TEST(contains(describe(opts.get_uint16("a.name").error()), "a.name"));
  BOOST_TEST(!opts.get_string("a.missing"));
  BOOST_TEST(!opts.get_duration("a.port"));
  BOOST_TEST(!opts.get_bool("a.name"));
}

BOOST_AUTO_TEST_CASE(declare_rejects_bad_keys_duplicates_and_bad_defaults) {
  node_options_parser parser;
  BOOST_TEST(!!parser.declare("Echo.Port", "1", ""));
  BOOST_TEST(!!parser.declare("a.b.c", "1", ""));
  BOOST_TEST(!!parser.declare("log-level", "info", ""));
  BOOST_TEST(!!parser.declare("x.port", "abc", "", setting_type::uint16));
  BOOST_TEST(!parser.declare("x.port", "80", "", setting_type::uint16));
  BOOST_TEST(!!parser.declare("x.port", "81", "", setting_type::uint16));
  BOOST_TEST(!parser.set_default("log-level", "warn"));
  BOOST_TEST(!!parser.set_default("log-level", "loud"));
  BOOST_TEST(parser.parse(args_list{}, env_map{})->log_level
             == log::level::warn);
}

BOOST_AUTO_TEST_CASE(validate_names_the_option_and_the_value) {
  node_options opts;
  opts.scheduler_threads = 5000;
  auto err = opts.validate();
  BOOST_TEST(is(err, errc::invalid_configuration));
  BOOST_TEST(contains(describe(err), "scheduler-threads: 5000"));
  opts = node_options{};
  opts.host = "";
  BOOST_TEST(contains(describe(opts.validate()), "host"));
  BOOST_TEST(!node_options{}.validate());
}

BOOST_AUTO_TEST_SUITE_END()

// -- life cycle ---------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(node_life_cycle)

BOOST_AUTO_TEST_CASE(stop_stops_children_in_reverse_order_within_the_deadline) {
  order_log order;
  node n{quiet_options()};
  auto err = n.start({sv::worker("first", order.start("first")),
                      sv::worker("second", order.start("second"))});
  BOOST_REQUIRE_MESSAGE(!err, describe(err));
  BOOST_REQUIRE(n.root());
  {
    std::lock_guard<std::mutex> guard{order.mtx};
    BOOST_TEST(order.started == (std::vector<std::string>{"first", "second"}));
  }
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(!n.stop(2s));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));
  BOOST_TEST(!n.root());
  std::lock_guard<std::mutex> guard{order.mtx};
  BOOST_TEST(order.stopped == (std::vector<std::string>{"second", "first"}));
}

BOOST_AUTO_TEST_CASE(a_child_that_fails_to_start_makes_start_fail_with_the_cause) {
  order_log order;
  node n{quiet_options()};
  auto err = n.start({sv::worker("ok", order.start("ok")), failing_child("bad"),
                      sv::worker("never", order.start("never"))});
  BOOST_TEST_INFO(describe(err));
  // The real cause: the address and the operation, not the service name.
  BOOST_TEST(is(err, errc::address_in_use));
  BOOST_TEST(context_of(err).endpoint == "127.0.0.1:1");
  BOOST_TEST(!n.root());
  // The child started before it was stopped again.
  std::lock_guard<std::mutex> guard{order.mtx};
  BOOST_TEST(order.stopped == (std::vector<std::string>{"ok"}));
  // Nothing after the failed child was started, nothing restarted.
  BOOST_TEST(order.started == (std::vector<std::string>{"ok"}));
}

BOOST_AUTO_TEST_CASE(a_child_that_dies_in_its_initialisation_fails_the_start_naming_it) {
  node n{quiet_options()};
  auto crashy = sv::worker("crashy", [](caf::actor_system& sys, const caf::message&)
                                       -> caf::expected<caf::actor> {
    // Spawned fine; its first behaviour throws.
    return sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
      self->set_exception_handler([](std::exception_ptr&) -> caf::error {
        return caf::sec::runtime_error;
      });
      throw std::runtime_error("init failed");
    });
  });
  auto err = n.start({crashy});
  BOOST_TEST_INFO(describe(err));
  BOOST_TEST(is(err, errc::start_failed));
  BOOST_TEST(contains(describe(err), "crashy"));
  BOOST_TEST(!n.root());
}

BOOST_AUTO_TEST_CASE(a_nested_supervisor_whose_child_fails_makes_start_fail) {
  sv::supervisor_spec svc;
  svc.name = "svc";
  svc.children.push_back(sv::worker("listener", start_test_worker()));
  svc.children.push_back(failing_child("acceptor"));
  node n{quiet_options()};
  auto err = n.start({sv::supervisor_child("svc", std::move(svc))});
  BOOST_TEST_INFO(describe(err));
  BOOST_TEST(is(err, errc::address_in_use));
  BOOST_TEST(context_of(err).endpoint == "127.0.0.1:1");
  BOOST_TEST(!n.root());
}

BOOST_AUTO_TEST_CASE(start_refuses_invalid_options_and_a_second_start) {
  auto bad = quiet_options();
  bad.start_timeout = caf::timespan{0};
  node n1{bad};
  BOOST_TEST(is(n1.start({}), errc::invalid_configuration));
  node n2{quiet_options()};
  BOOST_REQUIRE(!n2.start({}));
  BOOST_TEST(is(n2.start({}), errc::invalid_state));
  sv::child_spec nameless;
  node n3{quiet_options()};
  BOOST_TEST(is(n3.start({nameless}), errc::invalid_configuration));
}

BOOST_AUTO_TEST_CASE(the_ready_file_holds_the_bound_addresses_as_json) {
  temp_dir dir;
  auto opts = quiet_options();
  opts.ready_file = dir.path + "/ready.json";
  node n{opts};
  BOOST_REQUIRE(!n.start({}));
  auto err = n.write_ready_file({{"echo", "127.0.0.1:43125"},
                                 {"http \"x\"", "[::1]:8080"}});
  BOOST_REQUIRE_MESSAGE(!err, describe(err));
  BOOST_TEST(read_file(opts.ready_file)
             == "{\"echo\": \"127.0.0.1:43125\", "
                "\"http \\\"x\\\"\": \"[::1]:8080\"}\n");
  BOOST_TEST(dir.files() == std::vector<std::string>{"ready.json"});
  BOOST_TEST(!n.stop(2s));
  BOOST_TEST(dir.files().empty()); // not ready any more
}

BOOST_AUTO_TEST_CASE(run_stops_the_tree_on_sigterm_and_returns_zero) {
  order_log order;
  node n{quiet_options()};
  BOOST_REQUIRE(!n.start({sv::worker("first", order.start("first")),
                          sv::worker("second", order.start("second"))}));
  // The node blocked SIGTERM in this thread before any other started, so
  // the process-directed signal waits for run()'s sigtimedwait.
  std::thread sender{[] { ::kill(::getpid(), SIGTERM); }};
  auto rc = n.run();
  sender.join();
  BOOST_TEST(rc == 0);
  BOOST_TEST(!n.root());
  std::lock_guard<std::mutex> guard{order.mtx};
  BOOST_TEST(order.stopped == (std::vector<std::string>{"second", "first"}));
}

BOOST_AUTO_TEST_CASE(a_second_signal_during_the_stop_kills_the_tree_and_returns_130) {
  auto asked = std::make_shared<std::promise<void>>();
  auto asked_future = asked->get_future();
  auto opts = quiet_options();
  opts.shutdown_timeout = 20s;
  node n{opts};
  BOOST_REQUIRE(!n.start({stubborn_child("stubborn", asked)}));
  std::thread sender{[&] {
    ::kill(::getpid(), SIGTERM);
    // Once the stop is under way (the worker was asked), signal again.
    if (asked_future.wait_for(patience) == std::future_status::ready)
      ::kill(::getpid(), SIGINT);
  }};
  auto t0 = std::chrono::steady_clock::now();
  auto rc = n.run();
  sender.join();
  BOOST_TEST(rc == 130);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 4s)); // not 5 s
  BOOST_TEST(!n.root());
}

BOOST_AUTO_TEST_CASE(run_returns_3_when_the_stop_abandons_a_child_stuck_in_a_handler) {
  using block_atom = caf::atom_constant<caf::atom("block")>;
  auto opts = quiet_options();
  opts.shutdown_timeout = 200ms;
  node n{opts};
  auto stuck = sv::worker("stuck", [](caf::actor_system& sys, const caf::message&)
                                     -> caf::expected<caf::actor> {
    return sys.spawn([](caf::event_based_actor*) -> caf::behavior {
      return {[](block_atom, caf::actor& observer) {
        caf::anon_send(observer, block_atom::value);
        std::this_thread::sleep_for(1500ms); // stuck inside a handler
      }};
    });
  });
  BOOST_REQUIRE(!n.start({stuck}));
  caf::actor child;
  {
    caf::scoped_actor self{n.system()};
    self->request(n.root(), patience, which_children_atom::value)
      .receive([&](std::vector<sv::child_info>& xs) { child = xs.at(0).actor; },
               [&](caf::error& err) { BOOST_FAIL(describe(err)); });
    self->send(child, block_atom::value, caf::actor{self});
    self->receive([](block_atom) {}, // it is inside the handler
                  caf::after(patience) >> [] { BOOST_FAIL("never blocked"); });
  }
  std::thread sender{[] { ::kill(::getpid(), SIGTERM); }};
  auto t0 = std::chrono::steady_clock::now();
  auto rc = n.run();
  sender.join();
  BOOST_TEST(rc == node::exit_code_abandoned);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1400ms)); // not waiting for it
}

BOOST_AUTO_TEST_CASE(run_returns_nonzero_when_the_root_gives_up) {
  node n{quiet_options()};
  // Crashes soon after each start: the root's intensity (3 in 5 s) runs out.
  auto crasher = sv::worker("crasher", [](caf::actor_system& sys,
                                          const caf::message&)
                                         -> caf::expected<caf::actor> {
    auto hdl = sys.spawn(test_worker);
    // Soon after its start (a failure in the start itself fails the start).
    caf::delayed_anon_send(hdl, 20ms, die_atom::value,
                           make_error(errc::connection_reset, "read", "peer"));
    return hdl;
  });
  BOOST_REQUIRE(!n.start({crasher}));
  BOOST_TEST(n.run() == 1);
  BOOST_TEST(!n.root());
}

BOOST_AUTO_TEST_SUITE_END()
