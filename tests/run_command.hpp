#pragma once

// Runs a real peer (nc, openssl, curl) from a test as a shell command,
// bounded in time, and collects what it printed.

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <boost/test/unit_test.hpp>

namespace ghostnet::test {

/// What a command printed (stdout and stderr) and its exit status.
struct command_result {
  std::string output;
  int status = -1;
};

/// Runs `cmd` with sh, bounded as a whole by `timeout` (coreutils) so that
/// no test waits forever on a peer.
inline command_result run_command(const std::string& cmd, int timeout_s = 20) {
  command_result result;
  // The whole command line, pipes included, runs under the one timeout.
  std::string quoted;
  for (char c : cmd)
    quoted += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  auto full = "timeout -k 2 " + std::to_string(timeout_s) + " sh -c '" + quoted
              + "' 2>&1";
  auto* p = popen(full.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof(buf), p))
    result.output.append(buf, n);
  auto rc = pclose(p);
  result.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return result;
}

} // namespace ghostnet::test
