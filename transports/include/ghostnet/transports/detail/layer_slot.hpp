#pragma once

// The place of the layer above a lower layer: the layer itself, the bytes
// it has not consumed yet, and a protocol switch in progress. Every lower
// layer (the connection broker, TLS) keeps one, so that buffering,
// pausing and switch_protocol behave the same at every level.

#include <cstddef>
#include <vector>

#include <caf/error.hpp>

#include "ghostnet/transports/layer.hpp"

namespace ghostnet::transports::detail {

class layer_slot {
public:
  layer_slot() = default;
  layer_slot(const layer_slot&) = delete;
  layer_slot& operator=(const layer_slot&) = delete;

  /// Installs `layer` (not started yet).
  void reset(layer_ptr layer) noexcept {
    layer_ = std::move(layer);
  }

  /// Starts the installed layer on `down`.
  [[nodiscard]] caf::error start(lower_layer& down);

  [[nodiscard]] bool empty() const noexcept {
    return layer_ == nullptr;
  }

  upper_layer* operator->() const noexcept {
    return layer_.get();
  }

  upper_layer* get() const noexcept {
    return layer_.get();
  }

  /// Appends `data` to what is pending and hands it up while the layer
  /// consumes and reading is not paused. Bytes after a protocol switch go
  /// to the new layer (started on `down`) in the same call.
  [[nodiscard]] caf::error deliver(lower_layer& down, byte_view data);

  /// Hands up what is pending (after resume). Does nothing while paused or
  /// when nothing is pending.
  [[nodiscard]] caf::error redeliver(lower_layer& down) {
    return deliver(down, byte_view{});
  }

  /// lower_layer::switch_protocol: takes effect when the current call into
  /// the layer returned (at once outside deliver; then call settle()).
  void switch_to(layer_ptr next) noexcept {
    next_ = std::move(next);
  }

  /// Completes a switch requested outside deliver (from a timer or a
  /// message) and destroys replaced layers. Call at the end of a turn (when
  /// unsettled(): the common turn has nothing to do here).
  [[nodiscard]] caf::error settle(lower_layer& down);

  [[nodiscard]] bool unsettled() const noexcept {
    return next_ != nullptr || retired_ != nullptr;
  }

  void pause() noexcept {
    paused_ = true;
  }

  /// Returns true if pending bytes wait for redeliver().
  bool resume() noexcept {
    paused_ = false;
    return !pending_.empty();
  }

  [[nodiscard]] bool paused() const noexcept {
    return paused_;
  }

  /// Bytes received but not consumed.
  [[nodiscard]] size_t pending() const noexcept {
    return pending_.size();
  }

  /// Drops the layer (and a replaced one) and the pending bytes.
  void clear() noexcept;

private:
  /// Consumes from `input`; returns the bytes used, or an error.
  caf::expected<size_t> run(lower_layer& down, byte_view input);

  layer_ptr layer_;
  layer_ptr next_;    ///< switch_protocol, not yet in effect
  layer_ptr retired_; ///< replaced during a call of its own
  std::vector<char> pending_;
  bool paused_ = false;
  bool delivering_ = false;
};

} // namespace ghostnet::transports::detail
