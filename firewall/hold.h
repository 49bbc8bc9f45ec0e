// HoldTable: the packets of requests not complete yet, per connection, until
// the access they make up is decided (then all get one verdict together) or
// a bound is reached (then the caller applies the configured at-limit
// action). Bounded per request (bytes, milliseconds) and in all (bytes,
// connections), so a slow or hostile sender cannot pin memory.
//
// Ticket is a move-only packet ticket (firewall/ticket.h): a ticket in the
// table is a packet whose verdict is owed; destroying the table gives the
// owed ones their fail verdict through the tickets' own destructors.
// Thread-safety: none (one per queue worker).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

namespace iotwall::firewall {

struct HoldLimits {
  size_t max_bytes = 64 * 1024;  // of one request
  int64_t max_ms = 500;          // from its first held packet
  size_t max_total_bytes = size_t{32} << 20;
  size_t max_connections = 4096;
};

template <class Ticket>
class HoldTable {
 public:
  explicit HoldTable(const HoldLimits& l) : limits_(l) {}
  void set_limits(const HoldLimits& l) { limits_ = l; }

  // Holds a packet of connection `conn`. Returns false, keeping nothing
  // and leaving `t` with the caller, when a bound would be passed.
  bool hold(uint64_t conn, Ticket& t, size_t bytes, int64_t now_ms) {
    auto it = held_.find(conn);
    if (it == held_.end()) {
      if (held_.size() >= limits_.max_connections) return false;
    } else if (it->second.bytes + bytes > limits_.max_bytes) {
      return false;
    }
    if (total_bytes_ + bytes > limits_.max_total_bytes) return false;
    if (it == held_.end()) {
      it = held_.try_emplace(conn).first;
      it->second.since_ms = now_ms;
      if (!spare_.empty()) {
        it->second.tickets = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    it->second.tickets.push_back(std::move(t));
    it->second.bytes += bytes;
    total_bytes_ += bytes;
    ++packets_;
    return true;
  }

  bool holds(uint64_t conn) const { return held_.contains(conn); }

  // Gives every held packet of `conn` to fn(Ticket&), in arrival order, and
  // forgets the connection's entry.
  template <class F>
  void release(uint64_t conn, F&& fn) {
    auto it = held_.find(conn);
    if (it == held_.end()) return;
    Entry e = std::move(it->second);
    held_.erase(it);
    for (Ticket& t : e.tickets) fn(t);
    total_bytes_ -= e.bytes;
    packets_ -= e.tickets.size();
    e.tickets.clear();
    if (spare_.size() < kSpare) spare_.push_back(std::move(e.tickets));
  }

  // Every held packet of every connection, as release() does.
  template <class F>
  void release_all(F&& fn) {
    expired_.clear();
    for (const auto& [conn, e] : held_) expired_.push_back(conn);
    for (uint64_t c : expired_) release(c, fn);
  }

  // Connections whose first held packet is older than max_ms; the caller
  // releases them (release() inside fn is allowed).
  template <class F>
  void expire(int64_t now_ms, F&& fn) {
    if (held_.empty()) return;
    expired_.clear();
    for (const auto& [conn, e] : held_) {
      if (now_ms - e.since_ms >= limits_.max_ms) expired_.push_back(conn);
    }
    for (uint64_t c : expired_) fn(c);
  }

  // When the next expiry is due (INT64_MAX: nothing held).
  int64_t next_deadline() const {
    int64_t d = INT64_MAX;
    for (const auto& [conn, e] : held_) d = std::min(d, e.since_ms + limits_.max_ms);
    return d;
  }

  size_t connections() const { return held_.size(); }
  size_t packets() const { return packets_; }
  size_t bytes() const { return total_bytes_; }

 private:
  static constexpr size_t kSpare = 64;  // ticket vectors kept for reuse
  struct Entry {
    std::vector<Ticket> tickets;
    size_t bytes = 0;
    int64_t since_ms = 0;
  };
  HoldLimits limits_;
  absl::flat_hash_map<uint64_t, Entry> held_;
  std::vector<std::vector<Ticket>> spare_;
  std::vector<uint64_t> expired_;
  size_t total_bytes_ = 0, packets_ = 0;
};

}  // namespace iotwall::firewall
