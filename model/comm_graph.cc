#include "model/comm_graph.h"

#include <algorithm>

#include <absl/container/flat_hash_map.h>

namespace iotwall {

std::string_view edge_state_name(EdgeState s) {
  switch (s) {
    case EdgeState::kLearned: return "learned";
    case EdgeState::kApproved: return "approved";
    case EdgeState::kPending: return "pending";
    case EdgeState::kDenied: return "denied";
  }
  return "?";
}

std::string_view reason_name(Reason r) {
  switch (r) {
    case Reason::kLearning: return "learning";
    case Reason::kKnownRelation: return "known-relation";
    case Reason::kKnown: return "known";
    case Reason::kApproved: return "approved";
    case Reason::kTypeApproved: return "type-approved";
    case Reason::kServiceApproved: return "service-approved";
    case Reason::kNewEdge: return "new-edge";
    case Reason::kPending: return "pending";
    case Reason::kDenied: return "denied";
    case Reason::kTypeDenied: return "type-denied";
    case Reason::kServiceDenied: return "service-denied";
  }
  return "?";
}

uint32_t CommGraph::vertex(Sym name, Sym id, Sym type, Sym location) {
  // The placeholder stands for many names: its vertex takes no metadata, so
  // no type rule or learned relation can cover it, and it is never a type,
  // a room or an id (services whose model id overflowed must not share one).
  if (!overflow_.empty()) {
    if (name == overflow_) id = type = location = Sym{};
    if (id == overflow_) id = Sym{};
    if (type == overflow_) type = Sym{};
    if (location == overflow_) location = Sym{};
  }
  if (name.id >= vertex_of_sym_.size()) vertex_of_sym_.resize(std::max<size_t>(name.id + 1, vertex_of_sym_.size() * 2), 0);
  uint32_t& slot = vertex_of_sym_[name.id];
  if (slot == 0) {
    vertices_.push_back(Vertex{.name = name, .id = id, .type = type, .location = location});
    slot = static_cast<uint32_t>(vertices_.size());
    return slot - 1;
  }
  Vertex& v = vertices_[slot - 1];
  // The first non-empty metadata wins: a later access cannot retype a service.
  if (v.id.empty()) v.id = id;
  if (v.type.empty()) v.type = type;
  if (v.location.empty()) v.location = location;
  return slot - 1;
}

bool CommGraph::learning(const Vertex& v) const {
  if (!adopted_types_.empty() && adopted_types_.contains(v.type)) return false;
  return v.first_spoke >= 0 && now_ - v.first_spoke < opt_.learning_phase_ms;
}



const Question* CommGraph::question(uint32_t id) const {
  if (id == 0 || id > questions_.size()) return nullptr;
  return &questions_[id - 1];
}

Relation CommGraph::relation_of(const Edge& e) const {
  const Vertex& s = vertices_[e.src];
  const Vertex& d = vertices_[e.dst];
  return Relation{s.type, d.type, e.op, locality(s.location, d.location)};
}

Judgement CommGraph::observe(const Access& a) {
  now_ = std::max(now_, a.time_ms);
  if (now_ >= next_sweep_) sweep();

  const uint32_t s = vertex(a.source(), a.source_id, a.source_type, a.source_location);
  uint32_t d = vertex(a.dest(), Sym{}, a.dest_type, a.dest_location);
  Vertex& sv = vertices_[s];
  if (sv.first_seen < 0) sv.first_seen = now_;
  if (sv.first_spoke < 0) {
    // A type that already spoke has a model: a new instance of it gets no
    // learning phase of its own (a fresh address must not open one).
    sv.first_spoke = sv.type.empty() ? now_ : type_first_spoke_.try_emplace(sv.type, now_).first->second;
  }
  if (vertices_[d].first_seen < 0) vertices_[d].first_seen = now_;
  const bool src_learning = learning(sv);
  if (!overflow_.empty() && anomalous_edges_ >= opt_.max_anomalous_edges && !is_overflow(d) &&
      !edge_index_.contains(edge_key(s, d, a.op)) && would_be_anomalous(s, d, a.op, src_learning)) {
    // At the bound: judged on the source's edge to the overflow vertex.
    d = vertex(overflow_, Sym{}, Sym{}, Sym{});
    if (vertices_[d].first_seen < 0) vertices_[d].first_seen = now_;
    ++overflowed_edges_;
  }
  // One edge per source to or from the overflow vertex, whatever the
  // operation: at most one per name.
  const Operation op = is_overflow(s) || is_overflow(d) ? Operation::kOther : a.op;

  auto [it, inserted] = edge_index_.try_emplace(edge_key(s, d, op), static_cast<uint32_t>(edges_.size()));
  if (inserted) {
    edges_.push_back(Edge{.src = s, .dst = d, .op = op, .first_seen = now_, .last_seen = now_});
    ++live_edges_;
    return judge_new_edge(it->second, src_learning);
  }
  Edge& e = edges_[it->second];
  if (e.count != UINT32_MAX) ++e.count;
  e.last_seen = now_;
  if (!e.live) {
    e.live = true;
    ++live_edges_;
  }
  Judgement j{.state = e.state, .source_learning = src_learning, .edge = it->second};
  switch (e.state) {
    case EdgeState::kLearned: j.reason = Reason::kKnown; break;
    case EdgeState::kApproved: j.reason = Reason::kApproved; break;
    case EdgeState::kPending:
      j.anomalous = true;
      j.reason = Reason::kPending;
      j.question = e.question;
      break;
    case EdgeState::kDenied:
      j.anomalous = true;
      j.reason = Reason::kDenied;
      break;
  }
  return j;
}

Judgement CommGraph::judge_new_edge(uint32_t ei, bool src_learning) {
  Edge& e = edges_[ei];
  e.count = 1;
  const Relation rel = relation_of(e);
  Judgement j{.source_learning = src_learning, .edge = ei};
  auto decide = [&](EdgeState st, Reason why) {
    e.state = st;
    anomalous_edges_ += anomalous_state(st);
    j.state = st;
    j.reason = why;
    j.anomalous = (st == EdgeState::kPending || st == EdgeState::kDenied);
    return j;
  };
  // Decisions first: they win over anything learned.
  if (auto r = service_rules_.find({e.src, rel}); r != service_rules_.end()) {
    return r->second ? decide(EdgeState::kApproved, Reason::kServiceApproved)
                     : decide(EdgeState::kDenied, Reason::kServiceDenied);
  }
  if (auto r = type_rules_.find(rel); r != type_rules_.end()) {
    return r->second ? decide(EdgeState::kApproved, Reason::kTypeApproved)
                     : decide(EdgeState::kDenied, Reason::kTypeDenied);
  }
  // The overflow vertex stands for names past the bounds: its edges are
  // denied at once, with no question (nobody could answer for them).
  if (is_overflow(e.src) || is_overflow(e.dst)) return decide(EdgeState::kDenied, Reason::kDenied);
  // A relation already waiting for an answer is not learned behind the
  // manager's back by a service still in its learning phase.
  const bool asked = rel.typed() && open_by_relation_.contains(rel);
  if (src_learning && !asked) {
    if (rel.typed()) learned_relations_.insert(rel);
    return decide(EdgeState::kLearned, Reason::kLearning);
  }
  if (opt_.generalise_types && rel.typed() && learned_relations_.contains(rel)) {
    return decide(EdgeState::kLearned, Reason::kKnownRelation);
  }
  decide(EdgeState::kPending, Reason::kNewEdge);
  const size_t before = questions_.size();
  const uint32_t qid = ask(ei, rel);
  Question& q = questions_[qid - 1];
  bool joined = false;
  if (questions_.size() == before &&
      std::find(q.sources.begin(), q.sources.end(), e.src) == q.sources.end()) {
    q.sources.push_back(e.src);
    joined = true;
  }
  e.question = qid;
  j.question = qid;
  j.asked = questions_.size() != before || joined;
  return j;
}

bool CommGraph::would_be_anomalous(uint32_t s, uint32_t d, Operation op, bool src_learning) const {
  const Relation rel = relation_of(Edge{.src = s, .dst = d, .op = op});
  if (auto r = service_rules_.find({s, rel}); r != service_rules_.end()) return !r->second;
  if (auto r = type_rules_.find(rel); r != type_rules_.end()) return !r->second;
  if (is_overflow(s) || is_overflow(d)) return true;
  const bool asked = rel.typed() && open_by_relation_.contains(rel);
  if (src_learning && !asked) return false;
  return !(opt_.generalise_types && rel.typed() && learned_relations_.contains(rel));
}

uint32_t CommGraph::ask(uint32_t ei, const Relation& rel) {
  // Typed: one question per relation. Untyped: one per edge, and this edge
  // is new, so it cannot have one yet.
  if (rel.typed()) {
    if (auto it = open_by_relation_.find(rel); it != open_by_relation_.end()) return it->second;
  }
  const auto id = static_cast<uint32_t>(questions_.size() + 1);
  questions_.push_back(Question{.id = id,
                                .rel = rel,
                                .type_level = rel.typed(),
                                .exemplar_edge = ei,
                                .sources = {edges_[ei].src},
                                .asked_ms = now_});
  ++open_questions_;
  if (rel.typed()) open_by_relation_.emplace(rel, id);
  return id;
}

void CommGraph::set_state(uint32_t ei, EdgeState s) {
  Edge& e = edges_[ei];
  anomalous_edges_ = anomalous_edges_ - anomalous_state(e.state) + anomalous_state(s);
  e.state = s;
  if (s != EdgeState::kPending) e.question = 0;
}

bool CommGraph::answer(uint32_t qid, bool approve, Scope scope, uint32_t source, std::string* error) {
  if (qid == 0 || qid > questions_.size()) {
    *error = "no question " + std::to_string(qid);
    return false;
  }
  Question& q = questions_[qid - 1];
  if (!q.open) {
    *error = "question " + std::to_string(qid) + " is already answered";
    return false;
  }
  if (!q.type_level) scope = Scope::kService;  // untyped: only this edge can be meant
  if (scope == Scope::kService) {
    if (source == kNoVertex) source = q.sources.empty() ? edges_[q.exemplar_edge].src : q.sources.front();
    if (std::find(q.sources.begin(), q.sources.end(), source) == q.sources.end()) {
      *error = "question " + std::to_string(qid) + " does not wait on that service";
      return false;
    }
  }
  decisions_.push_back(Decision{qid, approve, scope, scope == Scope::kService ? source : kNoVertex, now_});
  const EdgeState st = approve ? EdgeState::kApproved : EdgeState::kDenied;

  // Record the rule, then bring existing edges in line with it: a rule wins
  // over what was learned, so a type-level denial also closes learned edges.
  if (q.type_level) {
    if (scope == Scope::kType) {
      type_rules_[q.rel] = approve;
      // A denial for the type overrides approvals given to single services.
      if (!approve) absl::erase_if(service_rules_, [&](const auto& r) { return r.first.second == q.rel && r.second; });
    } else {
      service_rules_[{source, q.rel}] = approve;
    }
    for (uint32_t i = 0; i < edges_.size(); ++i) {
      const Edge& e = edges_[i];
      if (scope == Scope::kService && e.src != source) continue;
      // Edges waiting on another question stay with it (a vertex's type or
      // room may have become known after that question was asked).
      if (e.state == EdgeState::kPending && e.question != qid) continue;
      const bool waiting = e.state == EdgeState::kPending;
      if (waiting || (!approve && relation_of(e) == q.rel)) set_state(i, st);
    }
  } else {
    for (uint32_t i = 0; i < edges_.size(); ++i) {
      if (edges_[i].state == EdgeState::kPending && edges_[i].question == qid) set_state(i, st);
    }
  }

  if (scope == Scope::kService && q.type_level) {
    std::erase(q.sources, source);
    if (!q.sources.empty()) return true;  // still open for the other sources
  }
  q.sources.clear();
  q.open = false;
  --open_questions_;
  if (q.type_level) open_by_relation_.erase(q.rel);
  return true;
}

void CommGraph::sweep() {
  if (opt_.edge_ttl_ms <= 0) {  // 0: edges never leave the live graph
    next_sweep_ = INT64_MAX;
    return;
  }
  for (Edge& e : edges_) {
    if (e.live && now_ - e.last_seen > opt_.edge_ttl_ms) {
      e.live = false;
      --live_edges_;
    }
  }
  const int64_t step = std::max<int64_t>(opt_.edge_ttl_ms / 8, 1000);
  next_sweep_ = now_ > INT64_MAX - step ? INT64_MAX : now_ + step;
}

size_t CommGraph::bytes() const {
  size_t b = vertices_.capacity() * sizeof(Vertex) + vertex_of_sym_.capacity() * sizeof(uint32_t) +
             edges_.capacity() * sizeof(Edge) +
             edge_index_.capacity() * (sizeof(uint64_t) + sizeof(uint32_t) + 1) +
             learned_relations_.capacity() * (sizeof(Relation) + 1) +
             type_rules_.capacity() * (sizeof(Relation) + 2) +
             service_rules_.capacity() * (sizeof(Relation) + 8) + questions_.capacity() * sizeof(Question) +
             decisions_.capacity() * sizeof(Decision);
  for (const Question& q : questions_) b += q.sources.capacity() * sizeof(uint32_t);
  return b;
}

}  // namespace iotwall
