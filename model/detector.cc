#include "model/detector.h"

#include <algorithm>
#include <cmath>

namespace iotwall {
namespace {

// Sd floors, in each feature's unit. Counts (partners, flows, accesses per
// window, accesses per burst): one access, the resolution of a count.
constexpr double kCountSdFloor = 1.0;
// Values: 2 % of the node's mean magnitude, at least 0.1. A node's unit is
// unknown; a node that always held the same number should still take a
// neighbouring one without alarm (21 sd wide at the default threshold),
// but not one far off.
double value_sd_floor(double mean) { return std::max(0.1, 0.02 * std::abs(mean)); }

// Ops whose value is the node's data (a read's result, a write's argument,
// a callback's payload). Other ops carry parameters (a subscription's
// callback address, a service's registration), unique per instance.
bool carries_node_value(Operation op) {
  return op == Operation::kRead || op == Operation::kWrite || op == Operation::kNotifyCallback;
}

constexpr double kMaxLearnedMagnitude = 1e12;

bool declared_number(std::string_view node_type) { return node_type == "/basic/number"; }

int location_slot(const Vertex& s, const Vertex& d) {
  switch (locality(s.location, d.location)) {
    case Locality::kSameRoom: return kSameRoomSlot;
    case Locality::kOtherRoom: return kOtherRoomSlot;
    case Locality::kUnknown: break;
  }
  return kUnknownRoomSlot;
}

// The upper-tail distance of a count: only more than usual is suspicious.
double excess(const ClusterFeature& cf, double x) {
  const double m = cf.mean();
  return x > m ? (x - m) / (3 * cf.sd(kCountSdFloor)) : 0;
}

}  // namespace

Detector::Detector(const DetectorOptions& o, Interner& in) : opt_(o), in_(in), graph_(o.graph) {
  graph_.set_overflow_name(in.overflow());  // empty unless the interner is bounded
}

uint32_t Detector::node_suffix(const Access& a) {
  const uint32_t id = a.node_address.id;
  if (id >= suffix_of_.size()) suffix_of_.resize(std::max<size_t>(id + 1, suffix_of_.size() * 2), 0);
  uint32_t& slot = suffix_of_[id];
  if (slot == 0) {
    std::string_view node = in_.str(a.node_address);
    const std::string_view dest = in_.str(a.dest_address);
    if (!dest.empty() && node.starts_with(dest) &&
        (node.size() == dest.size() || node[dest.size()] == '/')) {
      node.remove_prefix(dest.size());
    }
    slot = in_.intern(node).id + 1;
  }
  return slot - 1;
}

void Detector::open_window(Instance* in, int64_t t) {
  in->window_start = in->window_start == INT64_MIN
                         ? t
                         : in->window_start + (t - in->window_start) / opt_.window_ms * opt_.window_ms;
  ++in->window_seq;
  for (RelWindow& rw : in->rels) {
    rw.seen = rw.learned = 0;
    rw.peak_burst = 0;
    rw.partners.clear();
    rw.learned_partners.clear();
    rw.flows.clear();
    rw.learned_flows = 0;
    rw.access = {};
    rw.nodes.clear();
  }
}

void Detector::close_window(uint32_t src, Instance* in) {
  // The descriptor is scratch reused across windows: its relationships are
  // reset in place (weight 0 = absent) rather than freed and reallocated.
  TypeModel& d = descriptor_;
  for (auto& [k, r] : d.rels) {
    r.weight = 0;
    r.partners = r.flows = r.frequency = r.burst = ClusterFeature{};
    r.access = {};
    r.nodes.clear();
    r.periods.clear();
  }
  d.weight = 1;
  const double t_s = static_cast<double>(in->window_start + opt_.window_ms) / 1000;
  d.last_s = t_s;
  bool any = false;
  for (RelWindow& rw : in->rels) {
    if (rw.learned == 0) continue;
    any = true;
    RelModel& r = d.rels[rw.partner_type];
    r.weight = 1;
    r.partners.add(static_cast<double>(rw.learned_partners.size()), t_s);
    r.flows.add(rw.learned_flows, t_s);
    r.frequency.add(rw.learned, t_s);
    r.burst.add(rw.peak_burst, t_s);
    r.access = rw.access;
    for (auto& [k, n] : rw.nodes) {
      n.support = 1;
      r.nodes.emplace(k, n);
    }
    // The periods of the window's flows. The miner holds a flow's last
    // normal gaps; mining is the costly step and consecutive windows share
    // most of their gaps, so a flow is mined once it has kMineEvery new gaps
    // (or a tenth of its window), and its clusters are weighted by the share
    // of new gaps: over time each gap counts about once.
    for (uint32_t fi : rw.flows) {
      Flow& f = flows_[fi];
      const size_t every = std::max<size_t>(PeriodMiner::kMinPoints, f.miner.window() / 8);
      if (f.new_gaps < every) continue;
      f.miner.mine(&mined_);
      const double share = std::min(1.0, f.new_gaps / static_cast<double>(f.miner.size()));
      f.new_gaps = 0;
      if (mined_.empty()) continue;
      for (PeriodCluster& c : mined_) c.cf.scale(share);
      merge_periods(&r.periods, mined_);
    }
  }
  if (!any) return;
  ++descriptors_;
  TypeModel& m = models_[type_key(graph_.vertices()[src])];
  m.merge(d, opt_.max_model_weight);
  if (opt_.stale_after_s > 0) m.forget_stale(t_s, opt_.stale_after_s);
}

void Detector::flush(int64_t now_ms) {
  for (uint32_t src = 0; src < instances_.size(); ++src) {
    Instance& in = instances_[src];
    if (in.window_start != INT64_MIN && now_ms >= in.window_start + opt_.window_ms) {
      close_window(src, &in);
      open_window(&in, now_ms);
    }
  }
}

void Detector::adopt(uint32_t key, const TypeModel& m) {
  models_[key].merge(m, opt_.max_model_weight);
  const Sym type{key};
  graph_.adopt_type(type);
  for (const auto& [partner, r] : m.rels) {
    for (int op = 0; op < kOperationCount; ++op) {
      for (int where = 0; where < 3; ++where) {
        if (r.access[op * 3 + where] < kForgetWeight) continue;
        const Locality loc = where == kSameRoomSlot    ? Locality::kSameRoom
                             : where == kOtherRoomSlot ? Locality::kOtherRoom
                                                       : Locality::kUnknown;
        graph_.adopt_relation(Relation{type, Sym{partner}, static_cast<Operation>(op), loc});
      }
    }
  }
}

size_t Detector::model_bytes() const {
  size_t b = 0;
  for (const auto& [k, m] : models_) b += m.bytes();
  return b;
}

Verdict Detector::observe(const Access& a) {
  Verdict v;
  v.graph = graph_.observe(a);
  const Edge& e = graph_.edges()[v.graph.edge];
  const int64_t now = graph_.now();
  const uint32_t src = e.src;
  if (src >= instances_.size()) instances_.resize(src + 1);
  Instance& in = instances_[src];
  if (in.window_start == INT64_MIN) {
    open_window(&in, now);
  } else if (now >= in.window_start + opt_.window_ms) {
    close_window(src, &in);
    open_window(&in, now);
  }

  const Vertex& sv = graph_.vertices()[src];
  const Vertex& dv = graph_.vertices()[e.dst];
  const uint32_t partner = type_key(dv);
  v.partner_type = partner;
  v.anomalous = v.graph.anomalous;
  // Pending and denied edges are the graph's to judge: their accesses cost
  // the model nothing (no flow, no window state), so an intruder's
  // unanswered questions cannot grow it.
  if (v.graph.anomalous) return v;
  RelWindow* rw = nullptr;
  for (RelWindow& x : in.rels) {
    if (x.partner_type == partner) rw = &x;
  }
  if (rw == nullptr) {
    in.rels.emplace_back();
    rw = &in.rels.back();
    rw->partner_type = partner;
  }

  const uint32_t suffix = node_suffix(a);
  const int where = location_slot(sv, dv);
  const uint32_t fi = flow_for(FlowKey{src, a.node_address.id, a.op}, now);
  Flow& f = fi == kNoFlow ? untracked_flow_ : flows_[fi];
  if (fi == kNoFlow) f = Flow(0);
  // The burst counts every access of the flow; periods are about its
  // normal accesses only, so the gap runs from the last access judged
  // normal: an attack's accesses on the flow neither teach the miner a
  // period nor make the normal accesses between them look early.
  f.burst = f.last_ms >= 0 ? f.burst * std::exp(-static_cast<double>(now - f.last_ms) / 1000 / opt_.burst_tau_s) + 1 : 1;
  f.last_ms = now;
  const double gap_s = f.last_ok_ms >= 0 ? static_cast<double>(now - f.last_ok_ms) / 1000 : -1;
  if (fi != kNoFlow && f.window_seq != in.window_seq) {
    f.window_seq = in.window_seq;
    rw->flows.push_back(fi);
  }
  rw->partners.insert(e.dst);
  ++rw->seen;

  // Looked up after flow_for(): its reclaim may close windows, which can
  // add a type to models_ and move its entries.
  const auto mit = models_.find(type_key(sv));
  const TypeModel* m = mit == models_.end() ? nullptr : &mit->second;
  const RelModel* r = nullptr;
  if (m != nullptr) {
    auto rit = m->rels.find(partner);
    // A partner first known by its address whose type became known later
    // (the DPI learns types as it goes) is the same relationship.
    if (rit == m->rels.end() && !dv.type.empty()) rit = m->rels.find(dv.name.id);
    if (rit != m->rels.end()) r = &rit->second;
  }
  Early early_gap;
  if (r != nullptr && (opt_.disabled & bit(Feature::kPeriod)) == 0) {
    // The burst as it forms: consecutive gaps below the fastest period's
    // 3-sd band, summed in 3-sd units. This is the group score's term for a
    // burst cluster (distance x its weight / 3 sd) counted on the burst's own
    // weight, so it grows with every access of a flood.
    early_gap = early(*r, gap_s);
    if (early_gap.d > 1) {
      if (f.run_n++ == 0) f.run_start_ms = f.last_ok_ms;
      f.run += early_gap.d;
    } else {
      f.run = 0;
      f.run_n = 0;
    }
  }

  if (!v.graph.source_learning) {
    v.scored = true;
    score(a, m, r, *rw, f, gap_s, early_gap, suffix, where, &v);
    v.anomalous = v.av >= opt_.threshold;
  }
  if (v.anomalous) {
    // A rate alarm holds while the flow's burst stays above its normal band.
    if (v.feature == Feature::kFrequency || v.feature == Feature::kPeriod) f.alarm = true;
  } else {
    f.alarm = false;
    // A gap shorter than every period is not taught to the miner even when
    // it passed: a flow sped up below the threshold must not train the
    // fast period that would then hide a flood.
    if (gap_s >= 0 && early_gap.d <= 1 && fi != kNoFlow) {
      f.miner.add(gap_s, static_cast<double>(now) / 1000);
      ++f.new_gaps;
    }
    f.last_ok_ms = now;
    if (fi != kNoFlow && f.learned_seq != in.window_seq) {  // untracked: no flow to count
      f.learned_seq = in.window_seq;
      ++rw->learned_flows;
    }
    rw->learned_partners.insert(e.dst);
    learn(a, suffix, where, f, rw);
    v.learned = true;
  }
  return v;
}

uint32_t Detector::flow_for(const FlowKey& k, int64_t now) {
  if (const auto it = flow_index_.find(k); it != flow_index_.end()) return it->second;
  // At the bound, reclaim idle flows at most once per eighth of the idle
  // time: a stream of new flows must not cost a sweep each.
  const int64_t idle = std::max(opt_.flow_idle_ms, 2 * opt_.window_ms);
  if (flow_index_.size() >= opt_.max_flows && now - last_reclaim_ms_ >= idle / 8) {
    last_reclaim_ms_ = now;
    reclaim_flows(now);
  }
  if (flow_index_.size() >= opt_.max_flows) {
    ++untracked_accesses_;
    return kNoFlow;
  }
  uint32_t fi;
  if (!free_flows_.empty()) {
    fi = free_flows_.back();
    free_flows_.pop_back();
    flows_[fi] = Flow(opt_.period_window);
  } else {
    fi = static_cast<uint32_t>(flows_.size());
    flows_.emplace_back(opt_.period_window);
  }
  flow_index_.emplace(k, fi);
  return fi;
}

void Detector::reclaim_flows(int64_t now) {
  // Closing the windows that ended first means no window still lists a
  // flow idle for longer than a window.
  flush(now);
  const int64_t idle = std::max(opt_.flow_idle_ms, 2 * opt_.window_ms);
  absl::erase_if(flow_index_, [&](const auto& kv) {
    const Flow& f = flows_[kv.second];
    if (now - f.last_ms <= idle) return false;
    free_flows_.push_back(kv.second);
    flows_[kv.second] = Flow(0);  // frees its miner
    return true;
  });
}

Detector::Early Detector::early(const RelModel& r, double gap_s) const {
  // How far a gap falls short of every period the relationship shows, in
  // 3-sd units of the nearest one. A flow slower than its periods (a missed
  // beat, a restart) harms nobody; one far faster floods. A gap that some
  // cluster explains, wide ones (random arrivals) included, is not early.
  // Light clusters (fewer than min_support gaps) have no say: a few odd
  // gaps must not hide a flood, nor make a period.
  Early e;
  if (gap_s < 0) return e;
  for (size_t i = 0; i < r.periods.size(); ++i) {  // sorted by centre
    const PeriodCluster& c = r.periods[i];
    if (c.cf.n() < opt_.min_support) continue;
    if (gap_s >= c.cf.mean()) return Early{};
    const double d = (c.cf.mean() - gap_s) / (3 * period_sd(c));
    if (e.cluster < 0 || d < e.d) e = Early{d, static_cast<int>(i)};
  }
  return e;
}

void Detector::score(const Access& a, const TypeModel* m, const RelModel* r, const RelWindow& rw,
                     const Flow& f, double gap_s, Early early_gap, uint32_t suffix, int where,
                     Verdict* v) const {
  const auto on = [&](Feature ft) { return (opt_.disabled & bit(ft)) == 0; };
  // A value that contradicts its node's declared type is anomalous whatever
  // the model knows: it needs no history, no relationship model (an approved
  // edge has none at first), and no trust.
  const bool valued = carries_node_value(a.op) && a.value.kind != Value::Kind::kEmpty;
  const bool wrong_type = valued && on(Feature::kDatatype) && declared_number(in_.str(a.node_type)) &&
                          (a.value.kind == Value::Kind::kText || a.value.kind == Value::Kind::kBool);
  if (wrong_type) {
    v->soa = v->av = opt_.unseen_score;
    v->feature = Feature::kDatatype;
    v->observed = kind_index(a.value.kind);
  }
  if (m == nullptr) return;  // no model yet: SoM = 0
  v->som = std::min(m->weight, opt_.trust_weight) / opt_.trust_weight;
  const bool approved = v->graph.state == EdgeState::kApproved;
  if (on(Feature::kRelationship) && !approved) {
    // The paper's ratio for a relationship the type has never (or no longer)
    // had; a known relationship that is merely rare per window (event-driven:
    // a light controller switching its light) is not an anomaly by rarity.
    // A relationship once learned stays known however much it decayed.
    if (r == nullptr) {
      v->sor = opt_.unseen_score;
    } else if (opt_.rarity) {
      v->sor = std::min(opt_.unseen_score,
                        std::min(m->weight, opt_.max_model_weight) / std::max(r->weight, 1e-9));
    }
  }
  auto consider = [&](Feature ft, double d, double observed, double expected, double spread,
                      bool burst = false) {
    if (d > v->soa) {
      v->soa = d;
      v->feature = ft;
      v->observed = observed;
      v->expected = expected;
      v->spread = spread;
      v->burst = burst;
    }
  };

  if (r != nullptr) {
    const bool mature = r->weight >= opt_.min_support;
    if (on(Feature::kFrequency)) {
      if (r->frequency.n() >= opt_.min_support) {
        consider(Feature::kFrequency, excess(r->frequency, rw.seen), rw.seen, r->frequency.mean(),
                 r->frequency.sd(kCountSdFloor));
      }
      if (r->burst.n() >= opt_.min_support) {
        const double d = excess(r->burst, f.burst);
        // Hysteresis: a flow flagged for its rate stays flagged while its
        // burst is above the normal band (3 sd).
        const double held = f.alarm && d > 1 ? opt_.threshold / std::max(v->som, 1e-9) : 0;
        consider(Feature::kFrequency, std::max(d, held), f.burst, r->burst.mean(),
                 r->burst.sd(kCountSdFloor), true);
      }
    }
    if (on(Feature::kPartners) && r->partners.n() >= opt_.min_support) {
      consider(Feature::kPartners, excess(r->partners, static_cast<double>(rw.partners.size())),
               static_cast<double>(rw.partners.size()), r->partners.mean(), r->partners.sd(kCountSdFloor));
    }
    if (on(Feature::kFlows) && r->flows.n() >= opt_.min_support) {
      consider(Feature::kFlows, excess(r->flows, static_cast<double>(rw.flows.size())),
               static_cast<double>(rw.flows.size()), r->flows.mean(), r->flows.sd(kCountSdFloor));
    }
    // An approval answered exactly these (may it <op> <partner type> in this
    // room): the model must not re-ask them, or the approved accesses would
    // never be learned.
    if (on(Feature::kLocation) && mature && !approved && r->location_count(where) <= 0) {
      consider(Feature::kLocation, opt_.unseen_score, where, 0, 0);
    }
    if (on(Feature::kOperation) && mature && !approved && r->op_count(a.op) <= 0) {
      consider(Feature::kOperation, opt_.unseen_score, static_cast<double>(a.op), 0, 0);
    }
    if (on(Feature::kPeriod) && early_gap.d > 0) {
      {
        const double d = early_gap.d;
        const PeriodCluster& p = r->periods[early_gap.cluster];
        // One early gap, or the run of them (observed: accesses in the run;
        // spread: the seconds they took).
        if (f.run > d) {
          consider(Feature::kPeriod, f.run, f.run_n, p.cf.mean(),
                   static_cast<double>(f.last_ms - f.run_start_ms) / 1000, true);
        } else {
          consider(Feature::kPeriod, d, gap_s, p.cf.mean(), period_sd(p));
        }
      }
    }
    const auto nit = r->nodes.find(suffix);
    const NodeModel* n = nit == r->nodes.end() ? nullptr : &nit->second;
    if (valued && on(Feature::kDatatype) && n != nullptr && n->support >= opt_.min_support &&
        n->kinds[kind_index(a.value.kind)] <= 0) {
      consider(Feature::kDatatype, opt_.unseen_score, kind_index(a.value.kind), 0, 0);
    }
    if (valued && on(Feature::kValue) && n != nullptr && n->support >= opt_.min_support) {
      if (a.value.kind == Value::Kind::kNumber && n->number.n() >= opt_.min_support) {
        const double sd = n->number.sd(value_sd_floor(n->number.mean()));
        consider(Feature::kValue, std::abs(a.value.number - n->number.mean()) / (3 * sd), a.value.number,
                 n->number.mean(), sd);
      } else if ((a.value.kind == Value::Kind::kText || a.value.kind == Value::Kind::kBool) &&
                 n->text.used() > 0 && n->text.closed() && n->text.of(TextValues::key(a.value)) <= 0) {
        consider(Feature::kValue, opt_.unseen_score, 0, 0, 0);
      }
    }
  }
  v->av = v->som * std::max(v->sor, v->soa);
  if (wrong_type) v->av = std::max(v->av, opt_.unseen_score);
  if (v->sor >= v->soa && v->sor > 0) v->feature = Feature::kRelationship;
}

void Detector::learn(const Access& a, uint32_t suffix, int where, const Flow& f, RelWindow* rw) {
  ++rw->learned;
  rw->peak_burst = std::max(rw->peak_burst, static_cast<float>(f.burst));
  rw->access.add(RelModel::slot(a.op, where));
  if (!carries_node_value(a.op) || a.value.kind == Value::Kind::kEmpty) return;
  // Beyond this magnitude a number's square sums lose all precision (and
  // overflow near 1e154): such values are scored, never learned.
  if (a.value.kind == Value::Kind::kNumber && !(std::abs(a.value.number) <= kMaxLearnedMagnitude)) return;
  if (rw->nodes.size() >= RelModel::kMaxNodes && !rw->nodes.contains(suffix)) return;
  NodeModel& n = rw->nodes[suffix];
  n.kinds.add(kind_index(a.value.kind));
  if (a.value.kind == Value::Kind::kNumber) {
    n.number.add(a.value.number, static_cast<double>(a.time_ms) / 1000);
  } else if (a.value.kind == Value::Kind::kBool ||
             (a.value.kind == Value::Kind::kText && (in_.overflow().empty() || a.value.text != in_.overflow()))) {
    // Not a text value past the names' bound: it has no identity of its
    // own, and as a category every later unseen value would match it.
    n.text.add(TextValues::key(a.value));
  }
}

void Detector::restore(CommGraph g, absl::flat_hash_map<uint32_t, TypeModel> models) {
  graph_ = std::move(g);
  graph_.set_options(opt_.graph);  // the running configuration wins over the file's
  graph_.set_overflow_name(in_.overflow());
  models_ = std::move(models);
  // Windows and flows index the old graph's vertices: start them afresh.
  instances_.clear();
  flows_.clear();
  flow_index_.clear();
  free_flows_.clear();
  for (const auto& [key, m] : models_) graph_.adopt_type(Sym{key});
}

}  // namespace iotwall
