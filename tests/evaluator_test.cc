#include "model/evaluator.h"

#include <catch2/catch.hpp>

#include "model/reorder_buffer.h"
#include "model/trace_reader.h"

using namespace iotwall;

namespace {

constexpr int64_t kMin = 60 * 1000;

// light1 reads move1 every minute for 2 h; from minute 30 it also reads
// temp1 (a benign update, labelled normal) and from minute 40 writes door1
// (an attack, labelled anomalous).
std::string trace() {
  std::string t;
  auto row = [&](const char* src, const char* dst, const char* dtype, const char* op, int64_t ms,
                 const char* label) {
    t += std::string(src) + ",/a1/" + src + ",/lightControler,Kitchen,/a1/" + dst + "," + dtype +
         ",Kitchen,/a1/" + dst + "/v,/basic/number," + op + ",1," + std::to_string(ms) + "," +
         label + "\n";
  };
  for (int m = 0; m < 120; ++m) {
    row("light1", "move1", "/movementSensor", "read", m * kMin, "normal");
    if (m >= 30) row("light1", "temp1", "/sensorService", "read", m * kMin + 1, "normal");
    if (m >= 40) row("light1", "door1", "/doorLockService", "write", m * kMin + 2, "anomalous(malitiousControl)");
  }
  return t;
}

EvalReport run(const EvalOptions& o) {
  Interner in;
  auto reader = TraceReader::from_string(trace(), in);
  Evaluator ev(o, in);
  TraceRecord r;
  while (reader->next(&r)) ev.add(r);
  return ev.report();
}

}  // namespace

TEST_CASE("without a manager, questions stay open and every access on them is flagged", "[eval]") {
  EvalReport r = run(EvalOptions{});
  CHECK(r.rows == 120 + 90 + 80);
  CHECK(r.tp == 80);
  CHECK(r.fn == 0);
  CHECK(r.fp == 90);
  CHECK(r.tn == 120);
  CHECK(r.questions == 2);
  CHECK(r.questions_open == 2);
  CHECK(r.questions_approved == 0);
  CHECK(r.per_label.at("anomalous(malitiousControl)").flagged == 80);
  CHECK(r.per_label.at("normal").rows == 210);
  CHECK(r.detection_rate() == 1.0);
  CHECK(r.hours() == Approx(119.0 / 60 + 2.0 / 3.6e6));
}

TEST_CASE("the emulated manager approves normal questions and denies attacks", "[eval]") {
  EvalOptions o;
  o.answer_after_ms = 5 * kMin;
  EvalReport r = run(o);
  // The benign relation is flagged for 5 minutes, then approved for the type.
  CHECK(r.fp == 5);
  CHECK(r.fp_after_learning == 5);
  // The attack is denied for the service and stays flagged.
  CHECK(r.tp == 80);
  CHECK(r.fn == 0);
  CHECK(r.questions == 2);
  CHECK(r.questions_approved == 1);
  CHECK(r.questions_denied == 1);
  CHECK(r.questions_open == 0);
  CHECK(r.accuracy() == Approx(1.0 - 5.0 / 290));
  CHECK(r.questions_per_day() == Approx(2 * 24 / r.hours()));
}

TEST_CASE("the reorder buffer restores order within its window", "[eval]") {
  ReorderBuffer b(1000, 100);
  auto rec = [](int64_t t, uint64_t line) {
    TraceRecord r;
    r.access.time_ms = t;
    r.line = line;
    return r;
  };
  std::vector<int64_t> out_t;
  std::vector<uint64_t> out_line;
  TraceRecord o;
  for (auto [t, line] : std::vector<std::pair<int64_t, uint64_t>>{
           {100, 1}, {50, 2}, {100, 3}, {900, 4}, {2000, 5}, {10, 6}, {3500, 7}}) {
    b.push(rec(t, line));
    while (b.pop_ready(&o)) {
      out_t.push_back(o.access.time_ms);
      out_line.push_back(o.line);
    }
  }
  while (b.pop(&o)) {
    out_t.push_back(o.access.time_ms);
    out_line.push_back(o.line);
  }
  CHECK(out_t == std::vector<int64_t>{50, 100, 100, 900, 10, 2000, 3500});
  CHECK(out_line == std::vector<uint64_t>{2, 1, 3, 4, 6, 5, 7});  // ties keep arrival order
  CHECK(b.late() == 1);
}

TEST_CASE("the reorder buffer releases early when full", "[eval]") {
  ReorderBuffer b(1'000'000, 2);
  TraceRecord r, o;
  for (int i = 0; i < 3; ++i) {
    r.access.time_ms = i;
    b.push(r);
  }
  CHECK(b.pop_ready(&o));
  CHECK(o.access.time_ms == 0);
  CHECK_FALSE(b.pop_ready(&o));
}
