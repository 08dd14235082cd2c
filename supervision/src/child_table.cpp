#include "ghostnet/supervision/detail/child_table.hpp"

namespace ghostnet::supervision::detail {

child_record& child_table::add(std::shared_ptr<const child_spec> spec,
                               caf::message args) {
  auto key = next_key_++;
  auto& c = records_.emplace_hint(records_.end(), key, child_record{})->second;
  c.key = key;
  c.spec = std::move(spec);
  c.args = std::move(args);
  if (dynamic_)
    template_id_ = c.spec->id;
  else
    by_id_[c.spec->id] = key;
  return c;
}

void child_table::remove(uint64_t key) {
  auto i = records_.find(key);
  if (i == records_.end())
    return;
  if (!dynamic_)
    by_id_.erase(i->second.spec->id);
  if (i->second.actor)
    by_instance_.erase(i->second.actor.address());
  records_.erase(i);
}

child_record* child_table::find(uint64_t key) {
  auto i = records_.find(key);
  return i != records_.end() ? &i->second : nullptr;
}

child_record* child_table::find(const std::string& id) {
  if (!dynamic_) {
    auto i = by_id_.find(id);
    return i != by_id_.end() ? find(i->second) : nullptr;
  }
  // "<template id>#<key>", see id_of().
  const auto& prefix = template_id_;
  if (prefix.empty() || id.size() <= prefix.size() + 1
      || id.compare(0, prefix.size(), prefix) != 0 || id[prefix.size()] != '#')
    return nullptr;
  auto digits = id.substr(prefix.size() + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos
      || digits.size() > 19)
    return nullptr;
  return find(std::stoull(digits));
}

child_record* child_table::find(const caf::actor_addr& instance) {
  auto i = by_instance_.find(instance);
  return i != by_instance_.end() ? find(i->second) : nullptr;
}

void child_table::bind(child_record& c, caf::actor instance) {
  if (c.actor)
    by_instance_.erase(c.actor.address());
  c.actor = std::move(instance);
  ++c.generation;
  by_instance_[c.actor.address()] = c.key;
}

void child_table::unbind(child_record& c) {
  if (!c.actor)
    return;
  by_instance_.erase(c.actor.address());
  c.actor = nullptr;
}

std::string child_table::id_of(const child_record& c) const {
  if (!dynamic_)
    return c.spec->id;
  return c.spec->id + "#" + std::to_string(c.key);
}

std::vector<uint64_t> child_table::keys(std::optional<uint64_t> first) const {
  std::vector<uint64_t> result;
  auto i = first ? records_.lower_bound(*first) : records_.begin();
  for (; i != records_.end(); ++i)
    result.push_back(i->first);
  return result;
}

void child_table::clear() {
  records_.clear();
  by_id_.clear();
  by_instance_.clear();
}

} // namespace ghostnet::supervision::detail
