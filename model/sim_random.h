// Deterministic pseudo-random numbers for the site simulator.
//
// xoshiro256** seeded through splitmix64, plus the few distributions the
// simulator needs, written out here: the std::*_distribution classes are
// implementation-defined, so they would give different traces with different
// standard libraries. Each actor of the simulation draws from its own stream
// (seed, stream id), so switching attacks on or off leaves the normal traffic
// unchanged.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace iotwall::sim {

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  Rng() : Rng(0, 0) {}
  // Stream `stream` of `seed`; distinct streams are independent sequences.
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t x = stream;
    uint64_t mixed = seed ^ splitmix64(x);
    for (uint64_t& s : s_) s = splitmix64(mixed);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [a, b).
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  // Uniform integer in [lo, hi]. REQUIRES: lo <= hi, hi - lo < 2^53.
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(uniform() * static_cast<double>(hi - lo + 1));
  }
  // Uniform index in [0, n). REQUIRES: n > 0.
  size_t index(size_t n) { return static_cast<size_t>(uniform() * static_cast<double>(n)); }
  bool chance(double p) { return uniform() < p; }

  // Normal(mean, sd), Marsaglia's polar method.
  double normal(double mean, double sd) {
    double u, v, s;
    do {
      u = uniform(-1, 1);
      v = uniform(-1, 1);
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    return mean + sd * u * std::sqrt(-2 * std::log(s) / s);
  }
  // Exponential with the given mean (a Poisson process's inter-arrival time).
  double exponential(double mean) { return -mean * std::log(1 - uniform()); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace iotwall::sim
