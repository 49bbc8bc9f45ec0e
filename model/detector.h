// Detector: the communication graph (seeds 000/001) with the
// multi-dimensional per-type models of seed 002 on top (ALGORITHM.md
// sections 3-5). Every access is judged by the graph first; an access on an
// edge the graph accepts is then scored against its source type's model:
//
//   SoM = min(modelWeight, trust_weight) / trust_weight     trust in the model
//   SoR = min(modelWeight, cap) / relationshipWeight        rare relationship
//   SoA = max over features of distance / (3 sd)            attribute anomaly
//   AV  = SoM * max(SoR, SoA), anomalous when AV >= threshold
//
// The graph's states win: pending and denied edges are anomalous whatever
// the score, an approved edge is not scored on its relationship (the
// manager said it may exist) but still on its attributes, and a source in
// its learning phase is trusted. Accesses judged normal feed the source's
// descriptor for the current window; anomalous ones never do. At the end of
// each window (per instance, trace time) the descriptor is merged into its
// type's model.
//
// Thread-safety: none (one detector per worker). Time comes only from the
// accesses. The Interner (for node suffixes) must outlive the detector.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include "model/comm_graph.h"
#include "model/features.h"
#include "model/intern.h"
#include "model/period_miner.h"
#include "model/type_model.h"

namespace iotwall {

struct DetectorOptions {
  GraphOptions graph;
  int64_t window_ms = 60'000;      // descriptor window
  double max_model_weight = 3000;  // decay beyond this many descriptors
  // Period clusters no descriptor fed for this long fade out (0: never).
  double stale_after_s = 7 * 86400;
  // SoM saturates at this weight: one instance-hour of descriptors. The
  // paper divides by max_model_weight, which makes a type with one instance
  // untrusted for 50 hours (docs/detector.md).
  double trust_weight = 60;
  double threshold = 7.0;
  double unseen_score = 20;
  // Score known relationships by rarity too (the paper's SoR for every
  // relationship): off, as it flags event-driven relationships each time.
  bool rarity = false;  // SoR of a partner type never seen; SoA of a category never seen
  // Descriptors a feature needs before it has an opinion.
  double min_support = 10;
  FeatureMask disabled = 0;
  double burst_tau_s = 1.0;  // time constant of a flow's burst counter
  size_t period_window = 200;
  // Flows (source, node, operation) tracked at most (each up to about
  // 2.5 KB with its period window); at the bound, flows idle for
  // flow_idle_ms are reclaimed (at most once per eighth of it), else a new
  // flow is scored without history (counted in untracked_accesses()).
  size_t max_flows = 1 << 16;
  int64_t flow_idle_ms = 3'600'000;
};

struct Verdict {
  Judgement graph;
  bool anomalous = false;
  bool scored = false;  // the model scored it (graph accepted, source past learning)
  double som = 0, sor = 0, soa = 0, av = 0;
  Feature feature = Feature::kNone;  // what decided SoA (or kRelationship)
  // For the reason in words: what was seen and what the model expected.
  double observed = 0, expected = 0, spread = 0;
  // kFrequency: the flow's burst (else the window's count); kPeriod: a run
  // of early accesses (observed = their number, spread = seconds taken;
  // else observed = this one gap).
  bool burst = false;
  uint32_t partner_type = 0;  // Sym id of the partner's type key
  bool learned = false;       // fed to the window's descriptor
};

class Detector {
 public:
  Detector(const DetectorOptions& o, Interner& in);

  Verdict observe(const Access& a);

  // Closes every window that ended before now_ms (a daemon calls it when
  // idle; observe() closes a source's windows as it speaks).
  void flush(int64_t now_ms);

  CommGraph& graph() { return graph_; }
  const CommGraph& graph() const { return graph_; }
  const DetectorOptions& options() const { return opt_; }
  void set_threshold(double t) { opt_.threshold = t; }

  // Type models by type key (the type's Sym id, or the vertex name's for a
  // service without a type).
  const absl::flat_hash_map<uint32_t, TypeModel>& models() const { return models_; }
  // Adopts a model for a type (portable models: from a file, another node or
  // site): merges it into the type's model, and the graph treats the type as
  // known (no learning phase) with the relations the model has.
  void adopt(uint32_t type_key, const TypeModel& m);
  // Replaces all models (after loading a file).
  void set_models(absl::flat_hash_map<uint32_t, TypeModel> m) { models_ = std::move(m); }
  // Replaces the graph and the models with a saved state (load_state): the
  // per-instance windows and flows start afresh, and every type with a
  // model skips its learning phase (adopt_type; keys of untyped services
  // are vertex names, which no vertex has as a type). The graph keeps the
  // detector's options, not the file's: settings are configuration.
  void restore(CommGraph g, absl::flat_hash_map<uint32_t, TypeModel> models);

  uint64_t descriptors() const { return descriptors_; }
  // Accesses scored without flow history because max_flows was reached.
  uint64_t untracked_accesses() const { return untracked_accesses_; }
  size_t flows() const { return flow_index_.size(); }
  size_t model_bytes() const;

 private:
  struct RelWindow {
    uint32_t partner_type = 0;
    uint32_t seen = 0, learned = 0;
    float peak_burst = 0;
    // Partners and flows seen, for scoring; those of normal accesses, for
    // the descriptor (an anomalous access is never learned).
    absl::flat_hash_set<uint32_t> partners, learned_partners;  // vertices
    std::vector<uint32_t> flows;  // flow indices, each listed once per window
    uint32_t learned_flows = 0;
    Counts<kOperationCount * 3> access;
    absl::flat_hash_map<uint32_t, NodeModel> nodes;
  };
  struct Instance {
    int64_t window_start = INT64_MIN;
    uint64_t window_seq = 0;  // windows opened, so flows know theirs
    std::vector<RelWindow> rels;
  };
  struct FlowKey {
    uint32_t src, node;
    Operation op;
    friend bool operator==(const FlowKey&, const FlowKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const FlowKey& k) {
      return H::combine(std::move(h), k.src, k.node, k.op);
    }
  };
  struct Flow {
    explicit Flow(size_t window) : miner(window) {}
    int64_t last_ms = -1;     // its latest access
    int64_t last_ok_ms = -1;  // its latest access judged normal
    double burst = 0;
    PeriodMiner miner;
    uint64_t window_seq = 0;   // the source's window it was last listed in
    uint64_t learned_seq = 0;  // the source's window it last had a normal access in
    uint32_t new_gaps = 0;    // gaps added to the miner since it was last mined
    bool alarm = false;    // flagged for its rate; stays so while the rate is high
    double run = 0;        // consecutive early gaps, summed in 3-sd units
    uint32_t run_n = 0;    // their number
    int64_t run_start_ms = 0;  // the normal access the run began after
  };

  // How early a gap is: d in 3-sd units of the nearest period cluster
  // (index `cluster`), 0 when some cluster explains it.
  struct Early {
    double d = 0;
    int cluster = -1;
  };
  static constexpr uint32_t kNoFlow = UINT32_MAX;

  uint32_t type_key(const Vertex& v) const { return v.type.empty() ? v.name.id : v.type.id; }
  uint32_t node_suffix(const Access& a);
  void open_window(Instance* in, int64_t t);
  void close_window(uint32_t src, Instance* in);
  void score(const Access& a, const TypeModel* m, const RelModel* r, const RelWindow& rw,
             const Flow& f, double gap_s, Early early_gap, uint32_t suffix, int where,
             Verdict* v) const;
  void learn(const Access& a, uint32_t suffix, int where, const Flow& f, RelWindow* rw);
  Early early(const RelModel& r, double gap_s) const;
  uint32_t flow_for(const FlowKey& k, int64_t now);  // kNoFlow at the bound
  void reclaim_flows(int64_t now);

  DetectorOptions opt_;
  Interner& in_;
  CommGraph graph_;
  absl::flat_hash_map<uint32_t, TypeModel> models_;
  std::vector<Instance> instances_;  // by source vertex
  std::vector<Flow> flows_;
  absl::flat_hash_map<FlowKey, uint32_t> flow_index_;
  std::vector<uint32_t> free_flows_;  // reclaimed slots of flows_
  Flow untracked_flow_{0};            // scratch for accesses beyond max_flows
  uint64_t untracked_accesses_ = 0;
  int64_t last_reclaim_ms_ = INT64_MIN / 2;
  std::vector<uint32_t> suffix_of_;  // node address Sym id -> suffix Sym id + 1
  uint64_t descriptors_ = 0;
  // Scratch, reused so the hot path does not allocate.
  TypeModel descriptor_;
  std::vector<PeriodCluster> mined_;
};

}  // namespace iotwall
