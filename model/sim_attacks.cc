#include "model/sim_attacks.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace iotwall::sim {
namespace {

constexpr AttackSpec kAttacks[kAttackKindCount] = {
    {"anomalous(scan)", 1559, 3, 20, 400, 0},
    {"anomalous(spying)", 532, 3, 3000, 20000, 0},
    {"anomalous(malitiousControl)", 889, 3, 2000, 30000, 0},
    {"anomalous(malitiousOperation)", 805, 3, 1000, 30000, 0},
    {"anomalous(DoSattack)", 5780, 3, 2, 40, 0},
    {"anomalous(dataProbing)", 342, 3, 1000, 15000, 0.3},
    {"anomalous(wrongSetUp)", 120, 2, 15000, 30000, 0},
};
constexpr int kTableTotal = 10027;

Move read(uint32_t target, uint8_t node) {
  Move m;
  m.target = target;
  m.node = node;
  m.current = true;
  return m;
}

Move op(uint32_t target, uint8_t node, Operation o, Value v) {
  Move m;
  m.target = target;
  m.node = node;
  m.op = o;
  m.value = v;
  return m;
}

// Plans the moves of one episode of one kind; returns false when this site
// has no service that could do it.
class Planner {
 public:
  Planner(const Site& site, Interner& in, Rng& rng) : site_(site), in_(in), rng_(rng) {
    // The type-level read relations of the normal traffic: each kind reads
    // itself, and its partners' kinds in the same room or another one.
    for (uint32_t i = 0; i < site_.real_count; ++i) {
      const Service& s = svc(i);
      reads_[idx(s.kind)][idx(s.kind)][1] = true;
      for (uint32_t p : s.partners) {
        reads_[idx(s.kind)][idx(svc(p).kind)][svc(p).room == s.room] = true;
      }
    }
  }

  bool plan(Episode* e) {
    switch (e->kind) {
      case AttackKind::kScan:
        return scan(e);
      case AttackKind::kSpying:
        return spying(e);
      case AttackKind::kMalControl:
        return control(e);
      case AttackKind::kMalOperation:
        return operation(e);
      case AttackKind::kDoS:
        return dos(e);
      case AttackKind::kDataProbing:
        return probing(e);
      case AttackKind::kWrongSetUp:
        return wrong_setup(e);
    }
    return false;
  }

 private:
  static int idx(Kind k) { return static_cast<int>(k); }
  const std::vector<uint32_t>& of(Kind k) const { return site_.by_kind[idx(k)]; }
  const Service& svc(uint32_t i) const { return site_.services[i]; }

  // Whether reads from `a` to `t` fall into a relation the normal traffic has
  // (so the graph would learn them from the site's other instances): attacks
  // that should create a new relationship avoid those targets.
  bool usual(uint32_t a, uint32_t t) const {
    const Service& x = svc(a);
    const Service& y = svc(t);
    if (y.ghost) return false;
    return talks_to(x, a, t) || reads_[idx(x.kind)][idx(y.kind)][x.room == y.room];
  }

  // A random service of the first kind in `kinds` the site has, taking the
  // kinds in random order when `any`, else in the given order of preference.
  bool pick_attacker(std::initializer_list<Kind> kinds, bool any, uint32_t* out, Kind* kind) {
    std::vector<Kind> order(kinds);
    if (any) shuffle(&order);
    for (Kind k : order) {
      if (of(k).empty()) continue;
      *out = of(k)[rng_.index(of(k).size())];
      *kind = k;
      return true;
    }
    return false;
  }

  template <typename T>
  void shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[rng_.index(i)]);
  }

  // A service reads a range of other services, real and made-up, fast.
  bool scan(Episode* e) {
    Kind k;
    // Kinds that read little normally, so that the sweep is all new to them.
    if (!pick_attacker({Kind::kLight, Kind::kTempIn, Kind::kMovement, Kind::kDoorLock}, true,
                       &e->attacker, &k)) {
      return false;
    }
    for (uint32_t t = 0; t < site_.services.size(); ++t) {
      if (usual(e->attacker, t) || static_cast<int>(t) == site_.new_device) continue;
      for (int n = 0; n < svc(t).node_count; ++n) e->moves.push_back(read(t, uint8_t(n)));
    }
    shuffle(&e->moves);
    e->in_order = true;
    return true;
  }

  // A service reads a few services it never talks to (door locks, movement).
  bool spying(Episode* e) {
    Kind k;
    if (!pick_attacker({Kind::kWashing, Kind::kLight, Kind::kThermostat, Kind::kBattery},
                       !rng_.chance(0.5), &e->attacker, &k)) {
      return false;
    }
    std::vector<Move> candidates;
    for (Kind victim : {Kind::kDoorLock, Kind::kMovement}) {
      for (uint32_t t : of(victim)) {
        if (!usual(e->attacker, t)) candidates.push_back(read(t, 1));
      }
    }
    if (candidates.empty()) return false;
    shuffle(&candidates);
    candidates.resize(std::min<size_t>(candidates.size(), 2 + rng_.index(3)));
    e->moves = std::move(candidates);
    return true;
  }

  // A service writes the actuator of a service it never talks to.
  bool control(Episode* e) {
    struct Option {
      Kind attacker, victim;
      uint8_t node;
      Value value;
    };
    const Option options[] = {
        {Kind::kWashing, Kind::kDoorLock, 1, Value::Bool(true)},  // seed 001's demo
        {Kind::kLight, Kind::kThermostat, 0, Value::Number(1)},
        {Kind::kThermostat, Kind::kLight, 1, Value::Number(1)},
        {Kind::kBattery, Kind::kDoorLock, 1, Value::Bool(true)},
        {Kind::kMovement, Kind::kLight, 1, Value::Number(0)},  // so that one room has one too
    };
    std::vector<const Option*> feasible;
    for (const Option& o : options) {
      if (!of(o.attacker).empty() && !of(o.victim).empty()) feasible.push_back(&o);
    }
    for (int tries = 0; tries < 8 && !feasible.empty(); ++tries) {
      // The washing machine opening the door lock first when the site has both.
      const Option& o = *feasible[rng_.chance(0.5) ? 0 : rng_.index(feasible.size())];
      e->attacker = of(o.attacker)[rng_.index(of(o.attacker).size())];
      std::vector<uint32_t> victims;
      for (uint32_t t : of(o.victim)) {
        if (!usual(e->attacker, t)) victims.push_back(t);
      }
      shuffle(&victims);
      victims.resize(std::min<size_t>(victims.size(), 1 + rng_.index(2)));
      for (uint32_t t : victims) e->moves.push_back(op(t, o.node, Operation::kWrite, o.value));
      if (!e->moves.empty()) return true;
    }
    return false;
  }

  // Another operation on a partner it legitimately reads: a light controller
  // writes, subscribes to or locks its movement sensor's node (the paper's example).
  bool operation(Episode* e) {
    Kind k;
    if (!pick_attacker({Kind::kLight, Kind::kWashing, Kind::kThermostat}, !rng_.chance(0.5),
                       &e->attacker, &k)) {
      return false;
    }
    const Service& a = svc(e->attacker);
    if (a.partners.empty()) return false;
    const uint32_t p = a.partners[0];
    const Value sub = Value::Text(a.subscription);
    switch (k) {
      case Kind::kLight:
        e->moves = {op(p, 1, Operation::kWrite, Value::Number(1)), op(p, 1, Operation::kWrite, Value::Number(0)),
                    op(p, 1, Operation::kSubscribe, sub),
                    op(p, 1, Operation::kLockSubtree, Value::None())};
        break;
      case Kind::kWashing:
        e->moves = {op(p, 1, Operation::kLockSubtree, Value::None()), op(p, 1, Operation::kSubscribe, sub),
                    op(p, 2, Operation::kUnsubscribe, sub)};
        break;
      default:
        e->moves = {op(p, 0, Operation::kWrite, Value::Number(25.5)),
                    op(p, 0, Operation::kSubscribe, sub)};
        break;
    }
    return true;
  }

  // Floods a partner it legitimately reads with that read.
  bool dos(Episode* e) {
    Kind k;
    if (!pick_attacker({Kind::kLight, Kind::kWashing, Kind::kThermostat, Kind::kBattery},
                       !rng_.chance(0.5), &e->attacker, &k)) {
      return false;
    }
    const Service& a = svc(e->attacker);
    if (k == Kind::kBattery) {
      e->moves = {read(e->attacker, 1)};
    } else if (!a.partners.empty()) {
      e->moves = {read(a.partners[0], k == Kind::kThermostat ? 0 : 1)};
    }
    return !e->moves.empty();
  }

  // Writes values of the wrong type to a node it legitimately writes.
  bool probing(Episode* e) {
    Kind k;
    if (!pick_attacker(
            {Kind::kWashing, Kind::kTempIn, Kind::kMovement, Kind::kThermostat, Kind::kDoorLock},
            !rng_.chance(0.5), &e->attacker, &k)) {
      return false;
    }
    const Service& a = svc(e->attacker);
    uint32_t target = e->attacker;
    uint8_t node = 0;
    std::vector<Value> values;
    switch (k) {
      case Kind::kWashing:  // battery /charge is a /basic/number
        if (a.partners.empty()) return false;
        target = a.partners[0];
        node = 1;
        values = {text("twenty"), Value::Bool(true), Value::None(), text("ten")};
        break;
      case Kind::kMovement:  // /movement carries 0 and 1
        node = 1;
        values = {text("yes"), text("moving"), Value::None()};
        break;
      case Kind::kDoorLock:  // /open carries true and false
        node = 1;
        values = {Value::Number(1), Value::Number(12.5), text("open")};
        break;
      default:  // temperatures and heating states are numbers
        values = {text("twenty"), Value::Bool(false), text("warm"), Value::None()};
        break;
    }
    for (const Value& v : values) e->moves.push_back(op(target, node, Operation::kWrite, v));
    return true;
  }

  // Accesses a service of its usual partner type in the wrong room: a light
  // controller reads the movement sensor of another room.
  bool wrong_setup(Episode* e) {
    Kind k;
    if (!pick_attacker({Kind::kLight}, false, &e->attacker, &k)) return false;
    std::vector<uint32_t> wrong;
    for (uint32_t t : of(Kind::kMovement)) {
      if (!usual(e->attacker, t)) wrong.push_back(t);
    }
    if (wrong.empty()) return false;
    e->moves = {read(wrong[rng_.index(wrong.size())], 1)};
    return true;
  }

  Value text(std::string_view s) { return Value::Text(in_.intern(s)); }

  const Site& site_;
  Interner& in_;
  Rng& rng_;
  bool reads_[kKindCount][kKindCount][2] = {};  // [source][target][same room]
};

}  // namespace

const AttackSpec& attack_spec(AttackKind k) { return kAttacks[static_cast<int>(k)]; }

std::vector<Episode> plan_attacks(const SimOptions& o, const Site& site, Interner& in, Rng& rng) {
  std::vector<Episode> out;
  const int64_t begin = o.start_ms + kAttackFreeMs;
  const int64_t end = o.start_ms + static_cast<int64_t>(o.hours * 3600000.0);
  if (end <= begin) return out;
  const double window_days = static_cast<double>(end - begin) / 86400000.0;
  Planner planner(site, in, rng);
  for (int k = 0; k < kAttackKindCount; ++k) {
    const AttackSpec& as = kAttacks[k];
    const int n = std::max(1, static_cast<int>(std::lround(as.episodes_per_day * window_days)));
    // One episode in each of n equal slots of the window, early in its slot.
    const double slot = static_cast<double>(end - begin) / n;
    for (int i = 0; i < n; ++i) {
      Episode e;
      e.kind = static_cast<AttackKind>(k);
      e.start_ms = begin + static_cast<int64_t>(slot * (i + rng.uniform(0, 0.7)));
      e.end_ms = begin + static_cast<int64_t>(slot * (i + 1));
      e.share = static_cast<double>(as.table_rows) / kTableTotal / n;
      if (planner.plan(&e)) out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace iotwall::sim
