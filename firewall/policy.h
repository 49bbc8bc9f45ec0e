// The verdict policy: what the firewall does with the detector's judgement
// of an access, by mode (ARCHITECTURE.md, "Modes and the default-deny
// promise").
//
//   learning  every access passes and is learned (the daemon gives every
//             service an endless learning phase)
//   enforce   default deny: an access the detector flags (an unknown edge,
//             now pending; a denied edge; an anomalous value, rate, ...) is
//             dropped, everything else passes
//   monitor   the enforce decision is computed and logged as a would-be
//             verdict; nothing is dropped
#pragma once

#include <cstdint>
#include <string_view>

namespace iotwall::firewall {

enum class Mode : uint8_t { kLearning, kEnforce, kMonitor };
enum class Action : uint8_t { kAccept, kDrop };

constexpr std::string_view mode_name(Mode m) {
  switch (m) {
    case Mode::kLearning:
      return "learning";
    case Mode::kEnforce:
      return "enforce";
    case Mode::kMonitor:
      return "monitor";
  }
  return "?";
}

struct PolicyDecision {
  Action action = Action::kAccept;  // what the kernel is told
  bool would_drop = false;          // what enforce would do
};

// `flagged`: the detector judged the access anomalous (graph or score).
constexpr PolicyDecision decide(Mode m, bool flagged) {
  PolicyDecision d;
  d.would_drop = flagged && m != Mode::kLearning;
  d.action = m == Mode::kEnforce && flagged ? Action::kDrop : Action::kAccept;
  return d;
}

}  // namespace iotwall::firewall
