#include "model/evaluator.h"

namespace iotwall {

Evaluator::Evaluator(const EvalOptions& o, const Interner& in)
    : opt_(o), in_(in), graph_(o.graph) {
  r_.manager = o.answer_after_ms.has_value();
}

void Evaluator::answer_due(int64_t now) {
  while (!due_.empty() && due_.front().due_ms <= now) {
    DueAnswer d = due_.front();
    due_.pop_front();
    const Question* q = graph_.question(d.question);
    if (q == nullptr || !q->open) continue;  // answered already (for the type)
    std::string error;
    const Scope scope = d.approve ? Scope::kType : Scope::kService;
    if (graph_.answer(d.question, d.approve, scope, d.source, &error)) {
      ++(d.approve ? r_.questions_approved : r_.questions_denied);
    }
  }
}

Judgement Evaluator::add(const TraceRecord& rec) {
  const Access& a = rec.access;
  if (opt_.answer_after_ms) answer_due(std::max(a.time_ms, graph_.now()));
  const Judgement j = graph_.observe(a);
  if (j.asked && opt_.answer_after_ms) {
    const uint32_t source = graph_.edges()[j.edge].src;
    due_.push_back({graph_.now() + *opt_.answer_after_ms, j.question, source,
                    rec.label_class != LabelClass::kAnomalous});
  }

  if (r_.rows == 0) r_.first_ms = a.time_ms;
  r_.first_ms = std::min(r_.first_ms, a.time_ms);
  r_.last_ms = std::max(r_.last_ms, a.time_ms);
  ++r_.rows;
  switch (rec.label_class) {
    case LabelClass::kAnomalous:
      ++(j.anomalous ? r_.tp : r_.fn);
      break;
    case LabelClass::kNormal:
      ++(j.anomalous ? r_.fp : r_.tn);
      if (!j.source_learning) {
        ++r_.normal_after_learning;
        if (j.anomalous) ++r_.fp_after_learning;
      }
      break;
    case LabelClass::kUnlabeled:
      ++r_.unlabeled;
      if (j.anomalous) ++r_.unlabeled_flagged;
      break;
  }
  if (!rec.label.empty()) {
    if (rec.label.id >= by_label_.size()) by_label_.resize(rec.label.id + 1);
    LabelCount& c = by_label_[rec.label.id];
    ++c.rows;
    if (j.anomalous) ++c.flagged;
  }
  return j;
}

EvalReport Evaluator::report() const {
  EvalReport r = r_;
  for (uint32_t id = 0; id < by_label_.size(); ++id) {
    if (by_label_[id].rows) r.per_label[std::string(in_.str(Sym{id}))] = by_label_[id];
  }
  r.questions = graph_.questions().size();
  r.questions_open = graph_.open_questions();
  r.vertices = graph_.vertices().size();
  r.edges = graph_.edges().size();
  r.live_edges = graph_.live_edges();
  return r;
}

}  // namespace iotwall
