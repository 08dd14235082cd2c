// Small helpers shared by the bench programs (load generator and echo peers).
// Header-only and free of any ghostnet dependency on purpose: the peers must
// measure the plain socket path, nothing of ours.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bench {

// Ten thousand idle connections need more descriptors than the usual soft
// limit of 1024; the hard limit is the most we may take without privileges.
inline void raise_nofile_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// Fills `addr` from an IPv4 or IPv6 literal (no name lookup: benchmarks
// must not depend on a resolver).
inline bool make_sockaddr(const std::string& host, int port,
                          sockaddr_storage& addr, socklen_t& len) {
  std::memset(&addr, 0, sizeof addr);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

inline bool set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// The command-line contract shared by every peer (and ghostnet-node):
//   --host 127.0.0.1 --port 0 --ready-file PATH [--root DIR]
// (--root: the files an HTTP peer serves; the echo peers take none.)
struct PeerOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string ready_file;
  std::string root; ///< without a trailing '/'
};

inline PeerOptions parse_peer_options(int argc, char** argv) {
  PeerOptions opt;
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: missing value for %s\n", argv[0], key.c_str());
      std::exit(2);
    }
    std::string value = argv[++i];
    if (key == "--host") {
      opt.host = value;
    } else if (key == "--port") {
      opt.port = std::atoi(value.c_str());
    } else if (key == "--ready-file") {
      opt.ready_file = value;
    } else if (key == "--root") {
      opt.root = value;
      while (opt.root.size() > 1 && opt.root.back() == '/')
        opt.root.pop_back();
    } else {
      std::fprintf(stderr,
                   "usage: %s [--host ADDR] [--port N] [--ready-file PATH] [--root DIR]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return opt;
}

// Writes {"KEY": "HOST:PORT"} (KEY: "echo" unless given) via PATH.tmp +
// rename, so a poller never sees a half-written file.
inline bool write_ready_file(const std::string& path, const std::string& host,
                             int port, const char* key = "echo") {
  if (path.empty())
    return true;
  bool v6 = host.find(':') != std::string::npos;
  std::string endpoint = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr)
    return false;
  std::fprintf(f, "{\"%s\": \"%s\"}\n", key, endpoint.c_str());
  bool ok = std::fclose(f) == 0;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

} // namespace bench
