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
