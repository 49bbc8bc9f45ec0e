#include "firewall/verdict_plan.h"

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "firewall/outstanding_ids.h"
#include "firewall/packet_id.h"

namespace iotwall::firewall {
namespace {

// The kernel's side, slowly: packets waiting for a verdict; a single
// verdict takes one id (which must be waiting), a batch verdict takes every
// waiting id up to its id (serial order).
struct KernelOracle {
  std::vector<uint32_t> waiting;  // in arrival order
  std::map<uint32_t, std::vector<VerdictKind>> got;
  int errors = 0;

  void apply(const VerdictMessage& m) {
    if (!m.batch) {
      auto it = std::find(waiting.begin(), waiting.end(), m.id);
      if (it == waiting.end()) {
        ++errors;  // ENOENT in the kernel
        return;
      }
      got[m.id].push_back(m.kind);
      waiting.erase(it);
      return;
    }
    std::vector<uint32_t> rest;
    for (uint32_t id : waiting) {
      if (id == m.id || id_before(id, m.id)) {
        got[id].push_back(m.kind);
      } else {
        rest.push_back(id);
      }
    }
    if (rest.size() == waiting.size()) ++errors;  // a batch that covers nothing
    waiting = rest;
  }
};

TEST_CASE("plan: runs of one verdict become batches, others single verdicts") {
  std::vector<PendingVerdict> p = {{5, VerdictKind::kAccept},
                                   {1, VerdictKind::kAccept},
                                   {2, VerdictKind::kAccept},
                                   {3, VerdictKind::kDrop},
                                   {4, VerdictKind::kAccept}};
  std::vector<VerdictMessage> out;
  plan_verdicts(p, std::nullopt, &out);
  REQUIRE(out.size() == 3);
  CHECK((out[0].id == 2 && out[0].batch && out[0].kind == VerdictKind::kAccept && out[0].end == 2));
  CHECK((out[1].id == 3 && !out[1].batch && out[1].kind == VerdictKind::kDrop && out[1].end == 3));
  CHECK((out[2].id == 5 && out[2].batch && out[2].kind == VerdictKind::kAccept && out[2].end == 5));
}

TEST_CASE("plan: a held packet stops a batch; after it, verdicts go one by one") {
  std::vector<PendingVerdict> p = {{1, VerdictKind::kAccept},
                                   {2, VerdictKind::kAccept},
                                   {4, VerdictKind::kAccept},
                                   {5, VerdictKind::kAccept}};
  std::vector<VerdictMessage> out;
  plan_verdicts(p, uint32_t{3}, &out);
  REQUIRE(out.size() == 3);
  CHECK((out[0].id == 2 && out[0].batch));
  CHECK((out[1].id == 4 && !out[1].batch));
  CHECK((out[2].id == 5 && !out[2].batch && out[2].end == 4));
}

TEST_CASE("plan: ids in serial order across the 2^32 wrap") {
  std::vector<PendingVerdict> p = {{1, VerdictKind::kAccept},
                                   {0xffffffffu, VerdictKind::kAccept},
                                   {0, VerdictKind::kAccept},
                                   {0xfffffffeu, VerdictKind::kAccept}};
  std::vector<VerdictMessage> out;
  plan_verdicts(p, std::nullopt, &out);
  REQUIRE(out.size() == 1);
  CHECK((out[0].id == 1 && out[0].batch && out[0].end == 4));
  CHECK(p[0].id == 0xfffffffeu);
}

TEST_CASE("outstanding ids: the lowest undecided id, duplicates and unknown ids") {
  OutstandingIds o;
  CHECK_FALSE(o.lowest_undecided());
  for (uint32_t id = 10; id < 20; ++id) CHECK(o.add(id));
  CHECK_FALSE(o.add(15));
  CHECK(o.undecided() == 10);
  CHECK(o.decide(12) == OutstandingIds::Decide::kOk);
  CHECK(o.decide(12) == OutstandingIds::Decide::kAlreadyDecided);
  CHECK(o.decide(99) == OutstandingIds::Decide::kUnknown);
  CHECK(o.lowest_undecided() == 10u);
  CHECK(o.decide(10) == OutstandingIds::Decide::kOk);
  CHECK(o.decide(11) == OutstandingIds::Decide::kOk);
  CHECK(o.lowest_undecided() == 13u);
  CHECK(o.decide(10) == OutstandingIds::Decide::kUnknown);  // passed
  CHECK(o.add(5));                                          // out of order: inserted in place
  CHECK(o.lowest_undecided() == 5u);
  std::vector<uint32_t> rest;
  o.decide_all([&](uint32_t id) { rest.push_back(id); });
  CHECK(rest == std::vector<uint32_t>{5, 13, 14, 15, 16, 17, 18, 19});
  CHECK(o.size() == 0);
  CHECK(o.undecided() == 0);
}

// Random rounds as a queue worker lives them: packets arrive, some are
// decided at once, some held for a few rounds; each flush plans the decided
// ones. The kernel oracle must see every packet get exactly its verdict, and
// no message miss its packet.
TEST_CASE("plan + outstanding ids against the kernel oracle, random rounds") {
  for (const uint32_t first : {1u, 0xfffff000u}) {  // the second crosses the wrap
    std::mt19937 rng(first);
    OutstandingIds outstanding;
    KernelOracle kernel;
    std::map<uint32_t, VerdictKind> want;
    std::vector<std::pair<uint32_t, int>> held;  // id, rounds left
    std::vector<PendingVerdict> pending;
    std::vector<VerdictMessage> plan;
    uint32_t next = first;
    size_t batches = 0;
    for (int round = 0; round < 3000; ++round) {
      const int arrivals = std::uniform_int_distribution<int>(0, 12)(rng);
      for (int i = 0; i < arrivals; ++i) {
        const uint32_t id = next++;
        if (rng() % 50 == 0) continue;  // lost on the way (never queued to us): no verdict owed
        kernel.waiting.push_back(id);
        REQUIRE(outstanding.add(id));
        if (rng() % 6 == 0) {
          held.push_back({id, std::uniform_int_distribution<int>(1, 6)(rng)});
          continue;
        }
        // Mostly accept, so runs form; some drops and rejects.
        const uint32_t r = rng() % 10;
        const VerdictKind k =
            r < 8 ? VerdictKind::kAccept : (r == 8 ? VerdictKind::kDrop : VerdictKind::kReject);
        want[id] = k;
        REQUIRE(outstanding.decide(id) == OutstandingIds::Decide::kOk);
        pending.push_back({id, k});
      }
      for (auto it = held.begin(); it != held.end();) {
        if (--it->second > 0) {
          ++it;
          continue;
        }
        const VerdictKind k = (it->first % 3) ? VerdictKind::kAccept : VerdictKind::kDrop;
        want[it->first] = k;
        REQUIRE(outstanding.decide(it->first) == OutstandingIds::Decide::kOk);
        pending.push_back({it->first, k});
        it = held.erase(it);
      }
      plan_verdicts(pending, outstanding.lowest_undecided(), &plan);
      for (const VerdictMessage& m : plan) {
        kernel.apply(m);
        batches += m.batch;
      }
      if (!plan.empty()) CHECK(plan.back().end == pending.size());
      pending.clear();
    }
    CHECK(kernel.errors == 0);
    CHECK(batches > 100);
    for (const auto& [id, kinds] : kernel.got) {
      REQUIRE(kinds.size() == 1);
      REQUIRE(want.count(id) == 1);
      CHECK(kinds[0] == want[id]);
    }
    CHECK(kernel.got.size() == want.size());
    // What the kernel still holds is exactly what is still held here.
    std::set<uint32_t> still(kernel.waiting.begin(), kernel.waiting.end());
    std::set<uint32_t> h;
    for (const auto& e : held) h.insert(e.first);
    CHECK(still == h);
    CHECK(outstanding.undecided() == held.size());
  }
}

}  // namespace
}  // namespace iotwall::firewall
