// ReorderBuffer: restores timestamp order to a stream that is only nearly
// ordered (merged captures, several writers), holding at most `window_ms` of
// trace time and at most `max_rows` rows. A row older than one already
// released is released at once and counted as late.
//
// Ties keep arrival order, so a replay is deterministic.
#pragma once

#include <cstdint>
#include <queue>
#include <vector>

#include "model/access.h"

namespace iotwall {

class ReorderBuffer {
 public:
  ReorderBuffer(int64_t window_ms, size_t max_rows) : window_ms_(window_ms), max_rows_(max_rows) {}

  void push(const TraceRecord& r) {
    if (released_any_ && r.access.time_ms < released_ms_) ++late_;
    heap_.push(Item{r, seq_++});
    newest_ms_ = std::max(newest_ms_, r.access.time_ms);
  }

  // Releases the oldest row if the window (or the row bound) allows it.
  bool pop_ready(TraceRecord* out) {
    if (heap_.empty()) return false;
    const int64_t oldest = heap_.top().rec.access.time_ms;
    if (newest_ms_ - oldest < window_ms_ && heap_.size() <= max_rows_) return false;
    return pop(out);
  }

  // Releases the oldest row if it is no later than `ms` (a clock that
  // moves without rows, e.g. a capture's packets).
  bool pop_until(int64_t ms, TraceRecord* out) {
    if (heap_.empty() || heap_.top().rec.access.time_ms > ms) return false;
    return pop(out);
  }

  // Releases the oldest row regardless of the window (end of input).
  bool pop(TraceRecord* out) {
    if (heap_.empty()) return false;
    *out = heap_.top().rec;
    heap_.pop();
    released_ms_ = std::max(released_ms_, out->access.time_ms);
    released_any_ = true;
    return true;
  }

  uint64_t late() const { return late_; }

 private:
  struct Item {
    TraceRecord rec;
    uint64_t seq;
    bool operator>(const Item& o) const {
      return rec.access.time_ms != o.rec.access.time_ms ? rec.access.time_ms > o.rec.access.time_ms
                                                        : seq > o.seq;
    }
  };
  int64_t window_ms_;
  size_t max_rows_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap_;
  uint64_t seq_ = 0;
  int64_t newest_ms_ = INT64_MIN;
  int64_t released_ms_ = INT64_MIN;
  bool released_any_ = false;
  uint64_t late_ = 0;
};

}  // namespace iotwall
