#include "firewall/rules.h"

#include <sstream>

namespace iotwall::firewall {
namespace {

// Trims a tool's message to one readable line.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > 600) s = s.substr(0, 600) + "...";
  return s;
}

}  // namespace

PacketRules::PacketRules()
    : own_runner_(std::make_unique<SystemCommandRunner>()), runner_(own_runner_.get()) {}

PacketRules::PacketRules(CommandRunner* runner) : runner_(runner) {}

bool PacketRules::run(const std::vector<std::string>& argv, const std::string& input,
                      std::string* out, std::string* error) {
  CommandResult r;
  if (!runner_->run(argv, input, &r, error)) return false;
  if (r.status != 0) {
    std::string cmd;
    for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    *error = cmd + " failed (exit " + std::to_string(r.status) + ")" +
             (r.err.empty() ? "" : ": " + one_line(r.err));
    return false;
  }
  if (out != nullptr) *out = std::move(r.out);
  return true;
}

std::optional<Backend> PacketRules::detect_backend(std::string* error) {
  if (backend_) return backend_;
  std::string nft_error, ipt_error;
  const std::string probe =
      "table inet iotwall_probe {\n\tchain c {\n\t\tmeta l4proto tcp queue num 0 bypass\n\t}\n}\n"
      "delete table inet iotwall_probe\n";
  if (run({"nft", "-f", "-"}, probe, nullptr, &nft_error)) {
    backend_ = Backend::kNftables;
    return backend_;
  }
  const std::string ipt_probe =
      "*filter\n:IOTWALL_PROBE - [0:0]\n"
      "-A IOTWALL_PROBE -p tcp -j NFQUEUE --queue-num 0 --queue-bypass\n"
      "-F IOTWALL_PROBE\n-X IOTWALL_PROBE\nCOMMIT\n";
  if (run({"iptables-restore", "--noflush"}, ipt_probe, nullptr, &ipt_error)) {
    backend_ = Backend::kIptables;
    return backend_;
  }
  *error = "no way to queue packets: nftables: " + nft_error + "; iptables: " + ipt_error;
  return std::nullopt;
}

bool PacketRules::install(const RuleSpec& s, Backend b, std::string* error) {
  if (!check_rule_spec(s, error)) return false;
  if (b == Backend::kNftables) return run({"nft", "-f", "-"}, nft_ruleset(s), nullptr, error);
  if (!iptables_install("iptables", s, error)) return false;
  if (!iptables_install("ip6tables", s, error)) {
    std::string ignored;
    iptables_remove("iptables", &ignored);
    return false;
  }
  return true;
}

bool PacketRules::remove(Backend b, std::string* error) {
  if (b == Backend::kNftables) return nft_remove(error);
  std::string e4, e6;
  const bool ok4 = iptables_remove("iptables", &e4);
  const bool ok6 = iptables_remove("ip6tables", &e6);
  if (!ok4 || !ok6) *error = ok4 ? e6 : (ok6 ? e4 : e4 + "; " + e6);
  return ok4 && ok6;
}

bool PacketRules::remove_leftovers(std::string* error) {
  std::vector<std::string> errors;
  std::string e;
  if (runner_->has("nft") && !nft_remove(&e)) errors.push_back(e);
  for (const char* tool : {"iptables", "ip6tables"}) {
    if (!runner_->has(std::string(tool) + "-save")) continue;
    if (!iptables_remove(tool, &e)) errors.push_back(e);
  }
  if (errors.empty()) return true;
  *error = "removing leftover rules: ";
  for (size_t i = 0; i < errors.size(); ++i) *error += (i > 0 ? "; " : "") + errors[i];
  return false;
}

bool PacketRules::nft_remove(std::string* error) {
  // Only when the table exists: on a kernel without nf_tables there is
  // nothing to remove, and the listing fails.
  std::string tables, ignored;
  if (!run({"nft", "list", "tables"}, "", &tables, &ignored)) return true;
  if (tables.find(std::string("table inet ") + kNftTable + "\n") == std::string::npos) return true;
  return run({"nft", "-f", "-"}, nft_delete_table(), nullptr, error);
}

bool PacketRules::iptables_existing(const std::string& tool, std::vector<std::string>* deletes,
                                    bool* chain, std::string* error) {
  std::string saved;
  if (!run({tool + "-save", "-t", "filter"}, "", &saved, error)) return false;
  const std::string jump = std::string(" -j ") + kIptablesChain;
  const std::string decl = std::string(":") + kIptablesChain + " ";
  *chain = false;
  std::istringstream in(saved);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(decl, 0) == 0) *chain = true;
    const bool jumps = line.size() >= jump.size() &&
                       line.compare(line.size() - jump.size(), jump.size(), jump) == 0;
    if (line.rfind("-A ", 0) == 0 && jumps) deletes->push_back("-D " + line.substr(3));
  }
  return true;
}

bool PacketRules::iptables_remove(const std::string& tool, std::string* error) {
  std::vector<std::string> deletes;
  bool chain = false;
  if (!iptables_existing(tool, &deletes, &chain, error)) return false;
  if (deletes.empty() && !chain) return true;
  std::string text = "*filter\n";
  for (const std::string& d : deletes) text += d + "\n";
  // Declaring the chain empties it (or creates it), so it can be deleted.
  text += std::string(":") + kIptablesChain + " - [0:0]\n-X " + kIptablesChain + "\nCOMMIT\n";
  return run({tool + "-restore", "--noflush"}, text, nullptr, error);
}

bool PacketRules::iptables_install(const std::string& tool, const RuleSpec& s, std::string* error) {
  std::vector<std::string> deletes;
  bool chain = false;
  if (!iptables_existing(tool, &deletes, &chain, error)) return false;
  std::string text = "*filter\n";
  for (const std::string& d : deletes) text += d + "\n";
  text += std::string(":") + kIptablesChain + " - [0:0]\n";  // created, or emptied
  for (const std::string& r : iptables_rules(s)) text += r + "\n";
  text += "COMMIT\n";
  return run({tool + "-restore", "--noflush"}, text, nullptr, error);
}

}  // namespace iotwall::firewall
