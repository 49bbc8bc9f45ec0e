#include "model/type_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/model_compare.h"

using namespace iotwall;
using iotwall::testing::check_same_cf;
using iotwall::testing::check_same_model;

namespace {

int slot(Operation op, int where) { return RelModel::slot(op, where); }

// A period cluster of the given gaps, all ending at t_s.
PeriodCluster period(std::initializer_list<double> gaps, double t_s) {
  PeriodCluster p;
  for (double g : gaps) p.cf.add(g, t_s);
  return p;
}

// Symbols of the partner types and node suffixes the descriptors use.
struct Names {
  Interner in;
  uint32_t move = in.intern("/movementSensor").id;
  uint32_t temp = in.intern("/tempSensor").id;
  uint32_t door = in.intern("/doorLock").id;
  uint32_t movement = in.intern("/movement").id;
  uint32_t temperature = in.intern("/temperature").id;
  uint32_t mode = in.intern("/mode").id;
  uint32_t eco = in.intern("eco").id;
  uint32_t comfort = in.intern("comfort").id;
};

// Three descriptors with different partners, nodes and periods (see the
// merge tests for what their merge must hold).
TypeModel d1(const Names& n) {
  TypeModel d;
  d.weight = 1;
  d.last_s = 60;
  RelModel& r = d.rels[n.move];
  r.weight = 1;
  r.partners.add(1, 60);
  r.flows.add(2, 60);
  r.frequency.add(12, 60);
  r.burst.add(1.5, 60);
  r.access.add(slot(Operation::kRead, kSameRoomSlot), 10);
  r.access.add(slot(Operation::kWrite, kSameRoomSlot), 2);
  NodeModel& nm = r.nodes[n.movement];
  nm.support = 1;
  nm.kinds.add(kind_index(Value::Kind::kBool), 12);
  nm.text.add(TextValues::key(Value::Bool(true)), 7);
  nm.text.add(TextValues::key(Value::Bool(false)), 5);
  r.periods.push_back(period({10, 10.05, 9.95}, 60));
  return d;
}

TypeModel d2(const Names& n) {
  TypeModel d;
  d.weight = 1;
  d.last_s = 120;
  RelModel& r = d.rels[n.move];
  r.weight = 1;
  r.partners.add(2, 120);
  r.flows.add(1, 120);
  r.frequency.add(30, 120);
  r.burst.add(4, 120);
  r.access.add(slot(Operation::kRead, kOtherRoomSlot), 30);
  NodeModel& nm = r.nodes[n.movement];
  nm.support = 1;
  nm.kinds.add(kind_index(Value::Kind::kBool), 30);
  nm.text.add(TextValues::key(Value::Bool(true)), 30);
  r.periods.push_back(period({10.1, 10.1}, 120));
  r.periods.push_back(period({60}, 120));
  RelModel& t = d.rels[n.temp];
  t.weight = 1;
  t.partners.add(1, 120);
  t.flows.add(1, 120);
  t.frequency.add(6, 120);
  t.burst.add(1, 120);
  t.access.add(slot(Operation::kRead, kSameRoomSlot), 6);
  NodeModel& tm = t.nodes[n.temperature];
  tm.support = 1;
  tm.kinds.add(kind_index(Value::Kind::kNumber), 6);
  for (double x : {21.5, 22.0, 22.5, 23.0, 22.0, 21.0}) tm.number.add(x, 120);
  return d;
}

TypeModel d3(const Names& n) {
  TypeModel d;
  d.weight = 1;
  d.last_s = 180;
  RelModel& t = d.rels[n.temp];
  t.weight = 1;
  t.partners.add(1, 180);
  t.flows.add(2, 180);
  t.frequency.add(4, 180);
  t.burst.add(1.2, 180);
  t.access.add(slot(Operation::kRead, kSameRoomSlot), 4);
  NodeModel& tm = t.nodes[n.temperature];
  tm.support = 1;
  tm.kinds.add(kind_index(Value::Kind::kNumber), 2);
  tm.number.add(30, 180);
  tm.number.add(19, 180);
  NodeModel& mm = t.nodes[n.mode];
  mm.support = 1;
  mm.kinds.add(kind_index(Value::Kind::kText), 2);
  mm.text.add(n.eco);
  mm.text.add(n.comfort);
  RelModel& o = d.rels[n.door];
  o.weight = 1;
  o.partners.add(1, 180);
  o.flows.add(1, 180);
  o.frequency.add(1, 180);
  o.burst.add(1, 180);
  o.access.add(slot(Operation::kWrite, kSameRoomSlot), 1);
  o.periods.push_back(period({300}, 180));
  return d;
}

TypeModel merged(std::initializer_list<const TypeModel*> parts) {
  TypeModel m;
  for (const TypeModel* p : parts) m.merge(*p);
  return m;
}

}  // namespace

TEST_CASE("type-model: Counts add, merge, scale and total", "[type-model]") {
  Counts<4> a;
  a.add(0);
  a.add(2, 3);
  a.add(2, 0.5f);
  CHECK(a[0] == 1);
  CHECK(a[1] == 0);
  CHECK(a[2] == 3.5f);
  CHECK(a.total() == 4.5f);

  Counts<4> b;
  b.add(1, 2);
  b.add(2, 1);
  Counts<4> ab = a, ba = b;
  ab.merge(b);
  ba.merge(a);
  for (int i = 0; i < 4; ++i) CHECK(ab[i] == ba[i]);
  CHECK(ab[0] == 1);
  CHECK(ab[1] == 2);
  CHECK(ab[2] == 4.5f);
  CHECK(ab[3] == 0);
  CHECK(ab.total() == a.total() + b.total());

  ab.scale(0.5f);
  CHECK(ab[1] == 1);
  CHECK(ab[2] == 2.25f);
  CHECK(ab.total() == 3.75f);

  // The relationship's (operation, locality) counts read through op_count / location_count.
  RelModel r;
  r.access.add(RelModel::slot(Operation::kRead, kSameRoomSlot), 4);
  r.access.add(RelModel::slot(Operation::kRead, kOtherRoomSlot), 1);
  r.access.add(RelModel::slot(Operation::kWrite, kSameRoomSlot), 2);
  CHECK(r.op_count(Operation::kRead) == 5);
  CHECK(r.op_count(Operation::kWrite) == 2);
  CHECK(r.op_count(Operation::kSubscribe) == 0);
  CHECK(r.location_count(kSameRoomSlot) == 6);
  CHECK(r.location_count(kOtherRoomSlot) == 1);
  CHECK(r.location_count(kUnknownRoomSlot) == 0);
}

TEST_CASE("type-model: TextValues is a closed set up to 8 values, the 9th goes to other", "[type-model]") {
  TextValues t;
  CHECK(t.closed());
  CHECK(t.used() == 0);
  for (uint32_t k = 1; k <= 8; ++k) t.add(k, static_cast<float>(k));
  CHECK(t.used() == 8);
  CHECK(t.closed());
  CHECK(t.other == 0);
  CHECK(t.of(3) == 3);
  CHECK(t.of(9) == 0);
  CHECK(t.total() == 36);

  t.add(9, 2);  // the 9th distinct value: no slot
  CHECK(t.used() == 8);
  CHECK(t.other == 2);
  CHECK_FALSE(t.closed());
  CHECK(t.of(9) == 0);
  CHECK(t.total() == 38);

  t.add(3);  // a known value still counts in its slot
  CHECK(t.of(3) == 4);
  CHECK(t.other == 2);

  // Key 0 (the empty slot) and non-positive weights are ignored.
  t.add(0, 5);
  t.add(4, 0);
  t.add(4, -1);
  CHECK(t.of(0) == 0);
  CHECK(t.of(4) == 4);
  CHECK(t.total() == 39);

  t.scale(0.5f);
  CHECK(t.of(3) == 2);
  CHECK(t.other == 1);
  CHECK(t.total() == 19.5f);
}

TEST_CASE("type-model: TextValues keys booleans apart from text", "[type-model]") {
  Interner in;
  const Sym first = in.intern("on");  // Sym 1, the id a bool 'true' would collide with unshifted
  REQUIRE(first.id == 1);
  const uint32_t kt = TextValues::key(Value::Bool(true));
  const uint32_t kf = TextValues::key(Value::Bool(false));
  const uint32_t kon = TextValues::key(Value::Text(first));
  CHECK(kon == 1);
  CHECK(kt != kon);
  CHECK(kf != 0);  // false is a value, not the empty slot
  CHECK(kt != kf);

  TextValues t;
  t.add(kt, 3);
  t.add(kf, 2);
  t.add(kon, 1);
  CHECK(t.used() == 3);
  CHECK(t.of(kt) == 3);
  CHECK(t.of(kf) == 2);
  CHECK(t.of(kon) == 1);
}

TEST_CASE("type-model: TextValues merge is exact while closed, keeps the total when it overflows", "[type-model]") {
  TextValues a, b;
  for (uint32_t k = 1; k <= 5; ++k) a.add(k, 1);  // 1..5
  for (uint32_t k = 4; k <= 6; ++k) b.add(k, 2);  // 4..6
  TextValues ab = a, ba = b;
  ab.merge(b);
  ba.merge(a);
  CHECK(ab.used() == 6);
  CHECK(ab.closed());
  for (uint32_t k = 1; k <= 6; ++k) CHECK(ab.of(k) == ba.of(k));
  CHECK(ab.of(1) == 1);
  CHECK(ab.of(4) == 3);
  CHECK(ab.of(6) == 2);

  // 1..5 and 4..9: nine distinct values. Whichever side comes first keeps
  // its slots; the one left out is counted in `other`, and the totals agree.
  TextValues c;
  for (uint32_t k = 4; k <= 9; ++k) c.add(k, 2);
  TextValues ac = a, ca = c;
  ac.merge(c);
  ca.merge(a);
  CHECK(ac.used() == 8);
  CHECK_FALSE(ac.closed());
  CHECK(ac.other == 2);  // value 9 (weight 2)
  CHECK(ac.of(9) == 0);
  CHECK(ca.other == 1);  // value 3 (weight 1): 4..9 then 1, 2 took the slots
  CHECK(ca.of(3) == 0);
  CHECK(ac.total() == a.total() + c.total());
  CHECK(ca.total() == ac.total());
}

TEST_CASE("type-model: merge of descriptors is commutative and associative", "[type-model]") {
  Names n;
  const TypeModel a = d1(n), b = d2(n), c = d3(n);
  const TypeModel ref = merged({&a, &b, &c});

  SECTION("hand-computed fields of the merge") {
    CHECK(ref.weight == 3);
    CHECK(ref.last_s == 180);
    REQUIRE(ref.rels.size() == 3);
    const RelModel& m = ref.rels.at(n.move);
    CHECK(m.weight == 2);
    CHECK(m.frequency.n() == 2);
    CHECK(m.frequency.mean() == Approx(21));
    CHECK(m.frequency.variance() == Approx(81));
    CHECK(m.partners.mean() == Approx(1.5));
    CHECK(m.op_count(Operation::kRead) == 40);
    CHECK(m.access[RelModel::slot(Operation::kRead, kOtherRoomSlot)] == 30);
    const NodeModel& mv = m.nodes.at(n.movement);
    CHECK(mv.support == 2);
    CHECK(mv.text.of(TextValues::key(Value::Bool(true))) == 37);
    CHECK(mv.text.of(TextValues::key(Value::Bool(false))) == 5);
    // 10 s clusters merge (within 3 sd), 60 s stays apart.
    REQUIRE(m.periods.size() == 2);
    CHECK(m.periods[0].cf.n() == 5);
    CHECK(m.periods[0].cf.mean() == Approx(50.2 / 5));
    CHECK(m.periods[1].cf.mean() == Approx(60));

    const RelModel& t = ref.rels.at(n.temp);
    CHECK(t.weight == 2);
    const NodeModel& tm = t.nodes.at(n.temperature);
    CHECK(tm.support == 2);
    CHECK(tm.number.n() == 8);
    CHECK(tm.number.mean() == Approx(181.0 / 8));
    CHECK(t.nodes.at(n.mode).support == 1);
    CHECK(t.nodes.at(n.mode).text.of(n.eco) == 1);
    CHECK(t.periods.empty());

    const RelModel& o = ref.rels.at(n.door);
    CHECK(o.weight == 1);
    REQUIRE(o.periods.size() == 1);
    CHECK(o.periods[0].cf.mean() == 300);
  }

  SECTION("commutative: a + b == b + a") {
    check_same_model(merged({&a, &b}), merged({&b, &a}), 1e-9);
    check_same_model(merged({&a, &c}), merged({&c, &a}), 1e-9);
    check_same_model(merged({&b, &c}), merged({&c, &b}), 1e-9);
  }

  SECTION("associative: (a + b) + c == a + (b + c), and every order gives the same model") {
    TypeModel left = merged({&a, &b});
    left.merge(c);
    TypeModel bc = merged({&b, &c});
    TypeModel right = a;
    right.merge(bc);
    check_same_model(left, right, 1e-9);

    std::array<const TypeModel*, 3> order{&a, &b, &c};
    std::sort(order.begin(), order.end());
    int orders = 0;
    do {
      TypeModel m;
      for (const TypeModel* p : order) m.merge(*p);
      check_same_model(m, ref, 1e-9);
      ++orders;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(orders == 6);
  }

  SECTION("a relationship of weight 0 in a descriptor is absent") {
    TypeModel d = c;
    d.rels[n.move];  // weight 0: a reused descriptor's leftover slot
    TypeModel m = a;
    m.merge(d);
    CHECK(m.rels.at(n.move).weight == 1);
    CHECK(m.rels.at(n.move).frequency.n() == 1);
    TypeModel e;
    e.merge(d);
    CHECK_FALSE(e.rels.contains(n.move));
  }
}

TEST_CASE("type-model: the merge of per-window descriptors equals the model of all their values", "[type-model]") {
  Names n;
  // Accesses per window (the frequency feature) and the node's numbers in each window.
  const std::vector<double> freq{3, 7, 4, 4, 9, 2, 5, 6, 8, 1};
  const std::vector<std::vector<double>> temps{{20}, {21, 22}, {19.5}, {}, {23, 23, 24}, {18}, {20.5}, {}, {22}, {21}};
  ClusterFeature all_freq, all_temp;
  TypeModel m;
  float reads = 0;
  for (size_t i = 0; i < freq.size(); ++i) {
    const double t = 60.0 * static_cast<double>(i + 1);
    TypeModel d;
    d.weight = 1;
    d.last_s = t;
    RelModel& r = d.rels[n.temp];
    r.weight = 1;
    r.frequency.add(freq[i], t);
    r.access.add(slot(Operation::kRead, kSameRoomSlot), static_cast<float>(freq[i]));
    reads += static_cast<float>(freq[i]);
    if (!temps[i].empty()) {
      NodeModel& nm = r.nodes[n.temperature];
      nm.support = 1;
      for (double x : temps[i]) {
        nm.kinds.add(kind_index(Value::Kind::kNumber));
        nm.number.add(x, t);
        all_temp.add(x, t);
      }
    }
    all_freq.add(freq[i], t);
    m.merge(d, 3000);  // far below the cap: no decay
  }

  CHECK(m.weight == 10);
  CHECK(m.last_s == 600);
  const RelModel& r = m.rels.at(n.temp);
  CHECK(r.weight == 10);
  check_same_cf(r.frequency, all_freq, 1e-9);
  // By hand: sum 49, sum of squares 301; times 60..600 s.
  CHECK(r.frequency.n() == 10);
  CHECK(r.frequency.mean() == Approx(4.9).epsilon(1e-12));
  CHECK(r.frequency.variance() == Approx(30.1 - 4.9 * 4.9).epsilon(1e-9));
  CHECK(r.frequency.mean_time() == Approx(330).epsilon(1e-12));
  CHECK(r.frequency.time_sd() == Approx(60 * std::sqrt(8.25)).epsilon(1e-9));
  CHECK(r.op_count(Operation::kRead) == reads);

  const NodeModel& nm = r.nodes.at(n.temperature);
  CHECK(nm.support == 8);  // windows with a value
  CHECK(nm.kinds[kind_index(Value::Kind::kNumber)] == 11);
  check_same_cf(nm.number, all_temp, 1e-9);
  CHECK(nm.number.mean() == Approx(234.0 / 11).epsilon(1e-12));
}

TEST_CASE("type-model: decay at the weight cap", "[type-model]") {
  Names n;
  constexpr double kCap = 10;
  // Descriptor j (1-based): the movement sensor relationship in every one
  // (frequency x_j, 2 reads, a 10 s period of one gap; descriptor 1 also a
  // 60 s period of weight 2); the door relationship only in the first 10
  // (frequency y_j, 3 writes).
  auto x = [](int j) { return static_cast<double>(3 + j % 4); };
  auto y = [](int j) { return static_cast<double>(1 + (j * 7) % 5); };
  auto descriptor = [&](int j) {
    const double t = 60.0 * j;
    TypeModel d;
    d.weight = 1;
    d.last_s = t;
    RelModel& a = d.rels[n.move];
    a.weight = 1;
    a.frequency.add(x(j), t);
    a.access.add(slot(Operation::kRead, kSameRoomSlot), 2);
    a.periods.push_back(period({10}, t));
    if (j == 1) {
      PeriodCluster p;
      p.cf.add(60, t, 2);
      a.periods.push_back(p);
    }
    if (j <= 10) {
      RelModel& b = d.rels[n.door];
      b.weight = 1;
      b.frequency.add(y(j), t);
      b.access.add(slot(Operation::kWrite, kSameRoomSlot), 3);
    }
    return d;
  };
  // The weight left of descriptor j after N merges: each merge past the cap
  // scales everything before it by (cap - 1) / cap = 0.9.
  auto w = [&](int j, int N) { return std::pow((kCap - 1) / kCap, std::max(0, N - std::max(j, 10))); };
  // Relationship scaling goes through a float factor (0.9f): 1e-5 relative covers it.
  constexpr double kRel = 1e-5;

  // The door relationship's frequency before any decay.
  ClusterFeature door_before;
  for (int j = 1; j <= 10; ++j) door_before.add(y(j), 60.0 * j);

  TypeModel m;
  bool door_dropped = false, slow_dropped = false;
  for (int N = 1; N <= 45; ++N) {
    m.merge(descriptor(N), kCap);
    INFO("after " << N << " merges");
    CHECK(m.weight <= kCap);
    CHECK(m.weight == Approx(std::min<double>(N, kCap)).epsilon(1e-12));
    const RelModel& a = m.rels.at(n.move);
    CHECK(a.weight <= kCap * (1 + 1e-12));

    // Closed forms: sum of w(j, N) over the relationship's descriptors.
    double wa = 0, wx = 0;
    for (int j = 1; j <= N; ++j) {
      wa += w(j, N);
      wx += w(j, N) * x(j);
    }
    CHECK(a.weight == Approx(wa).epsilon(kRel));
    CHECK(a.frequency.n() == Approx(wa).epsilon(kRel));
    CHECK(a.access[slot(Operation::kRead, kSameRoomSlot)] == Approx(2 * wa).epsilon(kRel));
    // The mean is the decayed weighted mean.
    CHECK(a.frequency.mean() == Approx(wx / wa).epsilon(kRel));

    // Door: 10 descriptors, all scaled alike from merge 11 on.
    const double wb = N <= 10 ? N : 10 * std::pow(0.9, N - 10);
    // A relationship fades but stays known (its features lose their opinion
    // below min_support); it is never dropped.
    REQUIRE(m.rels.contains(n.door));
    if (wb >= kForgetWeight) {
      const RelModel& b = m.rels.at(n.door);
      CHECK(b.weight == Approx(wb).epsilon(kRel));
      if (N >= 10) {
        CHECK(b.frequency.n() == Approx(wb).epsilon(kRel));
        CHECK(b.access[slot(Operation::kWrite, kSameRoomSlot)] == Approx(3 * wb).epsilon(kRel));
        // Scaling keeps the mean and the variance.
        CHECK(b.frequency.mean() == Approx(door_before.mean()).epsilon(1e-6));
        CHECK(b.frequency.variance() == Approx(door_before.variance()).epsilon(1e-6));
      }
    } else {
      CHECK(m.rels.at(n.door).weight == Approx(wb).epsilon(kRel));
      door_dropped = true;  // faded below the forget weight, still known
    }

    // The 60 s period (weight 2, from descriptor 1) decays like the door.
    const double w60 = 2 * std::pow(0.9, std::max(0, N - 10));
    if (w60 >= kForgetWeight) {
      REQUIRE(a.periods.size() == 2);
      CHECK(a.periods[1].cf.mean() == Approx(60));
      CHECK(a.periods[1].cf.n() == Approx(w60).epsilon(kRel));
    } else {
      CHECK(a.periods.size() == 1);
      slow_dropped = true;
    }
    REQUIRE(!a.periods.empty());
    CHECK(a.periods[0].cf.mean() == Approx(10));
    CHECK(a.periods[0].cf.n() == Approx(wa).epsilon(kRel));
  }
  CHECK(door_dropped);
  CHECK(slow_dropped);
}

TEST_CASE("type-model: decay thresholds by hand: the 60 s period goes after 24 merges, the door fades but stays", "[type-model]") {
  // 2 * 0.9^13 = 0.508 (kept), 2 * 0.9^14 = 0.457 (dropped); the door
  // relationship's weight 10 * 0.9^29 = 0.471 is under the forget weight,
  // but a relationship stays known.
  Names n;
  auto descriptor = [&](int j) {
    TypeModel d;
    d.weight = 1;
    d.last_s = 60.0 * j;
    RelModel& a = d.rels[n.move];
    a.weight = 1;
    a.periods.push_back(period({10}, d.last_s));
    if (j == 1) {
      PeriodCluster p;
      p.cf.add(60, d.last_s, 2);
      a.periods.push_back(p);
    }
    if (j <= 10) d.rels[n.door].weight = 1;
    return d;
  };
  TypeModel m;
  for (int N = 1; N <= 23; ++N) m.merge(descriptor(N), 10);
  CHECK(m.rels.at(n.move).periods.size() == 2);
  m.merge(descriptor(24), 10);
  CHECK(m.rels.at(n.move).periods.size() == 1);
  for (int N = 25; N <= 38; ++N) m.merge(descriptor(N), 10);
  REQUIRE(m.rels.contains(n.door));
  CHECK(m.rels.at(n.door).weight == Approx(10 * std::pow(0.9, 28)).epsilon(1e-5));
  m.merge(descriptor(39), 10);
  REQUIRE(m.rels.contains(n.door));
  CHECK(m.rels.at(n.door).weight == Approx(10 * std::pow(0.9, 29)).epsilon(1e-5));
  CHECK(m.weight == 10);
}

TEST_CASE("type-model: a model merged at the cap is scaled to make room for it", "[type-model]") {
  Names n;
  // Weight 8 plus weight 5 with cap 10: the old model is scaled by (10 - 5) / 8.
  TypeModel old;
  old.weight = 8;
  RelModel& r = old.rels[n.move];
  r.weight = 8;
  for (int i = 0; i < 8; ++i) r.frequency.add(4 + i % 2, 60.0 * i);
  r.access.add(slot(Operation::kRead, kSameRoomSlot), 16);
  TypeModel add;
  add.weight = 5;
  RelModel& s = add.rels[n.move];
  s.weight = 5;
  for (int i = 0; i < 5; ++i) s.frequency.add(10, 600 + 60.0 * i);
  s.access.add(slot(Operation::kRead, kSameRoomSlot), 5);

  TypeModel m = old;
  m.merge(add, 10);
  CHECK(m.weight == Approx(10));
  const RelModel& mr = m.rels.at(n.move);
  CHECK(mr.weight == Approx(8 * 0.625 + 5).epsilon(1e-6));
  CHECK(mr.frequency.n() == Approx(10).epsilon(1e-6));
  CHECK(mr.access[slot(Operation::kRead, kSameRoomSlot)] == Approx(16 * 0.625 + 5).epsilon(1e-6));
  // Mean: old mean 4.5 with weight 5, new mean 10 with weight 5.
  CHECK(mr.frequency.mean() == Approx((4.5 * 5 + 10 * 5) / 10).epsilon(1e-6));
}

TEST_CASE("type-model: a heavy model merged at the cap shares the weight instead of replacing",
          "[type-model]") {
  // Adopting a portable model of full weight must not erase what this node
  // learned: 8 local + 10 adopted with cap 10 keep 8 : 10.
  Names n;
  TypeModel local;
  local.weight = 8;
  RelModel& r = local.rels[n.move];
  r.weight = 8;
  for (int i = 0; i < 8; ++i) r.frequency.add(4, 60.0 * i);
  TypeModel adopted;
  adopted.weight = 10;
  RelModel& s = adopted.rels[n.move];
  s.weight = 10;
  for (int i = 0; i < 10; ++i) s.frequency.add(10, 600 + 60.0 * i);

  TypeModel m = local;
  m.merge(adopted, 10);
  CHECK(m.weight == Approx(10));
  const RelModel& mr = m.rels.at(n.move);
  CHECK(mr.weight == Approx(10).epsilon(1e-6));
  CHECK(mr.frequency.n() == Approx(10).epsilon(1e-6));
  CHECK(mr.frequency.mean() == Approx((4.0 * 8 + 10 * 10) / 18).epsilon(1e-6));
}

TEST_CASE("type-model: a relationship keeps at most kMaxNodes nodes, the best supported", "[type-model]") {
  RelModel r;
  for (uint32_t k = 1; k <= RelModel::kMaxNodes + 20; ++k) {
    RelModel d;
    d.weight = 1;
    NodeModel& node = d.nodes[k];
    node.support = k <= 10 ? 100.0f : 1.0f;  // nodes 1..10 are the service's own
    r.merge(d);
  }
  CHECK(r.nodes.size() == RelModel::kMaxNodes);
  for (uint32_t k = 1; k <= 10; ++k) CHECK(r.nodes.contains(k));
}

TEST_CASE("type-model: period clusters no descriptor fed for the horizon fade out", "[type-model]") {
  Names n;
  TypeModel m;
  RelModel& r = m.rels[n.move];
  r.weight = 3;
  PeriodCluster fed, old;
  for (int i = 0; i < 3; ++i) {
    fed.cf.add(10, 1000.0 + 100 * i);  // fed until t = 1200 s
    old.cf.add(60, 100.0 + i);         // last fed at t = 102 s
  }
  r.periods = {fed, old};
  // staleness = now - (mean time + time sd): fed 1100 + 81.6, old 101 + 0.8.
  m.forget_stale(1500, 600);  // old: 1398 s > 600 s; fed: 318 s
  REQUIRE(r.periods.size() == 1);
  CHECK(r.periods[0].cf.mean() == 10);
  m.forget_stale(1900, 600);  // fed: 718 s
  CHECK(r.periods.empty());
  CHECK(m.rels.contains(n.move));  // the relationship stays
}
