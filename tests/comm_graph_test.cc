#include "model/comm_graph.h"

#include <string>

#include <catch2/catch.hpp>

#include "tests/site_access.h"

#include "model/wording.h"

using namespace iotwall;

namespace {

constexpr int64_t kMin = 60 * 1000;

using iotwall::testing::Site;

const std::string L1 = "light1:/lightControler:Kitchen";
const std::string L2 = "light2:/lightControler:Garage";
const std::string L3 = "light3:/lightControler:Bathroom";
const std::string M1 = "move1:/movementSensor:Kitchen";
const std::string M2 = "move2:/movementSensor:Garage";
const std::string M3 = "move3:/movementSensor:Bathroom";
const std::string T1 = "temp1:/sensorService:Kitchen";
const std::string T2 = "temp2:/sensorService:Garage";
const std::string D1 = "door1:/doorLockService:Entrance";

}  // namespace

TEST_CASE("edges are learned in the learning phase, unknown ones are pending after it", "[graph]") {
  Site s;
  CommGraph g;
  Judgement j = g.observe(s.access(L1, M1, Operation::kRead, 0));
  CHECK_FALSE(j.anomalous);
  CHECK(j.reason == Reason::kLearning);
  CHECK(j.state == EdgeState::kLearned);
  CHECK(j.source_learning);

  // Just inside the 15-minute phase, then after it.
  CHECK(g.observe(s.access(L1, T1, Operation::kRead, 15 * kMin - 1)).reason == Reason::kLearning);
  j = g.observe(s.access(L1, M1, Operation::kRead, 20 * kMin));
  CHECK_FALSE(j.anomalous);
  CHECK(j.reason == Reason::kKnown);
  CHECK_FALSE(j.source_learning);
  j = g.observe(s.access(L1, D1, Operation::kWrite, 20 * kMin));
  CHECK(j.anomalous);
  CHECK(j.reason == Reason::kNewEdge);
  CHECK(j.state == EdgeState::kPending);
  CHECK(j.asked);
  CHECK(j.question == 1);
  CHECK(g.open_questions() == 1);

  // The same edge again: still dropped, no second question.
  j = g.observe(s.access(L1, D1, Operation::kWrite, 21 * kMin));
  CHECK(j.anomalous);
  CHECK(j.reason == Reason::kPending);
  CHECK_FALSE(j.asked);
  CHECK(g.questions().size() == 1);
  CHECK(g.edges()[j.edge].count == 2);

  // A different operation on a known partner is a different edge.
  j = g.observe(s.access(L1, M1, Operation::kWrite, 22 * kMin));
  CHECK(j.anomalous);
  CHECK(j.question == 2);
}

TEST_CASE("the learning phase belongs to a new service of a new type", "[graph]") {
  Site s;
  CommGraph g;
  g.observe(s.access(L1, M1, Operation::kRead, 0));
  // A service of a type never seen before first speaks at minute 30: its
  // own phase starts then, and what it learns holds for its type.
  Judgement j = g.observe(s.access(D1, T1, Operation::kRead, 30 * kMin));
  CHECK_FALSE(j.anomalous);
  CHECK(j.reason == Reason::kLearning);
  CHECK(g.observe(s.access(D1, T2, Operation::kWrite, 46 * kMin)).anomalous);
  // A new instance of a known type gets no phase of its own: a fresh
  // address must not be a way to have anything learned.
  j = g.observe(s.access(L2, D1, Operation::kWrite, 31 * kMin));
  CHECK(j.anomalous);
  CHECK(j.reason == Reason::kNewEdge);
}

TEST_CASE("a relation learned from other instances covers a new instance", "[graph]") {
  Site s;
  SECTION("generalising (default)") {
    CommGraph g;
    g.observe(s.access(L1, M1, Operation::kRead, 0));
    g.observe(s.access(L2, M2, Operation::kRead, 0));
    // light3 joins late and first reads its movement sensor after its phase.
    g.observe(s.access(L3, L3, Operation::kRegisterService, 60 * kMin));
    Judgement j = g.observe(s.access(L3, M3, Operation::kRead, 80 * kMin));
    CHECK_FALSE(j.anomalous);
    CHECK(j.reason == Reason::kKnownRelation);
    // But not the other room's sensor: that is another relation.
    j = g.observe(s.access(L3, M1, Operation::kRead, 81 * kMin));
    CHECK(j.anomalous);
    CHECK(g.questions().back().rel.where == Locality::kOtherRoom);
  }
  SECTION("strict per instance") {
    CommGraph g(GraphOptions{.generalise_types = false});
    g.observe(s.access(L1, M1, Operation::kRead, 0));
    g.observe(s.access(L3, L3, Operation::kRegisterService, 60 * kMin));
    CHECK(g.observe(s.access(L3, M3, Operation::kRead, 80 * kMin)).anomalous);
  }
}

TEST_CASE("one question per type relation; approving for the type covers every instance", "[graph]") {
  Site s;
  CommGraph g;
  for (const auto& [l, m] : {std::pair{L1, M1}, {L2, M2}, {L3, M3}}) g.observe(s.access(l, m, Operation::kRead, 0));
  // After the update, light controllers read the temperature of their room.
  Judgement a = g.observe(s.access(L1, T1, Operation::kRead, 30 * kMin));
  Judgement b = g.observe(s.access(L2, T2, Operation::kRead, 30 * kMin + 5));
  CHECK(a.asked);
  CHECK(b.asked);  // joined the open question
  CHECK(a.question == b.question);
  REQUIRE(g.questions().size() == 1);
  CHECK(g.questions()[0].sources.size() == 2);
  CHECK(question_text(g, g.questions()[0], s.in).starts_with(
      "Should light controllers read temperature sensors in their own room?"));

  std::string error;
  REQUIRE(g.answer(a.question, true, Scope::kType, CommGraph::kNoVertex, &error));
  CHECK(g.open_questions() == 0);
  CHECK(g.edges()[a.edge].state == EdgeState::kApproved);
  CHECK(g.edges()[b.edge].state == EdgeState::kApproved);
  CHECK_FALSE(g.observe(s.access(L1, T1, Operation::kRead, 31 * kMin)).anomalous);
  // A third light controller needs no question.
  Judgement c = g.observe(s.access(L3, "temp3:/sensorService:Bathroom", Operation::kRead, 32 * kMin));
  CHECK_FALSE(c.anomalous);
  CHECK(c.reason == Reason::kTypeApproved);
  CHECK(g.questions().size() == 1);
  REQUIRE(g.decisions().size() == 1);
  CHECK(g.decisions()[0].approve);
}

TEST_CASE("denying for one service leaves its peers' question open", "[graph]") {
  Site s;
  CommGraph g;
  g.observe(s.access(L1, M1, Operation::kRead, 0));
  g.observe(s.access(L2, M2, Operation::kRead, 0));
  Judgement bad = g.observe(s.access(L1, D1, Operation::kWrite, 30 * kMin));
  Judgement ok = g.observe(s.access(L2, D1, Operation::kWrite, 30 * kMin));
  const uint32_t light1 = g.edges()[bad.edge].src;
  std::string error;
  REQUIRE(g.answer(bad.question, false, Scope::kService, light1, &error));
  CHECK(g.edges()[bad.edge].state == EdgeState::kDenied);
  CHECK(g.edges()[ok.edge].state == EdgeState::kPending);
  CHECK(g.open_questions() == 1);
  CHECK(g.questions()[0].sources.size() == 1);

  Judgement j = g.observe(s.access(L1, D1, Operation::kWrite, 31 * kMin));
  CHECK(j.anomalous);
  CHECK(j.reason == Reason::kDenied);
  // Another door lock: same relation, same service, still denied, no question.
  j = g.observe(s.access(L1, "door2:/doorLockService:Garage", Operation::kWrite, 32 * kMin));
  CHECK(j.anomalous);
  CHECK(j.reason == Reason::kServiceDenied);
  CHECK(g.questions().size() == 1);

  // The peer's answer closes the question.
  REQUIRE(g.answer(ok.question, true, Scope::kService, g.edges()[ok.edge].src, &error));
  CHECK(g.open_questions() == 0);
  CHECK_FALSE(g.observe(s.access(L2, D1, Operation::kWrite, 33 * kMin)).anomalous);
  CHECK(g.observe(s.access(L3, D1, Operation::kWrite, 60 * kMin)).reason == Reason::kNewEdge);
}

TEST_CASE("denying for the type also closes learned edges and wins over learning", "[graph]") {
  Site s;
  CommGraph g(GraphOptions{.generalise_types = false});
  Judgement learned = g.observe(s.access(L1, M1, Operation::kWrite, 0));
  CHECK_FALSE(learned.anomalous);
  g.observe(s.access(L2, M2, Operation::kRead, 0));
  Judgement q = g.observe(s.access(L2, M2, Operation::kWrite, 30 * kMin));
  REQUIRE(q.anomalous);
  std::string error;
  REQUIRE(g.answer(q.question, false, Scope::kType, CommGraph::kNoVertex, &error));
  CHECK(g.edges()[learned.edge].state == EdgeState::kDenied);
  CHECK(g.observe(s.access(L1, M1, Operation::kWrite, 31 * kMin)).reason == Reason::kDenied);
  // A brand-new light controller in its learning phase is still denied.
  Judgement j = g.observe(s.access(L3, M3, Operation::kWrite, 40 * kMin));
  CHECK(j.anomalous);
  CHECK(j.reason == Reason::kTypeDenied);
}

TEST_CASE("answers are checked", "[graph]") {
  Site s;
  CommGraph g;
  g.observe(s.access(L1, M1, Operation::kRead, 0));
  Judgement q = g.observe(s.access(L1, D1, Operation::kWrite, 30 * kMin));
  std::string error;
  CHECK_FALSE(g.answer(0, true, Scope::kType, CommGraph::kNoVertex, &error));
  CHECK_FALSE(g.answer(99, true, Scope::kType, CommGraph::kNoVertex, &error));
  CHECK_THAT(error, Catch::Contains("no question 99"));
  CHECK_FALSE(g.answer(q.question, true, Scope::kService, 12345, &error));
  CHECK_THAT(error, Catch::Contains("does not wait"));
  CHECK(g.answer(q.question, true, Scope::kService, CommGraph::kNoVertex, &error));
  CHECK_FALSE(g.answer(q.question, true, Scope::kType, CommGraph::kNoVertex, &error));
  CHECK_THAT(error, Catch::Contains("already answered"));
}

TEST_CASE("services of unknown type get instance-level questions", "[graph]") {
  Site s;
  CommGraph g;
  Access a = s.access(L1, M1, Operation::kRead, 0);
  g.observe(a);
  Access x = s.access("ip", M1, Operation::kRead, 0);
  x.source_id = s.in.intern("10.0.0.9:4242");
  x.source_address = x.source_type = x.source_location = Sym{};
  g.observe(x);  // learning
  x.time_ms = 30 * kMin;
  x.dest_address = s.in.intern("/agent1/move2");
  Judgement j = g.observe(x);
  REQUIRE(j.anomalous);
  const Question& q = *g.question(j.question);
  CHECK_FALSE(q.type_level);
  CHECK(question_text(g, q, s.in) == "Should 10.0.0.9:4242 read /agent1/move2 (movement sensor, Kitchen)?");
  std::string error;
  // "For the type" cannot apply: only this edge is approved.
  REQUIRE(g.answer(j.question, true, Scope::kType, CommGraph::kNoVertex, &error));
  CHECK(g.edges()[j.edge].state == EdgeState::kApproved);
  x.dest_address = s.in.intern("/agent1/move3");
  CHECK(g.observe(x).anomalous);
}

TEST_CASE("idle edges leave the live graph after the TTL and keep their state", "[graph]") {
  Site s;
  CommGraph g(GraphOptions{.edge_ttl_ms = 60 * kMin});
  Judgement j = g.observe(s.access(L1, M1, Operation::kRead, 0));
  g.observe(s.access(L2, M2, Operation::kRead, 0));
  CHECK(g.live_edges() == 2);
  for (int m = 1; m <= 120; ++m) g.observe(s.access(L2, M2, Operation::kRead, m * kMin));
  CHECK(g.live_edges() == 1);
  CHECK_FALSE(g.edges()[j.edge].live);
  CHECK(g.edges()[j.edge].state == EdgeState::kLearned);
  // It comes back: accepted, live again.
  Judgement back = g.observe(s.access(L1, M1, Operation::kRead, 121 * kMin));
  CHECK_FALSE(back.anomalous);
  CHECK(back.reason == Reason::kKnown);
  CHECK(g.live_edges() == 2);
}

TEST_CASE("time comes from the accesses and never runs backwards", "[graph]") {
  Site s;
  CommGraph g;
  g.observe(s.access(L1, M1, Operation::kRead, 30 * kMin));
  g.observe(s.access(L1, M1, Operation::kRead, 50 * kMin));
  // A late access (stamped inside the phase) is judged at the graph's time.
  Judgement j = g.observe(s.access(L1, D1, Operation::kRead, 31 * kMin));
  CHECK(j.anomalous);
  CHECK(g.now() == 50 * kMin);
}

TEST_CASE("type nouns and plurals read naturally", "[wording]") {
  CHECK(type_noun("/lightControler") == "light controller");
  CHECK(type_plural("/batteryService") == "batteries");
  CHECK(type_noun("/fooBarService") == "foo bar service");
  CHECK(type_plural("/smartSwitch") == "smart switches");
  CHECK(type_plural("/relay") == "relays");
  CHECK(type_noun("") == "service of unknown type");
}

TEST_CASE("a denial for the type overrides an earlier approval for one service", "[graph]") {
  Site s;
  CommGraph g;
  g.observe(s.access(L1, M1, Operation::kRead, 0));
  g.observe(s.access(L2, M2, Operation::kRead, 0));
  Judgement a = g.observe(s.access(L1, D1, Operation::kWrite, 30 * kMin));
  std::string error;
  REQUIRE(g.answer(a.question, true, Scope::kService, g.edges()[a.edge].src, &error));
  Judgement b = g.observe(s.access(L2, D1, Operation::kWrite, 31 * kMin));
  REQUIRE(b.anomalous);
  REQUIRE(g.answer(b.question, false, Scope::kType, CommGraph::kNoVertex, &error));
  CHECK(g.edges()[a.edge].state == EdgeState::kDenied);
  Judgement c = g.observe(s.access(L1, "door3:/doorLockService:Entrance", Operation::kWrite, 32 * kMin));
  CHECK(c.anomalous);
  CHECK(c.reason == Reason::kTypeDenied);
}

TEST_CASE("anomalous edges are bounded: past the bound they fold into the overflow vertex", "[graph]") {
  Site s;
  s.in.set_limits(0, 0);  // no bound on strings here: only the overflow name
  GraphOptions o;
  o.max_anomalous_edges = 100;
  CommGraph g(o);
  g.set_overflow_name(s.in.overflow());
  CHECK(g.observe(s.access(L1, M1, Operation::kRead, 0)).reason == Reason::kLearning);
  // A scan of made-up services (no type known: one question each) after
  // the learning phase.
  auto ghost = [&](const std::string& src, const std::string& name, int64_t t) {
    Access a = s.access(src, name, Operation::kRead, t);
    a.dest_type = a.dest_location = Sym{};
    return a;
  };
  constexpr int kScan = 5000;
  for (int i = 0; i < kScan; ++i) {
    const Judgement j = g.observe(ghost(L1, "ghost" + std::to_string(i), 20 * kMin + i));
    REQUIRE(j.anomalous);
  }
  CHECK(g.anomalous_edges() <= 101);
  CHECK(g.edges().size() <= 102);   // the learned one, 100 pending, one to the overflow vertex
  CHECK(g.questions().size() == 100);
  CHECK(g.overflowed_edges() == kScan - 100);
  const Edge& last = g.edges().back();
  CHECK(s.in.str(g.vertices()[last.dst].name) == Interner::kOverflowName);
  CHECK(last.state == EdgeState::kDenied);
  CHECK(last.op == Operation::kOther);  // one edge per source, whatever the operation
  CHECK(last.count == kScan - 100);
  // Other operations past the bound fold into the same edge.
  const size_t edges = g.edges().size();
  for (Operation op : {Operation::kWrite, Operation::kSubscribe, Operation::kLockSubtree}) {
    Access a = ghost(L1, "ghost-w", 25 * kMin);
    a.op = op;
    CHECK(g.observe(a).anomalous);
  }
  CHECK(g.edges().size() == edges);
  // The learned edge still passes; early questions can still be answered,
  // and approving frees room (the overflow edge counts too: two approvals).
  CHECK_FALSE(g.observe(s.access(L1, M1, Operation::kRead, 30 * kMin)).anomalous);
  std::string err;
  REQUIRE(g.answer(1, true, Scope::kService, CommGraph::kNoVertex, &err));
  REQUIRE(g.answer(2, true, Scope::kService, CommGraph::kNoVertex, &err));
  CHECK_FALSE(g.observe(ghost(L1, "ghost0", 30 * kMin)).anomalous);
  const Judgement j = g.observe(ghost(L1, "new1", 30 * kMin));
  CHECK(j.reason == Reason::kNewEdge);
  CHECK(j.state == EdgeState::kPending);
}

TEST_CASE("edges with the overflow name are never learned and raise no question", "[graph]") {
  Site s;
  s.in.set_limits(0, 0);
  CommGraph g;
  g.set_overflow_name(s.in.overflow());
  // In the learning phase: a new name past the interner's bound is not learned.
  Access a = s.access(L1, M1, Operation::kRead, 0);
  a.dest_address = a.node_address = s.in.overflow();
  const Judgement j = g.observe(a);
  CHECK(j.anomalous);
  CHECK(j.state == EdgeState::kDenied);
  CHECK(j.question == 0);
  CHECK(g.questions().empty());
  CHECK(g.vertices()[g.edges()[j.edge].dst].type.empty());  // it takes no type
  CHECK_FALSE(g.observe(s.access(L1, M1, Operation::kRead, 1)).anomalous);
}

TEST_CASE("the overflow name is never a type, a room or an id", "[graph]") {
  // Services whose model id overflowed must not share one type (they would
  // skip each other's learning phase and share learned relations).
  Site s;
  s.in.set_limits(0, 0);
  CommGraph g;
  g.set_overflow_name(s.in.overflow());
  Access a = s.access(L1, M1, Operation::kRead, 0);
  a.source_type = a.source_location = a.source_id = s.in.overflow();
  const Judgement j = g.observe(a);
  const Vertex& v = g.vertices()[g.edges()[j.edge].src];
  CHECK(v.type.empty());
  CHECK(v.location.empty());
  CHECK(v.id.empty());
}
