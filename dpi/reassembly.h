// TCP reassembly of one direction of a stream: segments in, in-order bytes
// out to a ConnectionHandler.
//
// In-order data is delivered straight from the segment's payload (no
// copy). Out-of-order data is copied into fixed-size chunks of a ChunkPool
// shared by the whole flow table and delivered when the hole before it
// fills. The first copy of a byte wins: a retransmission or overlap never
// replaces bytes already received, and differing bytes in it are counted
// as overlap conflicts. Sequence numbers use serial arithmetic (wrap at
// 2^32).
//
// Bounds and what happens at them: a direction holds at most
// `max_direction_bytes` of chunk capacity, and the pool holds what the
// flow table was configured for. A segment that does not fit gives up the
// direction's first hole: on_gap(hole size), the buffered data after it is
// delivered, and the segment is tried again (if nothing is buffered, the
// hole up to the segment is given up and the segment delivered). So every
// byte is delivered or reported in a gap, a lost packet never stalls the
// stream, and memory is bounded by the pool. Segments starting more than
// 1 GiB past the next expected byte are dropped as out of window.
//
// ChunkPool lives here because Reassembly is its only user.
// Thread-safety: none; one pool and its directions per worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "dpi/stream.h"

namespace iotwall::dpi {

// A preallocated pool of fixed-size chunks addressed by index. The data
// block is allocated once, untouched until used, and never grows.
class ChunkPool {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // Room for max_bytes / chunk_bytes chunks. REQUIRES: chunk_bytes in [1, 65535].
  ChunkPool(size_t max_bytes, size_t chunk_bytes);
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  // A free chunk (len 0), or kNone when all are in use.
  uint32_t alloc();
  void free(uint32_t c);

  uint32_t seq(uint32_t c) const { return meta_[c].seq; }
  uint32_t len(uint32_t c) const { return meta_[c].len; }
  uint32_t next(uint32_t c) const { return meta_[c].next; }
  uint8_t* data(uint32_t c) { return data_.get() + size_t{c} * chunk_bytes_; }
  void set(uint32_t c, uint32_t seq, uint32_t len, uint32_t next) {
    meta_[c] = Meta{seq, static_cast<uint16_t>(len), next};
  }
  void set_len(uint32_t c, uint32_t len) { meta_[c].len = static_cast<uint16_t>(len); }
  void set_next(uint32_t c, uint32_t next) { meta_[c].next = next; }

  size_t chunk_bytes() const { return chunk_bytes_; }
  size_t capacity() const { return count_; }
  size_t in_use() const { return in_use_; }
  // Chunks ever handed out: the pages of the data block touched so far.
  // Freed chunks are reused before fresh ones (last freed first), so this
  // stays at the high-water mark of chunks in use at once.
  size_t touched() const { return fresh_; }

 private:
  struct Meta {
    uint32_t seq = 0;
    uint16_t len = 0;
    uint32_t next = kNone;  // in a direction's list, or in the free list
  };
  size_t chunk_bytes_;
  size_t count_;
  size_t in_use_ = 0;
  std::unique_ptr<Meta[]> meta_;
  std::unique_ptr<uint8_t[]> data_;
  uint32_t free_ = kNone;
  uint32_t fresh_ = 0;  // chunks [fresh_, count_) were never used
};

// Summed over all directions of a flow table.
struct ReassemblyCounters {
  uint64_t bytes_delivered = 0;
  uint64_t retransmitted_bytes = 0;     // bytes received again (delivered or buffered)
  uint64_t overlap_conflict_bytes = 0;  // of those, bytes differing from the first copy
  uint64_t ooo_segments_buffered = 0;   // segments (partly) copied to chunks
  uint64_t segments_at_bound = 0;       // segments that found the buffer full
  uint64_t segments_out_of_window = 0;  // dropped: > 1 GiB ahead
  uint64_t gaps = 0;
  uint64_t gap_bytes = 0;
  uint64_t buffered_bytes = 0;  // payload bytes held in chunks now
  uint64_t buffered_bytes_peak = 0;
};

// What a call needs besides the direction's own state.
struct ReassemblyContext {
  ChunkPool* pool;
  ReassemblyCounters* counters;
  ConnectionHandler* handler;  // receives on_data / on_gap
  Direction dir;
  int64_t ts_us;
  size_t max_direction_bytes;  // chunk capacity this direction may hold
};

class Reassembly {
 public:
  Reassembly() = default;
  Reassembly(const Reassembly&) = delete;
  Reassembly& operator=(const Reassembly&) = delete;

  // Sets the sequence number of the next byte (ISN + 1, or the first
  // sequence number seen of a stream picked up midway).
  void start(uint32_t next_seq) {
    next_ = next_seq;
    started_ = true;
  }
  bool started() const { return started_; }
  uint32_t next_seq() const { return next_; }
  bool has_buffered() const { return head_ != ChunkPool::kNone; }

  // A segment's payload starting at `seq`. REQUIRES: started().
  void segment(uint32_t seq, std::span<const uint8_t> data, const ReassemblyContext& c);

  // Gives up every hole, delivering all buffered data; then, if `end` is
  // past the next byte (a FIN's sequence number), reports the rest as a gap.
  void flush(const ReassemblyContext& c, std::optional<uint32_t> end = std::nullopt);

  // Returns all chunks to the pool without delivering, and forgets the
  // stream (the direction can be reused).
  void reset(ChunkPool& pool, ReassemblyCounters& counters);

 private:
  // Copies what is not yet held of an out-of-order segment into chunks;
  // returns how many bytes of `data` were handled before the bound.
  size_t buffer(uint32_t seq, std::span<const uint8_t> data, const ReassemblyContext& c);
  void deliver_in_order(std::span<const uint8_t> data, const ReassemblyContext& c);
  // Delivers the buffered chunks that start at next_.
  void drain(const ReassemblyContext& c);
  void gap_to(uint32_t seq, const ReassemblyContext& c);
  void pop_head(const ReassemblyContext& c);

  uint32_t next_ = 0;
  uint32_t head_ = ChunkPool::kNone;  // sorted, disjoint, all after next_
  uint32_t chunks_ = 0;
  bool started_ = false;
};

}  // namespace iotwall::dpi
