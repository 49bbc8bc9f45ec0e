#include "model/period_miner.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace iotwall {
namespace {

constexpr double kSigmas = 3;     // the 3-sigma rule of seed 002
constexpr double kMaxGapS = 1e9;  // ~30 years: keeps the float and the cell index finite
constexpr double kMinSdS = 1e-9;  // period_sd is never 0, whatever the floor given

double centre(const PeriodCluster& c) { return c.cf.mean(); }

// Index of the cluster whose centre is nearest x. REQUIRES: !v.empty().
size_t nearest(const std::vector<PeriodCluster>& v, double x) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (std::abs(centre(v[i]) - x) < std::abs(centre(v[best]) - x)) best = i;
  }
  return best;
}

}  // namespace

double period_sd(const PeriodCluster& c, double sd_floor_s) {
  const double rel = kPeriodSdFloorFraction * std::abs(centre(c));
  return c.cf.sd(std::max({sd_floor_s, rel, kMinSdS}));
}

PeriodMiner::PeriodMiner(size_t window, double tau_fraction, double min_coverage)
    : tau_fraction_(std::clamp(tau_fraction, 0.0, 1.0)),
      min_coverage_(min_coverage),
      window_(std::max<size_t>(window, 1)) {}

void PeriodMiner::add(double gap_s, double t_s) {
  if (std::isnan(gap_s) || !std::isfinite(t_s)) return;
  if (gap_.empty()) {
    gap_.resize(window_);
    time_.resize(window_);
  }
  gap_[head_] = static_cast<float>(std::clamp(gap_s, 0.0, kMaxGapS));
  time_[head_] = t_s;
  head_ = head_ + 1 == gap_.size() ? 0 : head_ + 1;
  size_ = std::min(size_ + 1, gap_.size());
}

size_t PeriodMiner::tau() const {
  // The epsilon keeps 0.04 * 200 = 8.000000000000002 from becoming 9.
  const double t = std::ceil(tau_fraction_ * static_cast<double>(size_) - 1e-9);
  return static_cast<size_t>(std::max(t, 2.0));
}

void PeriodMiner::mine(std::vector<PeriodCluster>* out) const {
  out->clear();
  const size_t n = size_;  // the valid slots are [0, n) whether or not the ring wrapped
  if (n < kMinPoints) return;
  double lo = gap_[0], hi = gap_[0];
  for (size_t i = 1; i < n; ++i) {
    lo = std::min<double>(lo, gap_[i]);
    hi = std::max<double>(hi, gap_[i]);
  }
  if (hi == lo) {  // all gaps equal: one period
    out->emplace_back();
    for (size_t i = 0; i < n; ++i) out->back().cf.add(gap_[i], time_[i]);
    return;
  }

  // 1. Grid from lo in cells of 1 % of hi (see the header), with sums about lo per cell.
  const double cell = std::max(hi / kCells, kMinCellS);
  std::array<size_t, kCells> count{};
  std::array<double, kCells> s1{}, s2{};
  auto cell_of = [&](double g) { return std::min(static_cast<int>((g - lo) / cell), kCells - 1); };
  for (size_t i = 0; i < n; ++i) {
    const double d = gap_[i] - lo;
    const int c = cell_of(gap_[i]);
    ++count[c];
    s1[c] += d;
    s2[c] += d * d;
  }

  // 2-3. Each run of dense cells gives a centre and a reach (3 sd of its gaps, at least a cell).
  struct Seed {
    double centre, reach;
  };
  std::array<Seed, kCells / 2 + 1> seeds;  // runs are separated by sparse cells
  size_t k = 0;
  const size_t tau_n = tau();
  for (int c = 0; c < kCells;) {
    if (count[c] < tau_n) {
      ++c;
      continue;
    }
    double m = 0, q = 0, w = 0;
    for (; c < kCells && count[c] >= tau_n; ++c) {
      w += static_cast<double>(count[c]);
      m += s1[c];
      q += s2[c];
    }
    m /= w;
    const double sd = std::sqrt(std::max(0.0, q / w - m * m));
    seeds[k++] = {lo + m, kSigmas * std::max(sd, cell)};
  }
  if (k == 0) return;  // not periodic

  // 4. One k-means iteration: each gap to the nearest centre that has it within reach.
  out->resize(k);
  for (size_t i = 0; i < n; ++i) {
    const double g = gap_[i];
    size_t best = k;
    for (size_t j = 0; j < k; ++j) {
      const double d = std::abs(seeds[j].centre - g);
      if (d <= seeds[j].reach && (best == k || d < std::abs(seeds[best].centre - g))) best = j;
    }
    if (best < k) (*out)[best].cf.add(g, time_[i]);
  }
  std::erase_if(*out, [](const PeriodCluster& p) { return p.cf.empty(); });

  // 5. Neighbours whose 3-sd ranges overlap are one period the grid split (a cell fell just under
  // tau): merge them, as merge_periods would. Centres are still in increasing order.
  size_t last = 0;
  for (size_t i = 1; i < out->size(); ++i) {
    PeriodCluster& a = (*out)[last];
    const PeriodCluster& b = (*out)[i];
    if (std::abs(centre(a) - centre(b)) <= kSigmas * (a.cf.sd(cell) + b.cf.sd(cell))) {
      a.cf.merge(b.cf);
    } else {
      (*out)[++last] = b;
    }
  }
  out->resize(std::min(out->size(), last + 1));

  // 6. Chance clusters of random gaps hold a few percent of the window: not periodic.
  double covered = 0;
  for (const PeriodCluster& p : *out) covered += p.cf.n();
  if (covered < min_coverage_ * static_cast<double>(n)) out->clear();
}

double period_score(const std::vector<PeriodCluster>& clusters, double gap_s, double sd_floor_s) {
  if (clusters.empty()) return 0;
  double best = HUGE_VAL;
  for (const PeriodCluster& c : clusters) {
    best = std::min(best, std::abs(gap_s - centre(c)) / period_sd(c, sd_floor_s));
  }
  return best;
}

double dos_score(const std::vector<PeriodCluster>& model, const std::vector<PeriodCluster>& window,
                 double sd_floor_s) {
  if (model.empty() || window.empty()) return 0;
  auto term = [&](const PeriodCluster& a, const PeriodCluster& b) {
    return std::abs(centre(a) - centre(b)) * (a.cf.n() + b.cf.n()) /
           (kSigmas * period_sd(a, sd_floor_s));
  };
  double score = 0;
  for (const PeriodCluster& a : model) score += term(a, window[nearest(window, centre(a))]);
  // Window clusters no model cluster picked (a burst beside an intact period).
  for (size_t b = 0; b < window.size(); ++b) {
    const bool picked = std::any_of(model.begin(), model.end(), [&](const PeriodCluster& a) {
      return nearest(window, centre(a)) == b;
    });
    if (!picked) score += term(model[nearest(model, centre(window[b]))], window[b]);
  }
  return score;
}

void merge_periods(std::vector<PeriodCluster>* model, const std::vector<PeriodCluster>& add,
                   double sd_floor_s) {
  for (const PeriodCluster& c : add) {
    if (c.cf.empty()) continue;
    // The model cluster that explains c best: the smallest distance in summed sds.
    const double sd_c = period_sd(c, sd_floor_s);
    PeriodCluster* best = nullptr;
    double best_ratio = HUGE_VAL;
    for (PeriodCluster& m : *model) {
      const double r = std::abs(centre(m) - centre(c)) / (period_sd(m, sd_floor_s) + sd_c);
      if (r < best_ratio) {
        best_ratio = r;
        best = &m;
      }
    }
    if (best != nullptr && best_ratio <= kSigmas) {
      best->cf.merge(c.cf);
    } else {
      model->push_back(c);
    }
  }
  std::sort(model->begin(), model->end(),
            [](const PeriodCluster& a, const PeriodCluster& b) { return centre(a) < centre(b); });
}

}  // namespace iotwall
