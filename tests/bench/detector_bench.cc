// Detector throughput on pre-parsed accesses, single thread, beside its
// floor: a pass that only touches each access.
#include <benchmark/benchmark.h>

#include "model/comm_graph.h"
#include "tests/bench/bench_data.h"

namespace iotwall::bench {
namespace {

void BM_Baseline_TouchAccesses(benchmark::State& state) {
  const auto& rows = records();
  for (auto _ : state) {
    int64_t sum = 0;
    for (const TraceRecord& r : rows) sum += r.access.time_ms + r.access.dest_address.id;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows.size()));
}
BENCHMARK(BM_Baseline_TouchAccesses)->Unit(benchmark::kMillisecond);

// A whole day from an empty graph: learning, questions, steady state.
void BM_CommGraph_FromEmpty(benchmark::State& state) {
  const auto& rows = records();
  for (auto _ : state) {
    CommGraph g;
    int64_t flagged = 0;
    for (const TraceRecord& r : rows) flagged += g.observe(r.access).anomalous;
    benchmark::DoNotOptimize(flagged);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows.size()));
}
BENCHMARK(BM_CommGraph_FromEmpty)->Unit(benchmark::kMillisecond);

// Steady state: every edge already known (the common case inline).
void BM_CommGraph_Warm(benchmark::State& state) {
  const auto& rows = records();
  CommGraph g;
  for (const TraceRecord& r : rows) g.observe(r.access);
  for (auto _ : state) {
    int64_t flagged = 0;
    for (const TraceRecord& r : rows) flagged += g.observe(r.access).anomalous;
    benchmark::DoNotOptimize(flagged);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows.size()));
  state.counters["graph_bytes"] = static_cast<double>(g.bytes());
  state.counters["edges"] = static_cast<double>(g.edges().size());
}
BENCHMARK(BM_CommGraph_Warm)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace iotwall::bench

namespace iotwall::bench {
namespace {

// The published graph's size case: 20 services with 10 relationships each
// (33.7 KB in seed 000). Reports bytes held, in all and per edge.
void BM_CommGraph_Memory20x10(benchmark::State& state) {
  Interner in;
  std::vector<Access> accesses;
  for (int s = 0; s < 20; ++s) {
    for (int r = 0; r < 10; ++r) {
      Access a;
      a.source_address = in.intern("/agent1/service" + std::to_string(s));
      a.source_type = in.intern("/type" + std::to_string(s % 5));
      a.dest_address = in.intern("/agent1/service" + std::to_string((s + r + 1) % 20));
      a.dest_type = in.intern("/type" + std::to_string((s + r + 1) % 5));
      a.op = Operation::kRead;
      accesses.push_back(a);
    }
  }
  size_t bytes = 0, edges = 0;
  for (auto _ : state) {
    CommGraph g;
    for (const Access& a : accesses) g.observe(a);
    bytes = g.bytes();
    edges = g.edges().size();
  }
  state.counters["graph_bytes"] = static_cast<double>(bytes);
  state.counters["bytes_per_edge"] = static_cast<double>(bytes) / static_cast<double>(edges);
}
BENCHMARK(BM_CommGraph_Memory20x10)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace iotwall::bench
