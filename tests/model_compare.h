// Field-by-field comparison of type models for the tests: weights, CFs
// (n, mean, variance, mean time, time sd), counts, node models, text values
// and period clusters. `rel` is the relative tolerance (0: bit-exact).
#pragma once

#include <cmath>
#include <cstdint>

#include <catch2/catch.hpp>

#include "model/cluster_feature.h"
#include "model/type_model.h"

namespace iotwall::testing {

inline void check_close(double a, double b, double rel, double scale = 1) {
  if (rel == 0) {
    CHECK(a == b);
  } else {
    CHECK(a == Approx(b).epsilon(rel).margin(rel * scale));
  }
}

inline void check_same_cf(const ClusterFeature& a, const ClusterFeature& b, double rel) {
  check_close(a.n(), b.n(), rel);
  check_close(a.mean(), b.mean(), rel);
  // Variances are differences of sums: compare them on the scale of the squared mean.
  check_close(a.variance(), b.variance(), rel, 1 + b.mean() * b.mean());
  check_close(a.mean_time(), b.mean_time(), rel);
  check_close(a.time_sd(), b.time_sd(), rel, 1 + std::abs(b.mean_time()));
}

template <int N>
void check_same_counts(const Counts<N>& a, const Counts<N>& b, double rel) {
  for (int i = 0; i < N; ++i) {
    INFO("count slot " << i);
    check_close(a[i], b[i], rel);
  }
}

inline void check_same_text(const TextValues& a, const TextValues& b, double rel) {
  CHECK(a.used() == b.used());
  check_close(a.other, b.other, rel);
  for (int i = 0; i < TextValues::kSlots; ++i) {
    if (a.sym[i] == 0) continue;
    INFO("text key " << a.sym[i]);
    check_close(a.of(a.sym[i]), b.of(a.sym[i]), rel);
  }
}

inline void check_same_node(const NodeModel& a, const NodeModel& b, double rel) {
  check_close(a.support, b.support, rel);
  check_same_counts(a.kinds, b.kinds, rel);
  check_same_cf(a.number, b.number, rel);
  check_same_text(a.text, b.text, rel);
}

inline void check_same_rel(const RelModel& a, const RelModel& b, double rel) {
  check_close(a.weight, b.weight, rel);
  {
    INFO("partners");
    check_same_cf(a.partners, b.partners, rel);
  }
  {
    INFO("flows");
    check_same_cf(a.flows, b.flows, rel);
  }
  {
    INFO("frequency");
    check_same_cf(a.frequency, b.frequency, rel);
  }
  {
    INFO("burst");
    check_same_cf(a.burst, b.burst, rel);
  }
  check_same_counts(a.access, b.access, rel);
  REQUIRE(a.nodes.size() == b.nodes.size());
  for (const auto& [k, n] : a.nodes) {
    INFO("node " << k);
    const auto it = b.nodes.find(k);
    REQUIRE(it != b.nodes.end());
    check_same_node(n, it->second, rel);
  }
  REQUIRE(a.periods.size() == b.periods.size());
  for (size_t i = 0; i < a.periods.size(); ++i) {
    INFO("period cluster " << i);
    check_same_cf(a.periods[i].cf, b.periods[i].cf, rel);
  }
}

inline void check_same_model(const TypeModel& a, const TypeModel& b, double rel) {
  check_close(a.weight, b.weight, rel);
  CHECK(a.last_s == b.last_s);
  REQUIRE(a.rels.size() == b.rels.size());
  for (const auto& [k, r] : a.rels) {
    INFO("relationship with partner type " << k);
    const auto it = b.rels.find(k);
    REQUIRE(it != b.rels.end());
    check_same_rel(r, it->second, rel);
  }
}

}  // namespace iotwall::testing
