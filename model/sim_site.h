// The simulated site: its rooms, its services with their nodes and partners,
// and the live state the behaviours share (movement, temperature, battery
// charge...). Built once per SiteSimulator; every string is interned here, so
// producing a row never touches the Interner. See docs/simulator.md.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "model/access.h"
#include "model/intern.h"
#include "model/sim_random.h"
#include "model/site_sim.h"

namespace iotwall::sim {

// The service kinds of the DS2OS traces.
enum class Kind : uint8_t {
  kLight,
  kMovement,
  kTempIn,
  kThermostat,
  kBattery,
  kWashing,
  kDoorLock,
  kPhone,
};
inline constexpr int kKindCount = static_cast<int>(Kind::kPhone) + 1;

struct NodeSpec {
  std::string_view suffix;  // below the service's address, e.g. "/movement"
  std::string_view type;    // e.g. "/derived/boolean"
};

struct KindSpec {
  std::string_view prefix;        // id prefix, e.g. "lightcontrol" -> lightcontrol2
  std::string_view type;          // service type, e.g. "/lightControler"
  std::array<NodeSpec, 2> nodes;  // data nodes below the service node ("" = none)
  int64_t first_lo, first_hi;     // ms from registration to the first behaviour step
};

const KindSpec& spec(Kind k);

// When the legitimate changes happen, as fractions of the trace: the light
// controllers' update (11 h of 24 h, the paper's Fig. 4) and the new battery.
inline constexpr double kUpdateAt = 11.0 / 24.0;
inline constexpr double kJoinAt = 0.65;

struct Node {
  Sym address;
  Sym type;
};

struct Service {
  Kind kind = Kind::kLight;
  int room = 0;        // index of the room (into Site::rooms)
  bool ghost = false;  // a made-up address that scans probe; never acts
  Sym id, address, type, location;
  std::array<Node, 3> nodes{};  // [0] the service's own node, then its data nodes
  int node_count = 1;
  // Services it legitimately reads. Light: {movement, tempin} of its room (the
  // tempin only after the update); thermostat: its tempins; washing machine:
  // its batteries, the primary first.
  std::vector<uint32_t> partners;
  int64_t join_ms = 0;       // absolute time of its registerService
  Sym subscription;          // value of its subscribe ("org.ds2os...AddressParameters@...")
  int64_t clock_offset = 0;  // movement sensors: their lastChange clock minus trace time

  // Live state, shared by the behaviours that read and write it.
  bool on = false;  // movement seen / light on / heating on / door open / washing
  bool charging = false;
  bool subscribed = false;
  int charge = 10;  // batteries, 0..10
  double temperature = 20.0;
  int64_t last_change = 0;  // movement sensors, in their own clock
};

struct Site {
  std::vector<Sym> rooms;
  std::vector<Service> services;                          // real services first, then ghosts
  size_t real_count = 0;                                  // services[0, real_count) are real
  std::array<std::vector<uint32_t>, kKindCount> by_kind;  // real, excluding the new device
  int new_device = -1;                                    // the battery that joins late, or -1
  int new_device_reader = -1;  // the washing machine that starts reading it, or -1
  std::vector<std::pair<uint32_t, uint8_t>> phone_targets;  // (service, node) the app reads
};

// Builds the site of `o`: one agent per room with its light controller,
// movement sensor and temperature sensor, the devices of the DS2OS fragment's
// rooms and a repeating pattern for room_1, room_2, ..., a smartphone app, the
// late device when o.new_device, and `ghosts` unused addresses for scans.
Site build_site(const SimOptions& o, Interner& in, Rng& rng, int ghosts);

// Whether `a` reads or writes `b` in its normal behaviour (itself included).
bool talks_to(const Service& a, uint32_t self, uint32_t b);

// The current value of node `node` of `s`, as a read returns it.
Value current_value(const Service& s, int node);

}  // namespace iotwall::sim
