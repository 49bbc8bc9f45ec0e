// PeriodMiner: the periods of one flow, mined from its last inter-arrival
// times (seed 002 II.C as fixed by ALGORITHM.md section 4), and the scores
// built on period clusters: per-gap period score, the DoS (group) score of
// seed 002 III.A, and the model merge of ALGORITHM.md section 3.
//
// mine() is a grid density clustering followed by ONE k-means iteration:
//  1. grid: kCells = 100 cells from the smallest gap, each 1 % of the
//     largest gap wide (at least kMinCellS);
//  2. a cell is dense when it holds at least tau = max(2, ceil(tau_fraction *
//     gaps)) gaps (4 %: 8 for a full window of 200);
//  3. each maximal run of adjacent dense cells seeds a centre at the mean of
//     its gaps, with a reach of 3 * max(sd of those gaps, cell width);
//  4. every gap joins the nearest centre that has it within reach (none: no
//     cluster); each cluster is the ClusterFeature of its gaps (time = when
//     the gap ended);
//  5. neighbours whose 3-sd ranges overlap merge (the merge_periods rule);
//  6. if the clusters hold less than min_coverage of the window, none is
//     kept.
// No dense cell = not periodic = no clusters. Fewer than kMinPoints gaps give
// none; a window of equal gaps gives one cluster of them all.
//
// Departures from the paper's letter, measured in docs/detector.md: cells of
// (max - min) / 100 spread a single jittered period (25 s +- 1 s) evenly,
// 2 gaps a cell, never dense; 1 % of the largest gap is also the relative sd
// floor, so the model could not tell apart what finer cells split. Step 5
// rejoins a band that one cell just under tau cut in two. Step 6 drops the
// chance clusters of random gaps (the default 1/6 is the paper's own "limit
// of periodic traffic"). Reach of 3 sd: the 3-sigma rule of the scorer and
// the merge, so a gap a cluster absorbs is one it would call on period.
//
// Thread-safety: none (one miner per flow, owned by its worker).
#pragma once

#include <cstddef>
#include <vector>

#include "model/cluster_feature.h"

namespace iotwall {

// One period: centre = cf.mean(), weight = cf.n(), sd = period_sd().
struct PeriodCluster {
  ClusterFeature cf;
};

// Default sd floors for period clusters: max(kPeriodSdFloorS, 1 % of the
// centre). 50 ms covers millisecond timestamps plus scheduling and LAN
// delays, which do not grow with the period; 1 % covers timers that drift
// or sleep-loops that add their run time, which do. Without a floor a
// perfectly regular flow has sd 0 and any late beat is infinitely far.
inline constexpr double kPeriodSdFloorS = 0.05;
inline constexpr double kPeriodSdFloorFraction = 0.01;
// The sd of a period cluster: max(cf.sd(), sd_floor_s, 1 % of |centre|).
double period_sd(const PeriodCluster& c, double sd_floor_s = kPeriodSdFloorS);

class PeriodMiner {
 public:
  static constexpr int kCells = 100;
  static constexpr size_t kMinPoints = 10;
  static constexpr double kMinCellS = 0.001;  // timestamp resolution

  // Keeps the last `window` gaps. REQUIRES: window >= 1,
  // 0 < tau_fraction <= 1, 0 <= min_coverage <= 1.
  explicit PeriodMiner(size_t window = 200, double tau_fraction = 0.04,
                       double min_coverage = 1.0 / 6);

  // Appends the gap that ended at t_s, dropping the oldest when full. No
  // allocation after the first gap (a flow that never has a normal gap
  // costs no window). NaN gaps and non-finite times are dropped; a negative gap (a
  // late packet) counts as 0.
  void add(double gap_s, double t_s);
  void clear() { head_ = size_ = 0; }
  size_t size() const { return size_; }
  size_t window() const { return window_; }
  // The density threshold for the current number of gaps.
  size_t tau() const;

  // Replaces *out with the window's period clusters, in increasing order of
  // centre (empty: not periodic). Reuses out's capacity; no other
  // allocation.
  void mine(std::vector<PeriodCluster>* out) const;

 private:
  double tau_fraction_;
  double min_coverage_;
  size_t window_;
  std::vector<float> gap_;    // ring buffer, window_ long once used
  std::vector<double> time_;  // when each gap ended (absolute seconds)
  size_t head_ = 0;           // next slot to write
  size_t size_ = 0;
};

// How far gap_s is from the period clusters, in standard deviations
// (period_sd) of the cluster that explains it best: the minimum over
// clusters of |gap - centre| / sd. This is "the nearest centre in units of
// its sd" of ALGORITHM.md section 4, measured in sd so a wide cluster is not
// shadowed by a narrow one that is closer in seconds. The caller applies the
// 3-sigma rule (> 3: off period). No clusters: 0 (not periodic, no opinion).
double period_score(const std::vector<PeriodCluster>& clusters, double gap_s,
                    double sd_floor_s = kPeriodSdFloorS);

// Group (DoS) anomaly of a window's period clusters against the model's,
// seed 002 III.A: the sum over model clusters a of
//   |centre_a - centre_b| * (weight_a + weight_b) / (3 * sd_a)
// with b the window cluster nearest to a; plus the same term for every
// window cluster b that no model cluster picked, paired with its nearest
// model cluster a. The paper's sum alone misses a burst beside an intact
// period: the period still finds its match, the burst is nobody's nearest.
// Units: gaps (weights) times distance in units of 3 sd; a window that
// repeats the model scores near 0, while a burst (a cluster near 0 with the
// weight of every gap in it) far from the model's periods explodes. Weights
// are counts of gaps, so the scale grows with the model's weight: scale the
// model to one window's weight first for a per-window threshold.
// Returns 0 when either list is empty.
double dos_score(const std::vector<PeriodCluster>& model, const std::vector<PeriodCluster>& window,
                 double sd_floor_s = kPeriodSdFloorS);

// Merges period clusters into a model (ALGORITHM.md section 3): each added
// cluster merges (CF merge) into the model cluster that explains it best
// when their centres lie within 3 * (sd_a + sd_b) of each other, i.e. their
// 3-sd ranges overlap (a one-gap cluster, with no sd of its own, counts on
// its partner's, as the paper says; both are floored by period_sd);
// otherwise it is appended. The model is kept sorted by centre, so merging
// A then B or B then A gives the same clusters when they are well
// separated. REQUIRES: &add != model.
void merge_periods(std::vector<PeriodCluster>* model, const std::vector<PeriodCluster>& add,
                   double sd_floor_s = kPeriodSdFloorS);

}  // namespace iotwall
