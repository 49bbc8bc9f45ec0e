#include "firewall/outstanding_ids.h"

#include <algorithm>

#include "firewall/packet_id.h"

namespace iotwall::firewall {

size_t OutstandingIds::lower_bound(uint32_t id) const {
  auto it = std::lower_bound(entries_.begin() + static_cast<ptrdiff_t>(head_), entries_.end(), id,
                             [](const Entry& e, uint32_t v) { return id_before(e.id, v); });
  return static_cast<size_t>(it - entries_.begin());
}

bool OutstandingIds::add(uint32_t id) {
  if (size() == 0 || id_before(entries_.back().id, id)) {  // the usual case: in order
    entries_.push_back({id, false});
    ++undecided_;
    return true;
  }
  const size_t at = lower_bound(id);
  if (at < entries_.size() && entries_[at].id == id) return false;
  entries_.insert(entries_.begin() + static_cast<ptrdiff_t>(at), Entry{id, false});
  ++undecided_;
  return true;
}

OutstandingIds::Decide OutstandingIds::decide(uint32_t id) {
  // Decisions mostly come in order: try the front first.
  size_t at = head_;
  if (at >= entries_.size() || entries_[at].id != id) at = lower_bound(id);
  if (at >= entries_.size() || entries_[at].id != id) return Decide::kUnknown;
  if (entries_[at].decided) return Decide::kAlreadyDecided;
  entries_[at].decided = true;
  --undecided_;
  pop_decided();
  return Decide::kOk;
}

std::optional<uint32_t> OutstandingIds::lowest_undecided() const {
  // pop_decided() keeps the front undecided.
  if (size() == 0) return std::nullopt;
  return entries_[head_].id;
}

void OutstandingIds::pop_decided() {
  while (head_ < entries_.size() && entries_[head_].decided) ++head_;
  if (head_ == entries_.size()) {
    entries_.clear();
    head_ = 0;
  } else if (head_ >= 1024 && head_ * 2 >= entries_.size()) {
    // Compact: a long-held packet keeps the front; move the rest down.
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
}

}  // namespace iotwall::firewall
