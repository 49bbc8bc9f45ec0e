// SiteSimulator: a discrete-event simulation of the site of sim_site.h.
//
// Every service is an actor that emits one row per event and schedules its
// next event; the events sit in a priority queue ordered by (time, sequence
// number), so rows stream out in time order and ties in a fixed order. Each
// actor draws from its own random stream, which keeps the normal traffic the
// same whether attacks are injected or not.
#include "model/site_sim.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <queue>
#include <vector>

#include "model/sim_attacks.h"
#include "model/sim_random.h"
#include "model/sim_site.h"

namespace iotwall {

using sim::Kind;
using sim::Service;

namespace {

constexpr int64_t kDone = -1;  // an actor with no further event
constexpr int64_t kMinute = 60000;
// Random streams: layout and plans first, then one per actor.
constexpr uint64_t kLayoutStream = 1;
constexpr uint64_t kPlanStream = 2;
constexpr uint64_t kUpdateStream = 3;
constexpr uint64_t kServiceStreams = 1000;
constexpr uint64_t kEpisodeStreams = uint64_t{1} << 40;

enum class Behaviour : uint8_t {
  kMain,      // a service's own behaviour, starting with its registerService
  kReadTemp,  // a light controller after its update reads its room's temperature
  kAttack,    // one attack episode
};

struct Actor {
  Behaviour behaviour = Behaviour::kMain;
  uint32_t subject = 0;  // the service, or the episode for kAttack
  int step = -1;         // where in its cycle; -1 = not registered yet
  int64_t count = 0;     // batteries: cycles while charging; attacks: rows left
  int64_t mark = 0;      // start of the current cycle
  double sum = 0;        // thermostats: temperatures read in this cycle
  bool seen = false;     // light controllers: the movement value read
  double pace = 1;       // attacks: scales the gaps between rows
  sim::Rng rng;
};

struct Event {
  int64_t t;
  uint64_t seq;
  uint32_t actor;
};
struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.t != b.t ? a.t > b.t : a.seq > b.seq;
  }
};

struct Step {
  bool emitted;
  int64_t next;  // time of the actor's next event, or kDone
};

// A period of [lo, hi] ms that now and then misses a beat (takes two).
int64_t beat(sim::Rng& rng, int64_t lo, int64_t hi, double miss) {
  int64_t t = rng.range(lo, hi);
  if (rng.chance(miss)) t += rng.range(lo, hi);
  return t;
}


}  // namespace

std::string validate(const SimOptions& o) {
  if (o.rooms < 1 || o.rooms > 1000) return "rooms must be between 1 and 1000";
  if (!(o.hours > 0) || !(o.hours <= 24 * 365)) {
    return "hours must be greater than 0 and at most 8760 (one year)";
  }
  if (o.start_ms < 0 || o.start_ms > (int64_t{1} << 52)) return "start time out of range";
  return {};
}

struct SiteSimulator::Impl {
  Impl(const SimOptions& opts, Interner& in);
  bool next(TraceRecord* out);

 private:
  Step act(Actor& a, int64_t now, TraceRecord* out);
  Step attack(Actor& a, int64_t now, TraceRecord* out);
  int64_t light(Actor& a, Service& s, int64_t now, TraceRecord* out);
  int64_t movement(Actor& a, Service& s, int64_t now, TraceRecord* out);
  int64_t tempin(Actor& a, Service& s, int64_t now, TraceRecord* out);
  int64_t thermostat(Actor& a, Service& s, int64_t now, TraceRecord* out);
  int64_t battery(Actor& a, Service& s, int64_t now, TraceRecord* out);
  int64_t washing(Actor& a, Service& s, int64_t now, TraceRecord* out);
  int64_t washing_next(Actor& a, const Service& s, size_t from, int64_t now);
  int64_t doorlock(Actor& a, Service& s, int64_t now, TraceRecord* out);
  int64_t phone(Actor& a, Service& s, int64_t now, TraceRecord* out);

  void add_actor(Behaviour b, uint32_t subject, uint64_t stream, int64_t t);
  void push(int64_t t, uint32_t actor) { queue_.push({t, seq_++, actor}); }
  Service& svc(uint32_t i) { return site_.services[i]; }
  void fill(const Service& src, const Service& dst, int node, Operation op, const Value& v,
            TraceRecord* out) const;

  SimOptions o_;
  int64_t end_ms_;
  sim::Site site_;
  std::vector<sim::Episode> episodes_;
  std::vector<Actor> actors_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  uint64_t seq_ = 0;
  uint64_t normal_rows_ = 0;
  Sym normal_;
  std::array<Sym, sim::kAttackKindCount> attack_labels_;
};

SiteSimulator::Impl::Impl(const SimOptions& opts, Interner& in)
    : o_(opts), end_ms_(opts.start_ms + static_cast<int64_t>(opts.hours * 3600000.0)) {
  normal_ = in.intern("normal");
  for (int k = 0; k < sim::kAttackKindCount; ++k) {
    attack_labels_[k] = in.intern(sim::attack_spec(static_cast<sim::AttackKind>(k)).label);
  }
  sim::Rng layout(o_.seed, kLayoutStream);
  site_ = sim::build_site(o_, in, layout, o_.attacks ? 4 + o_.rooms : 0);

  for (uint32_t i = 0; i < site_.real_count; ++i) {
    add_actor(Behaviour::kMain, i, kServiceStreams + 2 * i, svc(i).join_ms);
  }
  if (o_.behaviour_change) {
    // The light controllers' update rolls out over a minute.
    sim::Rng update(o_.seed, kUpdateStream);
    const int64_t at = o_.start_ms + static_cast<int64_t>(o_.hours * 3600000.0 * sim::kUpdateAt);
    for (uint32_t l : site_.by_kind[static_cast<int>(Kind::kLight)]) {
      add_actor(Behaviour::kReadTemp, l, kServiceStreams + 2 * l + 1, at + update.range(0, 59999));
    }
  }
  if (o_.attacks) {
    sim::Rng plan(o_.seed, kPlanStream);
    episodes_ = sim::plan_attacks(o_, site_, in, plan);
    for (uint32_t e = 0; e < episodes_.size(); ++e) {
      add_actor(Behaviour::kAttack, e, kEpisodeStreams + e, episodes_[e].start_ms);
    }
  }
}

void SiteSimulator::Impl::add_actor(Behaviour b, uint32_t subject, uint64_t stream, int64_t t) {
  Actor a;
  a.behaviour = b;
  a.subject = subject;
  a.step = b == Behaviour::kMain ? -1 : 0;
  a.rng = sim::Rng(o_.seed, stream);
  actors_.push_back(a);
  push(t, static_cast<uint32_t>(actors_.size() - 1));
}

bool SiteSimulator::Impl::next(TraceRecord* out) {
  while (!queue_.empty()) {
    const Event e = queue_.top();
    if (e.t >= end_ms_) return false;
    queue_.pop();
    const Step s = act(actors_[e.actor], e.t, out);
    if (s.next != kDone) push(std::max(s.next, e.t), e.actor);
    if (s.emitted) {
      out->access.time_ms = e.t;
      out->line = 0;
      if (out->label_class == LabelClass::kNormal) ++normal_rows_;
      return true;
    }
  }
  return false;
}

void SiteSimulator::Impl::fill(const Service& src, const Service& dst, int node, Operation op,
                               const Value& v, TraceRecord* out) const {
  Access& a = out->access;
  a.source_id = src.id;
  a.source_address = src.address;
  a.source_type = src.type;
  a.source_location = src.location;
  a.dest_address = dst.address;
  a.dest_type = dst.type;
  a.dest_location = dst.location;
  a.node_address = dst.nodes[node].address;
  a.node_type = dst.nodes[node].type;
  a.op = op;
  a.value = v;
  out->label = normal_;
  out->label_class = LabelClass::kNormal;
}

Step SiteSimulator::Impl::act(Actor& a, int64_t now, TraceRecord* out) {
  if (a.behaviour == Behaviour::kAttack) return attack(a, now, out);
  Service& s = svc(a.subject);
  if (a.behaviour == Behaviour::kReadTemp) {
    const Service& t = svc(s.partners[1]);
    fill(s, t, 0, Operation::kRead, Value::Number(t.temperature), out);
    return {true, now + a.rng.range(40000, 60000)};
  }
  if (a.step < 0) {  // every service starts by registering itself
    fill(s, s, 0, Operation::kRegisterService, Value::None(), out);
    a.step = 0;
    const bool idle =
        ((s.kind == Kind::kWashing || s.kind == Kind::kThermostat) && s.partners.empty()) ||
        (s.kind == Kind::kPhone && site_.phone_targets.empty());
    const sim::KindSpec& ks = sim::spec(s.kind);
    return {true, idle ? kDone : now + a.rng.range(ks.first_lo, ks.first_hi)};
  }
  switch (s.kind) {
    case Kind::kLight:
      return {true, light(a, s, now, out)};
    case Kind::kMovement:
      return {true, movement(a, s, now, out)};
    case Kind::kTempIn:
      return {true, tempin(a, s, now, out)};
    case Kind::kThermostat:
      return {true, thermostat(a, s, now, out)};
    case Kind::kBattery:
      return {true, battery(a, s, now, out)};
    case Kind::kWashing:
      return {true, washing(a, s, now, out)};
    case Kind::kDoorLock:
      return {true, doorlock(a, s, now, out)};
    case Kind::kPhone:
      return {true, phone(a, s, now, out)};
  }
  return {false, kDone};
}

// Reads its movement sensor every 20-26 s; switches the light when it changed.
int64_t SiteSimulator::Impl::light(Actor& a, Service& s, int64_t now, TraceRecord* out) {
  if (a.step == 0) {
    Service& m = svc(s.partners[0]);
    a.seen = m.on;
    fill(s, m, 1, Operation::kRead, Value::Number(m.on), out);
    if (a.seen != s.on) {
      a.step = 1;
      return now + a.rng.range(300, 3000);
    }
  } else {
    s.on = a.seen;
    fill(s, s, 1, Operation::kWrite, Value::Number(s.on), out);
    a.step = 0;
  }
  return now + beat(a.rng, 20000, 26000, 0.08);
}

// Someone enters or leaves: writes /movement, then /lastChange in its own clock.
int64_t SiteSimulator::Impl::movement(Actor& a, Service& s, int64_t now, TraceRecord* out) {
  if (a.step == 0) {
    s.on = !s.on;
    s.last_change = now + s.clock_offset;
    fill(s, s, 1, Operation::kWrite, Value::Number(s.on), out);
    a.step = 1;
    return now + a.rng.range(500, 15000);
  }
  fill(s, s, 2, Operation::kWrite, Value::Number(static_cast<double>(s.last_change)), out);
  a.step = 0;
  // Rooms stay empty for 45 min and occupied for 15 min on average.
  const double dwell = a.rng.exponential(s.on ? 15 * kMinute : 45 * kMinute);
  return now + std::max<int64_t>(kMinute, static_cast<int64_t>(dwell));
}

// Publishes a temperature around 20.0 (4 decimals) every 20-25 s.
int64_t SiteSimulator::Impl::tempin(Actor& a, Service& s, int64_t now, TraceRecord* out) {
  const double t = std::clamp(a.rng.normal(20.0, 0.2), 19.5, 20.5);
  s.temperature = std::round(t * 10000) / 10000;
  fill(s, s, 0, Operation::kWrite, Value::Number(s.temperature), out);
  return now + beat(a.rng, 20000, 25000, 0.06);
}

// Every ~5 min reads its temperature sensors one by one, then heats or not.
int64_t SiteSimulator::Impl::thermostat(Actor& a, Service& s, int64_t now, TraceRecord* out) {
  const size_t n = s.partners.size();
  if (static_cast<size_t>(a.step) < n) {
    const Service& t = svc(s.partners[a.step]);
    if (a.step == 0) a.sum = 0;
    a.sum += t.temperature;
    fill(s, t, 0, Operation::kRead, Value::Number(t.temperature), out);
    ++a.step;
    return now + a.rng.range(300, 2500);
  }
  s.on = a.sum / static_cast<double>(n) < 20.0;
  fill(s, s, 0, Operation::kWrite, Value::Number(s.on), out);
  a.step = 0;
  return now + a.rng.range(280000, 320000);
}

// Every ~21 s reads its /charge and /charging (subscribing to /charge once).
// Charges one unit every third cycle from 2 up to 10.
int64_t SiteSimulator::Impl::battery(Actor& a, Service& s, int64_t now, TraceRecord* out) {
  switch (a.step) {
    case 0:
      a.mark = now;
      if (s.charging) {
        if (++a.count % 3 == 0) ++s.charge;
        if (s.charge >= 10) s.charging = false;
      } else if (s.charge <= 2) {
        s.charging = true;
        a.count = 0;
      }
      fill(s, s, 1, Operation::kRead, Value::Number(s.charge), out);
      a.step = 1;
      return now + a.rng.range(200, 12000);
    case 1:
      fill(s, s, 2, Operation::kRead, Value::Bool(s.charging), out);
      if (!s.subscribed) {
        a.step = 2;
        return now + a.rng.range(10, 300);
      }
      break;
    default:
      s.subscribed = true;
      fill(s, s, 1, Operation::kSubscribe, Value::Text(s.subscription), out);
      break;
  }
  a.step = 0;
  return a.mark + a.rng.range(19500, 22500);
}

// Every ~21 s a burst on its primary battery: reads /charging and /charge and,
// while washing, writes /charge one lower and reads it back; then now and then
// reads its other batteries. Washes when the battery is full, stops at 2.
int64_t SiteSimulator::Impl::washing(Actor& a, Service& s, int64_t now, TraceRecord* out) {
  Service& p = svc(s.partners[0]);
  switch (a.step) {
    case 0:
      a.mark = now;
      fill(s, p, 2, Operation::kRead, Value::Bool(p.charging), out);
      a.step = 1;
      return now + a.rng.range(50, 1500);
    case 1:
      fill(s, p, 1, Operation::kRead, Value::Number(p.charge), out);
      if (!s.on && p.charge >= 10 && !p.charging && a.rng.chance(0.3)) {
        s.on = true;
      } else if (s.on && (p.charge <= 2 || p.charging)) {
        s.on = false;
      }
      if (!s.on) return washing_next(a, s, 1, now);
      a.step = 2;
      return now + a.rng.range(50, 1500);
    case 2:
      p.charge = std::max(0, p.charge - 1);
      fill(s, p, 1, Operation::kWrite, Value::Number(p.charge), out);
      a.step = 3;
      return now + a.rng.range(50, 1500);
    case 3:
      fill(s, p, 1, Operation::kRead, Value::Number(p.charge), out);
      return washing_next(a, s, 1, now);
    default: {  // step 3 + k reads battery k >= 1
      const size_t k = static_cast<size_t>(a.step) - 3;
      const Service& b = svc(s.partners[k]);
      const int node = a.rng.chance(0.7) ? 1 : 2;
      fill(s, b, node, Operation::kRead, sim::current_value(b, node), out);
      return washing_next(a, s, k + 1, now);
    }
  }
}

// The next read of another battery in this burst (those joined a minute ago
// at least), or the next burst.
int64_t SiteSimulator::Impl::washing_next(Actor& a, const Service& s, size_t from, int64_t now) {
  for (size_t k = from; k < s.partners.size(); ++k) {
    if (now >= svc(s.partners[k]).join_ms + kMinute && a.rng.chance(0.5)) {
      a.step = static_cast<int>(3 + k);
      return now + a.rng.range(100, 2000);
    }
  }
  a.step = 0;
  return std::max(now + 1000, a.mark + a.rng.range(19000, 23000));
}

// Closes itself, reads and subscribes to /open; then checks it every ~10 min
// and is opened for a minute or two now and then.
int64_t SiteSimulator::Impl::doorlock(Actor& a, Service& s, int64_t now, TraceRecord* out) {
  const int64_t period = a.rng.range(8 * kMinute, 12 * kMinute);
  switch (a.step) {
    case 0:
      s.on = false;
      fill(s, s, 1, Operation::kWrite, Value::Bool(false), out);
      a.step = 1;
      return now + a.rng.range(15000, 25000);
    case 1:
      fill(s, s, 1, Operation::kRead, Value::Bool(s.on), out);
      a.step = 2;
      return now + a.rng.range(0, 200);
    case 2:
      s.subscribed = true;
      fill(s, s, 1, Operation::kSubscribe, Value::Text(s.subscription), out);
      a.step = 3;
      return now + period;
    case 3:
      if (a.rng.chance(0.1)) {
        s.on = true;
        fill(s, s, 1, Operation::kWrite, Value::Bool(true), out);
        a.step = 4;
        return now + a.rng.range(30000, 120000);
      }
      fill(s, s, 1, Operation::kRead, Value::Bool(s.on), out);
      return now + period;
    default:
      s.on = false;
      fill(s, s, 1, Operation::kWrite, Value::Bool(false), out);
      a.step = 3;
      return now + period;
  }
}

// The user looks at something on the app, four times an hour on average.
int64_t SiteSimulator::Impl::phone(Actor& a, Service& s, int64_t now, TraceRecord* out) {
  const auto [target, node] = site_.phone_targets[a.rng.index(site_.phone_targets.size())];
  const Service& t = svc(target);
  fill(s, t, node, Operation::kRead, sim::current_value(t, node), out);
  return now + std::max<int64_t>(1000, static_cast<int64_t>(a.rng.exponential(15 * kMinute)));
}

// One attack episode. Its first event sizes it from the normal rows so far
// (projected over the whole trace), so attacks stay near kAttackShare.
Step SiteSimulator::Impl::attack(Actor& a, int64_t now, TraceRecord* out) {
  const sim::Episode& e = episodes_[a.subject];
  const sim::AttackSpec& as = sim::attack_spec(e.kind);
  if (a.step == 0) {
    const double elapsed = static_cast<double>(std::max<int64_t>(now - o_.start_ms, 1));
    const double normal_total = static_cast<double>(normal_rows_) * o_.hours * 3600000.0 / elapsed;
    const double rows = normal_total * sim::kAttackShare / (1 - sim::kAttackShare) * e.share *
                        a.rng.uniform(0.75, 1.25);
    a.count = static_cast<int64_t>(rows + a.rng.uniform());  // rounds at random, keeps the mean
    if (a.count <= 0 || e.moves.empty()) return {false, kDone};
    // On a big site a slow kind has many rows to place: it goes faster to fit its slot.
    const double mean_gap = static_cast<double>(as.gap_lo_ms + as.gap_hi_ms) / 2;
    const double needed = mean_gap * static_cast<double>(a.count);
    const double span = static_cast<double>(e.end_ms - now);
    if (needed > span) a.pace = std::max(span, 1.0) / needed;
  }
  const sim::Move& m = e.in_order ? e.moves[static_cast<size_t>(a.step) % e.moves.size()]
                                  : e.moves[a.rng.index(e.moves.size())];
  ++a.step;
  const Service& dst = svc(m.target);
  fill(svc(e.attacker), dst, m.node, m.op, m.current ? sim::current_value(dst, m.node) : m.value,
       out);
  if (as.blank_type > 0 && a.rng.chance(as.blank_type)) out->access.node_type = Sym{};
  out->label = attack_labels_[static_cast<int>(e.kind)];
  out->label_class = LabelClass::kAnomalous;
  if (--a.count == 0) return {true, kDone};
  const double gap = static_cast<double>(a.rng.range(as.gap_lo_ms, as.gap_hi_ms)) * a.pace;
  return {true, now + static_cast<int64_t>(gap)};
}

SiteSimulator::SiteSimulator(const SimOptions& o, Interner& in)
    : impl_(std::make_unique<Impl>(o, in)) {}
SiteSimulator::~SiteSimulator() = default;
bool SiteSimulator::next(TraceRecord* out) { return impl_->next(out); }

}  // namespace iotwall
