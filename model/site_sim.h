// SiteSimulator: generates a labelled DS2OS-format trace of a simulated IoT
// site (light controllers, movement and temperature sensors, thermostats,
// batteries, washing machines, door locks, a smartphone app), with a
// legitimate behaviour change, a device joining late, and the seven attack
// kinds of seed 002 Table III. Deterministic per seed. See docs/simulator.md.
//
// Thread-safety: none. The Interner must outlive the simulator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "model/access.h"
#include "model/intern.h"

namespace iotwall {

struct SimOptions {
  int rooms = 12;           // 1..1000
  double hours = 24;        // > 0, trace time
  uint64_t seed = 1;
  int64_t start_ms = 1520031600000;  // the DS2OS traces' first timestamp
  bool attacks = true;      // inject the seven attack kinds
  bool behaviour_change = true;  // a service update adding a relationship
  bool new_device = true;   // a device joins later
};

// Returns an error message for invalid options, empty when valid.
std::string validate(const SimOptions& o);

class SiteSimulator {
 public:
  // REQUIRES: validate(o).empty().
  SiteSimulator(const SimOptions& o, Interner& in);
  ~SiteSimulator();
  SiteSimulator(const SiteSimulator&) = delete;
  SiteSimulator& operator=(const SiteSimulator&) = delete;

  // Produces the next row in timestamp order (ties in a fixed order);
  // returns false when the simulated time is over. `line` is left 0.
  bool next(TraceRecord* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotwall
