#include "ghostnet/actors/detail/broker_cleanup.hpp"

#include <caf/detail/sync_request_bouncer.hpp>

namespace ghostnet::detail {

void close_mailbox_on_exit(caf::scheduled_actor& self) {
  auto& mbox = self.mailbox();
  if (mbox.closed())
    return;
  mbox.close();
  self.get_normal_queue().flush_cache();
  self.get_urgent_queue().flush_cache();
  caf::detail::sync_request_bouncer bounce{self.fail_state()};
  while (mbox.queue().new_round(1000, bounce).consumed_items)
    ; // drain
}

} // namespace ghostnet::detail
