#include "model/detector.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/model_compare.h"

using namespace iotwall;

namespace {

constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;

struct Svc {
  const char* id;
  const char* type;
  const char* room;
};
const Svc L1{"light1", "/lightControler", "Kitchen"};
const Svc L2{"light2", "/lightControler", "Kitchen"};
const Svc M1{"move1", "/movementSensor", "Kitchen"};
const Svc T1{"temp1", "/tempSensor", "Kitchen"};
const Svc T2{"temp2", "/tempSensor", "Garage"};
const Svc D1{"door1", "/doorLock", "Kitchen"};

std::string join(std::string_view a, std::string_view b) {
  std::string s(a);
  s += b;
  return s;
}

// Builds accesses of a small site on one agent: /agent1/<id>, nodes /agent1/<id>/<node>.
struct Site {
  Interner in;

  Access access(const Svc& src, const Svc& dst, std::string_view node, Value v, int64_t t_ms,
                Operation op = Operation::kRead, std::string_view node_type = "/derived/number") {
    Access a;
    a.source_id = in.intern(src.id);
    a.source_address = in.intern(join("/agent1/", src.id));
    a.source_type = in.intern(src.type);
    a.source_location = in.intern(src.room);
    const std::string dest = join("/agent1/", dst.id);
    a.dest_address = in.intern(dest);
    a.dest_type = in.intern(dst.type);
    a.dest_location = in.intern(dst.room);
    a.node_address = in.intern(join(join(dest, "/"), node));
    a.node_type = in.intern(node_type);
    a.op = op;
    a.value = v;
    a.time_ms = t_ms;
    return a;
  }
  Value text(std::string_view s) { return Value::Text(in.intern(s)); }
  uint32_t sym(std::string_view s) const { return in.find(s).id; }
};

// Short cases: a learning phase of one window (60 s), so a source is
// scored from its second window on, with the given trust weight (SoM =
// min(weight, trust) / trust: small, so a few descriptors make SoM 1) and
// min_support (descriptors a feature needs before it has an opinion).
DetectorOptions short_options(double trust_weight, double min_support) {
  DetectorOptions o;
  o.graph.learning_phase_ms = kMin;
  o.trust_weight = trust_weight;
  o.min_support = min_support;
  return o;
}

const TypeModel& model_of(const Detector& d, const Site& s, std::string_view type) {
  return d.models().at(s.sym(type));
}

}  // namespace

TEST_CASE("detector: SoM = min(modelWeight, trust_weight) / trust_weight, one descriptor per window that learned",
          "[detector]") {
  Site s;
  // trust_weight 10: SoM climbs by 0.1 per descriptor and saturates at 10.
  Detector d(short_options(10, 3), s.in);
  // Two reads a window, at its start and 30 s in. The read at i min closes
  // window i - 1, so it is scored against i descriptors.
  for (int i = 0; i <= 12; ++i) {
    INFO("window " << i);
    const int64_t t = i * kMin;
    Verdict v = d.observe(s.access(L1, M1, "movement", Value::Bool(true), t));
    CHECK_FALSE(v.anomalous);
    CHECK(v.learned);
    if (i == 0) {
      CHECK(v.graph.source_learning);
      CHECK_FALSE(v.scored);
      CHECK(v.som == 0);
      CHECK(d.descriptors() == 0);
    } else {
      CHECK_FALSE(v.graph.source_learning);
      CHECK(v.scored);
      CHECK(d.descriptors() == static_cast<uint64_t>(i));
      CHECK(model_of(d, s, "/lightControler").weight == i);
      CHECK(v.som == Approx(std::min(i, 10) / 10.0));
      CHECK(v.av == Approx(v.som * std::max(v.sor, v.soa)));
    }
    v = d.observe(s.access(L1, M1, "movement", Value::Bool(true), t + 30 * kSec));
    CHECK(d.descriptors() == static_cast<uint64_t>(i));  // no window closed
    if (i > 0) CHECK(v.som == Approx(std::min(i, 10) / 10.0));
  }

  // After 240 s of silence the next access closes the open window only: no
  // descriptors for the empty windows. The new window starts on the grid
  // (720 s + 4 * 60 s = 960 s). (Gaps stay near the flow's 30 s period or
  // above it: a much shorter one would be flagged by the period feature.)
  CHECK_FALSE(d.observe(s.access(L1, M1, "movement", Value::Bool(true), 990 * kSec)).anomalous);
  CHECK(d.descriptors() == 13);
  CHECK_FALSE(d.observe(s.access(L1, M1, "movement", Value::Bool(true), 1019 * kSec + 500)).anomalous);
  CHECK(d.descriptors() == 13);
  CHECK_FALSE(d.observe(s.access(L1, M1, "movement", Value::Bool(true), 1050 * kSec)).anomalous);
  CHECK(d.descriptors() == 14);

  // A window in which nothing was learned (only a pending edge's access)
  // yields no descriptor.
  Verdict v = d.observe(s.access(L1, D1, "lock", Value::Bool(true), 1080 * kSec, Operation::kWrite));
  CHECK(v.anomalous);
  CHECK(v.graph.state == EdgeState::kPending);
  CHECK_FALSE(v.learned);
  CHECK(d.descriptors() == 15);  // the window [1020, 1080) had learned (1050 s)
  d.observe(s.access(L1, M1, "movement", Value::Bool(true), 1140 * kSec));
  CHECK(d.descriptors() == 15);
  CHECK(model_of(d, s, "/lightControler").weight == 15);
  d.observe(s.access(L1, M1, "movement", Value::Bool(true), 1200 * kSec));
  CHECK(d.descriptors() == 16);
}

TEST_CASE("detector: SoR is unseen_score for a partner type the model never had", "[detector]") {
  // The graph accepts light1 -> door1 without a question because light2, a
  // peer of the same type in the same room, used that relation in the
  // learning phase (generalise_types). light2's window has not closed yet,
  // so the type model has no /doorLock relationship: the model scores the
  // relationship as unseen. trust_weight 1: SoM = 1 from the first
  // descriptor. (An approved edge cannot show SoR: approval answers the
  // relationship question, see the last section.)
  Site s;
  Detector d(short_options(1, 3), s.in);
  d.observe(s.access(L1, M1, "movement", Value::Bool(true), 0));
  d.observe(s.access(L1, M1, "movement", Value::Bool(true), 30 * kSec));
  Verdict v = d.observe(s.access(L2, D1, "lock", Value::Bool(true), 45 * kSec, Operation::kWrite));
  CHECK(v.graph.source_learning);
  CHECK(v.learned);
  v = d.observe(s.access(L1, M1, "movement", Value::Bool(true), 60 * kSec));  // closes light1's window 0
  CHECK(v.scored);
  CHECK(v.som == 1);
  CHECK(v.sor == 0);
  CHECK_FALSE(v.anomalous);
  const uint32_t door = s.sym("/doorLock");
  CHECK(model_of(d, s, "/lightControler").weight == 1);
  CHECK(model_of(d, s, "/lightControler").rels.contains(s.sym("/movementSensor")));
  CHECK_FALSE(model_of(d, s, "/lightControler").rels.contains(door));

  v = d.observe(s.access(L1, D1, "lock", Value::Bool(true), 61 * kSec, Operation::kWrite));
  CHECK_FALSE(v.graph.anomalous);
  CHECK(v.graph.reason == Reason::kKnownRelation);
  CHECK(v.scored);
  CHECK(v.partner_type == door);
  CHECK(v.som == 1);
  CHECK(v.sor == 20);
  CHECK(v.soa == 0);
  CHECK(v.av == 20);
  CHECK(v.feature == Feature::kRelationship);
  CHECK(v.anomalous);
  CHECK_FALSE(v.learned);

  // light2's window [45 s, 105 s) closes: the relationship (weight 1) is in
  // the model, and a known relationship is not scored by rarity (rarity off).
  d.observe(s.access(L2, D1, "lock", Value::Bool(false), 105 * kSec, Operation::kWrite));
  REQUIRE(model_of(d, s, "/lightControler").rels.contains(door));
  CHECK(model_of(d, s, "/lightControler").rels.at(door).weight == 1);
  v = d.observe(s.access(L1, D1, "lock", Value::Bool(true), 106 * kSec, Operation::kWrite));
  CHECK(v.sor == 0);
  CHECK_FALSE(v.anomalous);
  CHECK(v.learned);

  // An edge approved for the type: a partner type the model never had, but
  // the manager said it may exist, so SoR stays 0.
  v = d.observe(s.access(L1, T1, "temperature", Value::Number(21), 110 * kSec));
  REQUIRE(v.graph.state == EdgeState::kPending);
  std::string error;
  REQUIRE(d.graph().answer(v.graph.question, true, Scope::kType, CommGraph::kNoVertex, &error));
  v = d.observe(s.access(L1, T1, "temperature", Value::Number(21), 115 * kSec));
  CHECK(v.graph.state == EdgeState::kApproved);
  CHECK(v.scored);
  CHECK_FALSE(model_of(d, s, "/lightControler").rels.contains(s.sym("/tempSensor")));
  CHECK(v.sor == 0);
  CHECK(v.av == 0);
  CHECK_FALSE(v.anomalous);
  CHECK(v.learned);
}

namespace {

// Eight windows of reads (window i has counts[i % size] reads, evenly
// spread), then reads 1 s apart in window 8; returns their verdicts.
// trust_weight 8 and min_support 8: in window 8 SoM = 1 and the frequency
// has its opinion, before it neither. The period feature is disabled: the
// extra reads necessarily come faster than the usual period and would be
// flagged by it first (it has its own test).
std::vector<Verdict> flood(const std::vector<int>& counts, int reads) {
  Site s;
  DetectorOptions o = short_options(8, 8);
  o.disabled = bit(Feature::kPeriod);
  Detector d(o, s.in);
  for (int i = 0; i < 8; ++i) {
    const int k = counts[static_cast<size_t>(i) % counts.size()];
    for (int j = 0; j < k; ++j) {
      const Verdict v = d.observe(s.access(L1, M1, "movement", Value(), i * kMin + j * (kMin / k)));
      REQUIRE_FALSE(v.anomalous);
    }
  }
  std::vector<Verdict> out;
  for (int j = 0; j < reads; ++j) out.push_back(d.observe(s.access(L1, M1, "movement", Value(), 8 * kMin + j * kSec)));
  REQUIRE(model_of(d, s, "/lightControler").weight == 8);
  return out;
}

// Checks the flood's verdicts: normal until read `flip` (1-based), which is
// flagged for its frequency; SoA = (reads - mean) / (3 sd) wherever the
// count decides (from read `from` on; before, the burst may).
void check_flood(const std::vector<Verdict>& vs, int flip, double mean, double sd, int from) {
  for (int s = 1; s <= static_cast<int>(vs.size()); ++s) {
    const Verdict& v = vs[static_cast<size_t>(s) - 1];
    INFO("read " << s << " of the window");
    CHECK(v.som == 1);
    if (s >= from) {
      CHECK(v.feature == Feature::kFrequency);
      CHECK_FALSE(v.burst);
      CHECK(v.soa == Approx((s - mean) / (3 * sd)));
      CHECK(v.observed == s);
      CHECK(v.expected == Approx(mean));
      CHECK(v.spread == Approx(sd));
    }
    CHECK(v.anomalous == (s >= flip));
    CHECK(v.learned == (s < flip));
  }
}

}  // namespace

TEST_CASE("detector: frequency flips at mean + 3 sd * threshold accesses in a window", "[detector]") {
  SECTION("a steady 4 reads per window: sd 0, floored at 1 access") {
    // Flagged at (s - 4) / (3 * 1) >= 7: s = 25.
    check_flood(flood({4}, 27), 25, 4, 1, 5);
  }
  SECTION("2 and 6 reads in turn: mean 4, sd 2") {
    // Flagged at (s - 4) / (3 * 2) >= 7: s = 46.
    check_flood(flood({2, 6}, 48), 46, 4, 2, 6);
  }
}

TEST_CASE("detector: period: an early access scores (centre - gap) / (3 sd), a run sums, a late one never",
          "[detector]") {
  // Reads every 10 s. period_window 20: a flow is mined once it has
  // max(kMinPoints, 20 / 8) = 10 new gaps, here at the close of window 1 (11
  // gaps of exactly 10 s: one cluster, centre 10, sd 0, so period_sd =
  // max(0.05, 1 % of 10) = 0.1 s). min_support 10: the cluster's weight (11)
  // gives the period an opinion in window 2, where no other feature has one
  // (weight 2). trust_weight 20: SoM = 2 / 20 = 0.1 in window 2, so one early
  // access (SoA 33) passes and a run of three does not.
  Site s;
  DetectorOptions o = short_options(20, 10);
  o.period_window = 20;
  Detector d(o, s.in);
  for (int k = 0; k < 12; ++k) {
    REQUIRE_FALSE(d.observe(s.access(L1, M1, "movement", Value(), k * 10 * kSec)).anomalous);
  }
  Verdict v = d.observe(s.access(L1, M1, "movement", Value(), 120 * kSec));
  CHECK(v.som == Approx(0.1));
  CHECK(v.soa == 0);
  CHECK_FALSE(v.anomalous);
  {
    const RelModel& r = model_of(d, s, "/lightControler").rels.at(s.sym("/movementSensor"));
    REQUIRE(r.periods.size() == 1);
    CHECK(r.periods[0].cf.mean() == 10);
    CHECK(r.periods[0].cf.n() >= 10);
    CHECK(period_sd(r.periods[0]) == Approx(0.1));
  }
  const double d1 = (10 - 0.1) / (3 * 0.1);  // 33

  v = d.observe(s.access(L1, M1, "movement", Value(), 120 * kSec + 100));
  CHECK(v.feature == Feature::kPeriod);
  CHECK(v.soa == Approx(d1));
  CHECK(v.av == Approx(0.1 * d1));
  CHECK_FALSE(v.burst);
  CHECK(v.observed == Approx(0.1));  // the gap
  CHECK(v.expected == 10);
  CHECK(v.spread == Approx(0.1));    // period_sd
  CHECK_FALSE(v.anomalous);
  CHECK(v.learned);

  // The next early gap runs from the previous (normal) access: the run sums.
  v = d.observe(s.access(L1, M1, "movement", Value(), 120 * kSec + 200));
  CHECK(v.feature == Feature::kPeriod);
  CHECK(v.soa == Approx(2 * d1));
  CHECK(v.av == Approx(0.2 * d1));
  CHECK(v.burst);
  CHECK(v.observed == 2);             // accesses in the run
  CHECK(v.spread == Approx(0.2));     // seconds they took
  CHECK_FALSE(v.anomalous);

  v = d.observe(s.access(L1, M1, "movement", Value(), 120 * kSec + 300));
  CHECK(v.feature == Feature::kPeriod);
  CHECK(v.soa == Approx(3 * d1));
  CHECK(v.av == Approx(0.3 * d1));  // 9.9 >= 7
  CHECK(v.observed == 3);
  CHECK(v.spread == Approx(0.3));
  CHECK(v.anomalous);
  CHECK_FALSE(v.learned);

  // Later than the period (29.8 s after the last normal access): never
  // flagged by period, and the run is over.
  v = d.observe(s.access(L1, M1, "movement", Value(), 150 * kSec));
  CHECK(v.feature != Feature::kPeriod);
  CHECK(v.soa == 0);
  CHECK_FALSE(v.anomalous);
  v = d.observe(s.access(L1, M1, "movement", Value(), 150 * kSec + 100));
  CHECK(v.soa == Approx(d1));  // one early access again, not a run of four
  CHECK_FALSE(v.anomalous);
  // A long silence (249.9 s): still not early.
  v = d.observe(s.access(L1, M1, "movement", Value(), 400 * kSec));
  CHECK(v.feature != Feature::kPeriod);
  CHECK(v.soa == 0);
  CHECK_FALSE(v.anomalous);
}

TEST_CASE("detector: datatype and value of a numeric node", "[detector]") {
  // trust_weight 1: SoM = 1 from the first descriptor; min_support 3: the
  // node has an opinion once 3 windows carried it.
  Site s;
  Detector d(short_options(1, 3), s.in);
  // Windows 0..2: the temperature reads 10, then 30 (mean 20, sd 10, above
  // its floor max(0.1, 0.1 * 20) = 2).
  for (int i = 0; i < 3; ++i) {
    REQUIRE_FALSE(d.observe(s.access(L1, T1, "temperature", Value::Number(10), i * kMin)).anomalous);
    REQUIRE_FALSE(d.observe(s.access(L1, T1, "temperature", Value::Number(30), i * kMin + 30 * kSec)).anomalous);
  }
  const int64_t t = 180 * kSec;  // window 3; windows 0..2 are in the model

  Verdict v = d.observe(s.access(L1, T1, "temperature", s.text("hot"), t));
  {
    const NodeModel& n = model_of(d, s, "/lightControler").rels.at(s.sym("/tempSensor")).nodes.at(s.sym("/temperature"));
    CHECK(n.support == 3);
    CHECK(n.number.n() == 6);
    CHECK(n.number.mean() == 20);
    CHECK(n.number.variance() == 100);
  }
  CHECK(v.feature == Feature::kDatatype);
  CHECK(v.soa == 20);  // unseen_score
  CHECK(v.anomalous);
  CHECK_FALSE(v.learned);
  v = d.observe(s.access(L1, T1, "temperature", Value::Bool(true), t + 1 * kSec));
  CHECK(v.feature == Feature::kDatatype);
  CHECK(v.soa == 20);
  CHECK(v.anomalous);

  // |x - 20| / (3 * 10): 209 / 30 passes, 210 / 30 = 7 is flagged, on either side.
  v = d.observe(s.access(L1, T1, "temperature", Value::Number(229), t + 2 * kSec));
  CHECK(v.feature == Feature::kValue);
  CHECK(v.soa == Approx(209.0 / 30));
  CHECK(v.expected == 20);
  CHECK(v.spread == 10);
  CHECK(v.observed == 229);
  CHECK_FALSE(v.anomalous);
  CHECK(v.learned);
  v = d.observe(s.access(L1, T1, "temperature", Value::Number(230), t + 3 * kSec));
  CHECK(v.feature == Feature::kValue);
  CHECK(v.soa == Approx(7));
  CHECK(v.anomalous);
  CHECK_FALSE(v.learned);
  v = d.observe(s.access(L1, T1, "temperature", Value::Number(-190), t + 4 * kSec));
  CHECK(v.feature == Feature::kValue);
  CHECK(v.soa == Approx(7));
  CHECK(v.anomalous);
  v = d.observe(s.access(L1, T1, "temperature", Value::Number(20), t + 5 * kSec));
  CHECK(v.feature != Feature::kValue);
  CHECK_FALSE(v.anomalous);

  // A node declared '/basic/number' with a text or boolean value: flagged
  // without any history of the node.
  v = d.observe(s.access(L1, T1, "setpoint", s.text("warm"), t + 6 * kSec, Operation::kRead, "/basic/number"));
  CHECK(v.feature == Feature::kDatatype);
  CHECK(v.soa == 20);
  CHECK(v.anomalous);
  v = d.observe(s.access(L1, T1, "setpoint", Value::Bool(false), t + 7 * kSec, Operation::kRead, "/basic/number"));
  CHECK(v.feature == Feature::kDatatype);
  CHECK(v.anomalous);
  v = d.observe(s.access(L1, T1, "setpoint", Value::Number(21), t + 8 * kSec, Operation::kRead, "/basic/number"));
  CHECK(v.feature != Feature::kDatatype);
  CHECK_FALSE(v.anomalous);
  // Text on a node with no history and no declared type: no opinion.
  v = d.observe(s.access(L1, T1, "label", s.text("warm"), t + 9 * kSec, Operation::kRead, "/basic/text"));
  CHECK(v.feature != Feature::kDatatype);
  CHECK_FALSE(v.anomalous);
}

TEST_CASE("detector: a new value of a closed text set is flagged, a known one is not", "[detector]") {
  Site s;
  Detector d(short_options(1, 3), s.in);
  for (int i = 0; i < 3; ++i) {
    d.observe(s.access(L1, T1, "mode", s.text("eco"), i * kMin));
    d.observe(s.access(L1, T1, "mode", s.text("comfort"), i * kMin + 30 * kSec));
  }
  Verdict v = d.observe(s.access(L1, T1, "mode", s.text("comfort"), 180 * kSec));
  CHECK(v.soa == Approx(0).margin(1e-9));
  CHECK_FALSE(v.anomalous);
  v = d.observe(s.access(L1, T1, "mode", s.text("boost"), 181 * kSec));
  CHECK(v.feature == Feature::kValue);
  CHECK(v.soa == 20);
  CHECK(v.anomalous);
}

TEST_CASE("detector: zero-variance features score against their floors, never NaN or inf", "[detector]") {
  // humidity always 50 (sd 0, floor max(0.1, 0.02 * 50) = 1) and level always
  // 0 (floor 0.1); the frequency (2 a window) has sd 0 too (floor 1).
  Site s;
  Detector d(short_options(1, 3), s.in);
  for (int i = 0; i < 3; ++i) {
    d.observe(s.access(L1, T1, "humidity", Value::Number(50), i * kMin));
    d.observe(s.access(L1, T1, "level", Value::Number(0), i * kMin + 30 * kSec));
  }
  auto finite = [](const Verdict& v) {
    return std::isfinite(v.som) && std::isfinite(v.sor) && std::isfinite(v.soa) && std::isfinite(v.av) &&
           std::isfinite(v.expected) && std::isfinite(v.spread);
  };
  Verdict v = d.observe(s.access(L1, T1, "humidity", Value::Number(50), 180 * kSec));
  CHECK(finite(v));
  CHECK(v.soa == Approx(0).margin(1e-9));
  CHECK_FALSE(v.anomalous);
  v = d.observe(s.access(L1, T1, "humidity", Value::Number(70), 181 * kSec));
  CHECK(finite(v));
  CHECK(v.feature == Feature::kValue);
  CHECK(v.soa == Approx(20.0 / 3));
  CHECK(v.spread == 1);
  CHECK_FALSE(v.anomalous);
  v = d.observe(s.access(L1, T1, "humidity", Value::Number(72), 182 * kSec));
  CHECK(v.soa == Approx(22.0 / 3));
  CHECK(v.anomalous);

  // The next window (the humidity's CF now holds 70 too; the level's is untouched).
  v = d.observe(s.access(L1, T1, "level", Value::Number(0.2), 240 * kSec));
  CHECK(finite(v));
  CHECK(v.feature == Feature::kValue);
  CHECK(v.soa == Approx(0.2 / 0.3));
  CHECK(v.spread == Approx(0.1));
  CHECK_FALSE(v.anomalous);
  v = d.observe(s.access(L1, T1, "level", Value::Number(3), 241 * kSec));
  CHECK(finite(v));
  CHECK(v.soa == Approx(10));
  CHECK(v.anomalous);
  v = d.observe(s.access(L1, T1, "level", Value::Number(0), 242 * kSec));
  CHECK(finite(v));
  CHECK(v.feature != Feature::kValue);
  CHECK_FALSE(v.anomalous);
}

namespace {

// Windows 0..3 of temperature reads (10 then 30; window 3: 20 at 180 s and
// 30 at 210 s), then the read at 240 s that closes window 3. `extra` is
// called at 220 s, the last access of window 3 before it closes.
template <typename F>
void temperature_windows(Site& s, Detector& d, F extra) {
  for (int i = 0; i < 3; ++i) {
    REQUIRE_FALSE(d.observe(s.access(L1, T1, "temperature", Value::Number(10), i * kMin)).anomalous);
    REQUIRE_FALSE(d.observe(s.access(L1, T1, "temperature", Value::Number(30), i * kMin + 30 * kSec)).anomalous);
  }
  REQUIRE_FALSE(d.observe(s.access(L1, T1, "temperature", Value::Number(20), 180 * kSec)).anomalous);
  REQUIRE_FALSE(d.observe(s.access(L1, T1, "temperature", Value::Number(30), 210 * kSec)).anomalous);
  extra(220 * kSec);
  REQUIRE(d.descriptors() == 3);
  REQUIRE_FALSE(d.observe(s.access(L1, T1, "temperature", Value::Number(10), 240 * kSec)).anomalous);
  REQUIRE(d.descriptors() == 4);
}

}  // namespace

TEST_CASE("detector: an anomalous access is not learned and leaves the model unchanged", "[detector]") {
  // Two detectors see the same accesses; the second also a value far off
  // (1000 against mean 20, sd 10: SoA 32.7) as the last access of window 3.
  // When window 3 closes, both models must be the same, bit for bit.
  Site sa, sb;
  Detector a(short_options(1, 3), sa.in), b(short_options(1, 3), sb.in);
  temperature_windows(sa, a, [](int64_t) {});
  temperature_windows(sb, b, [&](int64_t t) {
    const Verdict v = b.observe(sb.access(L1, T1, "temperature", Value::Number(1000), t));
    CHECK(v.anomalous);
    CHECK(v.feature == Feature::kValue);
    CHECK(v.soa == Approx(980.0 / 30));
    CHECK_FALSE(v.learned);
  });
  CHECK(a.descriptors() == b.descriptors());
  CHECK(a.model_bytes() == b.model_bytes());
  iotwall::testing::check_same_model(model_of(a, sa, "/lightControler"), model_of(b, sb, "/lightControler"), 0);
}

TEST_CASE("detector: a pending edge to another instance of a known partner type is flagged and not learned",
          "[detector]") {
  // Preconditions of the next test: light1 reading temp2 (a /tempSensor in
  // another room) is a new relation after the learning phase: pending.
  Site s;
  Detector d(short_options(1, 3), s.in);
  temperature_windows(s, d, [&](int64_t t) {
    const Verdict v = d.observe(s.access(L1, T2, "temperature", Value::Number(20), t));
    CHECK(v.graph.anomalous);
    CHECK(v.graph.state == EdgeState::kPending);
    CHECK(v.partner_type == s.sym("/tempSensor"));
    CHECK(v.anomalous);
    CHECK_FALSE(v.learned);
  });
}

TEST_CASE("detector: a pending edge's access does not change the partners and flows the model learns",
          "[detector]") {
  // Regression: the window's partners and flows once counted every access,
  // so an anomalous one (here a pending edge to a second /tempSensor) made
  // window 3's descriptor say 2 partners and 2 flows instead of 1: the
  // model learned from an anomalous access. Scoring still sees them; the
  // descriptor counts only normal ones.
  Site sa, sb;
  Detector a(short_options(1, 3), sa.in), b(short_options(1, 3), sb.in);
  temperature_windows(sa, a, [](int64_t) {});
  temperature_windows(sb, b, [&](int64_t t) { b.observe(sb.access(L1, T2, "temperature", Value::Number(20), t)); });
  const RelModel& ra = model_of(a, sa, "/lightControler").rels.at(sa.sym("/tempSensor"));
  const RelModel& rb = model_of(b, sb, "/lightControler").rels.at(sb.sym("/tempSensor"));
  CHECK(rb.partners.mean() == ra.partners.mean());  // actual: 1.25 against 1
  CHECK(rb.flows.mean() == ra.flows.mean());        // actual: 1.25 against 1
  iotwall::testing::check_same_model(model_of(a, sa, "/lightControler"), model_of(b, sb, "/lightControler"), 0);
}

namespace {

// A mixed script: reads of a binary sensor and a temperature, a second
// controller, bursts, text on a number node, a pending edge, writes to a
// door lock; gaps 1 ms to 4 s. Draws come from a fixed-seed engine.
std::vector<Access> script(Site& s) {
  std::mt19937_64 g(20240611);
  std::vector<Access> out;
  int64_t t = 0;
  for (int i = 0; i < 4000; ++i) {
    t += 1 + static_cast<int64_t>(g() % 4000);
    uint64_t r = g() % 100;
    if (t < 2 * kMin && r >= 82) r = 0;  // a plain start: nothing odd is learned in the learning phase
    if (r < 45) {
      out.push_back(s.access(L1, M1, "movement", Value::Bool(g() % 2 == 0), t));
    } else if (r < 70) {
      const double x = 20 + static_cast<double>(g() % 50) / 10;
      out.push_back(s.access(L1, T1, "temperature", Value::Number(x), t));
    } else if (r < 82) {
      out.push_back(s.access(L2, M1, "movement", Value::Bool(true), t));
    } else if (r < 86) {
      out.push_back(s.access(L1, T1, "temperature", s.text("hot"), t));
    } else if (r < 90) {
      out.push_back(s.access(L2, D1, "lock", Value::Bool(g() % 2 == 0), t, Operation::kWrite));
    } else if (r < 93) {
      out.push_back(s.access(L1, T2, "temperature", Value::Number(1000), t));
    } else if (r < 95) {
      out.push_back(s.access(L1, T1, "temperature", Value::Number(500), t));
    } else {
      for (int k = 0; k < 8; ++k) {
        t += 20;
        out.push_back(s.access(L1, M1, "movement", Value::Bool(true), t));
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("detector: the same accesses give the same verdicts and models", "[detector]") {
  Site sa, sb;
  const std::vector<Access> xa = script(sa), xb = script(sb);
  REQUIRE(xa.size() == xb.size());
  DetectorOptions o = short_options(5, 3);
  o.period_window = 20;
  Detector a(o, sa.in), b(o, sb.in);
  size_t anomalous = 0, scored = 0, learned = 0, differ = 0;
  for (size_t i = 0; i < xa.size(); ++i) {
    const Verdict va = a.observe(xa[i]);
    const Verdict vb = b.observe(xb[i]);
    const bool same = va.graph.anomalous == vb.graph.anomalous && va.graph.state == vb.graph.state &&
                      va.graph.reason == vb.graph.reason && va.graph.edge == vb.graph.edge &&
                      va.graph.question == vb.graph.question && va.anomalous == vb.anomalous &&
                      va.scored == vb.scored && va.som == vb.som && va.sor == vb.sor && va.soa == vb.soa &&
                      va.av == vb.av && va.feature == vb.feature && va.observed == vb.observed &&
                      va.expected == vb.expected && va.spread == vb.spread && va.burst == vb.burst &&
                      va.partner_type == vb.partner_type && va.learned == vb.learned;
    if (!same && differ++ == 0) FAIL_CHECK("first different verdict at access " << i);
    anomalous += va.anomalous;
    scored += va.scored;
    learned += va.learned;
  }
  CHECK(differ == 0);
  // The script exercises the model: some accesses scored, some flagged, most learned.
  CHECK(scored > 1000);
  CHECK(anomalous > 100);
  CHECK(learned > 2000);
  CHECK(a.descriptors() == b.descriptors());
  CHECK(a.descriptors() > 50);
  REQUIRE(a.models().size() == b.models().size());
  iotwall::testing::check_same_model(model_of(a, sa, "/lightControler"), model_of(b, sb, "/lightControler"), 0);
}

TEST_CASE("detector: a text value on a /basic/number node is flagged even with no relationship model",
          "[detector]") {
  // An approved edge to a partner type the model never had: no relationship
  // model, so only the declared type can speak, and it does.
  Site s;
  Detector d(short_options(1, 3), s.in);
  int64_t t = 0;
  for (; t < 5 * kMin; t += 10 * kSec) d.observe(s.access(L1, M1, "movement", Value::Number(1), t));
  Verdict first = d.observe(s.access(L1, D1, "lock", Value::Number(1), t, Operation::kWrite, "/basic/number"));
  REQUIRE(first.graph.state == EdgeState::kPending);
  std::string error;
  REQUIRE(d.graph().answer(first.graph.question, true, Scope::kType, CommGraph::kNoVertex, &error));
  Verdict number = d.observe(s.access(L1, D1, "lock", Value::Number(0), t + 1, Operation::kWrite, "/basic/number"));
  CHECK(number.graph.state == EdgeState::kApproved);
  CHECK_FALSE(number.anomalous);
  Verdict text = d.observe(s.access(L1, D1, "lock", s.text("open"), t + 2, Operation::kWrite, "/basic/number"));
  CHECK(text.graph.state == EdgeState::kApproved);
  CHECK(text.scored);
  CHECK(text.feature == Feature::kDatatype);
  CHECK(text.soa == 20);
  CHECK(text.anomalous);
}

TEST_CASE("detector: a wrong-typed value is flagged before the type has any model", "[detector]") {
  // SoM is 0 without a model, but a value contradicting its node's declared
  // type needs no trust: AV = unseen_score.
  Site s;
  DetectorOptions o = short_options(60, 10);
  o.graph.learning_phase_ms = 30 * kSec;
  Detector d(o, s.in);
  d.observe(s.access(L1, M1, "movement", Value::Number(1), 0));
  // Past the learning phase, before the first window closed: no model yet.
  Verdict v = d.observe(s.access(L1, M1, "movement", s.text("yes"), 45 * kSec, Operation::kRead, "/basic/number"));
  CHECK(d.models().empty());
  CHECK(v.scored);
  CHECK(v.som == 0);
  CHECK(v.feature == Feature::kDatatype);
  CHECK(v.av == 20);
  CHECK(v.anomalous);
}

TEST_CASE("detector: a flow sped up below the threshold does not teach the miner its fast period",
          "[detector][period]") {
  // light1 reads temp1 every 10 s. An intruder inside the relationship
  // slips in a read 9 s after each normal one (a 9 s gap: early by
  // 1 / (3 x 0.1 sd) = 3.3, under the threshold of 7 alone). The model must
  // never learn a 9 s period, which would hide a later flood at 9 s.
  Site s;
  Detector d(short_options(1, 3), s.in);
  int64_t t = 0;
  for (; t < 60 * kMin; t += 10 * kSec) {
    d.observe(s.access(L1, T1, "temperature", Value::Number(20), t));
  }
  for (int i = 0; i < 400; ++i, t += 19 * kSec) {
    d.observe(s.access(L1, T1, "temperature", Value::Number(20), t));
    d.observe(s.access(L1, T1, "temperature", Value::Number(20), t + 9 * kSec));
  }
  const RelModel& r = model_of(d, s, "/lightControler").rels.at(s.sym("/tempSensor"));
  REQUIRE_FALSE(r.periods.empty());
  for (const PeriodCluster& c : r.periods) {
    if (c.cf.n() >= 3) CHECK(c.cf.mean() > 9.5);
  }
}

TEST_CASE("detector: huge values are scored but never learned; the model stays finite",
          "[detector][value]") {
  Site s;
  Detector d(short_options(1, 3), s.in);
  for (int64_t t = 0; t < 2 * kMin; t += 10 * kSec) {
    d.observe(s.access(L1, T1, "temperature", Value::Number(1e300), t));
  }
  for (int64_t t = 2 * kMin; t < 30 * kMin; t += 10 * kSec) {
    d.observe(s.access(L1, T1, "temperature", Value::Number(20), t));
  }
  const Verdict v = d.observe(s.access(L1, T1, "temperature", Value::Number(-1e300), 30 * kMin));
  CHECK(v.anomalous);
  CHECK(v.feature == Feature::kValue);
  d.flush(40 * kMin);
  const RelModel& r = model_of(d, s, "/lightControler").rels.at(s.sym("/tempSensor"));
  for (const auto& [k, n] : r.nodes) {
    CHECK(std::isfinite(n.number.mean()));
    CHECK(std::isfinite(n.number.sd(0.1)));
    CHECK(n.number.mean() == Approx(20));
  }
}

TEST_CASE("detector: flows are bounded; pending edges create none", "[detector][bounds]") {
  Site s;
  DetectorOptions o = short_options(1, 3);
  o.max_flows = 50;
  o.flow_idle_ms = 10 * kMin;
  Detector d(o, s.in);
  for (int64_t t = 0; t < 5 * kMin; t += 10 * kSec) {
    d.observe(s.access(L1, T1, "temperature", Value::Number(20), t));
  }
  REQUIRE(d.flows() == 1);
  // A pending edge (after the learning phase): the graph judges it, the
  // model keeps nothing for it.
  for (int i = 0; i < 100; ++i) {
    const Verdict v = d.observe(s.access(L1, D1, join("lock", std::to_string(i)), Value::Number(1), 6 * kMin + i));
    REQUIRE(v.graph.state == EdgeState::kPending);
  }
  CHECK(d.flows() == 1);
  // Many nodes on the known edge: flows stop at the bound, the excess is
  // scored without history and counted.
  for (int i = 0; i < 200; ++i) {
    d.observe(s.access(L1, T1, join("n", std::to_string(i)), Value::Number(20), 7 * kMin + i));
  }
  CHECK(d.flows() == 50);
  CHECK(d.untracked_accesses() == 151);
  // Once they idle past flow_idle_ms, new flows reclaim their slots.
  for (int i = 0; i < 10; ++i) {
    d.observe(s.access(L1, T1, join("m", std::to_string(i)), Value::Number(20), 30 * kMin + i));
  }
  CHECK(d.flows() <= 50);
  CHECK(d.untracked_accesses() == 151);
}

TEST_CASE("detector: a text value past the names' bound is never learned as a category", "[detector][bounds]") {
  // Past the bound every new text value is the one placeholder: learned as
  // a category, it would make every later unseen value look known.
  Site s;
  s.in.set_limits(1'000'000, size_t{1} << 30);  // only to have the placeholder
  Detector d(short_options(1, 3), s.in);
  const Value overflowed = Value::Text(s.in.overflow());
  for (int i = 0; i < 3; ++i) {
    d.observe(s.access(L1, T1, "mode", s.text("eco"), i * kMin));
    d.observe(s.access(L1, T1, "mode", s.text("comfort"), i * kMin + 30 * kSec));
    d.observe(s.access(L1, T1, "mode", overflowed, i * kMin + 45 * kSec));
  }
  CHECK_FALSE(d.observe(s.access(L1, T1, "mode", s.text("eco"), 180 * kSec)).anomalous);
  const Verdict v = d.observe(s.access(L1, T1, "mode", overflowed, 181 * kSec));
  CHECK(v.feature == Feature::kValue);
  CHECK(v.anomalous);
}
