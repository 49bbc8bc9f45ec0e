#include "model/type_model.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace iotwall {

void TextValues::add(uint32_t k, float w) {
  if (k == 0 || !(w > 0)) return;
  for (int i = 0; i < kSlots; ++i) {
    if (sym[i] == k) {
      count[i] += w;
      return;
    }
  }
  for (int i = 0; i < kSlots; ++i) {
    if (sym[i] == 0) {
      sym[i] = k;
      count[i] = w;
      return;
    }
  }
  other += w;
}

void TextValues::merge(const TextValues& o) {
  for (int i = 0; i < kSlots; ++i) {
    if (o.sym[i] != 0) add(o.sym[i], o.count[i]);
  }
  other += o.other;
}

void TextValues::scale(float f) {
  for (float& c : count) c *= f;
  other *= f;
}

float TextValues::of(uint32_t k) const {
  for (int i = 0; i < kSlots; ++i) {
    if (sym[i] == k && k != 0) return count[i];
  }
  return 0;
}

float TextValues::total() const {
  float t = other;
  for (float c : count) t += c;
  return t;
}

int TextValues::used() const {
  return static_cast<int>(std::count_if(sym.begin(), sym.end(), [](uint32_t s) { return s != 0; }));
}

void NodeModel::merge(const NodeModel& o) {
  support += o.support;
  kinds.merge(o.kinds);
  number.merge(o.number);
  text.merge(o.text);
}

void NodeModel::scale(double f) {
  const auto ff = static_cast<float>(f);
  support *= ff;
  kinds.scale(ff);
  number.scale(f);
  text.scale(ff);
}

void RelModel::merge(const RelModel& o) {
  weight += o.weight;
  partners.merge(o.partners);
  flows.merge(o.flows);
  frequency.merge(o.frequency);
  burst.merge(o.burst);
  access.merge(o.access);
  for (const auto& [k, n] : o.nodes) nodes[k].merge(n);
  if (nodes.size() > kMaxNodes) {
    // Keep the best supported nodes (ties by key, for determinism).
    std::vector<std::pair<float, uint32_t>> by_support;
    by_support.reserve(nodes.size());
    for (const auto& [k, n] : nodes) by_support.emplace_back(n.support, k);
    std::nth_element(by_support.begin(), by_support.begin() + kMaxNodes, by_support.end(),
                     std::greater<>());
    for (size_t i = kMaxNodes; i < by_support.size(); ++i) nodes.erase(by_support[i].second);
  }
  merge_periods(&periods, o.periods);
}

void RelModel::scale(double f) {
  weight *= f;
  partners.scale(f);
  flows.scale(f);
  frequency.scale(f);
  burst.scale(f);
  access.scale(static_cast<float>(f));
  for (auto& [k, n] : nodes) n.scale(f);
  for (PeriodCluster& p : periods) p.cf.scale(f);
  std::erase_if(periods, [](const PeriodCluster& p) { return p.cf.n() < kForgetWeight; });
}

void TypeModel::merge(const TypeModel& o, double cap) {
  // A light merge (a descriptor) decays the old contributions to make room
  // for it; a heavy one (a model from another node or site) weighs
  // proportionally with this one: the post-merge clamp scales both.
  if (cap > 0 && weight + o.weight > cap && weight > 0 && o.weight <= cap / 2) {
    scale((cap - o.weight) / weight);
  }
  weight += o.weight;
  last_s = std::max(last_s, o.last_s);
  for (const auto& [k, r] : o.rels) {
    if (r.weight > 0) rels[k].merge(r);  // weight 0: a reused descriptor's absent relationship
  }
  if (cap > 0 && weight > cap * (1 + 1e-9)) scale(cap / weight);  // o alone outweighed the cap
}

void TypeModel::scale(double f) {
  weight *= f;
  for (auto& [k, r] : rels) r.scale(f);
}

void TypeModel::forget_stale(double now_s, double horizon_s) {
  for (auto& [k, r] : rels) {
    std::erase_if(r.periods, [&](const PeriodCluster& p) { return p.cf.staleness(now_s) > horizon_s; });
  }
}

size_t TypeModel::bytes() const {
  size_t b = sizeof(TypeModel) + rels.capacity() * (sizeof(uint32_t) + sizeof(RelModel) + 1);
  for (const auto& [k, r] : rels) {
    b += r.nodes.capacity() * (sizeof(uint32_t) + sizeof(NodeModel) + 1) +
         r.periods.capacity() * sizeof(PeriodCluster);
  }
  return b;
}

}  // namespace iotwall
