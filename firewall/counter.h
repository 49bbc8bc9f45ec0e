// Counter: a 64-bit statistic written by one thread and read by any.
//
// Thread-safety: add() from ONE thread only (the owner: a queue's worker);
// get() from any thread. The single writer makes increments plain loads and
// stores (no locked instruction on the packet path); readers see a value
// that is at most a little stale, never torn.
#pragma once

#include <atomic>
#include <cstdint>

namespace iotwall::firewall {

class Counter {
 public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace iotwall::firewall
