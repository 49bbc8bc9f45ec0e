#include "model/cluster_feature.h"

#include <algorithm>
#include <cmath>

namespace iotwall {

void ClusterFeature::Sums::add(double v, double w) {
  const double d = v - ref;
  s1 += w * d;
  s2 += w * d * d;
}

void ClusterFeature::Sums::move_ref(double new_ref, double n) {
  const double d = ref - new_ref;  // each v - new_ref = (v - ref) + d
  s2 += 2 * d * s1 + n * d * d;
  s1 += n * d;
  ref = new_ref;
}

double ClusterFeature::Sums::mean(double n) const { return n > 0 ? ref + s1 / n : 0; }

double ClusterFeature::Sums::variance(double n) const {
  if (!(n > 0)) return 0;
  const double m = s1 / n;
  return std::max(0.0, s2 / n - m * m);
}

void ClusterFeature::add(double x, double t_s, double weight) {
  if (!(weight > 0)) return;
  if (empty()) *this = from_sums(0, x, 0, 0, t_s, 0, 0);
  n_ += weight;
  x_.add(x, weight);
  t_.add(t_s, weight);
}

void ClusterFeature::merge(const ClusterFeature& o) {
  if (o.empty()) return;
  if (empty()) {
    *this = o;
    return;
  }
  ClusterFeature other = o;
  for (auto [a, b] : {std::pair{&x_, &other.x_}, std::pair{&t_, &other.t_}}) {
    const double ref = std::min(a->ref, b->ref);
    a->move_ref(ref, n_);
    b->move_ref(ref, other.n_);
    a->s1 += b->s1;
    a->s2 += b->s2;
  }
  n_ += other.n_;
}

void ClusterFeature::scale(double f) {
  n_ *= f;
  for (Sums* s : {&x_, &t_}) {
    s->s1 *= f;
    s->s2 *= f;
  }
}

double ClusterFeature::mean() const { return x_.mean(n_); }
double ClusterFeature::variance() const { return x_.variance(n_); }
double ClusterFeature::sd(double floor) const { return std::max(std::sqrt(variance()), floor); }

double ClusterFeature::distance_in_sd(double x, double floor) const {
  const double d = std::abs(x - mean());
  if (d == 0) return 0;
  const double s = sd(floor);
  return s > 0 ? d / s : HUGE_VAL;
}

double ClusterFeature::mean_time() const { return t_.mean(n_); }
double ClusterFeature::time_sd() const { return std::sqrt(t_.variance(n_)); }

double ClusterFeature::staleness(double now_s) const {
  if (empty()) return 0;
  return std::max(0.0, now_s - (mean_time() + time_sd()));
}

ClusterFeature ClusterFeature::from_sums(double n, double x_ref, double ls, double ss, double t_ref,
                                         double st, double sst) {
  ClusterFeature c;
  c.n_ = n;
  c.x_ = {x_ref, ls, ss};
  c.t_ = {t_ref, st, sst};
  return c;
}

}  // namespace iotwall
