#include "model/evaluator.h"

#include <algorithm>

namespace iotwall {

int ScoreHistogram::bin(double av, bool graph_flagged) {
  if (graph_flagged) return kBins + 1;
  if (!(av >= edge(0))) return 0;
  // Bin i (1..kBins) holds [edge(i-1), edge(i)).
  const int i = 1 + static_cast<int>(std::floor((std::log10(av) + 2) * 20));
  return std::clamp(i, 1, kBins);
}

void ScoreHistogram::add(double av, bool graph_flagged, bool anomalous_label) {
  ++(anomalous_label ? anomalous : normal)[static_cast<size_t>(bin(av, graph_flagged))];
}

std::vector<RocPoint> roc_curve(const ScoreHistogram& h) {
  uint64_t normals = 0, anomalies = 0;
  for (size_t i = 0; i < h.normal.size(); ++i) {
    normals += h.normal[i];
    anomalies += h.anomalous[i];
  }
  auto rate = [](uint64_t a, uint64_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  std::vector<RocPoint> out;
  // At threshold edge(i - 1) the rows in bins i.. are flagged; bin 0 holds
  // scores below edge(0), flagged only at threshold 0.
  uint64_t fp = normals, tp = anomalies;
  out.push_back({0, rate(tp, anomalies), rate(fp, normals)});
  for (int i = 1; i <= ScoreHistogram::kBins + 1; ++i) {
    fp -= h.normal[static_cast<size_t>(i - 1)];
    tp -= h.anomalous[static_cast<size_t>(i - 1)];
    const double t = i <= ScoreHistogram::kBins ? ScoreHistogram::edge(i - 1) : INFINITY;
    out.push_back({t, rate(tp, anomalies), rate(fp, normals)});
  }
  return out;
}

Evaluator::Evaluator(const EvalOptions& o, Interner& in) : opt_(o), in_(in), det_(o.detector, in) {
  r_.manager = o.answer_after_ms.has_value();
}

void Evaluator::answer_due(int64_t now) {
  CommGraph& g = det_.graph();
  while (!due_.empty() && due_.front().due_ms <= now) {
    DueAnswer d = due_.front();
    due_.pop_front();
    const Question* q = g.question(d.question);
    if (q == nullptr || !q->open) continue;  // answered already (for the type)
    std::string error;
    const Scope scope = d.approve ? Scope::kType : Scope::kService;
    const Relation rel = q->rel;
    const int64_t asked = q->asked_ms;
    if (g.answer(d.question, d.approve, scope, d.source, &error)) {
      ++(d.approve ? r_.questions_approved : r_.questions_denied);
      if (d.approve) {
        Plasticity p;
        p.question = d.question;
        p.asked_ms = asked;
        p.answered_ms = g.now();
        approved_[rel] = static_cast<uint32_t>(r_.plasticity.size());
        r_.plasticity.push_back(p);
      }
    }
  }
}

Verdict Evaluator::add(const TraceRecord& rec) {
  const Access& a = rec.access;
  if (opt_.answer_after_ms) answer_due(std::max(a.time_ms, det_.graph().now()));
  const Verdict v = det_.observe(a);
  const Judgement& j = v.graph;
  if (j.asked && opt_.answer_after_ms) {
    const uint32_t source = det_.graph().edges()[j.edge].src;
    due_.push_back({det_.graph().now() + *opt_.answer_after_ms, j.question, source,
                    rec.label_class != LabelClass::kAnomalous});
  }
  account(rec, v);
  return v;
}

void Evaluator::account(const TraceRecord& rec, const Verdict& v) {
  const Access& a = rec.access;
  const Judgement& j = v.graph;
  if (r_.rows == 0) r_.first_ms = a.time_ms;
  r_.first_ms = std::min(r_.first_ms, a.time_ms);
  r_.last_ms = std::max(r_.last_ms, a.time_ms);
  ++r_.rows;
  if (v.scored) ++r_.scored;
  if (v.anomalous && !j.anomalous) ++r_.flagged_by[static_cast<size_t>(v.feature)];

  // Errors over time, in buckets from the first row (time never runs back).
  const int64_t now = det_.graph().now();
  const int64_t bucket = opt_.series_bucket_ms;
  if (r_.series.empty() || now >= r_.series.back().start_ms + bucket) {
    const int64_t start = r_.series.empty()
                              ? now
                              : r_.series.back().start_ms + (now - r_.series.back().start_ms) / bucket * bucket;
    r_.series.push_back(SeriesBucket{start, 0, 0, 0, 0});
  }
  SeriesBucket& sb = r_.series.back();
  ++sb.rows;

  switch (rec.label_class) {
    case LabelClass::kAnomalous:
      ++(v.anomalous ? r_.tp : r_.fn);
      ++(v.anomalous ? sb.tp : sb.fn);
      r_.scores.add(v.av, j.anomalous, true);
      break;
    case LabelClass::kNormal:
      ++(v.anomalous ? r_.fp : r_.tn);
      if (v.anomalous) ++sb.fp;
      r_.scores.add(v.av, j.anomalous, false);
      if (!j.source_learning) {
        ++r_.normal_after_learning;
        if (v.anomalous) ++r_.fp_after_learning;
      }
      if (v.anomalous && !approved_.empty()) {
        if (auto it = approved_.find(det_.graph().relation(j.edge)); it != approved_.end()) {
          Plasticity& p = r_.plasticity[it->second];
          ++p.flagged_after;
          p.last_flagged_ms = now;
        }
      }
      if (v.anomalous && j.question != 0) ++pending_fp_[j.question];
      break;
    case LabelClass::kUnlabeled:
      ++r_.unlabeled;
      if (v.anomalous) ++r_.unlabeled_flagged;
      break;
  }
  if (!rec.label.empty()) {
    if (rec.label.id >= by_label_.size()) by_label_.resize(rec.label.id + 1);
    LabelCount& c = by_label_[rec.label.id];
    ++c.rows;
    if (v.anomalous) ++c.flagged;
  }
}

EvalReport Evaluator::report() const {
  EvalReport r = r_;
  for (uint32_t id = 0; id < by_label_.size(); ++id) {
    if (by_label_[id].rows) r.per_label[std::string(in_.str(Sym{id}))] = by_label_[id];
  }
  for (Plasticity& p : r.plasticity) {
    if (auto it = pending_fp_.find(p.question); it != pending_fp_.end()) p.flagged_before = it->second;
  }
  const CommGraph& g = det_.graph();
  r.questions = g.questions().size();
  r.questions_open = g.open_questions();
  r.vertices = g.vertices().size();
  r.edges = g.edges().size();
  r.live_edges = g.live_edges();
  r.descriptors = det_.descriptors();
  r.untracked_accesses = det_.untracked_accesses();
  r.model_bytes = det_.model_bytes();
  r.types = det_.models().size();
  return r;
}

}  // namespace iotwall
