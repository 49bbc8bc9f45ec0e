// DPI throughput and allocations: CaptureDecoder (frames -> accesses) on a
// simulated site's capture, beside its floor (libpcap reading the same file
// without decoding).
//
// The capture: SiteWire writes a 12-room, 2-hour simulated site (seed 1,
// plaintext only) to a temporary pcap once per process.
//
// Allocations are counted by interposing malloc/calloc/realloc (operator
// new goes through malloc), so the figures include every C++ and C
// allocation of the process, single-threaded here.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "dpi/capture_decoder.h"
#include "dpi/packet.h"
#include "dpi/pcap_source.h"
#include "dpi/site_map.h"
#include "dpi/site_wire.h"
#include "model/intern.h"
#include "model/site_sim.h"

// --- Allocation counter ---------------------------------------------------

extern "C" void* __libc_malloc(size_t);
extern "C" void* __libc_calloc(size_t, size_t);
extern "C" void* __libc_realloc(void*, size_t);
extern "C" void __libc_free(void*);

namespace {
// Counted from the benchmark thread only: a relaxed load and store, not an
// atomic increment, keeps the count's cost out of the timings.
std::atomic<uint64_t> g_allocs{0};
inline void count_alloc() { g_allocs.store(g_allocs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
}  // namespace

extern "C" void* malloc(size_t n) {
  count_alloc();
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t n, size_t m) {
  count_alloc();
  return __libc_calloc(n, m);
}
extern "C" void* realloc(void* p, size_t n) {
  count_alloc();
  return __libc_realloc(p, n);
}
extern "C" void free(void* p) { __libc_free(p); }

namespace iotwall::bench {
namespace {

using dpi::CaptureDecoder;
using dpi::CaptureOptions;
using dpi::LinkType;
using dpi::PcapSource;
using dpi::RawPacket;

// The simulated capture, written once; removed at exit.
struct Capture {
  std::string path;
  dpi::SiteMap site;
  dpi::SiteWireStats stats;

  Capture() {
    char tmpl[] = "/tmp/iotwall-dpi-bench-XXXXXX.pcap";
    const int fd = mkstemps(tmpl, 5);
    if (fd < 0) throw std::runtime_error("mkstemps failed");
    ::close(fd);
    path = tmpl;
    Interner in;
    SiteSimulator sim(SimOptions{.rooms = 12, .hours = 2, .seed = 1}, in);
    dpi::SiteWireOptions wo;
    wo.seed = 1;
    wo.tls_share = 0;
    dpi::SiteWire wire(in, wo);
    std::string error;
    if (!wire.open(path, &error)) throw std::runtime_error(error);
    TraceRecord r;
    while (sim.next(&r)) {
      if (!wire.add(r, &error)) throw std::runtime_error(error);
    }
    if (!wire.finish(&error)) throw std::runtime_error(error);
    site = wire.site_map();
    stats = wire.stats();
  }
  ~Capture() { std::remove(path.c_str()); }
};

const Capture& capture() {
  static Capture c;
  return c;
}

// The capture's frames in memory, to time the decoder without libpcap.
struct Frames {
  LinkType link = LinkType::kEthernet;
  std::vector<uint8_t> bytes;
  std::vector<size_t> end;  // frame i is bytes[end[i-1], end[i])
  std::vector<int64_t> ts;

  std::span<const uint8_t> frame(size_t i) const {
    const size_t b = i == 0 ? 0 : end[i - 1];
    return std::span<const uint8_t>(bytes.data() + b, end[i] - b);
  }
};

const Frames& frames() {
  static const Frames f = [] {
    Frames out;
    std::string error;
    auto src = PcapSource::open_file(capture().path, &error);
    if (!src) throw std::runtime_error(error);
    out.link = src->link_type();
    RawPacket p;
    while (src->next(&p)) {
      out.bytes.insert(out.bytes.end(), p.data.begin(), p.data.end());
      out.end.push_back(out.bytes.size());
      out.ts.push_back(p.ts_us);
    }
    if (!src->at_end()) throw std::runtime_error(src->error());
    return out;
  }();
  return f;
}

CaptureOptions options() {
  CaptureOptions o;
  o.flows.server_ports.clear();
  return o;
}

uint64_t counter(const CaptureDecoder& d, std::string_view name) {
  uint64_t v = 0;
  d.for_each([&](std::string_view n, uint64_t x) {
    if (n == name) v = x;
  });
  return v;
}

// (a) The floor: libpcap reading the file, no decoding.
void BM_Baseline_PcapRead(benchmark::State& state) {
  const std::string& path = capture().path;
  int64_t bytes = 0, packets = 0;
  for (auto _ : state) {
    std::string error;
    auto src = PcapSource::open_file(path, &error);
    RawPacket p;
    uint64_t sum = 0;
    while (src->next(&p)) {
      sum += p.data.size();
      ++packets;
    }
    bytes += static_cast<int64_t>(sum);
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(packets);
  state.counters["packets/s"] = benchmark::Counter(static_cast<double>(packets), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Baseline_PcapRead)->Unit(benchmark::kMillisecond);

// (b) The whole pipeline from the file: libpcap + CaptureDecoder; a fresh
// decoder and Interner per pass (connection set-up and interning count).
void BM_CaptureDecoder_File(benchmark::State& state) {
  const Capture& c = capture();
  int64_t bytes = 0, packets = 0, accesses = 0;
  for (auto _ : state) {
    Interner in;
    CaptureDecoder dec(options(), c.site, in);
    std::string error;
    auto src = PcapSource::open_file(c.path, &error);
    const LinkType link = src->link_type();
    RawPacket p;
    Access a;
    int64_t last = 0;
    while (src->next(&p)) {
      dec.packet(link, p.data, p.ts_us);
      while (dec.next(&a)) ++accesses;
      bytes += p.data.size();
      ++packets;
      last = p.ts_us;
    }
    dec.finish(last);
    while (dec.next(&a)) ++accesses;
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(accesses);  // items/s = requests (accesses) per second
  state.counters["packets/s"] = benchmark::Counter(static_cast<double>(packets), benchmark::Counter::kIsRate);
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(accesses), benchmark::Counter::kIsRate);
  state.counters["accesses/pass"] =
      benchmark::Counter(static_cast<double>(accesses), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_CaptureDecoder_File)->Unit(benchmark::kMillisecond);

// (b') The decoder alone, on frames already in memory.
void BM_CaptureDecoder_Memory(benchmark::State& state) {
  const Capture& c = capture();
  const Frames& f = frames();
  int64_t bytes = 0, packets = 0, accesses = 0;
  for (auto _ : state) {
    Interner in;
    CaptureDecoder dec(options(), c.site, in);
    Access a;
    for (size_t i = 0; i < f.end.size(); ++i) {
      dec.packet(f.link, f.frame(i), f.ts[i]);
      while (dec.next(&a)) ++accesses;
    }
    dec.finish(f.ts.empty() ? 0 : f.ts.back());
    while (dec.next(&a)) ++accesses;
    bytes += static_cast<int64_t>(f.bytes.size());
    packets += static_cast<int64_t>(f.end.size());
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(accesses);
  state.counters["packets/s"] = benchmark::Counter(static_cast<double>(packets), benchmark::Counter::kIsRate);
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(accesses), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CaptureDecoder_Memory)->Unit(benchmark::kMillisecond);

// (c) Allocations of one decoding pass (from memory), per packet: over the
// whole pass, over its second half (warm: buffers grown, strings
// interned), and split by the packets that carry them: SYN (connection
// set-up), FIN/RST (close), the other packets (steady state). One pass: the
// time reported is not the figure of interest.
void BM_CaptureDecoder_Allocations(benchmark::State& state) {
  const Capture& c = capture();
  const Frames& f = frames();
  const size_t n = f.end.size();
  for (auto _ : state) {
    Interner in;
    uint64_t total = 0, second_half = 0, on_syn = 0, on_close = 0, on_other = 0;
    uint64_t syn_packets = 0, close_packets = 0, other_packets = 0, packets_allocating = 0;
    uint64_t flows_half = 0, accesses = 0, half_mark = 0, excluded = 0;
    const uint64_t start = g_allocs.load(std::memory_order_relaxed);
    {
      CaptureDecoder dec(options(), c.site, in);
      Access a;
      for (size_t i = 0; i < n; ++i) {
        if (i == n / 2) {
          half_mark = g_allocs.load(std::memory_order_relaxed);
          flows_half = counter(dec, "flows_opened");
          excluded = g_allocs.load(std::memory_order_relaxed) - half_mark;  // for_each's own
        }
        dpi::Packet p;
        const bool parsed = dpi::parse_packet(f.link, f.frame(i), &p) == dpi::ParseStatus::kOk;
        const uint64_t before = g_allocs.load(std::memory_order_relaxed);
        dec.packet(f.link, f.frame(i), f.ts[i]);
        while (dec.next(&a)) ++accesses;
        const uint64_t d = g_allocs.load(std::memory_order_relaxed) - before;
        if (d != 0) ++packets_allocating;
        if (parsed && (p.tcp_flags & dpi::kTcpSyn)) {
          on_syn += d;
          ++syn_packets;
        } else if (parsed && (p.tcp_flags & (dpi::kTcpFin | dpi::kTcpRst))) {
          on_close += d;
          ++close_packets;
        } else {
          on_other += d;
          ++other_packets;
        }
      }
      const uint64_t end_pass = g_allocs.load(std::memory_order_relaxed);
      total = end_pass - start - excluded;
      second_half = end_pass - half_mark - excluded;
      const uint64_t flows_all = counter(dec, "flows_opened");
      state.counters["flows_opened"] = static_cast<double>(flows_all);
      state.counters["flows_opened_2nd_half"] = static_cast<double>(flows_all - flows_half);
      dec.finish(f.ts.empty() ? 0 : f.ts.back());
      while (dec.next(&a)) ++accesses;
      if (std::getenv("IOTWALL_BENCH_COUNTERS") != nullptr) {  // the decoder's own counters
        dec.for_each([](std::string_view name, uint64_t v) {
          if (v != 0) std::fprintf(stderr, "  %.*s %llu\n", static_cast<int>(name.size()), name.data(),
                                   static_cast<unsigned long long>(v));
        });
        const dpi::SiteWireStats& w = c.stats;
        std::fprintf(stderr, "  [SiteWire] accesses %llu plain_requests %llu callbacks %llu connections %llu "
                     "packets %llu bytes %llu\n",
                     static_cast<unsigned long long>(w.accesses), static_cast<unsigned long long>(w.plain_requests),
                     static_cast<unsigned long long>(w.callbacks), static_cast<unsigned long long>(w.connections),
                     static_cast<unsigned long long>(w.packets), static_cast<unsigned long long>(w.bytes));
      }
    }
    state.counters["packets"] = static_cast<double>(n);
    state.counters["accesses"] = static_cast<double>(accesses);
    state.counters["allocs/packet"] = static_cast<double>(total) / n;
    state.counters["allocs/packet_2nd_half"] = static_cast<double>(second_half) / (n - n / 2);
    state.counters["allocs_2nd_half"] = static_cast<double>(second_half);
    state.counters["allocs/access"] = static_cast<double>(total) / std::max<uint64_t>(accesses, 1);
    state.counters["allocs_on_syn"] = static_cast<double>(on_syn);
    state.counters["syn_packets"] = static_cast<double>(syn_packets);
    state.counters["allocs_on_fin_rst"] = static_cast<double>(on_close);
    state.counters["fin_rst_packets"] = static_cast<double>(close_packets);
    state.counters["allocs_on_other"] = static_cast<double>(on_other);
    state.counters["other_packets"] = static_cast<double>(other_packets);
    state.counters["packets_allocating"] = static_cast<double>(packets_allocating);
  }
}
BENCHMARK(BM_CaptureDecoder_Allocations)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace iotwall::bench
