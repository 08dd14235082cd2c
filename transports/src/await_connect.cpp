#include "ghostnet/transports/await_connect.hpp"

#include <optional>

#include "ghostnet/actors/atoms.hpp"
#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

caf::expected<connection_info>
await_connect(caf::blocking_actor& self, const connection_actor& conn, caf::timespan timeout) {
  self.monitor(conn);
  std::optional<connection_info> info;
  caf::error err;
  self.request(conn, timeout, connect_atom::value)
    .receive([&](connection_info& x) { info = std::move(x); },
             [&](caf::error& x) { err = std::move(x); });
  if (err == caf::sec::request_receiver_down) {
    // Gone before the request arrived: its exit reason says why.
    self.receive(
      [&](caf::down_msg& down) {
        err = down.reason ? std::move(down.reason)
                          : make_error(errc::transport_closed, "connect");
      },
      caf::after(timeout) >> [&] { err = make_error(errc::timeout, "connect"); });
    return err;
  }
  // Still alive (or its down message is on its way): no monitor left behind.
  self.demonitor(conn.address());
  if (info)
    return std::move(*info);
  if (err == caf::sec::request_timeout)
    return make_error(errc::timeout, "connect");
  return err;
}

} // namespace ghostnet::transports
