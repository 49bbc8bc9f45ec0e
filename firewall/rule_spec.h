// RuleSpec: which traffic the daemon's own packet rules send to its queues,
// and the rule text for each backend (nftables, iptables-nft), checked and
// rendered without I/O. rules.h installs it.
//
// The rules, in order, in every hooked chain:
//   1. TCP packets carrying the reset mark are rejected with a TCP reset
//      (a kReject verdict hands a packet back with that mark, NF_REPEAT);
//   2. TCP resets (RST) are not queued: the reset that rule 1 sends leaves
//      through the OUTPUT hook, and on a node (hook output or local) it
//      would come back to the queue and could be dropped there instead of
//      reaching the client; a reset carries nothing to judge;
//   3. TCP packets whose destination OR source port is in `ports` (both
//      directions of a connection to a server port), on `interfaces`, go to
//      the queues. Nothing else is touched.
// Several queues: the kernel spreads packets with a symmetric hash of
// (source address, destination address, protocol), so both directions of
// a connection, and every connection between the same two hosts, reach the
// same queue (iptables `--queue-balance A:B`, nftables `queue num A-B`;
// CPU fanout is not used since it would split a connection across workers).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "firewall/ticket.h"

namespace iotwall::firewall {

enum class Backend { kNftables, kIptables };
const char* backend_name(Backend b);

struct RuleSpec {
  enum Hook { kForward, kInput, kOutput, kLocal /* input + output */ };
  // Queue numbers: one, or a contiguous range (any order).
  std::vector<uint16_t> queues{0};
  // true: traffic passes while no program is bound to the queue (queue
  // bypass); false (default): it is dropped: fail-closed.
  bool bypass = false;
  Hook hook = kForward;
  // Packets entering or leaving through one of these (empty: any).
  std::vector<std::string> interfaces;
  // TCP server port ranges [first, second].
  std::vector<std::pair<uint16_t, uint16_t>> ports;
  uint32_t reset_mark = kDefaultResetMark;  // must not be 0
};

// Returns false with *error naming the field when the spec cannot be
// installed: no queue or ports, queues not contiguous, a port range
// reversed or 0, an interface name that is not one, reset_mark 0.
bool check_rule_spec(const RuleSpec& s, std::string* error);

// Everything the daemon installs is identifiable by these names.
inline constexpr const char* kNftTable = "iotwall";       // table inet iotwall
inline constexpr const char* kIptablesChain = "IOTWALL";  // in table filter
inline constexpr const char* kIptablesComment = "iotwall";

// The `nft -f` input that replaces table inet iotwall with the spec's rules
// in one transaction. REQUIRES: check_rule_spec(s).
std::string nft_ruleset(const RuleSpec& s);
// The `nft -f` input that deletes table inet iotwall (no error if absent).
std::string nft_delete_table();

// The iptables-restore lines of the spec (without *filter / COMMIT):
// "-A IOTWALL ..." rules then "-I FORWARD 1 -m comment --comment iotwall
// -j IOTWALL" jumps. The same for IPv4 and IPv6. REQUIRES: check_rule_spec(s).
std::vector<std::string> iptables_rules(const RuleSpec& s);

}  // namespace iotwall::firewall
