// OutstandingIds: the packets of one queue that were received and have no
// verdict decided yet, in id order, so the verdict path knows the lowest id
// still held (a batch verdict must not reach it) and refuses a second
// verdict for an id.
//
// Thread-safety: none (one queue's worker). Memory: one entry per packet
// received and not yet decided or passed (the kernel holds at most the
// queue length of them); storage is reused, so no allocation once warm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace iotwall::firewall {

class OutstandingIds {
 public:
  // Records a received id. Ids normally arrive in increasing (serial)
  // order; one out of order is inserted in place. Returns false (and
  // changes nothing) if the id is already tracked.
  bool add(uint32_t id);

  enum class Decide { kOk, kUnknown, kAlreadyDecided };
  // Marks `id` decided. kUnknown: never added or already passed (its
  // verdict was decided and everything before it too).
  Decide decide(uint32_t id);

  // The lowest tracked id not decided yet, if any.
  std::optional<uint32_t> lowest_undecided() const;
  // Ids tracked (decided ones behind an undecided one included).
  size_t size() const { return entries_.size() - head_; }
  // Ids tracked and not decided.
  size_t undecided() const { return undecided_; }

  // Calls f(id) for every undecided id in order, marking each decided.
  template <typename F>
  void decide_all(F f) {
    for (size_t i = head_; i < entries_.size(); ++i) {
      if (!entries_[i].decided) {
        entries_[i].decided = true;
        --undecided_;
        f(entries_[i].id);
      }
    }
    entries_.clear();
    head_ = 0;
  }

 private:
  struct Entry {
    uint32_t id;
    bool decided;
  };
  // Index of the tracked entry with `id`, or of where it would go.
  size_t lower_bound(uint32_t id) const;
  void pop_decided();

  std::vector<Entry> entries_;  // [head_, end) tracked, in id order
  size_t head_ = 0;             // entries before it are passed (compacted lazily)
  size_t undecided_ = 0;
};

}  // namespace iotwall::firewall
