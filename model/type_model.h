// TypeModel: the model of one service type (seed 002 II.D-E, ALGORITHM.md
// section 3), and the descriptor it is merged from.
//
// A descriptor is what one service instance did in one window (60 s of
// trace time): for each partner TYPE it accessed, a relationship with
// clustering features for the number of partners, of flows, of accesses and
// of the peak burst, counts of same/other room, operations, value kinds and
// values per accessed node, and the period clusters of its flows. A
// descriptor has the same shape as a model of weight 1, so a model is simply
// the merge of descriptors: CFs and counts add, period clusters within 3 sd
// merge. Merge is commutative and associative (exactly for everything but
// the bounded text-value lists, which are exact while a node has at most
// TextValues::kSlots distinct values).
//
// Beyond `cap` (max_model_weight) descriptors a merge first scales the model
// down so its weight stays at the cap: old contributions decay and the model
// follows slow drift.
//
// Keys are Syms of the caller's Interner: partner types, and node suffixes
// (the node's address below its service, e.g. "/movement"), so instances of
// a type share one model. A value type; thread-safety: none.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "model/access.h"
#include "model/cluster_feature.h"
#include "model/period_miner.h"

namespace iotwall {

inline constexpr int kValueKinds = 5;  // Value::Kind
inline int kind_index(Value::Kind k) { return static_cast<int>(k); }

// Counts of a categorical feature: its counts are all the information there is.
template <int N>
struct Counts {
  std::array<float, N> c{};

  void add(int i, float w = 1) { c[static_cast<size_t>(i)] += w; }
  float operator[](int i) const { return c[static_cast<size_t>(i)]; }
  float total() const {
    float t = 0;
    for (float x : c) t += x;
    return t;
  }
  void merge(const Counts& o) {
    for (size_t i = 0; i < c.size(); ++i) c[i] += o.c[i];
  }
  void scale(float f) {
    for (float& x : c) x *= f;
  }
};

// The text (and boolean) values seen on a node: up to kSlots distinct values
// with their counts; values beyond them are counted together as `other`. A
// node whose values all fit is a closed set (an enum: "on"/"off", "true"/
// "false"), where a value never seen is an anomaly; one that overflowed is
// free text, where it is not.
struct TextValues {
  static constexpr int kSlots = 8;
  std::array<uint32_t, kSlots> sym{};  // Sym ids; 0 = empty slot (bool: 1 + value, see key())
  std::array<float, kSlots> count{};
  float other = 0;

  // The key of a text or boolean value (booleans are the slots' low ids,
  // which are never text: Sym 0 is empty and Sym 1.. are strings, so they
  // are shifted by a tag bit).
  static uint32_t key(const Value& v) {
    return v.kind == Value::Kind::kBool ? (0x80000000u | uint32_t{v.boolean}) : v.text.id;
  }
  void add(uint32_t key, float w = 1);
  void merge(const TextValues& o);
  void scale(float f);
  float of(uint32_t key) const;  // the count of a value (0: never seen)
  float total() const;
  int used() const;
  bool closed() const { return other <= 0; }
};

// Values on one node of the partner, for one relationship.
struct NodeModel {
  float support = 0;  // descriptors with a value on this node
  Counts<kValueKinds> kinds;
  ClusterFeature number;  // numeric values
  TextValues text;        // text and boolean values

  void merge(const NodeModel& o);
  void scale(double f);
};

// The locality of a relationship's accesses.
enum LocalitySlot : int { kOtherRoomSlot = 0, kSameRoomSlot = 1, kUnknownRoomSlot = 2 };

// What a service type does with one partner type.
struct RelModel {
  double weight = 0;  // relationshipWeight: descriptors containing it
  ClusterFeature partners;   // distinct partners per window
  ClusterFeature flows;      // distinct (node, operation) flows per window
  ClusterFeature frequency;  // accesses per window
  ClusterFeature burst;      // peak accesses of one flow within about a second, per window
  // Accesses by (operation, LocalitySlot): the operation and location
  // features, and the type relations a portable model hands the graph.
  Counts<kOperationCount * 3> access;
  // Node suffix Sym id -> values; at most kMaxNodes, the best supported
  // (a service's nodes are few; an intruder naming many must not grow it).
  absl::flat_hash_map<uint32_t, NodeModel> nodes;
  static constexpr size_t kMaxNodes = 64;
  std::vector<PeriodCluster> periods;  // of its flows, merged within 3 sd

  static int slot(Operation op, int where) { return static_cast<int>(op) * 3 + where; }
  float op_count(Operation op) const {
    return access[slot(op, 0)] + access[slot(op, 1)] + access[slot(op, 2)];
  }
  float location_count(int where) const {
    float t = 0;
    for (int op = 0; op < kOperationCount; ++op) t += access[op * 3 + where];
    return t;
  }

  void merge(const RelModel& o);
  void scale(double f);
};

struct TypeModel {
  double weight = 0;  // modelWeight: descriptors merged (decayed beyond the cap)
  double last_s = 0;  // time of the latest descriptor (trace seconds)
  absl::flat_hash_map<uint32_t, RelModel> rels;  // partner type Sym id -> relationship

  // Merges another model or a descriptor (BIRCH additivity). With cap > 0,
  // when the sum would exceed it: a light `o` (at most cap / 2, e.g. a
  // descriptor) first scales this model by (cap - o.weight) / weight, so the
  // old contributions decay and the new ones count in full; a heavy `o` (a
  // portable model) is merged as is and the sum scaled to the cap, so both
  // keep their share. The weight stays at the cap.
  void merge(const TypeModel& o, double cap = 0);
  // Multiplies every weight, count and CF by f (decay). Period clusters left
  // with a weight under kForgetWeight are dropped; relationships fade but
  // stay known: the graph still has their edges, and a relationship the
  // model forgot would score as never seen (SoR) on every access, so would
  // never be learned again.
  void scale(double f);

  // Drops period clusters no descriptor fed for longer than horizon_s
  // (ClusterFeature::staleness, from their time sums) at time now_s.
  void forget_stale(double now_s, double horizon_s);

  // Approximate bytes held (for memory reports).
  size_t bytes() const;
};

// Below this weight, decayed period clusters are forgotten.
inline constexpr double kForgetWeight = 0.5;

}  // namespace iotwall
