#include "model/period_miner.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

using iotwall::merge_periods;
using iotwall::PeriodCluster;
using iotwall::PeriodMiner;

namespace {

// Fixed-seed draws written out here (the std distributions are implementation-defined).
class Draw {
 public:
  explicit Draw(uint64_t seed) : g_(seed) {}
  double uniform(double a = 0, double b = 1) {
    return a + (b - a) * static_cast<double>(g_() >> 11) * 0x1.0p-53;
  }
  double normal(double mean, double sd) {  // Box-Muller
    const double u = 1 - uniform(), v = uniform();
    return mean + sd * std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * v);
  }
  double exponential(double mean) { return -mean * std::log(1 - uniform()); }

 private:
  std::mt19937_64 g_;
};

// Feeds gaps to the miner, the clock advancing by each gap from *t.
void feed(PeriodMiner* m, const std::vector<double>& gaps, double* t) {
  for (double g : gaps) {
    *t += g;
    m->add(g, *t);
  }
}

std::vector<PeriodCluster> mine(const PeriodMiner& m) {
  std::vector<PeriodCluster> out;
  m.mine(&out);
  return out;
}

// Gaps of a 25 s period with uniform +-1 s jitter.
std::vector<double> jittered(Draw* d, size_t n, double period = 25, double jitter = 1) {
  std::vector<double> gaps;
  for (size_t i = 0; i < n; ++i) gaps.push_back(period + d->uniform(-jitter, jitter));
  return gaps;
}

// The gaps between the merged events of loops with the given periods and phases, event times
// jittered by Normal(0, sd).
std::vector<double> interleaved(Draw* d, double span_s,
                                std::vector<std::pair<double, double>> loops, double sd) {
  std::vector<double> times;
  for (auto [period, phase] : loops) {
    for (double t = phase; t < span_s; t += period) times.push_back(t + d->normal(0, sd));
  }
  std::sort(times.begin(), times.end());
  std::vector<double> gaps;
  for (size_t i = 1; i < times.size(); ++i) gaps.push_back(times[i] - times[i - 1]);
  return gaps;
}

PeriodCluster cluster(double centre, double sd, int n, double t = 0) {
  PeriodCluster c;  // n points at centre +- sd: mean centre, sd sd
  for (int i = 0; i < n; ++i) c.cf.add(centre + (i % 2 ? sd : -sd), t);
  return c;
}

}  // namespace

TEST_CASE("period: tau is 4 % of the gaps in the window, at least 2", "[period]") {
  PeriodMiner m;
  CHECK(m.window() == 200);
  double t = 0;
  feed(&m, std::vector<double>(10, 1.0), &t);
  CHECK(m.tau() == 2);
  feed(&m, std::vector<double>(90, 1.0), &t);
  CHECK(m.tau() == 4);
  feed(&m, std::vector<double>(150, 1.0), &t);
  CHECK(m.size() == 200);
  CHECK(m.tau() == 8);
  PeriodMiner paper(100, 0.05);
  feed(&paper, std::vector<double>(100, 1.0), &t);
  CHECK(paper.tau() == 5);
}

TEST_CASE("period: a 25 s period with +-1 s jitter gives one cluster near 25 s", "[period]") {
  for (uint64_t seed = 1; seed <= 20; ++seed) {  // near-threshold cells must not split the band
    Draw d(seed);
    PeriodMiner m;
    double t = 1.5e9;
    feed(&m, jittered(&d, 300), &t);
    auto c = mine(m);
    REQUIRE(c.size() == 1);
    CHECK(c[0].cf.mean() == Approx(25).margin(0.2));
    CHECK(c[0].cf.n() >= 195);
    CHECK(std::sqrt(c[0].cf.variance()) == Approx(2 / std::sqrt(12.0)).margin(0.1));
    CHECK(c[0].cf.mean_time() > 1.5e9);
  }
  // Normal jitter: the tails are caught by the reach, most of the window is in the cluster.
  Draw d(99);
  PeriodMiner m;
  double t = 0;
  std::vector<double> gaps;
  for (int i = 0; i < 200; ++i) gaps.push_back(d.normal(25, 0.5));
  feed(&m, gaps, &t);
  auto c = mine(m);
  REQUIRE(c.size() == 1);
  CHECK(c[0].cf.mean() == Approx(25).margin(0.15));
  CHECK(c[0].cf.n() >= 180);
}

TEST_CASE("period: two interleaved loops give the gaps they make", "[period]") {
  // A 10 s loop and a 60 s loop started phi seconds later: every 60 s there are five 10 s gaps,
  // and the 60 s event splits the sixth into phi and 10 - phi. So the flow's gaps are 10 s (5/7)
  // and phi, 10 - phi (1/7 each), not 10 s and 60 s.
  Draw d(5);
  SECTION("phi = 5 s: two clusters, 5 s and 10 s, weights 2:5") {
    PeriodMiner m;
    double t = 0;
    feed(&m, interleaved(&d, 4000, {{10, 0}, {60, 5}}, 0.05), &t);
    auto c = mine(m);
    REQUIRE(c.size() == 2);
    CHECK(c[0].cf.mean() == Approx(5).margin(0.1));
    CHECK(c[1].cf.mean() == Approx(10).margin(0.1));
    CHECK(c[0].cf.n() == Approx(200.0 * 2 / 7).margin(8));
    CHECK(c[1].cf.n() == Approx(200.0 * 5 / 7).margin(8));
  }
  SECTION("phi = 3 s: three clusters, 3 s, 7 s and 10 s, weights 1:1:5") {
    PeriodMiner m;
    double t = 0;
    feed(&m, interleaved(&d, 4000, {{10, 0}, {60, 3}}, 0.05), &t);
    auto c = mine(m);
    REQUIRE(c.size() == 3);
    CHECK(c[0].cf.mean() == Approx(3).margin(0.1));
    CHECK(c[1].cf.mean() == Approx(7).margin(0.1));
    CHECK(c[2].cf.mean() == Approx(10).margin(0.1));
    CHECK(c[2].cf.n() == Approx(200.0 * 5 / 7).margin(8));
  }
}

TEST_CASE("period: missed beats keep the main cluster", "[period]") {
  Draw d(8);
  std::vector<double> gaps = jittered(&d, 300);
  for (size_t i = 9; i < gaps.size(); i += 10) gaps[i] *= 2;  // every 10th beat missed
  PeriodMiner m;
  double t = 0;
  feed(&m, gaps, &t);
  auto c = mine(m);
  REQUIRE(!c.empty());
  CHECK(c[0].cf.mean() == Approx(25).margin(0.2));
  CHECK(c[0].cf.n() >= 175);  // 180 on-period gaps
  for (size_t i = 1; i < c.size(); ++i) CHECK(c[i].cf.mean() == Approx(50).margin(1));
}

TEST_CASE("period: random gaps are not periodic", "[period]") {
  SECTION("uniform over [0, 100]: no cluster, but for a rare chance") {
    // 2 gaps per cell on average; some cell reaches tau = 8 in about one window in ten, but
    // the chance clusters hold ~5-20 % of the gaps and min_coverage (1/6) drops all but about
    // one window in 250.
    int periodic = 0, paper_periodic = 0;
    for (uint64_t seed = 1; seed <= 500; ++seed) {
      Draw d(seed);
      PeriodMiner m;
      PeriodMiner paper(200, 0.04, 0);  // without the coverage rule
      double t = 0;
      for (int i = 0; i < 200; ++i) {
        const double g = d.uniform(0, 100);
        t += g;
        m.add(g, t);
        paper.add(g, t);
      }
      if (!mine(m).empty()) ++periodic;
      auto c = mine(paper);
      if (!c.empty()) ++paper_periodic;
      for (const auto& p : c) CHECK(p.cf.n() < 40);  // chance clusters stay small
    }
    CHECK(periodic <= 5);
    CHECK(paper_periodic >= 25);
    CHECK(paper_periodic <= 100);
  }
  SECTION("Poisson arrivals: one wide short-gap cluster (documented)") {
    // Exponential gaps are densest near 0: the first cells of [0, ~5.3 mean] hold ~10 gaps each,
    // over tau = 8, so the miner reports a wide cluster below the mean gap. It is not a period:
    // its sd is most of its centre, which is how a caller can tell.
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      Draw d(seed);
      PeriodMiner m;
      double t = 0;
      std::vector<double> gaps;
      for (int i = 0; i < 200; ++i) gaps.push_back(d.exponential(10));
      feed(&m, gaps, &t);
      auto c = mine(m);
      REQUIRE(!c.empty());
      CHECK(c.size() <= 2);
      CHECK(c[0].cf.mean() < 10);
      CHECK(std::sqrt(c[0].cf.variance()) > 0.4 * c[0].cf.mean());
    }
  }
}

TEST_CASE("period: degenerate windows", "[period]") {
  PeriodMiner m;
  double t = 0;
  feed(&m, std::vector<double>(PeriodMiner::kMinPoints - 1, 25), &t);
  CHECK(mine(m).empty());  // too few gaps
  feed(&m, std::vector<double>(50, 25), &t);
  auto c = mine(m);  // all equal
  REQUIRE(c.size() == 1);
  CHECK(c[0].cf.n() == 59);
  CHECK(c[0].cf.mean() == 25);
  CHECK(iotwall::period_sd(c[0]) == Approx(0.25));  // 1 % of 25 s beats 50 ms

  PeriodMiner burst;  // identical timestamps: gaps of 0
  feed(&burst, std::vector<double>(40, 0), &t);
  c = mine(burst);
  REQUIRE(c.size() == 1);
  CHECK(c[0].cf.mean() == 0);
  CHECK(iotwall::period_sd(c[0]) == iotwall::kPeriodSdFloorS);

  // Millisecond timestamps: a tight period is a comb of a few values, still one cluster.
  Draw d(4);
  PeriodMiner comb;
  std::vector<double> gaps;
  for (int i = 0; i < 200; ++i) gaps.push_back(std::round(d.normal(25, 0.003) * 1000) / 1000);
  feed(&comb, gaps, &t);
  c = mine(comb);
  REQUIRE(c.size() == 1);
  CHECK(c[0].cf.n() == 200);

  PeriodMiner junk;  // NaN gaps are dropped, negative ones count as 0
  junk.add(NAN, 1);
  junk.add(-1, 1);
  CHECK(junk.size() == 1);
}

TEST_CASE("period: the window wraps after more than its size", "[period]") {
  PeriodMiner m;
  double t = 0;
  feed(&m, std::vector<double>(50, 100), &t);  // pushed out by what follows
  Draw d(2);
  std::vector<double> gaps = jittered(&d, 230);
  feed(&m, gaps, &t);
  CHECK(m.size() == 200);
  auto c = mine(m);
  REQUIRE(c.size() == 1);
  CHECK(c[0].cf.n() == 200);
  double sum = 0;
  for (size_t i = gaps.size() - 200; i < gaps.size(); ++i) sum += gaps[i];
  CHECK(c[0].cf.mean() == Approx(sum / 200).epsilon(1e-6));  // gaps are stored as float

  // The reused output keeps its storage.
  std::vector<PeriodCluster> out;
  out.reserve(16);
  const PeriodCluster* data = out.data();
  m.mine(&out);
  CHECK(out.data() == data);

  m.clear();
  CHECK(m.size() == 0);
  m.mine(&out);
  CHECK(out.empty());
}

TEST_CASE("period: period_score is small on period and over 3 off it", "[period]") {
  Draw d(6);
  PeriodMiner m;
  double t = 0;
  feed(&m, jittered(&d, 200), &t);
  auto c = mine(m);
  REQUIRE(c.size() == 1);
  CHECK(iotwall::period_score(c, 25.3) < 1);
  CHECK(iotwall::period_score(c, 24.2) < 3);
  CHECK(iotwall::period_score(c, 12.5) > 3);
  CHECK(iotwall::period_score(c, 0.01) > 3);
  CHECK(iotwall::period_score({}, 12.5) == 0);  // not periodic: no opinion

  // Measured in sd: a wide cluster is not shadowed by a narrower one that is closer in seconds.
  std::vector<PeriodCluster> two = {cluster(40, 0.1, 50), cluster(60, 5, 50)};
  CHECK(iotwall::period_score(two, 49) < 3);
}

TEST_CASE("period: dos_score is near 0 for the same flow and explodes on a burst", "[period]") {
  Draw d(9);
  double t = 0;
  PeriodMiner m;
  feed(&m, jittered(&d, 200), &t);
  auto model = mine(m);
  REQUIRE(model.size() == 1);

  feed(&m, jittered(&d, 200), &t);  // the next window of the same flow
  const double same = iotwall::dos_score(model, mine(m));

  feed(&m, jittered(&d, 100), &t);  // then a burst of 100 gaps of 10 ms
  feed(&m, std::vector<double>(100, 0.01), &t);
  auto burst = mine(m);
  REQUIRE(burst.size() == 2);
  const double dos = iotwall::dos_score(model, burst);
  INFO("same flow " << same << ", burst " << dos);
  CHECK(same < 30);
  CHECK(dos > 1000);
  CHECK(dos > 100 * same);

  // The paper's case: a relationship with a period near 0 (1 s polling), flooded at 10 ms.
  std::vector<PeriodCluster> poll = {cluster(1, 0.1, 200)};
  std::vector<PeriodCluster> flood = {cluster(0.01, 0.001, 200)};
  std::vector<PeriodCluster> poll_again = {cluster(1.01, 0.1, 200)};
  CHECK(iotwall::dos_score(poll, flood) > 1000);
  CHECK(iotwall::dos_score(poll, poll_again) < 20);

  CHECK(iotwall::dos_score({}, burst) == 0);
  CHECK(iotwall::dos_score(model, {}) == 0);
}

TEST_CASE("period: merge_periods merges near centres and keeps far ones", "[period]") {
  std::vector<PeriodCluster> model = {cluster(25, 0.5, 100)};
  merge_periods(&model, {cluster(25.3, 0.5, 50), cluster(60, 1, 20)});
  REQUIRE(model.size() == 2);
  CHECK(model[0].cf.n() == 150);
  CHECK(model[0].cf.mean() == Approx(25.1));
  CHECK(model[1].cf.n() == 20);
  CHECK(model[1].cf.mean() == Approx(60));

  // A one-point cluster (sd 0) merges on its partner's sd.
  merge_periods(&model, {cluster(26.2, 0, 1)});
  CHECK(model.size() == 2);
  CHECK(model[0].cf.n() == 151);

  // Commutative in effect for well-separated clusters.
  const std::vector<PeriodCluster> a = {cluster(10, 0.2, 100), cluster(25, 0.5, 50)};
  const std::vector<PeriodCluster> b = {cluster(60, 1, 30), cluster(10.2, 0.2, 80)};
  std::vector<PeriodCluster> ab, ba;
  merge_periods(&ab, a);
  merge_periods(&ab, b);
  merge_periods(&ba, b);
  merge_periods(&ba, a);
  REQUIRE(ab.size() == 3);
  REQUIRE(ba.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(ab[i].cf.mean() == Approx(ba[i].cf.mean()).epsilon(1e-12));
    CHECK(ab[i].cf.n() == ba[i].cf.n());
    CHECK(ab[i].cf.variance() == Approx(ba[i].cf.variance()).epsilon(1e-9));
  }
  CHECK(ab[0].cf.n() == 180);
}
