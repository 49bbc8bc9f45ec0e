// PacketRules: installs and removes the daemon's own packet rules (see
// rule_spec.h for what they are), with native nftables `queue` where the
// kernel has it, else iptables-nft `-j NFQUEUE`.
//
// Everything installed is identifiable, so leftovers of a crashed run can
// be found and removed: nftables: the table `inet iotwall` (removed whole);
// iptables: the chain IOTWALL in table filter (IPv4 via iptables, IPv6 via
// ip6tables), jumped to from FORWARD/INPUT/OUTPUT by rules commented
// "iotwall" (removed: the jumps, then the chain). Install is atomic per
// tool call (one `nft -f` transaction; one `iptables-restore --noflush` per
// family, IPv4 undone if IPv6 fails) and replaces what was there, so
// installing twice does not duplicate anything.
//
// Tools run without a shell (CommandRunner); their stderr goes into the
// error messages. The rules live in the network namespace of the calling
// thread.
//
// Thread-safety: none (start-up and shut-down paths of one thread).
// Lifetime: the CommandRunner given must outlive the PacketRules.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "firewall/command_runner.h"
#include "firewall/rule_spec.h"

namespace iotwall::firewall {

class PacketRules {
 public:
  PacketRules();  // runs the real tools
  explicit PacketRules(CommandRunner* runner);

  // kNftables when a probe rule with `queue num 0 bypass` can be added (in
  // a table inet iotwall_probe deleted in the same transaction, so nothing
  // stays), else kIptables when iptables-restore accepts an NFQUEUE rule,
  // else nullopt with *error saying why both failed. The first answer is
  // kept and returned by later calls.
  std::optional<Backend> detect_backend(std::string* error);

  // Replaces the daemon's rules of backend b with the spec's.
  bool install(const RuleSpec& s, Backend b, std::string* error);
  // Removes the daemon's rules of backend b (nothing to remove is fine).
  bool remove(Backend b, std::string* error);
  // Removes what a previous run may have left with either backend (tools
  // that are absent are skipped). Called at every start before install().
  bool remove_leftovers(std::string* error);

 private:
  // Runs a tool; false with *error (its stderr) unless it exits 0.
  bool run(const std::vector<std::string>& argv, const std::string& input, std::string* out,
           std::string* error);
  bool nft_remove(std::string* error);
  // One family: "iptables" or "ip6tables".
  bool iptables_remove(const std::string& tool, std::string* error);
  bool iptables_install(const std::string& tool, const RuleSpec& s, std::string* error);
  // The "-D ..." lines that delete every rule jumping to IOTWALL, and
  // whether the chain exists, from `<tool>-save -t filter`.
  bool iptables_existing(const std::string& tool, std::vector<std::string>* deletes, bool* chain,
                         std::string* error);

  std::unique_ptr<CommandRunner> own_runner_;
  CommandRunner* runner_;
  std::optional<Backend> backend_;
};

}  // namespace iotwall::firewall
