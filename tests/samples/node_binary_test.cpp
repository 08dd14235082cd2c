// ghostnet-node (and the chat sample) as a process: ready file, echo over
// TCP and TLS, HTTP, WebSocket /echo and /chat, with real peers (nc,
// openssl s_client, curl, python3-websockets), configuration from flags and environment,
// bad input, SIGTERM drain.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "../run_command.hpp"
#include "../transports/tcp_fixture.hpp"

extern char** environ;

using namespace ghostnet::test;

namespace {

/// A child process with its stdout+stderr in a file.
struct process {
  pid_t pid = -1;
  std::string log_path;

  process(std::vector<std::string> args, std::vector<std::string> env_extra = {},
          std::string binary = GHOSTNET_NODE_BINARY) {
    char tmpl[] = "/tmp/ghostnet-node-test-XXXXXX";
    int fd = mkstemp(tmpl);
    BOOST_REQUIRE(fd >= 0);
    log_path = tmpl;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    std::vector<char*> argv;
    args.insert(args.begin(), std::move(binary));
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::string{*e}.rfind("GHOSTNET_", 0) != 0)
        env_strings.emplace_back(*e);
    for (auto& e : env_extra)
      env_strings.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_strings)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    BOOST_REQUIRE(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fd);
  }

  ~process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    ::unlink(log_path.c_str());
  }

  /// Sends `sig` while the process runs (never to pid -1 or 0: that would
  /// signal every process we may signal, or our own group).
  void signal(int sig) {
    if (pid > 0)
      ::kill(pid, sig);
  }

  /// Waits for the exit status (bounded); -1 on timeout.
  int wait_exit(std::chrono::seconds within = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  std::string output() const {
    std::ifstream in{log_path};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

std::string temp_path(const char* name) {
  return "/tmp/ghostnet-" + std::to_string(getpid()) + "-" + name;
}

/// Flags every test passes: the TLS echo and HTTP on free ports, and a data
/// directory of the test's own (removed by the destructor).
struct node_dirs {
  std::string data = temp_path("data");

  node_dirs() {
    std::system(("rm -rf '" + data + "'").c_str());
  }

  ~node_dirs() {
    std::system(("rm -rf '" + data + "'").c_str());
  }

  std::vector<std::string> args(std::vector<std::string> more) const {
    more.push_back("--tls-echo.port=0");
    more.push_back("--http.port=0");
    more.push_back("--data-dir=" + data);
    return more;
  }
};

/// Reads {"echo": "127.0.0.1:PORT", ...} from the ready file, once it
/// exists, and returns the address of `service`.
ghostnet::transports::endpoint wait_ready(const std::string& path,
                                          const std::string& service = "echo") {
  std::string content;
  BOOST_REQUIRE(eventually([&] {
    std::ifstream in{path};
    std::getline(in, content);
    return content.find('}') != std::string::npos;
  }, std::chrono::seconds(20)));
  auto key = "\"" + service + "\": \"";
  auto start = content.find(key);
  BOOST_REQUIRE_MESSAGE(start != std::string::npos, content);
  start += key.size();
  auto end = content.find('"', start);
  auto ep = ghostnet::transports::parse_endpoint(content.substr(start, end - start));
  BOOST_REQUIRE(ep);
  return *ep;
}

} // namespace

BOOST_AUTO_TEST_CASE(node_serves_echo_writes_its_ready_file_and_stops_cleanly_on_sigterm) {
  auto ready = temp_path("ready.json");
  node_dirs dirs;
  process node{dirs.args({"--echo.port=0", "--ready-file=" + ready})};
  auto ep = wait_ready(ready);
  // netcat as the peer
  auto out = run_command("printf 'ping from nc\\n' | nc -N 127.0.0.1 " + std::to_string(ep.port),
                         10).output;
  BOOST_TEST(out == "ping from nc\n");
  // A client with bytes in flight when SIGTERM arrives gets back, intact and
  // in order, everything the node had read (and so echoed) before it began
  // draining; what the node had not read yet is not echoed.
  client c{ep};
  auto data = pattern(1 << 20);
  std::thread writer([&] { c.send_all(data); c.shutdown_write(); });
  auto first = c.read_exactly(1);
  node.signal(SIGTERM);
  auto rest = c.read_exactly(data.size() - 1);
  writer.join();
  auto got = first + rest;
  BOOST_TEST(got.size() >= 1u);
  BOOST_TEST((got == data.substr(0, got.size())));
  BOOST_TEST(node.wait_exit() == 0, node.output());
  BOOST_TEST(::access(ready.c_str(), F_OK) != 0); // the ready file is removed
}

BOOST_AUTO_TEST_CASE(node_takes_its_port_from_the_environment) {
  auto ready = temp_path("ready-env.json");
  node_dirs dirs;
  process node{dirs.args({"--ready-file=" + ready}), {"GHOSTNET_ECHO_PORT=0"}};
  auto ep = wait_ready(ready);
  BOOST_TEST(ep.port != 7007);
  client c{ep};
  BOOST_REQUIRE(c.send_all("env"));
  BOOST_TEST(c.read_exactly(3) == "env");
  node.signal(SIGINT);
  BOOST_TEST(node.wait_exit() == 0, node.output());
}

BOOST_AUTO_TEST_CASE(bad_configuration_is_refused_with_the_source_named) {
  process bad_port{{"--echo.port=abc"}};
  BOOST_TEST(bad_port.wait_exit() == 2);
  BOOST_TEST(bad_port.output().find("echo.port") != std::string::npos, bad_port.output());
  process unknown{{"--echo.prot=1"}};
  BOOST_TEST(unknown.wait_exit() == 2);
  BOOST_TEST(unknown.output().find("echo.prot") != std::string::npos, unknown.output());
  node_dirs dirs;
  process bad_framing{dirs.args({"--echo.framing=zip", "--echo.port=0"})};
  BOOST_TEST(bad_framing.wait_exit() == 2);
  // The value, the key, the source and the choices.
  BOOST_TEST(bad_framing.output().find("command-line flag --echo.framing: echo.framing: "
                                       "\\\"zip\\\" is not one of raw, line, length_prefixed")
               != std::string::npos, bad_framing.output());
  process short_help{{"-h"}};
  BOOST_TEST(short_help.wait_exit() == 0);
  BOOST_TEST(short_help.output().find("--echo.framing=<raw|line|length_prefixed>")
               != std::string::npos, short_help.output());
  // A certificate file that is not there: refused at start, file named.
  process no_cert{dirs.args({"--echo.port=0", "--tls-echo.certificate=/nonexistent/node.pem",
                             "--tls-echo.private-key=/nonexistent/node.key"})};
  BOOST_TEST(no_cert.wait_exit() == 2);
  BOOST_TEST(no_cert.output().find("/nonexistent/node.pem") != std::string::npos,
             no_cert.output());
  // A log file in a directory that is not there: refused with the other
  // options (exit 2), the directory not created.
  process bad_log{dirs.args({"--echo.port=0", "--log-file=/tmp/ghostnet-no-such-dir/x/node.log"})};
  BOOST_TEST(bad_log.wait_exit() == 2);
  BOOST_TEST(bad_log.output().find("command-line flag --log-file: log-file: ") != std::string::npos,
             bad_log.output());
  BOOST_TEST(::access("/tmp/ghostnet-no-such-dir", F_OK) != 0);
  process half{dirs.args({"--echo.port=0", "--tls-echo.certificate=/x.pem"})};
  BOOST_TEST(half.wait_exit() == 2);
  BOOST_TEST(half.output().find("tls-echo.private-key") != std::string::npos, half.output());
}

BOOST_AUTO_TEST_CASE(node_serves_tls_echo_with_a_self_signed_certificate_made_on_first_run) {
  auto ready = temp_path("ready-tls.json");
  node_dirs dirs;
  auto cert = dirs.data + "/tls/self-signed.crt";
  for (auto expected_event : {"self_signed_certificate_created",
                              "self_signed_certificate_reused"}) {
    process node{dirs.args({"--echo.port=0", "--ready-file=" + ready})};
    auto ep = wait_ready(ready, "tls-echo");
    // openssl s_client verifies the node with the certificate it made.
    auto out = run_command("(printf 'tls ping\\n'; sleep 1) | openssl s_client -brief"
                           " -connect 127.0.0.1:" + std::to_string(ep.port)
                           + " -servername localhost -verify_return_error -CAfile '" + cert
                           + "'", 10).output;
    BOOST_TEST(out.find("Verification: OK") != std::string::npos, out);
    BOOST_TEST(out.find("tls ping") != std::string::npos, out);
    node.signal(SIGTERM);
    BOOST_TEST(node.wait_exit() == 0, node.output());
    BOOST_TEST(node.output().find(expected_event) != std::string::npos, node.output());
  }
}

BOOST_AUTO_TEST_CASE(node_serves_http_hello_with_keep_alive) {
  auto ready = temp_path("ready-http.json");
  node_dirs dirs;
  process node{dirs.args({"--echo.port=0", "--ready-file=" + ready})};
  auto ep = wait_ready(ready, "http");
  auto url = "http://127.0.0.1:" + std::to_string(ep.port) + "/hello";
  auto out = run_command("curl -s --http1.1 -w '[%{http_code} %{num_connects}]' " + url
                         + " " + url, 10).output;
  BOOST_TEST(out == "hello from ghostnet\n[200 1]hello from ghostnet\n[200 0]", out);
  auto missing = run_command("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:"
                             + std::to_string(ep.port) + "/nope", 10).output;
  BOOST_TEST(missing == "404");
  // HTTP/2 with prior knowledge on the same port.
  auto h2 = run_command("curl -s --http2-prior-knowledge -w '[%{http_version}]' " + url, 10).output;
  BOOST_TEST(h2 == "hello from ghostnet\n[2]", h2);
  node.signal(SIGTERM);
  BOOST_TEST(node.wait_exit() == 0, node.output());
}

BOOST_AUTO_TEST_CASE(node_serves_a_static_directory_and_refuses_a_root_that_is_not_one) {
  auto ready = temp_path("ready-static.json");
  node_dirs dirs;
  auto root = temp_path("static");
  run_command("mkdir -p '" + root + "' && printf 'file body' > '" + root + "/a.txt'");
  process node{dirs.args({"--echo.port=0", "--http.root=" + root, "--ready-file=" + ready})};
  auto ep = wait_ready(ready, "http");
  auto out = run_command("curl -s http://127.0.0.1:" + std::to_string(ep.port)
                         + "/static/a.txt", 10).output;
  BOOST_TEST(out == "file body", out);
  node.signal(SIGTERM);
  BOOST_TEST(node.wait_exit() == 0, node.output());
  run_command("rm -rf '" + root + "'");
  process bad{dirs.args({"--echo.port=0", "--http.root=/nonexistent/ghostnet"})};
  BOOST_TEST(bad.wait_exit() == 2, bad.output());
  BOOST_TEST(bad.output().find("is not a directory") != std::string::npos, bad.output());
}

BOOST_AUTO_TEST_CASE(a_port_in_use_fails_the_start_once_with_the_address_and_exit_code_1) {
  // Hold a port on loopback, then ask the node to bind it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  BOOST_REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof(addr);
  BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  auto port = std::to_string(ntohs(addr.sin_port));
  node_dirs dirs;
  process busy{dirs.args({"--echo.port=" + port})};
  BOOST_TEST(busy.wait_exit() == 1);
  ::close(fd);
  auto out = busy.output();
  BOOST_TEST_INFO(out);
  // One error line, with the real cause: the address and the OS error.
  size_t errors = 0;
  for (size_t at = out.find(" ERROR "); at != std::string::npos;
       at = out.find(" ERROR ", at + 1))
    ++errors;
  BOOST_TEST(errors == 1u);
  BOOST_TEST(out.find("address_in_use") != std::string::npos);
  BOOST_TEST(out.find("127.0.0.1:" + port) != std::string::npos);
  BOOST_TEST(out.find("errno=98") != std::string::npos);
  BOOST_TEST(out.find("service=echo") != std::string::npos);
  // Nothing was restarted, before or after the node began to stop.
  BOOST_TEST(out.find("child_restarted") == std::string::npos);
  BOOST_TEST(out.find("\\\\\\\"") == std::string::npos); // no nested escaping
}

BOOST_AUTO_TEST_CASE(node_serves_websocket_echo_and_chat_to_python_websockets) {
  auto ready = temp_path("ready-ws.json");
  node_dirs dirs;
  process node{dirs.args({"--echo.port=0", "--ws.max-message=1000", "--ready-file=" + ready})};
  auto ep = wait_ready(ready, "http");
  auto base = "ws://127.0.0.1:" + std::to_string(ep.port);
  // /echo answers in kind; a message above --ws.max-message is closed
  // with 1009. /chat: what one member says, both hear.
  auto script = temp_path("ws-node.py");
  std::ofstream{script} << R"(
import asyncio, sys, websockets
async def main(base):
    async with websockets.connect(base + "/echo") as ws:
        await ws.send("echo me")
        print("echo:", await ws.recv())
        await ws.send("y" * 2000)
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed:
            print("closed:", ws.close_code)
    async with websockets.connect(base + "/chat") as a, \
               websockets.connect(base + "/chat") as b:
        for _ in range(50):  # until a is in the room when b speaks
            await b.send("b here")
            try:
                if await asyncio.wait_for(a.recv(), 0.1) == "b here":
                    break
            except asyncio.TimeoutError:
                pass
        await a.send("hi all")
        async def until(ws, want):
            while (m := await ws.recv()) != want:
                pass
            return m
        print("a heard:", await asyncio.wait_for(until(a, "hi all"), 10),
              "b heard:", await asyncio.wait_for(until(b, "hi all"), 10))
asyncio.run(main(sys.argv[1]))
)";
  auto out = run_command("/usr/bin/python3 " + script + " " + base).output;
  BOOST_TEST(out.find("echo: echo me") != std::string::npos, out);
  BOOST_TEST(out.find("closed: 1009") != std::string::npos, out);
  BOOST_TEST(out.find("a heard: hi all b heard: hi all") != std::string::npos, out);
  ::unlink(script.c_str());
  node.signal(SIGTERM);
  BOOST_TEST(node.wait_exit() == 0, node.output());
}

BOOST_AUTO_TEST_CASE(the_chat_sample_serves_its_page_and_room_and_stops_on_sigint) {
  auto ready = temp_path("ready-chat.json");
  process chat{{"--chat.port=0", "--ready-file=" + ready}, {}, GHOSTNET_CHAT_BINARY};
  auto ep = wait_ready(ready, "chat");
  auto port = std::to_string(ep.port);
  auto page = run_command("curl -s http://127.0.0.1:" + port + "/", 10).output;
  BOOST_TEST(page.find("new WebSocket") != std::string::npos, page);
  auto script = temp_path("chat-sample.py");
  std::ofstream{script} << R"(
import asyncio, sys, websockets
async def main(uri):
    async with websockets.connect(uri) as ws:
        await ws.send("hello")
        print("heard", await asyncio.wait_for(ws.recv(), 10))
asyncio.run(main(sys.argv[1]))
)";
  auto out = run_command("/usr/bin/python3 " + script + " ws://127.0.0.1:" + port + "/chat").output;
  BOOST_TEST(out.find("heard hello") != std::string::npos, out);
  ::unlink(script.c_str());
  chat.signal(SIGINT);
  BOOST_TEST(chat.wait_exit() == 0, chat.output());
}

BOOST_AUTO_TEST_CASE(check_config_prints_every_value_with_its_source_and_the_docs_list_every_key) {
  node_dirs dirs;
  auto ini = temp_path("check.ini");
  std::ofstream{ini} << "[echo]\nport = 7100\n";
  process check{dirs.args({"--config-file=" + ini, "--check-config"}),
                {"GHOSTNET_LOG_LEVEL=warn"}};
  BOOST_TEST(check.wait_exit() == 0, check.output());
  auto out = check.output();
  BOOST_TEST(out.find("echo.port = 7100  (config file \"" + ini + "\" line 2)")
               != std::string::npos, out);
  BOOST_TEST(out.find("log-level = warn  (environment variable GHOSTNET_LOG_LEVEL)")
               != std::string::npos, out);
  BOOST_TEST(out.find("http.port = 0  (command-line flag --http.port)") != std::string::npos, out);
  BOOST_TEST(out.find("echo.framing = raw  (default)") != std::string::npos, out);
  ::unlink(ini.c_str());
  // A bad value is still an error, exit 2.
  process bad{dirs.args({"--check-config", "--echo.framing=xml"})};
  BOOST_TEST(bad.wait_exit() == 2, bad.output());
  // docs/configuration.md carries the reference table as the node prints it.
  process reference{{"--config-reference"}};
  BOOST_TEST(reference.wait_exit() == 0);
  std::ifstream doc{GHOSTNET_SOURCE_DIR "/docs/configuration.md"};
  std::stringstream text;
  text << doc.rdbuf();
  BOOST_TEST(reference.output().size() > 100u);
  BOOST_TEST(text.str().find(reference.output()) != std::string::npos,
             "docs/configuration.md differs from ghostnet-node --config-reference:\n"
               << reference.output());
}

BOOST_AUTO_TEST_CASE(the_echo_client_sample_talks_to_the_node_and_reports_a_refusal) {
  auto ready = temp_path("ready-client.json");
  node_dirs dirs;
  process node{dirs.args({"--echo.port=0", "--echo.framing=line", "--ready-file=" + ready})};
  auto ep = wait_ready(ready);
  process echo{{"--connect=" + ep.to_string(), "--message=ping from the sample"}, {},
               GHOSTNET_ECHO_CLIENT_BINARY};
  BOOST_TEST(echo.wait_exit() == 0, echo.output());
  BOOST_TEST(echo.output() == "ping from the sample\n", echo.output());
  node.signal(SIGTERM);
  BOOST_TEST(node.wait_exit() == 0, node.output());
  // The node is gone: its port refuses.
  process refused{{"--connect=" + ep.to_string(), "--timeout=2s"}, {},
                  GHOSTNET_ECHO_CLIENT_BINARY};
  BOOST_TEST(refused.wait_exit() == 1, refused.output());
  BOOST_TEST(refused.output().find("connection_refused") != std::string::npos, refused.output());
}

BOOST_AUTO_TEST_CASE(metrics_are_served_in_the_prometheus_format_and_count_what_happened) {
  auto ready = temp_path("ready-metrics.json");
  node_dirs dirs;
  process node{dirs.args({"--echo.port=0", "--ready-file=" + ready})};
  auto http = wait_ready(ready, "http");
  auto echo = wait_ready(ready, "echo");
  auto base = "http://127.0.0.1:" + std::to_string(http.port);
  run_command("curl -s " + base + "/hello " + base + "/nope > /dev/null", 10);
  run_command("curl -s --http2-prior-knowledge " + base + "/hello > /dev/null", 10);
  run_command("printf 'x' | nc -N 127.0.0.1 " + std::to_string(echo.port) + " > /dev/null", 10);
  // promtool (Debian's prometheus package) checks the exposition format.
  auto check = run_command("curl -s " + base + "/metrics | promtool check metrics", 20);
  BOOST_TEST(check.status == 0, check.output);
  auto text = run_command("curl -s " + base + "/metrics", 10).output;
  for (auto want : {"ghostnet_http_requests_total{protocol=\"1.1\",route=\"/hello\",status=\"200\"} 1",
                    "ghostnet_http_requests_total{protocol=\"1.1\",route=\"unmatched\",status=\"404\"} 1",
                    "ghostnet_http_requests_total{protocol=\"2\",route=\"/hello\",status=\"200\"} 1",
                    "ghostnet_http_request_duration_seconds_bucket{protocol=\"1.1\",route=\"/hello\",le=\"+Inf\"} 1",
                    "# TYPE ghostnet_connections_open gauge",
                    "ghostnet_bytes_received_total "})
    BOOST_TEST(text.find(want) != std::string::npos, want << "\n" << text);
  auto accepted = "ghostnet_connections_accepted_total{listener=\"" + echo.to_string() + "\"} 1";
  BOOST_TEST(text.find(accepted) != std::string::npos, text);
  node.signal(SIGTERM);
  BOOST_TEST(node.wait_exit() == 0, node.output());
}

BOOST_AUTO_TEST_CASE(the_admin_api_changes_the_log_level_and_refuses_without_the_token) {
  auto ready = temp_path("ready-admin.json");
  node_dirs dirs;
  {
    process node{dirs.args({"--echo.port=0", "--ready-file=" + ready})};
    auto url = "http://127.0.0.1:" + std::to_string(wait_ready(ready, "http").port)
               + "/admin/log-level";
    BOOST_TEST(run_command("curl -s " + url, 10).output == "info\n");
    BOOST_TEST(run_command("curl -s -X PUT --data debug " + url, 10).output == "debug\n");
    BOOST_TEST(run_command("curl -s " + url, 10).output == "debug\n");
    BOOST_TEST(run_command("curl -s -o /dev/null -w '%{http_code}' -X PUT --data loud " + url, 10)
                 .output == "400");
    node.signal(SIGTERM);
    BOOST_TEST(node.wait_exit() == 0, node.output());
    BOOST_TEST(node.output().find("log_level_changed from=info to=debug") != std::string::npos,
               node.output());
  }
  process node{dirs.args({"--echo.port=0", "--http.admin-token=s3cret", "--ready-file=" + ready})};
  auto url = "http://127.0.0.1:" + std::to_string(wait_ready(ready, "http").port)
             + "/admin/log-level";
  auto code = [&](const std::string& args) {
    return run_command("curl -s -o /dev/null -w '%{http_code}' " + args + " " + url, 10).output;
  };
  BOOST_TEST(code("-X PUT --data debug") == "401");
  BOOST_TEST(code("-X PUT --data debug -H 'Authorization: Bearer wrong'") == "401");
  BOOST_TEST(run_command("curl -s -H 'Authorization: Bearer s3cret' " + url, 10).output
             == "info\n"); // unchanged
  BOOST_TEST(code("-X PUT --data warn -H 'Authorization: Bearer s3cret'") == "200");
  node.signal(SIGTERM);
  BOOST_TEST(node.wait_exit() == 0, node.output());
}

BOOST_AUTO_TEST_CASE(the_dashboard_in_headless_chromium_shows_the_tree_and_a_kill_restarts) {
  auto ready = temp_path("ready-dashboard.json");
  node_dirs dirs;
  process node{dirs.args({"--echo.port=0", "--ready-file=" + ready})};
  auto http = wait_ready(ready, "http");
  auto shot = temp_path("dashboard.png");
  auto out = run_command("/usr/bin/python3 " GHOSTNET_SOURCE_DIR "/tests/samples/dashboard_webdriver.py"
                         " http://127.0.0.1:" + std::to_string(http.port) + "/ " + shot, 90);
  BOOST_TEST(out.status == 0, out.output);
  BOOST_TEST(out.output.find("tree shown") != std::string::npos, out.output);
  BOOST_TEST(out.output.find("restart shown") != std::string::npos, out.output);
  BOOST_TEST(::access(shot.c_str(), F_OK) == 0);
  ::unlink(shot.c_str());
  node.signal(SIGTERM);
  BOOST_TEST(node.wait_exit() == 0, node.output());
  BOOST_TEST(node.output().find("action action=kill target=root/chat-room") != std::string::npos,
             node.output());
  // The live WebSocket is guarded like the admin API: with a token set, a
  // client without it is refused (401) before the upgrade.
  process guarded{dirs.args({"--echo.port=0", "--http.admin-token=t", "--ready-file=" + ready})};
  auto port = std::to_string(wait_ready(ready, "http").port);
  auto refused = run_command("curl -s -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade'"
                             " -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'"
                             " -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='"
                             " http://127.0.0.1:" + port + "/dashboard/live", 10);
  BOOST_TEST(refused.output == "401", refused.output);
  guarded.signal(SIGTERM);
  BOOST_TEST(guarded.wait_exit() == 0, guarded.output());
}
