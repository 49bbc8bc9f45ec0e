#include "model/site_sim.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "model/trace_reader.h"
#include "model/trace_writer.h"

namespace {

using iotwall::Interner;
using iotwall::LabelClass;
using iotwall::Operation;
using iotwall::SimOptions;
using iotwall::SiteSimulator;
using iotwall::TraceRecord;
using iotwall::Value;

constexpr int64_t kHour = 3600000;

struct Trace {
  Interner in;
  std::vector<TraceRecord> rows;
  std::string str(iotwall::Sym s) const { return std::string(in.str(s)); }
};

std::unique_ptr<Trace> simulate(const SimOptions& o) {
  REQUIRE(iotwall::validate(o).empty());
  auto t = std::make_unique<Trace>();
  SiteSimulator sim(o, t->in);
  TraceRecord r;
  while (sim.next(&r)) t->rows.push_back(r);
  return t;
}

// The default site: 12 rooms, 24 h, seed 1, attacks and both changes.
const Trace& day() {
  static const std::unique_ptr<Trace> t = simulate(SimOptions{});
  return *t;
}

// The trace as the CSV text TraceWriter gives.
std::string render(const Trace& t) {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  REQUIRE(f != nullptr);
  iotwall::TraceWriter w(f, t.in);
  w.write_header();
  for (const TraceRecord& r : t.rows) w.write(r);
  REQUIRE(w.finish());
  std::fclose(f);
  std::string out(buf, size);
  std::free(buf);
  return out;
}

bool is_attack(const TraceRecord& r) { return r.label_class == LabelClass::kAnomalous; }

}  // namespace

TEST_CASE("sim: options are validated", "[sim]") {
  SimOptions o;
  CHECK(iotwall::validate(o).empty());
  for (int rooms : {0, -1, 1001}) {
    SimOptions bad;
    bad.rooms = rooms;
    CHECK_FALSE(iotwall::validate(bad).empty());
  }
  for (double hours : {0.0, -1.0, 8761.0, std::nan(""), static_cast<double>(INFINITY)}) {
    SimOptions bad;
    bad.hours = hours;
    CHECK_FALSE(iotwall::validate(bad).empty());
  }
}

TEST_CASE("sim: the same seed gives the same trace, another seed another", "[sim]") {
  SimOptions o;
  o.hours = 3;  // past the attack-free first 2 h
  const std::string a = render(*simulate(o));
  const std::string b = render(*simulate(o));
  CHECK(a.size() > 1000000);
  CHECK(a == b);
  o.seed = 2;
  CHECK(render(*simulate(o)) != a);
}

TEST_CASE("sim: rows come in time order within the trace's span", "[sim]") {
  const Trace& t = day();
  const SimOptions o;
  REQUIRE(t.rows.size() > 100000);
  CHECK(t.rows.size() < 250000);
  int64_t prev = o.start_ms;
  size_t out_of_order = 0;
  for (const TraceRecord& r : t.rows) {
    if (r.access.time_ms < prev) ++out_of_order;
    prev = r.access.time_ms;
  }
  CHECK(out_of_order == 0);
  CHECK(t.rows.front().access.time_ms >= o.start_ms);
  CHECK(t.rows.back().access.time_ms < o.start_ms + 24 * kHour);
  CHECK(t.rows.back().access.time_ms > o.start_ms + 23 * kHour);
}

TEST_CASE("sim: every service starts with its registerService", "[sim]") {
  const Trace& t = day();
  std::set<uint32_t> seen;
  size_t services = 0, bad = 0;
  for (const TraceRecord& r : t.rows) {
    const auto& a = r.access;
    if (!seen.insert(a.source_address.id).second) continue;
    ++services;
    const bool ok = a.op == Operation::kRegisterService && a.dest_address == a.source_address &&
                    a.node_address == a.source_address && a.node_type == a.source_type &&
                    a.value.kind == Value::Kind::kNone && r.label_class == LabelClass::kNormal;
    if (!ok) {
      ++bad;
      UNSCOPED_INFO("first row of " << t.str(a.source_id) << " is "
                                    << iotwall::operation_name(a.op));
    }
  }
  CHECK(services >= 12 * 3 + 5);
  CHECK(bad == 0);
}

TEST_CASE("sim: the site looks like the DS2OS fragment", "[sim]") {
  SimOptions o;
  o.hours = 1;
  const auto t = simulate(o);
  // Names and places as in the fragment.
  std::set<std::string> sources;
  for (const TraceRecord& r : t->rows) {
    sources.insert(t->str(r.access.source_address) + " " + t->str(r.access.source_location));
  }
  for (const char* s : {"/agent1/lightcontrol1 BedroomChildren", "/agent10/movement10 Livingroom",
                        "/agent14/tempin14 Showerroom", "/agent5/battery1 Garage",
                        "/agent3/doorlock1 Dinningroom", "/agent6/washingmachine1 Bathroom",
                        "/agent11/heatingcontrol2 Watterroom", "/agent20/lightcontrol20 room_1"}) {
    CHECK(sources.count(s) == 1);
  }

  // Every kind of row of the fragment (types, node type, operation) is simulated.
  using Shape = std::tuple<std::string, std::string, std::string, std::string>;
  auto shape = [](const Trace& tr, const TraceRecord& r) {
    return Shape{tr.str(r.access.source_type), tr.str(r.access.dest_type),
                 tr.str(r.access.node_type), std::string(iotwall::operation_name(r.access.op))};
  };
  std::set<Shape> simulated;
  for (const TraceRecord& r : t->rows) simulated.insert(shape(*t, r));
  const std::string fragment =
      IOTWALL_SHARED_DIR "/datasets/ds2os/mainSimulationAccessTraces.PARTIAL-929rows.csv";
  Trace real;
  std::string error;
  auto reader = iotwall::TraceReader::open(fragment, real.in, &error);
  if (!reader) {
    WARN("skipped the comparison with the fragment: " << error);
    return;
  }
  TraceRecord r;
  std::set<Shape> missing;
  while (reader->next(&r)) {
    if (!simulated.count(shape(real, r))) missing.insert(shape(real, r));
  }
  for (const Shape& s : missing) {
    UNSCOPED_INFO("not simulated: " << std::get<0>(s) << " -> " << std::get<1>(s) << " "
                                    << std::get<2>(s) << " " << std::get<3>(s));
  }
  CHECK(missing.empty());

  // Values: temperatures near 20 with at most 4 decimals, booleans 0/1 on /derived/boolean.
  size_t temperatures = 0, bad_temperatures = 0, booleans = 0, bad_booleans = 0;
  for (const TraceRecord& row : t->rows) {
    const auto& a = row.access;
    const Value& v = a.value;
    if (t->str(a.source_type) == "/sensorService" && a.op == Operation::kWrite) {
      ++temperatures;
      bad_temperatures += v.kind != Value::Kind::kNumber || v.number < 19.5 || v.number > 20.5 ||
                          std::abs(v.number * 1e4 - std::round(v.number * 1e4)) > 1e-6;
    }
    if (t->str(a.node_type) == "/derived/boolean") {
      ++booleans;
      bad_booleans += v.kind != Value::Kind::kNumber || (v.number != 0 && v.number != 1);
    }
  }
  CHECK(temperatures > 1000);
  CHECK(bad_temperatures == 0);
  CHECK(booleans > 1000);
  CHECK(bad_booleans == 0);
}

TEST_CASE("sim: seven attack kinds, about 3 % of the rows, none in the first 2 h", "[sim]") {
  const Trace& t = day();
  const SimOptions o;
  std::map<std::string, size_t> per_label;
  size_t attacks = 0, early = 0;
  for (const TraceRecord& r : t.rows) {
    ++per_label[t.str(r.label)];
    if (!is_attack(r)) continue;
    ++attacks;
    if (r.access.time_ms < o.start_ms + 2 * kHour) ++early;
  }
  for (const char* kind : {"scan", "spying", "malitiousControl", "malitiousOperation", "DoSattack",
                           "dataProbing", "wrongSetUp"}) {
    INFO(kind);
    CHECK(per_label[std::string("anomalous(") + kind + ")"] > 0);
  }
  CHECK(per_label.size() == 8);
  const double share = static_cast<double>(attacks) / static_cast<double>(t.rows.size());
  INFO("attack share " << share);
  CHECK(share > 0.02);
  CHECK(share < 0.04);
  CHECK(early == 0);
  // DoS is the bulk of the attacks, as in Table III.
  CHECK(per_label["anomalous(DoSattack)"] > attacks / 3);
}

TEST_CASE("sim: attacks leave the normal traffic unchanged", "[sim]") {
  SimOptions o;
  o.hours = 4;
  const auto with = simulate(o);
  o.attacks = false;
  const auto without = simulate(o);
  std::vector<TraceRecord> normal;
  for (const TraceRecord& r : with->rows) {
    if (!is_attack(r)) normal.push_back(r);
  }
  REQUIRE(normal.size() < with->rows.size());
  REQUIRE(normal.size() == without->rows.size());
  size_t differ = 0;
  for (size_t i = 0; i < normal.size(); ++i) {
    const auto& a = normal[i].access;
    const auto& b = without->rows[i].access;
    if (a.time_ms != b.time_ms || with->str(a.node_address) != without->str(b.node_address) ||
        a.op != b.op || a.value.kind != b.value.kind || a.value.number != b.value.number) {
      ++differ;
    }
  }
  CHECK(differ == 0);
}

TEST_CASE("sim: the light controllers' update reads temperatures only after 11 h", "[sim]") {
  const Trace& t = day();
  const SimOptions o;
  size_t reads = 0, early = 0, labelled_attack = 0;
  for (const TraceRecord& r : t.rows) {
    const auto& a = r.access;
    if (t.str(a.source_type) != "/lightControler" || t.str(a.dest_type) != "/sensorService" ||
        a.source_location != a.dest_location || a.op != Operation::kRead) {
      continue;
    }
    if (is_attack(r)) {  // a scan may touch one; the update's reads are normal
      ++labelled_attack;
      continue;
    }
    ++reads;
    if (a.time_ms < o.start_ms + 11 * kHour) ++early;
  }
  CHECK(reads > 12 * 13 * 60);  // every light, about once a minute for 13 h
  CHECK(early == 0);
  CHECK(labelled_attack == 0);

  SimOptions no_change;
  no_change.hours = 13;
  no_change.behaviour_change = false;
  no_change.attacks = false;
  const auto t2 = simulate(no_change);
  size_t reads2 = 0;
  for (const TraceRecord& r : t2->rows) {
    reads2 += t2->str(r.access.source_type) == "/lightControler" &&
              t2->str(r.access.dest_type) == "/sensorService";
  }
  CHECK(reads2 == 0);
}

TEST_CASE("sim: a new battery joins late and the washing machine uses it", "[sim]") {
  const Trace& t = day();
  const SimOptions o;
  // The battery registering last is the new one.
  const TraceRecord* join = nullptr;
  for (const TraceRecord& r : t.rows) {
    if (r.access.op == Operation::kRegisterService &&
        t.str(r.access.source_type) == "/batteryService") {
      join = &r;
    }
  }
  REQUIRE(join != nullptr);
  CHECK(t.str(join->access.source_id) == "battery7");
  CHECK(join->access.time_ms >= o.start_ms + 15 * kHour);
  CHECK(join->access.time_ms <= o.start_ms + 17 * kHour);
  size_t before = 0, washer_reads = 0, attack_rows = 0;
  for (const TraceRecord& r : t.rows) {
    const auto& a = r.access;
    if (a.source_address != join->access.source_address &&
        a.dest_address != join->access.source_address) {
      continue;
    }
    if (a.time_ms < join->access.time_ms) ++before;
    if (is_attack(r)) ++attack_rows;
    if (!is_attack(r) && t.str(a.source_type) == "/washingService") ++washer_reads;
  }
  CHECK(before == 0);
  CHECK(attack_rows == 0);
  CHECK(washer_reads > 100);

  SimOptions none;
  none.hours = 20;
  none.new_device = false;
  const auto t2 = simulate(none);
  size_t joined = 0;
  for (const TraceRecord& r : t2->rows) joined += t2->str(r.access.source_id) == "battery7";
  CHECK(joined == 0);
}

TEST_CASE("sim: a written trace reads back the same", "[sim]") {
  SimOptions o;
  o.hours = 3;
  const auto t = simulate(o);
  const std::string path = "/tmp/iotwall-site-sim-test-" + std::to_string(getpid()) + ".csv";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    iotwall::TraceWriter w(f, t->in);
    w.write_header();
    for (const TraceRecord& r : t->rows) w.write(r);
    REQUIRE(w.finish());
    std::fclose(f);
  }
  Trace back;
  std::string error;
  auto reader = iotwall::TraceReader::open(path, back.in, &error);
  REQUIRE(reader != nullptr);
  TraceRecord r;
  size_t i = 0, differ = 0;
  while (reader->next(&r)) {
    REQUIRE(i < t->rows.size());
    const auto& a = t->rows[i].access;
    const auto& b = r.access;
    const bool same =
        t->str(a.source_id) == back.str(b.source_id) &&
        t->str(a.source_location) == back.str(b.source_location) &&
        t->str(a.dest_address) == back.str(b.dest_address) &&
        t->str(a.node_address) == back.str(b.node_address) &&
        t->str(a.node_type) == back.str(b.node_type) && a.op == b.op && a.time_ms == b.time_ms &&
        a.value.kind == b.value.kind && a.value.number == b.value.number &&
        a.value.boolean == b.value.boolean && t->str(a.value.text) == back.str(b.value.text) &&
        t->str(t->rows[i].label) == back.str(r.label) && t->rows[i].label_class == r.label_class;
    if (!same) ++differ;
    ++i;
  }
  std::remove(path.c_str());
  CHECK(reader->stats().malformed == 0);
  CHECK(i == t->rows.size());
  CHECK(differ == 0);
}

TEST_CASE("sim: tiny sites work", "[sim]") {
  for (int rooms : {1, 2, 3}) {
    for (double hours : {0.1, 1.0, 2.5}) {
      SimOptions o;
      o.rooms = rooms;
      o.hours = hours;
      const auto t = simulate(o);
      INFO(rooms << " rooms, " << hours << " h");
      CHECK(t->rows.size() > 10);
      for (const TraceRecord& r : t->rows) {
        REQUIRE(r.access.time_ms < o.start_ms + static_cast<int64_t>(hours * kHour));
        if (hours <= 2) REQUIRE_FALSE(is_attack(r));
      }
    }
  }
}
