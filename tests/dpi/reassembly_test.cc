#include "dpi/reassembly.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace iotwall::dpi;

namespace {

// Records what one direction delivered; gaps appear as '#' runs in `with_gaps`.
class Recorder : public ConnectionHandler {
 public:
  void on_data(Direction, std::span<const uint8_t> b, int64_t) override {
    data.append(b.begin(), b.end());
    with_gaps.append(b.begin(), b.end());
  }
  void on_gap(Direction, uint64_t missing, int64_t) override {
    gaps.push_back(missing);
    with_gaps.append(missing, '#');
  }
  void on_close(CloseReason, int64_t) override {}

  std::string data, with_gaps;
  std::vector<uint64_t> gaps;
};

struct Harness {
  explicit Harness(uint32_t isn, size_t pool_bytes = 1 << 20, size_t chunk = 64,
                   size_t per_direction = 1 << 20)
      : pool(pool_bytes, chunk), per_direction(per_direction) {
    r.start(isn);
  }
  ReassemblyContext ctx() {
    return ReassemblyContext{&pool, &counters, &rec, Direction::kToServer, 0, per_direction};
  }
  void seg(uint32_t seq, const std::string& s) {
    r.segment(seq, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()),
              ctx());
  }
  ~Harness() { r.reset(pool, counters); }

  ChunkPool pool;
  size_t per_direction;
  ReassemblyCounters counters;
  Recorder rec;
  Reassembly r;
};

}  // namespace

TEST_CASE("in-order segments are delivered at once, without buffering", "[reassembly]") {
  Harness h(100);
  h.seg(100, "hello ");
  CHECK(h.rec.data == "hello ");
  h.seg(106, "world");
  CHECK(h.rec.data == "hello world");
  CHECK(h.r.next_seq() == 111);
  CHECK(h.counters.bytes_delivered == 11);
  CHECK(h.counters.ooo_segments_buffered == 0);
  CHECK(h.pool.in_use() == 0);
}

TEST_CASE("out-of-order segments wait for the hole", "[reassembly]") {
  Harness h(0);
  h.seg(10, "klmno");
  h.seg(5, "fghij");
  CHECK(h.rec.data.empty());
  CHECK(h.counters.ooo_segments_buffered == 2);
  CHECK(h.counters.buffered_bytes == 10);
  CHECK(h.r.has_buffered());
  h.seg(0, "abcde");
  CHECK(h.rec.data == "abcdefghijklmno");
  CHECK(h.counters.buffered_bytes == 0);
  CHECK(h.counters.buffered_bytes_peak == 10);
  CHECK(h.pool.in_use() == 0);
  CHECK_FALSE(h.r.has_buffered());
}

TEST_CASE("duplicates are counted as retransmissions and not delivered twice", "[reassembly]") {
  Harness h(0);
  h.seg(0, "abcd");
  h.seg(0, "abcd");  // old
  h.seg(2, "cdef");  // half old
  h.seg(10, "klm");  // buffered
  h.seg(10, "klm");  // duplicate of buffered
  h.seg(6, "ghijklmn");
  CHECK(h.rec.data == "abcdefghijklmn");
  CHECK(h.counters.retransmitted_bytes == 4 + 2 + 3 + 3);
  CHECK(h.counters.overlap_conflict_bytes == 0);
}

TEST_CASE("overlaps: the first copy wins and differing bytes are counted", "[reassembly]") {
  Harness h(0);
  h.seg(10, "XXXX");           // buffered first
  h.seg(0, "0123456789abcd");  // in order, overlaps the buffered bytes with "abcd"
  CHECK(h.rec.data == "0123456789XXXX");
  CHECK(h.counters.overlap_conflict_bytes == 4);
  CHECK(h.counters.retransmitted_bytes == 4);

  Harness g(0);
  g.seg(4, "EFGH");
  g.seg(2, "cdefgh");  // out of order, overlaps the buffered range: "cd" new, "efgh" conflicts
  g.seg(0, "ab");
  CHECK(g.rec.data == "abcdEFGH");
  CHECK(g.counters.overlap_conflict_bytes == 4);
  g.seg(0, "zzzz");  // already delivered: counted as retransmitted, not compared
  CHECK(g.rec.data == "abcdEFGH");
}

TEST_CASE("sequence numbers wrap at 2^32", "[reassembly]") {
  const uint32_t isn = UINT32_MAX - 4;
  Harness h(isn);
  h.seg(isn + 8, "ijkl");  // past the wrap, out of order
  h.seg(isn, "abc");
  h.seg(isn + 3, "defgh");  // crosses the wrap
  CHECK(h.rec.data == "abcdefghijkl");
  CHECK(h.r.next_seq() == 7);
  h.seg(isn + 1, "bc");  // a retransmission from before the wrap
  CHECK(h.counters.retransmitted_bytes == 2);
  CHECK(h.rec.data == "abcdefghijkl");
}

TEST_CASE("the per-direction bound gives up the first hole", "[reassembly]") {
  // 16-byte chunks, at most 4 chunks (64 bytes) per direction.
  Harness h(0, 1 << 20, 16, 64);
  const std::string run(64, 'x');
  h.seg(100, run);  // fills the direction
  CHECK(h.rec.data.empty());
  CHECK(h.counters.buffered_bytes == 64);
  h.seg(200, "yyyy");  // no room: the hole [0, 100) is given up
  CHECK(h.rec.gaps == std::vector<uint64_t>{100});
  CHECK(h.rec.data == run);
  CHECK(h.counters.segments_at_bound == 1);
  CHECK(h.counters.gaps == 1);
  CHECK(h.counters.gap_bytes == 100);
  // "yyyy" is now buffered behind a new hole [164, 200).
  CHECK(h.counters.buffered_bytes == 4);
  h.seg(164, std::string(36, 'z'));
  CHECK(h.rec.data == run + std::string(36, 'z') + "yyyy");
  CHECK(h.pool.in_use() == 0);
}

TEST_CASE("an exhausted shared pool never stalls a direction", "[reassembly]") {
  Harness h(0, /*pool_bytes=*/32, /*chunk=*/16, /*per_direction=*/1 << 20);
  h.seg(10, std::string(40, 'a'));  // 32 bytes fit; the rest forces the hole out
  CHECK(h.rec.gaps == std::vector<uint64_t>{10});
  CHECK(h.rec.data == std::string(40, 'a'));
  CHECK(h.counters.buffered_bytes == 0);

  // A segment larger than anything the direction may hold.
  Harness g(0, 1 << 20, 16, 32);
  g.seg(5, std::string(100, 'b'));
  CHECK(g.rec.with_gaps == std::string(5, '#') + std::string(100, 'b'));
}

TEST_CASE("flush gives up every hole and reports the tail up to a FIN", "[reassembly]") {
  Harness h(0);
  h.seg(0, "ab");
  h.seg(5, "fg");
  h.seg(10, "kl");
  h.r.flush(h.ctx(), 15u);
  CHECK(h.rec.with_gaps == "ab###fg###kl###");
  CHECK(h.counters.gaps == 3);
  CHECK(h.counters.gap_bytes == 9);
}

TEST_CASE("the pool reuses freed chunks before fresh ones: churn touches no new pages", "[reassembly]") {
  Harness h(0, 1 << 20, 64);  // 16,384 chunks
  uint32_t seq = 0;
  for (int i = 0; i < 5000; ++i) {
    // A lost segment, three after it buffered (3 chunks), then the hole fills.
    h.seg(seq + 10, std::string(150, 'b'));
    REQUIRE(h.pool.in_use() == 3);
    h.seg(seq, std::string(10, 'a'));
    REQUIRE(h.pool.in_use() == 0);
    seq += 160;
  }
  CHECK(h.rec.data.size() == 5000u * 160);
  CHECK(h.pool.touched() == 3);  // the high-water mark, not 15,000 chunks
}

TEST_CASE("segments far ahead of the window are dropped", "[reassembly]") {
  Harness h(0);
  h.seg((uint32_t{1} << 30) + 5, "junk");
  CHECK(h.counters.segments_out_of_window == 1);
  CHECK(h.counters.retransmitted_bytes == 0);
  h.seg((uint32_t{1} << 31) + 5, "old");  // more than 2^31 ahead is behind: a retransmission
  CHECK(h.counters.retransmitted_bytes == 3);
  CHECK(h.counters.buffered_bytes == 0);
}

namespace {

struct Segment {
  uint32_t offset;
  std::string bytes;
};

// Random segmentation of `stream`, extra copies (exact and shifted
// overlapping ranges of the same bytes), then a random reordering.
std::vector<Segment> scramble(const std::string& stream, std::mt19937& rng) {
  std::vector<Segment> segs;
  std::uniform_int_distribution<size_t> len(1, 300);
  for (size_t pos = 0; pos < stream.size();) {
    const size_t n = std::min(len(rng), stream.size() - pos);
    segs.push_back({static_cast<uint32_t>(pos), stream.substr(pos, n)});
    pos += n;
  }
  const size_t originals = segs.size();
  std::uniform_int_distribution<int> percent(0, 99);
  for (size_t i = 0; i < originals; ++i) {
    if (percent(rng) < 20) segs.push_back(segs[i]);
    if (percent(rng) < 15) {
      const size_t start = std::uniform_int_distribution<size_t>(0, stream.size() - 1)(rng);
      const size_t n = std::min(len(rng), stream.size() - start);
      segs.push_back({static_cast<uint32_t>(start), stream.substr(start, n)});
    }
  }
  if (percent(rng) < 50) {
    std::shuffle(segs.begin(), segs.end(), rng);
  } else {  // local reordering only, as networks do
    for (size_t i = 0; i + 1 < segs.size(); ++i) {
      if (percent(rng) < 30)
        std::swap(segs[i], segs[i + 1 + rng() % std::min<size_t>(5, segs.size() - i - 1)]);
    }
  }
  return segs;
}

}  // namespace

TEST_CASE("property: scrambled segments reassemble to the original stream", "[reassembly]") {
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    std::mt19937 rng(seed);
    const size_t n = std::uniform_int_distribution<size_t>(1, 6000)(rng);
    std::string stream(n, '\0');
    for (char& c : stream) c = static_cast<char>(rng());
    // Half of the runs start just before the wrap.
    const uint32_t isn = seed % 2 ? static_cast<uint32_t>(rng()) : UINT32_MAX - (rng() % 3000);
    const size_t chunk = std::array<size_t, 3>{7, 64, 2048}[seed % 3];
    Harness h(isn, 1 << 20, chunk, 1 << 20);
    for (const Segment& s : scramble(stream, rng)) h.seg(isn + s.offset, s.bytes);
    INFO("seed " << seed << " length " << n << " isn " << isn << " chunk " << chunk);
    REQUIRE(h.rec.gaps.empty());
    REQUIRE(h.rec.data == stream);
    CHECK(h.counters.bytes_delivered == n);
    CHECK(h.counters.overlap_conflict_bytes == 0);
    CHECK(h.counters.buffered_bytes == 0);
    CHECK(h.pool.in_use() == 0);
  }
}

TEST_CASE("property: under tight bounds every byte is delivered in place or counted in a gap",
          "[reassembly]") {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed * 7919);
    const size_t n = std::uniform_int_distribution<size_t>(1, 6000)(rng);
    std::string stream(n, '\0');
    for (char& c : stream) c = static_cast<char>('a' + rng() % 26);  // never '#'
    const uint32_t isn = static_cast<uint32_t>(rng());
    const size_t per_direction = std::uniform_int_distribution<size_t>(0, 1500)(rng);
    const size_t pool_bytes = std::uniform_int_distribution<size_t>(0, 3000)(rng);
    Harness h(isn, pool_bytes, 1 + rng() % 100, per_direction);
    for (const Segment& s : scramble(stream, rng)) {
      h.seg(isn + s.offset, s.bytes);
      REQUIRE(h.counters.buffered_bytes <= std::min(per_direction, pool_bytes));
    }
    h.r.flush(h.ctx(), isn + static_cast<uint32_t>(n));
    INFO("seed " << seed << " length " << n << " bound " << per_direction << " pool "
                 << pool_bytes);
    REQUIRE(h.rec.with_gaps.size() == n);
    for (size_t i = 0; i < n; ++i) {
      if (h.rec.with_gaps[i] != '#') REQUIRE(h.rec.with_gaps[i] == stream[i]);
    }
    CHECK(h.counters.bytes_delivered + h.counters.gap_bytes == n);
    CHECK(h.pool.in_use() == 0);
  }
}
