// ClusterFeature: a 1-D BIRCH clustering feature with CluStream's time sums
// (seed 002 II.D-E, ALGORITHM.md section 3).
//
// Summarises weighted values x contributed at times t (seconds) by their
// weight n and the sums of x, x^2, t and t^2, so clusters can be merged by
// adding and decayed by scaling without keeping the points. Both dimensions
// are summed about a reference (the first contribution): epoch times
// (~1.5e9 s) squared and summed over thousands of points would leave no
// significant digits for the variance. Merging moves both operands to the
// smaller reference with the exact shift s1' = s1 + n*d,
// s2' = s2 + 2*d*s1 + n*d^2: merge is exactly commutative, and associative
// up to rounding.
//
// A value type; thread-safety: none. Never reads the clock.
#pragma once

namespace iotwall {

class ClusterFeature {
 public:
  // Adds x seen at time t_s with the given weight. Non-positive (or NaN)
  // weights are ignored.
  void add(double x, double t_s, double weight = 1);
  // Adds every contribution of `o` (BIRCH additivity).
  void merge(const ClusterFeature& o);
  // Multiplies every contribution's weight by f: decay, so a model capped
  // at max_model_weight forgets old contributions. REQUIRES: f >= 0.
  void scale(double f);

  bool empty() const { return !(n_ > 0); }
  double n() const { return n_; }  // total weight

  // Mean and population variance of the values (0 when empty); the
  // variance is clamped at 0 against rounding.
  double mean() const;
  double variance() const;
  // max(sqrt(variance), floor). REQUIRES: floor > 0 wherever the result
  // divides something.
  double sd(double floor) const;
  // |x - mean| / sd(floor); when sd(floor) is 0: 0 at the mean, +inf elsewhere.
  double distance_in_sd(double x, double floor) const;

  // Mean and standard deviation of the contribution times, in absolute
  // seconds (0 when empty).
  double mean_time() const;
  double time_sd() const;
  // How long ago the cluster's recent contributions were:
  // max(0, now_s - (mean_time + time_sd)). CluStream's recency idea: if the
  // times were normal, mean + sd is the time by which ~84 % of the weight
  // had arrived, so a cluster still fed keeps a staleness near 0 while one
  // that stopped ages one second per second. 0 when empty.
  double staleness(double now_s) const;

  // The sums as stored, for export: values about x_ref(), times about
  // t_ref(). The plain BIRCH sums are ls + n*x_ref and
  // ss + 2*x_ref*ls + n*x_ref^2 (same for times).
  double x_ref() const { return x_.ref; }
  double ls() const { return x_.s1; }
  double ss() const { return x_.s2; }
  double t_ref() const { return t_.ref; }
  double st() const { return t_.s1; }
  double sst() const { return t_.s2; }
  // Rebuilds a CF from exported sums (no validation beyond n <= 0 = empty).
  static ClusterFeature from_sums(double n, double x_ref, double ls, double ss, double t_ref,
                                  double st, double sst);

 private:
  // Sums of (v - ref) and (v - ref)^2 over the contributions.
  struct Sums {
    double ref = 0, s1 = 0, s2 = 0;
    void add(double v, double w);
    void move_ref(double new_ref, double n);  // exact re-centring
    double mean(double n) const;
    double variance(double n) const;
  };

  double n_ = 0;
  Sums x_, t_;
};

}  // namespace iotwall
