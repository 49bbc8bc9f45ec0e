#include "dpi/reassembly.h"

#include <algorithm>
#include <cstring>

namespace iotwall::dpi {
namespace {

constexpr uint32_t kNone = ChunkPool::kNone;
constexpr uint32_t kMaxAhead = uint32_t{1} << 30;

uint64_t count_differences(const uint8_t* a, const uint8_t* b, size_t n) {
  uint64_t d = 0;
  for (size_t i = 0; i < n; ++i) d += a[i] != b[i];
  return d;
}

}  // namespace

ChunkPool::ChunkPool(size_t max_bytes, size_t chunk_bytes)
    : chunk_bytes_(std::clamp<size_t>(chunk_bytes, 1, UINT16_MAX)),
      count_(std::min<size_t>(max_bytes / chunk_bytes_, kNone - 1)),
      meta_(std::make_unique<Meta[]>(count_)),
      // Not value-initialised: pages are touched only when chunks are used.
      data_(new uint8_t[count_ * chunk_bytes_]) {}

uint32_t ChunkPool::alloc() {
  uint32_t c;
  if (free_ != kNone) {
    c = free_;
    free_ = meta_[c].next;
  } else if (fresh_ < count_) {
    c = fresh_++;
  } else {
    return kNone;
  }
  meta_[c] = Meta{};
  ++in_use_;
  return c;
}

void ChunkPool::free(uint32_t c) {
  meta_[c].next = free_;
  free_ = c;
  --in_use_;
}

void Reassembly::segment(uint32_t seq, std::span<const uint8_t> data, const ReassemblyContext& c) {
  bool at_bound = false;
  while (!data.empty()) {
    const auto off = static_cast<int32_t>(seq - next_);
    if (off < 0) {  // (partly) before the next byte: already delivered
      const size_t old = std::min<size_t>(next_ - seq, data.size());
      c.counters->retransmitted_bytes += old;
      seq += static_cast<uint32_t>(old);
      data = data.subspan(old);
      continue;
    }
    if (off == 0) {
      deliver_in_order(data, c);
      return;
    }
    if (static_cast<uint32_t>(off) >= kMaxAhead) {
      ++c.counters->segments_out_of_window;
      return;
    }
    const size_t done = buffer(seq, data, c);
    if (done == data.size()) return;
    // At the bound: give up the first hole (before the segment, or up to
    // it), deliver what follows it, and try the rest again.
    if (!at_bound) ++c.counters->segments_at_bound;
    at_bound = true;
    seq += static_cast<uint32_t>(done);
    data = data.subspan(done);
    uint32_t target = seq;
    if (head_ != kNone && c.pool->seq(head_) - next_ < seq - next_) target = c.pool->seq(head_);
    gap_to(target, c);
    drain(c);
  }
}

size_t Reassembly::buffer(uint32_t seq, std::span<const uint8_t> data, const ReassemblyContext& c) {
  ChunkPool& p = *c.pool;
  ReassemblyCounters& k = *c.counters;
  const size_t cb = p.chunk_bytes();
  const uint32_t r0 = seq - next_;  // offsets relative to next_ compare as integers
  uint32_t prev = kNone, cur = head_;
  size_t pos = 0;
  bool stored_any = false;
  while (pos < data.size()) {
    const uint32_t rs = r0 + static_cast<uint32_t>(pos);
    while (cur != kNone && p.seq(cur) - next_ + p.len(cur) <= rs) {
      prev = cur;
      cur = p.next(cur);
    }
    if (cur != kNone && p.seq(cur) - next_ <= rs) {
      // Held already: the first copy wins.
      const uint32_t cs = p.seq(cur) - next_;
      const size_t n = std::min<size_t>(cs + p.len(cur) - rs, data.size() - pos);
      k.retransmitted_bytes += n;
      k.overlap_conflict_bytes += count_differences(p.data(cur) + (rs - cs), &data[pos], n);
      pos += n;
      continue;
    }
    size_t n = data.size() - pos;
    if (cur != kNone) n = std::min<size_t>(n, p.seq(cur) - next_ - rs);
    const uint32_t s = seq + static_cast<uint32_t>(pos);
    size_t done = 0;
    if (prev != kNone && p.seq(prev) + p.len(prev) == s && p.len(prev) < cb) {
      done = std::min(cb - p.len(prev), n);
      std::memcpy(p.data(prev) + p.len(prev), &data[pos], done);
      p.set_len(prev, p.len(prev) + static_cast<uint32_t>(done));
    }
    while (done < n) {
      if ((size_t{chunks_} + 1) * cb > c.max_direction_bytes) break;
      const uint32_t x = p.alloc();
      if (x == kNone) break;
      const size_t m = std::min(cb, n - done);
      std::memcpy(p.data(x), &data[pos + done], m);
      p.set(x, s + static_cast<uint32_t>(done), static_cast<uint32_t>(m), cur);
      if (prev == kNone) {
        head_ = x;
      } else {
        p.set_next(prev, x);
      }
      prev = x;
      ++chunks_;
      done += m;
    }
    if (done > 0) {
      stored_any = true;
      k.buffered_bytes += done;
      k.buffered_bytes_peak = std::max(k.buffered_bytes_peak, k.buffered_bytes);
    }
    pos += done;
    if (done < n) break;
  }
  if (stored_any) ++k.ooo_segments_buffered;
  return pos;
}

void Reassembly::deliver_in_order(std::span<const uint8_t> data, const ReassemblyContext& c) {
  ChunkPool& p = *c.pool;
  while (!data.empty()) {
    const uint32_t hole = head_ == kNone ? kNone : p.seq(head_) - next_;
    if (hole > 0) {
      const size_t n = std::min<size_t>(hole, data.size());
      c.handler->on_data(c.dir, data.first(n), c.ts_us);
      c.counters->bytes_delivered += n;
      next_ += static_cast<uint32_t>(n);
      data = data.subspan(n);
      continue;
    }
    // The head chunk starts here and came first: it wins over `data`.
    const size_t n = std::min<size_t>(p.len(head_), data.size());
    c.counters->retransmitted_bytes += n;
    c.counters->overlap_conflict_bytes += count_differences(p.data(head_), data.data(), n);
    data = data.subspan(n);
    pop_head(c);
  }
  drain(c);
}

void Reassembly::pop_head(const ReassemblyContext& c) {
  ChunkPool& p = *c.pool;
  const uint32_t h = head_;
  const uint32_t len = p.len(h);
  c.handler->on_data(c.dir, std::span<const uint8_t>(p.data(h), len), c.ts_us);
  c.counters->bytes_delivered += len;
  c.counters->buffered_bytes -= len;
  next_ += len;
  head_ = p.next(h);
  --chunks_;
  p.free(h);
}

void Reassembly::drain(const ReassemblyContext& c) {
  while (head_ != kNone && c.pool->seq(head_) == next_) pop_head(c);
}

void Reassembly::gap_to(uint32_t seq, const ReassemblyContext& c) {
  const uint32_t missing = seq - next_;
  if (missing == 0) return;
  c.handler->on_gap(c.dir, missing, c.ts_us);
  ++c.counters->gaps;
  c.counters->gap_bytes += missing;
  next_ = seq;
}

void Reassembly::flush(const ReassemblyContext& c, std::optional<uint32_t> end) {
  while (head_ != kNone) {
    gap_to(c.pool->seq(head_), c);
    drain(c);
  }
  if (end && static_cast<int32_t>(*end - next_) > 0) gap_to(*end, c);
}

void Reassembly::reset(ChunkPool& pool, ReassemblyCounters& counters) {
  while (head_ != kNone) {
    const uint32_t h = head_;
    counters.buffered_bytes -= pool.len(h);
    head_ = pool.next(h);
    pool.free(h);
  }
  chunks_ = 0;
  next_ = 0;
  started_ = false;
}

}  // namespace iotwall::dpi
