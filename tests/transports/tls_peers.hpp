#pragma once

// Peers for TLS connection tests: the `openssl` and `curl` command lines run
// as child processes, and a blocking TLS client that drives a tls_session
// over a plain socket (so that a test controls every byte: stall in the
// handshake, skip close_notify, never read).

#include <memory>
#include <string>
#include <vector>

#include "ghostnet/transports/tls_context.hpp"
#include "ghostnet/transports/tls_session.hpp"
#include "../run_command.hpp"
#include "tcp_fixture.hpp"

namespace ghostnet::test {

/// A TLS client on a blocking socket, driving a sans-IO tls_session.
class blocking_tls_client {
public:
  blocking_tls_client(const tp::endpoint& ep, tp::tls_context_ptr ctx,
                      std::string server_name = "localhost")
    : sock_(ep) {
    BOOST_REQUIRE(sock_.connected());
    tp::tls_session_options opts;
    opts.server_name = std::move(server_name);
    auto session = tp::make_tls_session(std::move(ctx), std::move(opts));
    BOOST_REQUIRE_MESSAGE(session, (session ? "" : describe(session.error())));
    session_ = std::move(*session);
  }

  tp::tls_session& session() {
    return *session_;
  }

  client& socket() {
    return sock_;
  }

  /// Runs the handshake to its end; the error if it failed.
  caf::error handshake() {
    std::vector<char> out;
    if (auto err = session_->start(out))
      return err;
    if (!flush(out))
      return make_error(errc::io_error, "send");
    while (!session_->handshake_done())
      if (auto err = pump())
        return err;
    return caf::none;
  }

  bool send(const std::string& plaintext) {
    std::vector<char> out;
    if (session_->encrypt({plaintext.data(), plaintext.size()}, out))
      return false;
    return flush(out);
  }

  /// Reads until `n` plaintext bytes arrived (fewer on EOF, error, timeout).
  std::string read_exactly(size_t n) {
    while (plaintext_.size() < n)
      if (pump())
        break;
    auto len = std::min(n, plaintext_.size());
    std::string result(plaintext_.begin(), plaintext_.begin() + len);
    plaintext_.erase(plaintext_.begin(), plaintext_.begin() + len);
    return result;
  }

  /// Sends close_notify.
  bool close_notify() {
    std::vector<char> out;
    if (session_->close(out))
      return false;
    return flush(out);
  }

  /// Reads until the peer's close_notify or EOF; true if close_notify came.
  bool sees_close_notify() {
    while (!session_->peer_closed())
      if (pump())
        break;
    return session_->peer_closed();
  }

private:
  bool flush(const std::vector<char>& out) {
    return out.empty() || sock_.send_all(out.data(), out.size());
  }

  /// One recv and what the session makes of it.
  caf::error pump() {
    char buf[16384];
    auto n = ::recv(sock_.fd(), buf, sizeof(buf), 0);
    if (n == 0) {
      if (auto err = session_->on_eof())
        return err;
      return make_error(errc::transport_closed, "recv"); // ends the loops
    }
    if (n < 0)
      return make_os_error(errno, "recv");
    std::vector<char> out;
    auto err = session_->consume({buf, static_cast<size_t>(n)}, plaintext_,
                                 out);
    flush(out);
    return err;
  }

  client sock_;
  std::unique_ptr<tp::tls_session> session_;
  std::vector<char> plaintext_;
};

} // namespace ghostnet::test
