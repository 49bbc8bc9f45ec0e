#include "model/graph_file.h"

#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "model/detector.h"
#include "model/site_sim.h"
#include "model/wording.h"

using namespace iotwall;

namespace {

constexpr int64_t kMin = 60 * 1000;

Access access(Interner& in, const char* src, const char* stype, const char* dst, const char* dtype,
              const char* room, Operation op, int64_t t) {
  Access a;
  a.source_id = in.intern(src);
  a.source_address = in.intern(std::string("/agent1/") + src);
  a.source_type = in.intern(stype);
  a.source_location = in.intern(room);
  a.dest_address = in.intern(std::string("/agent1/") + dst);
  a.dest_type = in.intern(dtype);
  a.dest_location = in.intern(room);
  a.op = op;
  a.time_ms = t;
  return a;
}

// A graph with every kind of state: learned, approved, pending and denied
// edges, rules for a type and for a service, open and answered questions.
CommGraph busy_graph(Interner& in) {
  CommGraph g;
  g.observe(access(in, "light1", "/lightControler", "move1", "/movementSensor", "Kitchen", Operation::kRead, 0));
  g.observe(access(in, "light2", "/lightControler", "move2", "/movementSensor", "Hall", Operation::kRead, 0));
  Judgement a = g.observe(access(in, "light1", "/lightControler", "temp1", "/sensorService", "Kitchen", Operation::kRead, 30 * kMin));
  Judgement b = g.observe(access(in, "light1", "/lightControler", "door1", "/doorLockService", "Kitchen", Operation::kWrite, 31 * kMin));
  g.observe(access(in, "light2", "/lightControler", "door2", "/doorLockService", "Hall", Operation::kWrite, 31 * kMin));
  g.observe(access(in, "light2", "/lightControler", "move2", "/movementSensor", "Hall", Operation::kLockSubtree, 32 * kMin));
  std::string error;
  REQUIRE(g.answer(a.question, true, Scope::kType, CommGraph::kNoVertex, &error));
  REQUIRE(g.answer(b.question, false, Scope::kService, g.edges()[b.edge].src, &error));
  return g;
}

std::vector<Access> probes(Interner& in) {
  return {
      access(in, "light1", "/lightControler", "move1", "/movementSensor", "Kitchen", Operation::kRead, 40 * kMin),
      access(in, "light2", "/lightControler", "temp2", "/sensorService", "Hall", Operation::kRead, 41 * kMin),
      access(in, "light1", "/lightControler", "door1", "/doorLockService", "Kitchen", Operation::kWrite, 42 * kMin),
      access(in, "light1", "/lightControler", "door3", "/doorLockService", "Kitchen", Operation::kWrite, 43 * kMin),
      access(in, "light2", "/lightControler", "door2", "/doorLockService", "Hall", Operation::kWrite, 44 * kMin),
      access(in, "light3", "/lightControler", "move3", "/movementSensor", "Attic", Operation::kRead, 45 * kMin),
      access(in, "light2", "/lightControler", "move2", "/movementSensor", "Hall", Operation::kSubscribe, 46 * kMin),
  };
}

}  // namespace

TEST_CASE("a saved graph loads back with the same state and the same verdicts", "[graph-file]") {
  Interner in;
  CommGraph g = busy_graph(in);
  const std::string bytes = save_graph(g, in);

  Interner in2;  // a different process: other Sym ids
  in2.intern("something else first");
  CommGraph h;
  std::string error;
  REQUIRE(load_graph(bytes, in2, &h, &error));
  CHECK(h.vertices().size() == g.vertices().size());
  CHECK(h.edges().size() == g.edges().size());
  CHECK(h.questions().size() == g.questions().size());
  CHECK(h.open_questions() == g.open_questions());
  CHECK(h.decisions().size() == g.decisions().size());
  CHECK(h.live_edges() == g.live_edges());
  CHECK(h.now() == g.now());
  for (size_t i = 0; i < g.questions().size(); ++i) {
    CHECK(question_text(h, h.questions()[i], in2) == question_text(g, g.questions()[i], in));
  }
  // The same accesses get the same verdicts from both.
  auto pg = probes(in);
  auto ph = probes(in2);
  for (size_t i = 0; i < pg.size(); ++i) {
    Judgement x = g.observe(pg[i]);
    Judgement y = h.observe(ph[i]);
    INFO("probe " << i);
    CHECK(x.anomalous == y.anomalous);
    CHECK(x.reason == y.reason);
    CHECK(x.state == y.state);
    CHECK(x.question == y.question);
  }
  // And saving again gives the same bytes as saving the original now.
  CHECK(save_graph(h, in2) == save_graph(g, in));
}

TEST_CASE("corrupted or truncated graph files are rejected and change nothing", "[graph-file]") {
  Interner in;
  CommGraph g = busy_graph(in);
  const std::string bytes = save_graph(g, in);

  Interner in2;
  CommGraph target = busy_graph(in2);
  const std::string before = save_graph(target, in2);
  std::string error;

  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    INFO("truncated to " << cut);
    REQUIRE_FALSE(load_graph(std::string_view(bytes).substr(0, cut), in2, &target, &error));
    REQUIRE_FALSE(error.empty());
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    INFO("byte " << i << " flipped");
    REQUIRE_FALSE(load_graph(bad, in2, &target, &error));
  }
  CHECK_FALSE(load_graph(bytes + "x", in2, &target, &error));
  CHECK_THAT(error, Catch::Contains("trailing"));
  CHECK_FALSE(load_graph("hello", in2, &target, &error));
  CHECK_THAT(error, Catch::Contains("bad magic"));
  std::string future = bytes;
  future[8] = 9;
  CHECK_FALSE(load_graph(future, in2, &target, &error));
  CHECK_THAT(error, Catch::Contains("version 9"));
  CHECK(save_graph(target, in2) == before);
}

TEST_CASE("an empty graph round-trips", "[graph-file]") {
  Interner in;
  CommGraph g, h;
  std::string error;
  REQUIRE(load_graph(save_graph(g, in), in, &h, &error));
  CHECK(h.edges().empty());
}

namespace {

// Rewrites the CRC so a crafted payload passes the checksum and only the
// consistency checks can catch it.
std::string reseal(std::string bytes) {
  const size_t payload = 8 + 4 + 8;
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data() + payload), static_cast<uInt>(bytes.size() - payload - 4)));
  for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  return bytes;
}

}  // namespace

TEST_CASE("crafted graph files that pass the CRC are still checked", "[graph-file]") {
  Interner in;
  CommGraph g = busy_graph(in);
  const std::string bytes = save_graph(g, in);
  // The last decision (a denial for one service) closes the graph records:
  // u32 question, u8 approve, u8 scope, u32 source, i64 time, then the
  // models section (u32 count 0) and the CRC.
  const size_t decision = bytes.size() - 4 - 4 - 18;
  REQUIRE(g.decisions().back().scope == Scope::kService);
  std::string error;
  CommGraph target;
  REQUIRE(load_graph(reseal(bytes), in, &target, &error));  // resealing alone changes nothing

  std::string type_with_source = bytes;
  type_with_source[decision + 5] = 0;  // scope: type, yet it names a service
  CHECK_FALSE(load_graph(reseal(type_with_source), in, &target, &error));
  CHECK_THAT(error, Catch::Contains("inconsistent"));

  std::string no_source = bytes;
  for (int i = 0; i < 4; ++i) no_source[decision + 6 + i] = '\xff';  // service scope, no service
  CHECK_FALSE(load_graph(reseal(no_source), in, &target, &error));

  std::string bad_question = bytes;
  bad_question[decision] = 99;  // a question that does not exist
  CHECK_FALSE(load_graph(reseal(bad_question), in, &target, &error));

  std::string bad_scope = bytes;
  bad_scope[decision + 5] = 7;
  CHECK_FALSE(load_graph(reseal(bad_scope), in, &target, &error));
  CHECK(target.edges().size() == g.edges().size());  // the sound load above is still in place
}

// ---- Version 2: the graph and the per-type models ----

namespace {

using Models = absl::flat_hash_map<uint32_t, TypeModel>;

constexpr int64_t kHour = 60 * kMin;
constexpr double kT0 = 1520031600;  // trace seconds

// Models with every kind of field: numbers, text and boolean values, the
// empty node suffix, two periods. Some values are markers the crafted-file
// test finds in the bytes: 1234.5 and 2345.5 (model weights), 41.5f (the
// first access count), 14.25 (the first period's weight).
Models sample_models(Interner& in) {
  Models models;
  TypeModel& m = models[in.intern("/lightControler").id];
  m.weight = 1234.5;
  m.last_s = kT0 + 3600;
  RelModel& r = m.rels[in.intern("/movementSensor").id];
  r.weight = 50;
  for (int i = 0; i < 20; ++i) {
    const double t = kT0 + 60 * i;
    r.partners.add(1 + i % 2, t);
    r.flows.add(2, t);
    r.frequency.add(10 + i % 3, t);
    r.burst.add(1.5, t);
  }
  r.access.add(0, 41.5f);
  r.access.add(RelModel::slot(Operation::kRead, kSameRoomSlot), 300);
  NodeModel& moved = r.nodes[in.intern("/movement").id];
  moved.support = 20;
  moved.kinds.add(kind_index(Value::Kind::kBool), 20);
  moved.text.add(TextValues::key(Value::Bool(true)), 12);
  moved.text.add(TextValues::key(Value::Bool(false)), 8);
  NodeModel& own = r.nodes[0];  // the empty suffix: the service's own node
  own.support = 5;
  own.kinds.add(kind_index(Value::Kind::kText), 3);
  own.kinds.add(kind_index(Value::Kind::kNumber), 2);
  own.text.add(in.intern("on").id, 2);
  own.text.add(in.intern("off").id, 1);
  own.number.add(21.5, kT0);
  own.number.add(22.25, kT0 + 60);
  PeriodCluster slow, fast;
  fast.cf.add(10, kT0, 13.25);
  fast.cf.add(10.5, kT0 + 30);  // weight 14.25
  slow.cf.add(60, kT0, 4);
  r.periods = {fast, slow};  // sorted by centre
  TypeModel& other = models[in.intern("/agent9/untyped").id];  // a service without a type
  other.weight = 2345.5;
  other.rels[in.intern("/lightControler").id].weight = 3;
  return models;
}

// Where an 8- or 4-byte little-endian value occurs in `bytes` (exactly once).
template <typename T>
size_t find_value(const std::string& bytes, T v) {
  char raw[sizeof v];
  std::memcpy(raw, &v, sizeof v);
  const size_t at = bytes.find(std::string_view(raw, sizeof v));
  REQUIRE(at != std::string::npos);
  REQUIRE(bytes.find(std::string_view(raw, sizeof v), at + 1) == std::string::npos);
  return at;
}

template <typename T>
void put_value(std::string* bytes, size_t at, T v) {
  std::memcpy(bytes->data() + at, &v, sizeof v);
}

// The same access with its strings in another Interner.
Access reintern(const Access& a, const Interner& from, Interner& to) {
  Access b = a;
  for (Sym Access::*f : {&Access::source_id, &Access::source_address, &Access::source_type,
                         &Access::source_location, &Access::dest_address, &Access::dest_type,
                         &Access::dest_location, &Access::node_address, &Access::node_type}) {
    b.*f = to.intern(from.str(a.*f));
  }
  if (a.value.kind == Value::Kind::kText) b.value.text = to.intern(from.str(a.value.text));
  return b;
}

// A version 1 file: version 2's layout without the models section.
std::string as_version1(const std::string& v2_without_models) {
  std::string v1 = v2_without_models;
  REQUIRE(v1.substr(v1.size() - 8, 4) == std::string(4, '\0'));  // no models
  v1.erase(v1.size() - 8, 4);
  put_value(&v1, 8, uint32_t{1});
  put_value(&v1, 12, uint64_t{v1.size() - 8 - 4 - 8 - 4});
  return reseal(v1);
}

}  // namespace

TEST_CASE("graph file v2: a detector state round-trips and a restored detector carries on",
          "[graph-file]") {
  Interner in;
  SimOptions o;
  o.rooms = 3;
  o.hours = 4;
  std::vector<TraceRecord> rows;
  {
    SiteSimulator sim(o, in);
    TraceRecord r;
    while (sim.next(&r)) rows.push_back(r);
  }
  const int64_t cut = o.start_ms + 3 * kHour;
  const auto split =
      std::find_if(rows.begin(), rows.end(), [&](auto& r) { return r.access.time_ms >= cut; });
  REQUIRE(split != rows.end());

  Detector a(DetectorOptions{}, in);
  for (auto it = rows.begin(); it != split; ++it) a.observe(it->access);
  const std::string bytes = save_state(a.graph(), a.models(), in);
  REQUIRE(a.models().size() > 3);

  // Another process (other Sym ids) reads it back and writes the same bytes.
  Interner in2;
  in2.intern("something else first");
  CommGraph g2;
  Models m2;
  std::string error;
  REQUIRE(load_state(bytes, in2, &g2, &m2, &error));
  CHECK(m2.size() == a.models().size());
  CHECK(save_state(g2, m2, in2) == bytes);

  // B restores in the same Interner, C in the other: the re-interned keys
  // (types, partners, node suffixes, text values) must mean the same, so
  // both give exactly the same verdicts on the next hour.
  CommGraph g1;
  Models m1;
  REQUIRE(load_state(bytes, in, &g1, &m1, &error));
  Detector b(DetectorOptions{}, in), c(DetectorOptions{}, in2);
  b.restore(std::move(g1), std::move(m1));
  c.restore(std::move(g2), std::move(m2));
  // D starts from nothing: what B would be without the file.
  Detector d(DetectorOptions{}, in);
  size_t rows_after = 0, differ = 0, differ_ab = 0, learning_b = 0, learning_d = 0;
  size_t attacks = 0, caught_a = 0, caught_b = 0, caught_d = 0, false_a = 0, false_b = 0,
         false_d = 0;
  for (auto it = split; it != rows.end(); ++it) {
    const Verdict va = a.observe(it->access);
    const Verdict vb = b.observe(it->access);
    const Verdict vc = c.observe(reintern(it->access, in, in2));
    const Verdict vd = d.observe(it->access);
    ++rows_after;
    differ_ab += va.anomalous != vb.anomalous;
    differ += vb.anomalous != vc.anomalous || vb.av != vc.av || vb.feature != vc.feature ||
              vb.scored != vc.scored || vb.graph.state != vc.graph.state;
    const bool attack = it->label_class == LabelClass::kAnomalous;
    attacks += attack;
    caught_a += attack && va.anomalous;
    caught_b += attack && vb.anomalous;
    caught_d += attack && vd.anomalous;
    false_a += !attack && va.anomalous;
    false_b += !attack && vb.anomalous;
    false_d += !attack && vd.anomalous;
    learning_b += vb.graph.source_learning;
    learning_d += vd.graph.source_learning;
  }
  INFO("rows " << rows_after << ", attacks " << attacks << ", caught by A " << caught_a << " B "
               << caught_b << " D " << caught_d << ", false alarms A " << false_a << " B "
               << false_b << " D " << false_d << ", learning B " << learning_b << " D "
               << learning_d << ", A and B differ on " << differ_ab);
  CHECK(differ == 0);
  // B lacks only A's open windows and flows: it flags what A flags (1 %
  // slack for a window's counts), knows every source past its learning
  // phase, and catches attacks that a detector starting from nothing misses.
  CHECK(differ_ab * 100 <= rows_after);
  CHECK(learning_b == 0);
  CHECK(learning_d > 0);
  REQUIRE(attacks > 0);
  CHECK(caught_b > caught_d);

  // Saved 5 minutes in, every type is still in its learning phase; the
  // restored detector adopts the types it has models for and ends it.
  Detector early(DetectorOptions{}, in), restored(DetectorOptions{}, in);
  auto row = rows.begin();
  for (; row->access.time_ms < o.start_ms + 5 * kMin; ++row) early.observe(row->access);
  CommGraph g5;
  Models m5;
  REQUIRE(load_state(save_state(early.graph(), early.models(), in), in, &g5, &m5, &error));
  restored.restore(std::move(g5), std::move(m5));
  while (!early.models().contains(row->access.source_type.id)) ++row;
  CHECK(early.observe(row->access).graph.source_learning);
  CHECK_FALSE(restored.observe(row->access).graph.source_learning);
}

TEST_CASE("graph file v2: models round-trip bit-exact with their keys re-interned",
          "[graph-file]") {
  Interner in;
  const CommGraph g = busy_graph(in);
  const Models models = sample_models(in);
  const std::string bytes = save_state(g, models, in);

  Interner in2;
  in2.intern("something else first");
  CommGraph h;
  Models back;
  std::string error;
  REQUIRE(load_state(bytes, in2, &h, &back, &error));
  CHECK(save_state(h, back, in2) == bytes);
  const RelModel& r =
      back.at(in2.find("/lightControler").id).rels.at(in2.find("/movementSensor").id);
  const RelModel& o =
      models.at(in.find("/lightControler").id).rels.at(in.find("/movementSensor").id);
  CHECK(std::bit_cast<uint64_t>(r.frequency.ss()) == std::bit_cast<uint64_t>(o.frequency.ss()));
  CHECK(r.frequency.variance() == o.frequency.variance());
  const NodeModel& own = r.nodes.at(0);  // the empty suffix
  CHECK(own.text.of(in2.find("on").id) == 2);
  CHECK(own.text.closed());
  CHECK(own.number.mean() == o.nodes.at(0).number.mean());
  CHECK(r.nodes.at(in2.find("/movement").id).text.of(TextValues::key(Value::Bool(true))) == 12);
  REQUIRE(r.periods.size() == 2);
  CHECK(r.periods[0].cf.n() == o.periods[0].cf.n());
  CHECK(back.at(in2.find("/agent9/untyped").id).weight == 2345.5);
}

TEST_CASE("graph file v2: corrupted or truncated files with models are rejected and change nothing",
          "[graph-file]") {
  Interner in;
  const std::string bytes = save_state(busy_graph(in), sample_models(in), in);

  // The target already holds a state; it must survive every failed load.
  Interner in2;
  CommGraph target = busy_graph(in2);
  Models target_models = sample_models(in2);
  target_models.erase(in2.find("/agent9/untyped").id);
  const std::string before = save_state(target, target_models, in2);
  std::string error;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    INFO("truncated to " << cut);
    REQUIRE_FALSE(
        load_state(std::string_view(bytes).substr(0, cut), in2, &target, &target_models, &error));
    REQUIRE_FALSE(error.empty());
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    INFO("byte " << i << " flipped");
    REQUIRE_FALSE(load_state(bad, in2, &target, &target_models, &error));
  }
  CHECK(save_state(target, target_models, in2) == before);

  // With the CRC recomputed only the checks stand between a flipped byte and
  // the model (flips in strings and in most number bytes give other valid
  // values): a load
  // either succeeds or fails leaving its outputs empty, and never reads,
  // allocates or crashes out of bounds (run under the sanitizers).
  const std::string empty = save_state(CommGraph{}, {}, in2);
  size_t rejected = 0;
  for (size_t i = 20; i + 4 < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    CommGraph g;
    Models m;
    if (!load_state(reseal(bad), in2, &g, &m, &error)) {
      ++rejected;
      INFO("byte " << i << " flipped and resealed");
      REQUIRE(save_state(g, m, in2) == empty);
    }
  }
  CHECK(rejected > bytes.size() / 4);
}

TEST_CASE("graph file v2: crafted model sections that pass the CRC are still checked",
          "[graph-file]") {
  Interner in;
  const std::string bytes = save_state(busy_graph(in), sample_models(in), in);
  Interner in2;
  CommGraph target;
  Models models;
  std::string error;
  // Resealing alone changes nothing.
  REQUIRE(load_state(reseal(bytes), in2, &target, &models, &error));
  const std::string before = save_state(target, models, in2);
  auto rejected = [&](const std::string& bad, const char* why) {
    INFO(why);
    CHECK_FALSE(load_state(reseal(bad), in2, &target, &models, &error));
    CHECK_THAT(error, Catch::Contains("models are inconsistent") && Catch::Contains(why));
  };

  const size_t model = find_value(bytes, 1234.5);  // after its u32 type key
  const size_t access = find_value(bytes, 41.5f);  // the first of the access counts
  const size_t period = find_value(bytes, 14.25);  // n of the first of two periods

  std::string nan_sum = bytes;
  put_value(&nan_sum, period + 3 * 8, std::nan(""));  // ss
  rejected(nan_sum, "not a finite number");

  std::string negative = bytes;
  put_value(&negative, access, -41.5f);
  rejected(negative, "is negative");

  std::string unsorted = bytes;  // swap the two 56-byte CFs
  std::swap_ranges(unsorted.begin() + period, unsorted.begin() + period + 56,
                   unsorted.begin() + period + 56);
  rejected(unsorted, "not sorted by centre");

  std::string bad_index = bytes;
  put_value(&bad_index, model - 4, uint32_t{100000});
  rejected(bad_index, "out of range");

  std::string short_counts = bytes;
  put_value(&short_counts, access - 4, uint32_t{41});
  rejected(short_counts, "counts, expected 42");

  std::string duplicate = bytes;  // the second model under the first's type
  const size_t second = find_value(bytes, 2345.5);
  std::memcpy(duplicate.data() + second - 4, bytes.data() + model - 4, 4);
  rejected(duplicate, "two models");

  std::string huge = bytes;  // more relationships than the payload could hold
  put_value(&huge, model + 16, uint32_t{0x7fffffff});
  rejected(huge, "count is too large");

  CHECK(save_state(target, models, in2) == before);
}

TEST_CASE("graph file v1: a version 1 file still loads, with no models", "[graph-file]") {
  Interner in;
  const CommGraph g = busy_graph(in);
  const std::string v1 = as_version1(save_graph(g, in));
  REQUIRE(v1[8] == 1);

  Interner in2;
  CommGraph target;
  Models models = sample_models(in2);  // replaced by none
  std::string error;
  REQUIRE(load_state(v1, in2, &target, &models, &error));
  CHECK(models.empty());
  CHECK(target.edges().size() == g.edges().size());
  CHECK(save_state(target, models, in2) == save_graph(g, in));  // saved again as version 2
  CHECK(load_graph(v1, in2, &target, &error));

  // A version 1 header on a version 2 payload: the models are trailing bytes.
  std::string mislabelled = save_state(g, sample_models(in), in);
  put_value(&mislabelled, 8, uint32_t{1});
  CHECK_FALSE(load_state(reseal(mislabelled), in2, &target, &models, &error));
  CHECK_THAT(error, Catch::Contains("inconsistent"));
}
