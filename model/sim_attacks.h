// The attacks of the site simulator: the seven kinds of seed 002's Table III,
// each planned as episodes of a compromised service. An episode is a list of
// moves (target node, operation, value) that the attacker repeats at a given
// pace; its row count is fixed when it starts, from the normal traffic seen so
// far, so attacks stay near 3 % of the rows at any site size.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "model/access.h"
#include "model/intern.h"
#include "model/sim_random.h"
#include "model/sim_site.h"

namespace iotwall::sim {

enum class AttackKind : uint8_t {
  kScan,
  kSpying,
  kMalControl,
  kMalOperation,
  kDoS,
  kDataProbing,
  kWrongSetUp,
};
inline constexpr int kAttackKindCount = static_cast<int>(AttackKind::kWrongSetUp) + 1;

// The share of attack rows in the whole trace (Table III: 10027 rows, "3 %").
inline constexpr double kAttackShare = 0.03;
// No attack in the first hours: every service is past its learning phase.
inline constexpr int64_t kAttackFreeMs = 2 * 3600000;

struct AttackSpec {
  std::string_view label;  // "anomalous(scan)", the dataset's spelling
  int table_rows;          // rows of this kind in Table III (of 10027)
  double episodes_per_day;
  int64_t gap_lo_ms, gap_hi_ms;  // time between two rows of an episode
  double blank_type;             // share of rows with an empty accessedNodeType
};
const AttackSpec& attack_spec(AttackKind k);

struct Move {
  uint32_t target = 0;  // service index (may be a ghost)
  uint8_t node = 0;     // index into the target's nodes
  Operation op = Operation::kRead;
  bool current = false;  // the value is the node's current value (reads)
  Value value;           // else this value
};

struct Episode {
  AttackKind kind = AttackKind::kScan;
  uint32_t attacker = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;      // the end of its slot: a big episode speeds up to fit
  double share = 0;       // of all attack rows, this episode's part
  bool in_order = false;  // moves in order (a scan sweeps), else at random
  std::vector<Move> moves;
};

// Plans the episodes of every kind over [start + 2 h, end). Kinds the site
// cannot realise (e.g. no second room for a wrong set-up) are left out.
std::vector<Episode> plan_attacks(const SimOptions& o, const Site& site, Interner& in, Rng& rng);

}  // namespace iotwall::sim
