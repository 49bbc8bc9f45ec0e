#include "firewall/rule_spec.h"

#include <algorithm>
#include <cstdio>

namespace iotwall::firewall {
namespace {

bool valid_interface(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

std::pair<uint16_t, uint16_t> queue_range(const RuleSpec& s) {
  const auto [lo, hi] = std::minmax_element(s.queues.begin(), s.queues.end());
  return {*lo, *hi};
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

bool hooks_input(RuleSpec::Hook h) { return h != RuleSpec::kOutput; }  // forward, input, local
bool hooks_output(RuleSpec::Hook h) { return h != RuleSpec::kInput; }  // forward, output, local

// The interface matches of the queue rules: for each, "-i X" or "-o X";
// one empty match when any interface will do.
std::vector<std::pair<bool /*in*/, std::string>> interface_matches(const RuleSpec& s) {
  std::vector<std::pair<bool, std::string>> m;
  if (s.interfaces.empty()) {
    m.push_back({true, ""});
    return m;
  }
  for (const std::string& i : s.interfaces) {
    if (hooks_input(s.hook)) m.push_back({true, i});
    if (hooks_output(s.hook)) m.push_back({false, i});
  }
  return m;
}

// The port list split into multiport lists (at most 15 ports, a range
// counting two).
std::vector<std::string> multiport_lists(const RuleSpec& s) {
  std::vector<std::string> lists;
  std::string cur;
  int used = 0;
  for (const auto& [a, b] : s.ports) {
    const int cost = a == b ? 1 : 2;
    if (used + cost > 15) {
      lists.push_back(cur);
      cur.clear();
      used = 0;
    }
    if (!cur.empty()) cur += ',';
    cur += std::to_string(a);
    if (a != b) cur += ':' + std::to_string(b);
    used += cost;
  }
  if (!cur.empty()) lists.push_back(cur);
  return lists;
}

std::string nft_ports(const RuleSpec& s) {
  std::string out = "{ ";
  for (size_t i = 0; i < s.ports.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(s.ports[i].first);
    if (s.ports[i].second != s.ports[i].first) out += '-' + std::to_string(s.ports[i].second);
  }
  return out + " }";
}

std::string nft_interfaces(const RuleSpec& s) {
  std::string out = "{ ";
  for (size_t i = 0; i < s.interfaces.size(); ++i) {
    if (i > 0) out += ", ";
    out += '"' + s.interfaces[i] + '"';
  }
  return out + " }";
}

}  // namespace

const char* backend_name(Backend b) { return b == Backend::kNftables ? "nftables" : "iptables"; }

bool check_rule_spec(const RuleSpec& s, std::string* error) {
  if (s.queues.empty()) {
    *error = "queues: none given";
    return false;
  }
  std::vector<uint16_t> q = s.queues;
  std::sort(q.begin(), q.end());
  for (size_t i = 1; i < q.size(); ++i) {
    if (q[i] != q[i - 1] + 1) {
      *error = "queues: must be one number or a contiguous range (the kernel balances over A..B)";
      return false;
    }
  }
  if (s.ports.empty()) {
    *error = "ports: none given (refusing to queue all TCP traffic)";
    return false;
  }
  for (const auto& [a, b] : s.ports) {
    if (a == 0 || b < a) {
      *error = "ports: bad range " + std::to_string(a) + "-" + std::to_string(b) +
               " (1-65535, first <= last)";
      return false;
    }
  }
  for (const std::string& i : s.interfaces) {
    if (!valid_interface(i)) {
      *error = "interfaces: \"" + i + "\" is not an interface name (1-15 of A-Z a-z 0-9 _ - .)";
      return false;
    }
  }
  if (s.reset_mark == 0) {
    *error = "reset_mark: must not be 0";
    return false;
  }
  return true;
}

std::string nft_delete_table() {
  // Declaring the table first makes the delete succeed when it is absent.
  return std::string("table inet ") + kNftTable + " {}\ndelete table inet " + kNftTable + "\n";
}

std::string nft_ruleset(const RuleSpec& s) {
  const auto [qlo, qhi] = queue_range(s);
  std::string queue = "queue num " + std::to_string(qlo);
  if (qhi != qlo) queue += "-" + std::to_string(qhi);
  if (s.bypass) queue += " bypass";
  const std::string ports = nft_ports(s);
  std::string out = nft_delete_table();
  out += std::string("table inet ") + kNftTable + " {\n";
  struct Chain {
    const char* name;
    bool in, out;
  };
  std::vector<Chain> chains;
  switch (s.hook) {
    case RuleSpec::kForward:
      chains = {{"forward", true, true}};
      break;
    case RuleSpec::kInput:
      chains = {{"input", true, false}};
      break;
    case RuleSpec::kOutput:
      chains = {{"output", false, true}};
      break;
    case RuleSpec::kLocal:
      chains = {{"input", true, false}, {"output", false, true}};
      break;
  }
  for (const Chain& c : chains) {
    out += std::string("\tchain ") + c.name + " {\n";
    out += std::string("\t\ttype filter hook ") + c.name + " priority 0; policy accept;\n";
    out += "\t\tmeta l4proto tcp meta mark " + hex(s.reset_mark) + " reject with tcp reset\n";
    out += "\t\ttcp flags & rst == rst return\n";
    std::vector<std::string> ifs;
    if (s.interfaces.empty()) {
      ifs.push_back("");
    } else {
      if (c.in) ifs.push_back("iifname " + nft_interfaces(s) + " ");
      if (c.out) ifs.push_back("oifname " + nft_interfaces(s) + " ");
    }
    for (const std::string& i : ifs) {
      for (const char* dir : {"dport", "sport"}) {
        out += "\t\t" + i + "tcp " + dir + " " + ports + " " + queue + "\n";
      }
    }
    out += "\t}\n";
  }
  out += "}\n";
  return out;
}

std::vector<std::string> iptables_rules(const RuleSpec& s) {
  const auto [qlo, qhi] = queue_range(s);
  std::string target = "-j NFQUEUE ";
  if (qhi == qlo) {
    target += "--queue-num " + std::to_string(qlo);
  } else {
    target += "--queue-balance " + std::to_string(qlo) + ":" + std::to_string(qhi);
  }
  if (s.bypass) target += " --queue-bypass";
  const std::string chain = kIptablesChain;
  std::vector<std::string> lines;
  lines.push_back("-A " + chain + " -p tcp -m mark --mark " + hex(s.reset_mark) +
                  " -j REJECT --reject-with tcp-reset");
  lines.push_back("-A " + chain + " -p tcp -m tcp --tcp-flags RST RST -j RETURN");
  const std::vector<std::string> port_lists = multiport_lists(s);
  for (const auto& [in, name] : interface_matches(s)) {
    const std::string ifm = name.empty() ? "" : (in ? "-i " : "-o ") + name + " ";
    for (const char* dir : {"--dports ", "--sports "}) {
      for (const std::string& pl : port_lists) {
        lines.push_back("-A " + chain + " " + ifm + "-p tcp -m multiport " + dir + pl + " " +
                        target);
      }
    }
  }
  std::vector<const char*> hooks;
  switch (s.hook) {
    case RuleSpec::kForward:
      hooks = {"FORWARD"};
      break;
    case RuleSpec::kInput:
      hooks = {"INPUT"};
      break;
    case RuleSpec::kOutput:
      hooks = {"OUTPUT"};
      break;
    case RuleSpec::kLocal:
      hooks = {"INPUT", "OUTPUT"};
      break;
  }
  for (const char* h : hooks) {
    lines.push_back(std::string("-I ") + h + " 1 -m comment --comment " + kIptablesComment +
                    " -j " + chain);
  }
  return lines;
}

}  // namespace iotwall::firewall
