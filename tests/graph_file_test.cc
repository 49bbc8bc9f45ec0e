#include "model/graph_file.h"

#include <zlib.h>

#include <catch2/catch.hpp>

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
  // The last decision (a denial for one service) closes the payload:
  // u32 question, u8 approve, u8 scope, u32 source, i64 time, then the CRC.
  const size_t decision = bytes.size() - 4 - 18;
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
