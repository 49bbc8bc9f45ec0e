// Evaluator: replays labelled accesses through the detector, learning online
// from an empty model, and scores its verdicts against the labels. Labels
// are never shown to the detector; with answer_after_ms set, an emulated
// site manager uses them as a person's answers to the detector's questions
// (approve for the type when the access that raised the question is
// labelled normal, deny for the one service otherwise).
//
// Thread-safety: none. The Interner must outlive the evaluator.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "model/access.h"
#include "model/comm_graph.h"
#include "model/detector.h"
#include "model/features.h"

namespace iotwall {

struct EvalOptions {
  DetectorOptions detector;
  int64_t series_bucket_ms = 10 * 60 * 1000;  // errors-over-time resolution
  std::optional<int64_t> answer_after_ms;  // emulated manager; none = never answers
};

struct LabelCount {
  uint64_t rows = 0;
  uint64_t flagged = 0;
};

// The score each row would need to pass, binned for a threshold sweep (ROC):
// rows the graph flags count as +inf, rows never scored as 0.
struct ScoreHistogram {
  static constexpr int kBins = 240;  // 20 per decade from 1e-2 to 1e10
  static double edge(int i) { return std::pow(10.0, -2 + i / 20.0); }
  std::array<uint64_t, kBins + 2> normal{}, anomalous{};  // [0]: below edge(0); [kBins+1]: graph-flagged

  static int bin(double av, bool graph_flagged);
  void add(double av, bool graph_flagged, bool anomalous_label);
};

// One point of the threshold sweep: flagging rows whose score is at least
// `threshold` (graph-flagged rows always) gives these rates.
struct RocPoint {
  double threshold, detection_rate, false_positive_rate;
};
// The sweep over the histogram's bin edges, from 0 (everything flagged) to
// +inf (only what the graph flags), thresholds increasing.
std::vector<RocPoint> roc_curve(const ScoreHistogram& h);

// Errors in one time bucket (the paper's Fig. 4).
struct SeriesBucket {
  int64_t start_ms = 0;
  uint64_t rows = 0, fp = 0, fn = 0, tp = 0;
};

// How fast flagging stopped after the manager approved a relation.
struct Plasticity {
  uint32_t question = 0;
  int64_t asked_ms = 0, answered_ms = 0;
  uint64_t flagged_before = 0;  // normal rows flagged while it was open
  uint64_t flagged_after = 0;   // normal rows of the relation flagged after the answer
  int64_t last_flagged_ms = -1;
};

struct EvalReport {
  uint64_t rows = 0;
  uint64_t tp = 0, fp = 0, tn = 0, fn = 0;
  uint64_t unlabeled = 0, unlabeled_flagged = 0;
  uint64_t normal_after_learning = 0, fp_after_learning = 0;
  std::map<std::string, LabelCount> per_label;  // label as written -> counts
  int64_t first_ms = 0, last_ms = 0;
  uint64_t questions = 0, questions_approved = 0, questions_denied = 0, questions_open = 0;
  uint64_t vertices = 0, edges = 0, live_edges = 0;
  bool manager = false;
  uint64_t scored = 0, descriptors = 0, model_bytes = 0, types = 0;
  uint64_t untracked_accesses = 0;  // scored without flow history (max_flows reached)
  std::array<uint64_t, kFeatureCount> flagged_by{};  // rows flagged by the model, by deciding feature
  ScoreHistogram scores;
  std::vector<SeriesBucket> series;
  std::vector<Plasticity> plasticity;

  double hours() const { return rows ? static_cast<double>(last_ms - first_ms) / 3.6e6 : 0; }
  double detection_rate() const { return ratio(tp, tp + fn); }
  double false_positive_rate() const { return ratio(fp, fp + tn); }
  double false_positive_rate_after_learning() const {
    return ratio(fp_after_learning, normal_after_learning);
  }
  double accuracy() const { return ratio(tp + tn, tp + tn + fp + fn); }
  double precision() const { return ratio(tp, tp + fp); }
  double per_hour(uint64_t n) const { return hours() > 0 ? static_cast<double>(n) / hours() : 0; }
  double questions_per_day() const { return hours() > 0 ? static_cast<double>(questions) * 24 / hours() : 0; }

 private:
  static double ratio(uint64_t a, uint64_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0; }
};

class Evaluator {
 public:
  Evaluator(const EvalOptions& o, Interner& in);

  // Judges one row; rows should come in timestamp order.
  Verdict add(const TraceRecord& r);
  EvalReport report() const;
  const CommGraph& graph() const { return det_.graph(); }
  const Detector& detector() const { return det_; }
  Detector& detector() { return det_; }  // to load a state before the first row

 private:
  struct DueAnswer {
    int64_t due_ms;
    uint32_t question;
    uint32_t source;
    bool approve;
  };
  void answer_due(int64_t now);

  void account(const TraceRecord& rec, const Verdict& v);

  EvalOptions opt_;
  const Interner& in_;
  Detector det_;
  EvalReport r_;
  absl::flat_hash_map<Relation, uint32_t> approved_;  // relation -> index into r_.plasticity
  absl::flat_hash_map<uint32_t, uint64_t> pending_fp_;  // question -> normal rows flagged pending on it
  std::deque<DueAnswer> due_;  // due_ms non-decreasing: graph time only moves forward
  std::vector<LabelCount> by_label_;  // label Sym id -> counts, folded into the report
};

}  // namespace iotwall
