#include "model/cluster_feature.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

using iotwall::ClusterFeature;

namespace {

struct Point {
  double x, t, w;
};

// Uniform in [a, b) from a fixed-seed generator (the std distributions are
// implementation-defined).
double uniform(std::mt19937_64& g, double a, double b) {
  return a + (b - a) * static_cast<double>(g() >> 11) * 0x1.0p-53;
}

ClusterFeature cf_of(const std::vector<Point>& pts) {
  ClusterFeature c;
  for (const Point& p : pts) c.add(p.x, p.t, p.w);
  return c;
}

// The slow oracle: weighted mean and population variance, two passes in long double.
struct Moments {
  double mean, var;
};
Moments moments(const std::vector<Point>& pts, bool time) {
  long double n = 0, s = 0, q = 0;
  for (const Point& p : pts) {
    n += p.w;
    s += p.w * static_cast<long double>(time ? p.t : p.x);
  }
  const long double m = s / n;
  for (const Point& p : pts) {
    const long double d = (time ? p.t : p.x) - m;
    q += p.w * d * d;
  }
  return {static_cast<double>(m), static_cast<double>(q / n)};
}

std::vector<Point> random_points(std::mt19937_64& g, size_t n, double x0, double t0) {
  std::vector<Point> pts;
  for (size_t i = 0; i < n; ++i) {
    pts.push_back({x0 + uniform(g, -5, 5), t0 + uniform(g, 0, 3600), uniform(g, 0.1, 2)});
  }
  return pts;
}

// CFs agree on every statistic within a relative tolerance.
void check_same(const ClusterFeature& a, const ClusterFeature& b) {
  CHECK(a.n() == Approx(b.n()).epsilon(1e-12));
  CHECK(a.mean() == Approx(b.mean()).epsilon(1e-12));
  CHECK(a.variance() == Approx(b.variance()).epsilon(1e-9));
  CHECK(a.mean_time() == Approx(b.mean_time()).epsilon(1e-12));
  CHECK(a.time_sd() == Approx(b.time_sd()).epsilon(1e-9));
}

}  // namespace

TEST_CASE("cf: hand-computed mean and variance", "[cf]") {
  ClusterFeature c;
  for (double x : {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0}) c.add(x, 100);
  CHECK(c.n() == 8);
  CHECK(c.mean() == Approx(5));
  CHECK(c.variance() == Approx(4));
  CHECK(c.sd(0.1) == Approx(2));
  CHECK(c.sd(3) == 3);  // the floor wins
  CHECK(c.distance_in_sd(11, 0.1) == Approx(3));
  CHECK(c.distance_in_sd(1, 0.1) == Approx(2));

  ClusterFeature w;  // weights count as repeated points
  w.add(1, 0, 3);
  w.add(5, 0, 1);
  CHECK(w.n() == 4);
  CHECK(w.mean() == Approx(2));
  CHECK(w.variance() == Approx(3));  // (3*1 + 9) / 4
}

TEST_CASE("cf: time statistics and staleness", "[cf]") {
  const double t0 = 1.5e9;
  ClusterFeature c;
  for (int i = 0; i < 5; ++i) c.add(1, t0 + 10 * i);  // t0, +10, ..., +40
  CHECK(c.mean_time() == Approx(t0 + 20).epsilon(1e-15));
  CHECK(c.time_sd() == Approx(std::sqrt(200.0)));
  CHECK(c.staleness(t0 + 20) == 0);  // still being fed
  CHECK(c.staleness(t0 + 1000) == Approx(1000 - 20 - std::sqrt(200.0)));
  CHECK(c.t_ref() == t0);  // the first contribution
}

TEST_CASE("cf: merge of two sets equals the CF of their union, t0 years apart", "[cf]") {
  std::mt19937_64 g(42);
  const double year = 365.25 * 86400;
  std::vector<Point> a = random_points(g, 3000, 20, 1.5e9);
  std::vector<Point> b = random_points(g, 5000, 1e6, 1.5e9 + 3 * year);  // far values and times
  std::vector<Point> all = a;
  all.insert(all.end(), b.begin(), b.end());

  ClusterFeature ab = cf_of(a);
  ab.merge(cf_of(b));
  const Moments x = moments(all, false), t = moments(all, true);
  CHECK(ab.mean() == Approx(x.mean).epsilon(1e-12));
  CHECK(ab.variance() == Approx(x.var).epsilon(1e-9));
  CHECK(ab.mean_time() == Approx(t.mean).epsilon(1e-14));
  CHECK(ab.time_sd() == Approx(std::sqrt(t.var)).epsilon(1e-9));
  check_same(ab, cf_of(all));

  // Within one set: time spread of an hour at epoch 1.5e9 is kept to many digits.
  const Moments ta = moments(a, true);
  CHECK(cf_of(a).time_sd() == Approx(std::sqrt(ta.var)).epsilon(1e-9));
}

TEST_CASE("cf: merge is commutative and associative on random CFs", "[cf]") {
  std::mt19937_64 g(7);
  for (int trial = 0; trial < 50; ++trial) {
    ClusterFeature c[3];
    for (ClusterFeature& ci : c) {
      const size_t n = 1 + g() % 200;
      ci = cf_of(random_points(g, n, uniform(g, -1e3, 1e3), 1.4e9 + uniform(g, 0, 1e8)));
      if (g() % 3 == 0) ci.scale(uniform(g, 0.01, 1));
    }
    ClusterFeature ab = c[0], ba = c[1];
    ab.merge(c[1]);
    ba.merge(c[0]);
    CHECK(ab.n() == ba.n());  // exactly: both move to the same reference
    CHECK(ab.mean() == ba.mean());
    CHECK(ab.variance() == ba.variance());
    CHECK(ab.mean_time() == ba.mean_time());

    ClusterFeature ab_c = ab, a_bc = c[0], bc = c[1];
    ab_c.merge(c[2]);
    bc.merge(c[2]);
    a_bc.merge(bc);
    check_same(ab_c, a_bc);
  }
}

TEST_CASE("cf: scale halves the weight and keeps mean and variance", "[cf]") {
  std::mt19937_64 g(3);
  ClusterFeature c = cf_of(random_points(g, 1000, 50, 1.6e9));
  const ClusterFeature before = c;
  c.scale(0.5);
  CHECK(c.n() == Approx(before.n() / 2));
  CHECK(c.mean() == Approx(before.mean()).epsilon(1e-12));
  CHECK(c.variance() == Approx(before.variance()).epsilon(1e-12));
  CHECK(c.mean_time() == Approx(before.mean_time()).epsilon(1e-15));
  CHECK(c.t_ref() == before.t_ref());
  // A decayed CF weighs less in a merge: the mean moves towards the fresh points.
  ClusterFeature fresh;
  fresh.add(before.mean() + 10, 1.7e9, before.n() / 2);
  c.merge(fresh);
  CHECK(c.mean() == Approx(before.mean() + 5).epsilon(1e-12));
  c.scale(0);
  CHECK(c.empty());
}

TEST_CASE("cf: zero variance uses the floor and never divides by zero", "[cf]") {
  ClusterFeature c;
  for (int i = 0; i < 10; ++i) c.add(25, i);
  CHECK(c.variance() == 0);
  CHECK(c.sd(0.05) == 0.05);
  CHECK(c.distance_in_sd(25.1, 0.05) == Approx(2));
  CHECK(c.distance_in_sd(25, 0.05) == 0);
  CHECK(c.distance_in_sd(25, 0) == 0);  // no 0/0
  CHECK(std::isinf(c.distance_in_sd(26, 0)));
}

TEST_CASE("cf: an empty CF is safe", "[cf]") {
  ClusterFeature c;
  CHECK(c.empty());
  CHECK(c.n() == 0);
  CHECK(c.mean() == 0);
  CHECK(c.variance() == 0);
  CHECK(c.mean_time() == 0);
  CHECK(c.time_sd() == 0);
  CHECK(c.staleness(1.5e9) == 0);
  CHECK(c.distance_in_sd(2, 0.5) == Approx(4));
  c.add(3, 10, 0);   // no weight: ignored
  c.add(3, 10, -1);  // idem
  CHECK(c.empty());

  ClusterFeature d;
  d.add(7, 1.5e9);
  ClusterFeature e = d;
  e.merge(ClusterFeature{});  // merging nothing changes nothing
  check_same(e, d);
  ClusterFeature f;
  f.merge(d);  // merging into nothing copies
  check_same(f, d);
  // After decaying to nothing, the next contribution starts afresh.
  f.scale(0);
  f.add(-4, 2e9);
  CHECK(f.mean() == -4);
  CHECK(f.mean_time() == 2e9);
}

TEST_CASE("cf: variance is never negative for identical large values", "[cf]") {
  ClusterFeature c;
  for (int i = 0; i < 10000; ++i) c.add(1e9, 1.5e9 + i);
  CHECK(c.variance() >= 0);
  CHECK(c.variance() == 0);  // the reference makes it exact
  CHECK(c.mean() == 1e9);
  // Also after merging CFs of the same value with different references.
  ClusterFeature d;
  for (int i = 0; i < 10000; ++i) d.add(1e9 + 1e-7 * (i % 3), 1.5e9);
  ClusterFeature e;
  e.add(1e9 + 3e-7, 1.5e9);
  d.merge(e);
  CHECK(d.variance() >= 0);
  CHECK(std::sqrt(d.variance()) < 1e-6);
}

TEST_CASE("cf: exported sums rebuild the same CF", "[cf]") {
  std::mt19937_64 g(11);
  ClusterFeature c = cf_of(random_points(g, 100, 3, 1.5e9));
  ClusterFeature r =
      ClusterFeature::from_sums(c.n(), c.x_ref(), c.ls(), c.ss(), c.t_ref(), c.st(), c.sst());
  check_same(r, c);
}
