// Evaluator: replays labelled accesses through the detector, learning online
// from an empty model, and scores its verdicts against the labels. Labels
// are never shown to the detector; with answer_after_ms set, an emulated
// site manager uses them as a person's answers to the detector's questions
// (approve for the type when the access that raised the question is
// labelled normal, deny for the one service otherwise).
//
// Thread-safety: none. The Interner must outlive the evaluator.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "model/access.h"
#include "model/comm_graph.h"

namespace iotwall {

struct EvalOptions {
  GraphOptions graph;
  std::optional<int64_t> answer_after_ms;  // emulated manager; none = never answers
};

struct LabelCount {
  uint64_t rows = 0;
  uint64_t flagged = 0;
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
  Evaluator(const EvalOptions& o, const Interner& in);

  // Judges one row; rows should come in timestamp order.
  Judgement add(const TraceRecord& r);
  EvalReport report() const;
  const CommGraph& graph() const { return graph_; }

 private:
  struct DueAnswer {
    int64_t due_ms;
    uint32_t question;
    uint32_t source;
    bool approve;
  };
  void answer_due(int64_t now);

  EvalOptions opt_;
  const Interner& in_;
  CommGraph graph_;
  EvalReport r_;
  std::deque<DueAnswer> due_;  // due_ms non-decreasing: graph time only moves forward
  std::vector<LabelCount> by_label_;  // label Sym id -> counts, folded into the report
};

}  // namespace iotwall
