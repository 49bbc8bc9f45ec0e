#include "model/sim_site.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace iotwall::sim {
namespace {

// Per kind: id prefix, service type, data nodes (suffix, node type), and the
// range of ms from its registration to its first behaviour step.
constexpr KindSpec kKinds[kKindCount] = {
    {"lightcontrol", "/lightControler", {{{"/lightOn", "/derived/boolean"}, {}}}, 20000, 70000},
    {"movement",
     "/movementSensor",
     {{{"/movement", "/derived/boolean"}, {"/lastChange", "/basic/number"}}},
     60000,
     1800000},
    {"tempin", "/sensorService", {}, 10000, 40000},
    {"heatingcontrol", "/thermostat", {}, 20000, 40000},
    {"battery",
     "/batteryService",
     {{{"/charge", "/basic/number"}, {"/charging", "/basic/text"}}},
     55000,
     80000},
    {"washingmachine", "/washingService", {}, 40000, 70000},
    {"doorlock", "/doorLockService", {{{"/open", "/basic/text"}, {}}}, 20000, 60000},
    {"smartphone", "/smartPhone", {}, 60000, 900000},
};

// The rooms of the DS2OS fragment with its agent (node) numbers; room_1,
// room_2, ... follow on agents 20, 21, ... as in the fragment.
struct RoomSpec {
  std::string_view name;
  int agent;
};
constexpr RoomSpec kNamedRooms[] = {
    {"BedroomChildren", 1}, {"BedroomParents", 2}, {"Dinningroom", 3}, {"Kitchen", 4},
    {"Garage", 5},          {"Bathroom", 6},       {"Livingroom", 10}, {"Watterroom", 11},
    {"Entrance", 12},       {"Bedroom", 13},       {"Showerroom", 14},
};
constexpr int kNamedCount = sizeof(kNamedRooms) / sizeof(kNamedRooms[0]);
constexpr int kLivingroom = 6;

// The devices of the named rooms, in the fragment's numbering order
// (battery1 and battery2 in the Garage, battery3 in the Kitchen, ...).
struct DeviceSpec {
  Kind kind;
  int room;
};
constexpr DeviceSpec kNamedDevices[] = {
    {Kind::kBattery, 4},  {Kind::kBattery, 4},    {Kind::kBattery, 3},    {Kind::kBattery, 7},
    {Kind::kBattery, 8},  {Kind::kBattery, 8},    {Kind::kDoorLock, 2},   {Kind::kDoorLock, 6},
    {Kind::kDoorLock, 8}, {Kind::kThermostat, 2}, {Kind::kThermostat, 7}, {Kind::kThermostat, 8},
    {Kind::kWashing, 5},  {Kind::kWashing, 7},    {Kind::kWashing, 10},
};

int agent_of(int room) {
  return room < kNamedCount ? kNamedRooms[room].agent : 20 + (room - kNamedCount);
}

// Devices of room_i (i >= 1): door locks in rooms 1, 2 (mod 4), a battery in
// room 3 (mod 4) read by a washing machine next door in room 0 (mod 4), and a
// thermostat in every third room.
void generated_devices(int i, std::vector<Kind>* out) {
  if (i % 4 == 1 || i % 4 == 2) out->push_back(Kind::kDoorLock);
  if (i % 4 == 3) out->push_back(Kind::kBattery);
  if (i % 4 == 0) out->push_back(Kind::kWashing);
  if (i % 3 == 0) out->push_back(Kind::kThermostat);
}

std::string subscription_text(Rng& rng) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "%x", static_cast<unsigned>(rng.next() & 0x7fffffff));
  return std::string("org.ds2os.vsl.core.utils.AddressParameters@") + hex;
}

class Builder {
 public:
  Builder(const SimOptions& o, Interner& in, Rng& rng) : o_(o), in_(in), rng_(rng) {}

  Site build(int ghosts) {
    for (int r = 0; r < o_.rooms; ++r) {
      site_.rooms.push_back(in_.intern(r < kNamedCount ? std::string(kNamedRooms[r].name)
                                                       : "room_" + std::to_string(r - 10)));
    }
    // Every room: light controller, movement sensor, temperature sensor.
    std::vector<uint32_t> movement(o_.rooms), tempin(o_.rooms), lights(o_.rooms);
    for (int r = 0; r < o_.rooms; ++r) {
      lights[r] = add(Kind::kLight, r, agent_of(r));
      movement[r] = add(Kind::kMovement, r, agent_of(r));
      tempin[r] = add(Kind::kTempIn, r, agent_of(r));
    }
    for (int r = 0; r < o_.rooms; ++r) {
      site_.services[lights[r]].partners = {movement[r], tempin[r]};
    }
    for (const DeviceSpec& d : kNamedDevices) {
      if (d.room < o_.rooms) add(d.kind, d.room, next_number(d.kind));
    }
    std::vector<Kind> kinds;
    for (int r = kNamedCount; r < o_.rooms; ++r) {
      kinds.clear();
      generated_devices(r - kNamedCount + 1, &kinds);
      for (Kind k : kinds) add(k, r, next_number(k));
    }
    add(Kind::kPhone, o_.rooms > kLivingroom ? kLivingroom : 0, 1);

    // Thermostats read the temperature sensors of a fixed group of rooms around theirs.
    for (uint32_t h : of_kind(Kind::kThermostat)) {
      Service& s = site_.services[h];
      for (int r = std::max(0, s.room - 2); r <= std::min(o_.rooms - 1, s.room + 3); ++r) {
        s.partners.push_back(tempin[r]);
      }
    }
    // Washing machines use the nearest battery, and read the next nearest too.
    for (uint32_t w : of_kind(Kind::kWashing)) {
      std::vector<uint32_t> batteries = of_kind(Kind::kBattery);
      const int room = site_.services[w].room;
      std::stable_sort(batteries.begin(), batteries.end(), [&](uint32_t a, uint32_t b) {
        return std::abs(site_.services[a].room - room) < std::abs(site_.services[b].room - room);
      });
      if (batteries.size() > 2) batteries.resize(2);
      site_.services[w].partners = batteries;
    }
    for (uint32_t i = 0; i < site_.services.size(); ++i) {
      site_.by_kind[static_cast<int>(site_.services[i].kind)].push_back(i);
    }
    add_phone_targets();
    if (o_.new_device) add_new_device();
    site_.real_count = site_.services.size();
    add_ghosts(ghosts);
    return std::move(site_);
  }

 private:
  uint32_t add(Kind k, int room, int number) {
    const KindSpec& ks = spec(k);
    Service s;
    s.kind = k;
    s.room = room;
    const std::string id = std::string(ks.prefix) + std::to_string(number);
    const std::string address = "/agent" + std::to_string(agent_of(room)) + "/" + id;
    s.id = in_.intern(id);
    s.address = in_.intern(address);
    s.type = in_.intern(ks.type);
    s.location = site_.rooms[room];
    s.nodes[0] = {s.address, s.type};
    for (const NodeSpec& n : ks.nodes) {
      if (n.suffix.empty()) continue;
      s.nodes[s.node_count++] = {in_.intern(address + std::string(n.suffix)), in_.intern(n.type)};
    }
    // Services register staggered over the first minute, as in the fragment.
    s.join_ms = o_.start_ms + rng_.range(0, 59999);
    s.subscription = in_.intern(subscription_text(rng_));
    if (k == Kind::kMovement) s.clock_offset = 1185100000 + rng_.range(0, 30000);
    site_.services.push_back(s);
    return static_cast<uint32_t>(site_.services.size() - 1);
  }

  int next_number(Kind k) { return ++numbers_[static_cast<int>(k)]; }

  std::vector<uint32_t> of_kind(Kind k) const {
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < site_.services.size(); ++i) {
      if (site_.services[i].kind == k) out.push_back(i);
    }
    return out;
  }

  void add_phone_targets() {
    auto& targets = site_.phone_targets;
    for (Kind k : {Kind::kLight, Kind::kMovement, Kind::kDoorLock, Kind::kBattery}) {
      for (uint32_t s : site_.by_kind[static_cast<int>(k)]) targets.push_back({s, uint8_t{1}});
    }
    for (uint32_t s : site_.by_kind[static_cast<int>(Kind::kTempIn)]) targets.push_back({s, 0});
    for (uint32_t s : site_.by_kind[static_cast<int>(Kind::kBattery)]) targets.push_back({s, 2});
  }

  // A new battery joins in the room of the first washing machine, which then reads it too.
  void add_new_device() {
    const auto& washers = site_.by_kind[static_cast<int>(Kind::kWashing)];
    const int reader = washers.empty() ? -1 : static_cast<int>(washers.front());
    const int room = reader < 0 ? 0 : site_.services[reader].room;
    const uint32_t b = add(Kind::kBattery, room, next_number(Kind::kBattery));
    const double duration_ms = o_.hours * 3600000.0;
    site_.services[b].join_ms = o_.start_ms + static_cast<int64_t>(duration_ms * kJoinAt);
    if (reader >= 0) site_.services[reader].partners.push_back(b);
    site_.new_device = static_cast<int>(b);
    site_.new_device_reader = reader;
  }

  // Addresses that do not exist (agents past the site's last, numbers past any
  // real one), for scans; their node type and location are unknown (empty).
  void add_ghosts(int count) {
    const int base_agent = agent_of(o_.rooms - 1) + 1;
    const int base_number = base_agent + static_cast<int>(site_.services.size());
    for (int i = 0; i < count; ++i) {
      const Kind k = static_cast<Kind>(rng_.index(kKindCount - 1));  // any kind but the phone
      const std::string id = std::string(spec(k).prefix) + std::to_string(base_number + i);
      Service s;
      s.kind = k;
      s.ghost = true;
      s.id = in_.intern(id);
      s.address = in_.intern("/agent" + std::to_string(base_agent + rng_.range(0, 9)) + "/" + id);
      s.type = in_.intern(spec(k).type);
      s.nodes[0] = {s.address, Sym{}};
      site_.services.push_back(s);
    }
  }

  const SimOptions& o_;
  Interner& in_;
  Rng& rng_;
  Site site_;
  std::array<int, kKindCount> numbers_{};
};

}  // namespace

const KindSpec& spec(Kind k) { return kKinds[static_cast<int>(k)]; }

Site build_site(const SimOptions& o, Interner& in, Rng& rng, int ghosts) {
  return Builder(o, in, rng).build(ghosts);
}

bool talks_to(const Service& a, uint32_t self, uint32_t b) {
  return b == self || std::find(a.partners.begin(), a.partners.end(), b) != a.partners.end();
}

Value current_value(const Service& s, int node) {
  if (s.ghost) return Value{};
  switch (s.kind) {
    case Kind::kLight:
      return node == 1 ? Value::Number(s.on) : Value::None();
    case Kind::kMovement:
      return node == 1   ? Value::Number(s.on)
             : node == 2 ? Value::Number(static_cast<double>(s.last_change))
                         : Value::None();
    case Kind::kTempIn:
      return Value::Number(s.temperature);
    case Kind::kThermostat:
      return Value::Number(s.on);
    case Kind::kBattery:
      return node == 1 ? Value::Number(s.charge) : node == 2 ? Value::Bool(s.charging) : Value::None();
    case Kind::kDoorLock:
      return node == 1 ? Value::Bool(s.on) : Value::None();
    case Kind::kWashing:
    case Kind::kPhone:
      return Value::None();
  }
  return Value::None();
}

}  // namespace iotwall::sim
