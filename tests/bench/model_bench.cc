// The full detector (graph + per-type models) on pre-parsed accesses, single
// thread: every access judged by the graph, scored against its type's
// model and, when normal, learned into its window's descriptor. Compare with
// BM_Baseline_TouchAccesses and BM_CommGraph_* in the same run.
#include <benchmark/benchmark.h>

#include "model/detector.h"
#include "tests/bench/bench_data.h"

namespace iotwall::bench {
namespace {

// A whole day from nothing: learning phases, questions left open (no
// manager), descriptors merged every minute per service.
void BM_Detector_FromEmpty(benchmark::State& state) {
  const auto& rows = records();
  Interner& in = interner();
  for (auto _ : state) {
    Detector d(DetectorOptions{}, in);
    int64_t flagged = 0;
    for (const TraceRecord& r : rows) flagged += d.observe(r.access).anomalous;
    benchmark::DoNotOptimize(flagged);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows.size()));
}
BENCHMARK(BM_Detector_FromEmpty)->Unit(benchmark::kMillisecond);

// A second day on the models of the first (times shifted by a day): the
// steady state of a running site, mature models, every access scored.
void BM_Detector_Warm(benchmark::State& state) {
  const auto& rows = records();
  Interner& in = interner();
  Detector d(DetectorOptions{}, in);
  for (const TraceRecord& r : rows) d.observe(r.access);
  const int64_t span = rows.back().access.time_ms - rows.front().access.time_ms + 60'000;
  std::vector<Access> next;
  next.reserve(rows.size());
  int64_t shift = 0;
  uint64_t scored = 0;
  for (auto _ : state) {
    state.PauseTiming();
    shift += span;
    next.clear();
    for (const TraceRecord& r : rows) {
      next.push_back(r.access);
      next.back().time_ms += shift;
    }
    state.ResumeTiming();
    int64_t flagged = 0;
    for (const Access& a : next) {
      const Verdict v = d.observe(a);
      flagged += v.anomalous;
      scored += v.scored;
    }
    benchmark::DoNotOptimize(flagged);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows.size()));
  state.counters["scored_share"] = static_cast<double>(scored) / static_cast<double>(state.iterations() * rows.size());
  state.counters["model_bytes"] = static_cast<double>(d.model_bytes());
  state.counters["types"] = static_cast<double>(d.models().size());
}
BENCHMARK(BM_Detector_Warm)->Unit(benchmark::kMillisecond);

// The published size case: 20 services with 10 relationships each, over an
// hour of accesses (one per relationship every 10 s, a numeric value), so
// the type models hold CFs, counts, node values and periods. Bytes of the
// graph per edge and of the models per type relationship.
void BM_Detector_Memory20x10(benchmark::State& state) {
  Interner in;
  std::vector<Access> accesses;
  for (int t = 0; t < 360; ++t) {
    for (int s = 0; s < 20; ++s) {
      for (int r = 0; r < 10; ++r) {
        Access a;
        const int dst = (s + r + 1) % 20;
        a.source_address = in.intern("/agent1/service" + std::to_string(s));
        a.source_type = in.intern("/type" + std::to_string(s % 5));
        a.dest_address = in.intern("/agent1/service" + std::to_string(dst));
        a.dest_type = in.intern("/type" + std::to_string(dst % 5));
        a.node_address = in.intern("/agent1/service" + std::to_string(dst) + "/value");
        a.op = Operation::kRead;
        a.value = Value::Number(20 + (t % 7));
        a.time_ms = int64_t{t} * 10'000 + s * 100 + r;
        accesses.push_back(a);
      }
    }
  }
  size_t graph_bytes = 0, edges = 0, model_bytes = 0, rels = 0;
  for (auto _ : state) {
    Detector d(DetectorOptions{}, in);
    for (const Access& a : accesses) d.observe(a);
    graph_bytes = d.graph().bytes();
    edges = d.graph().edges().size();
    model_bytes = d.model_bytes();
    rels = 0;
    for (const auto& [k, m] : d.models()) rels += m.rels.size();
  }
  state.counters["graph_bytes"] = static_cast<double>(graph_bytes);
  state.counters["bytes_per_edge"] = static_cast<double>(graph_bytes) / static_cast<double>(edges);
  state.counters["model_bytes"] = static_cast<double>(model_bytes);
  state.counters["type_relationships"] = static_cast<double>(rels);
  state.counters["bytes_per_type_rel"] = static_cast<double>(model_bytes) / static_cast<double>(rels);
}
BENCHMARK(BM_Detector_Memory20x10)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace iotwall::bench
