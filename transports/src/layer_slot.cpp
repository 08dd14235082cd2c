#include "ghostnet/transports/detail/layer_slot.hpp"

#include <string>

#include "ghostnet/actors/error.hpp"

namespace ghostnet::transports {

caf::error upper_layer::on_send(byte_view) {
  return make_error(errc::invalid_state, "send", "", 0,
                    std::string{name()} + " takes no raw sends");
}

caf::error upper_layer::on_request(const caf::message&) {
  return make_error(errc::invalid_state, "layer request", "", 0,
                    std::string{name()} + " takes no layer requests");
}

caf::error upper_layer::on_set_receiver(caf::actor) {
  return make_error(errc::invalid_state, "set receiver", "", 0,
                    std::string{name()} + " sends to no actor");
}

namespace detail {

namespace {

/// A layer that reports more bytes used than it was given has a bug.
caf::error overrun(const upper_layer& layer) {
  return make_error(errc::protocol_error, "consume", "", 0,
                    std::string{layer.name()}
                      + " reported more bytes used than it was given");
}

} // namespace

caf::error layer_slot::start(lower_layer& down) {
  if (!layer_)
    return make_error(errc::invalid_configuration, "start connection", "", 0,
                      "the layer factory returned no layer");
  return layer_->start(down);
}

caf::expected<size_t> layer_slot::run(lower_layer& down, byte_view input) {
  size_t total = 0;
  if (next_ && !input.empty()) {
    // Requested outside a read (a timer, a message): new bytes are the new
    // layer's.
    retired_ = std::move(layer_);
    layer_ = std::move(next_);
    if (auto err = layer_->start(down))
      return err;
  }
  while (!input.empty() && !paused_ && layer_) {
    delivering_ = true;
    auto used = layer_->consume(input);
    delivering_ = false;
    if (!used)
      return std::move(used.error());
    if (*used > input.size())
      return overrun(*layer_);
    total += *used;
    input = input.subspan(*used, input.size() - *used);
    if (next_) {
      // switch_protocol from inside consume: the rest is the new layer's.
      retired_ = std::move(layer_);
      layer_ = std::move(next_);
      if (auto err = layer_->start(down))
        return err;
      continue;
    }
    if (*used == 0)
      break;
  }
  return total;
}

caf::error layer_slot::deliver(lower_layer& down, byte_view data) {
  if (delivering_) {
    // A layer resumed reading from inside its own consume: the loop that
    // called it continues anyway.
    if (!data.empty())
      pending_.insert(pending_.end(), data.begin(), data.end());
    return caf::none;
  }
  if (pending_.empty()) {
    // The common read: one call that takes everything.
    if (layer_ && !next_ && !paused_ && !data.empty()) {
      delivering_ = true;
      auto used = layer_->consume(data);
      delivering_ = false;
      if (used && *used == data.size() && !next_)
        return caf::none;
      if (!used)
        return std::move(used.error());
      if (*used > data.size())
        return overrun(*layer_);
      data = data.subspan(*used, data.size() - *used);
    }
    auto used = run(down, data);
    if (!used)
      return std::move(used.error());
    if (*used < data.size())
      pending_.assign(data.begin() + static_cast<ptrdiff_t>(*used), data.end());
    return caf::none;
  }
  pending_.insert(pending_.end(), data.begin(), data.end());
  auto used = run(down, byte_view{pending_.data(), pending_.size()});
  if (!used)
    return std::move(used.error());
  pending_.erase(pending_.begin(),
                 pending_.begin() + static_cast<ptrdiff_t>(*used));
  if (pending_.empty() && pending_.capacity() > 4096)
    std::vector<char>{}.swap(pending_); // give a burst's memory back
  return caf::none;
}

caf::error layer_slot::settle(lower_layer& down) {
  retired_.reset();
  if (!next_)
    return caf::none;
  // Requested from a timer or a message: the old layer's call is over.
  layer_ = std::move(next_);
  return layer_->start(down);
}

void layer_slot::clear() noexcept {
  next_.reset();
  retired_.reset();
  layer_.reset();
  pending_.clear();
  pending_.shrink_to_fit();
}

} // namespace detail

} // namespace ghostnet::transports
