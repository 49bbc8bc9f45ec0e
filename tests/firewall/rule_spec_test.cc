// Rule text and the tool calls of PacketRules, with a recording fake runner
// (no tools run, no root needed).
#include "firewall/rule_spec.h"

#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "firewall/rules.h"

namespace iotwall::firewall {
namespace {

RuleSpec gateway_spec() {
  RuleSpec s;
  s.queues = {1, 0};
  s.bypass = true;
  s.hook = RuleSpec::kForward;
  s.interfaces = {"eth0"};
  s.ports = {{8080, 8179}, {9000, 9000}};
  return s;
}

TEST_CASE("rule spec: what cannot be installed is named") {
  std::string e;
  RuleSpec s = gateway_spec();
  CHECK(check_rule_spec(s, &e));
  s.queues = {};
  CHECK_FALSE(check_rule_spec(s, &e));
  CHECK(e.find("queues") != std::string::npos);
  s.queues = {0, 2};
  CHECK_FALSE(check_rule_spec(s, &e));
  CHECK(e.find("contiguous") != std::string::npos);
  s.queues = {3, 5, 4};
  CHECK(check_rule_spec(s, &e));
  s.ports = {};
  CHECK_FALSE(check_rule_spec(s, &e));
  CHECK(e.find("ports") != std::string::npos);
  s.ports = {{90, 80}};
  CHECK_FALSE(check_rule_spec(s, &e));
  CHECK(e.find("90-80") != std::string::npos);
  s.ports = {{0, 80}};
  CHECK_FALSE(check_rule_spec(s, &e));
  s.ports = {{80, 80}};
  for (const char* bad : {"", "eth 0", "a;b", "x\"y", "0123456789abcdef", "eth0\n"}) {
    s.interfaces = {bad};
    CHECK_FALSE(check_rule_spec(s, &e));
    CHECK(e.find("interfaces") != std::string::npos);
  }
  s.interfaces = {"eth0.100", "wlan_1", "br-lan"};
  CHECK(check_rule_spec(s, &e));
  s.reset_mark = 0;
  CHECK_FALSE(check_rule_spec(s, &e));
  CHECK(e.find("reset_mark") != std::string::npos);
}

TEST_CASE("rule spec: iptables rules of a gateway") {
  const std::string q = " -j NFQUEUE --queue-balance 0:1 --queue-bypass";
  CHECK(iptables_rules(gateway_spec()) ==
        std::vector<std::string>{
            "-A IOTWALL -p tcp -m mark --mark 0x10771077 -j REJECT --reject-with tcp-reset",
            "-A IOTWALL -p tcp -m tcp --tcp-flags RST RST -j RETURN",
            "-A IOTWALL -i eth0 -p tcp -m multiport --dports 8080:8179,9000" + q,
            "-A IOTWALL -i eth0 -p tcp -m multiport --sports 8080:8179,9000" + q,
            "-A IOTWALL -o eth0 -p tcp -m multiport --dports 8080:8179,9000" + q,
            "-A IOTWALL -o eth0 -p tcp -m multiport --sports 8080:8179,9000" + q,
            "-I FORWARD 1 -m comment --comment iotwall -j IOTWALL",
        });
}

TEST_CASE("rule spec: iptables rules of a node; long port lists split by 15") {
  RuleSpec s;
  s.queues = {3};
  s.hook = RuleSpec::kLocal;
  s.reset_mark = 0x1e0;
  for (uint16_t p = 1; p <= 16; ++p) s.ports.push_back({p, p});
  s.ports.push_back({100, 200});
  const auto r = iptables_rules(s);
  CHECK(r == std::vector<std::string>{
                 "-A IOTWALL -p tcp -m mark --mark 0x000001e0 -j REJECT --reject-with tcp-reset",
                 "-A IOTWALL -p tcp -m tcp --tcp-flags RST RST -j RETURN",
                 "-A IOTWALL -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j "
                 "NFQUEUE --queue-num 3",
                 "-A IOTWALL -p tcp -m multiport --dports 16,100:200 -j NFQUEUE --queue-num 3",
                 "-A IOTWALL -p tcp -m multiport --sports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -j "
                 "NFQUEUE --queue-num 3",
                 "-A IOTWALL -p tcp -m multiport --sports 16,100:200 -j NFQUEUE --queue-num 3",
                 "-I INPUT 1 -m comment --comment iotwall -j IOTWALL",
                 "-I OUTPUT 1 -m comment --comment iotwall -j IOTWALL",
             });
  s.hook = RuleSpec::kOutput;
  s.interfaces = {"lo"};
  s.ports = {{80, 80}};
  CHECK(iptables_rules(s) ==
        std::vector<std::string>{
            "-A IOTWALL -p tcp -m mark --mark 0x000001e0 -j REJECT --reject-with tcp-reset",
            "-A IOTWALL -p tcp -m tcp --tcp-flags RST RST -j RETURN",
            "-A IOTWALL -o lo -p tcp -m multiport --dports 80 -j NFQUEUE --queue-num 3",
            "-A IOTWALL -o lo -p tcp -m multiport --sports 80 -j NFQUEUE --queue-num 3",
            "-I OUTPUT 1 -m comment --comment iotwall -j IOTWALL",
        });
}

TEST_CASE("rule spec: nftables ruleset of a gateway and of a node") {
  CHECK(nft_ruleset(gateway_spec()) ==
        "table inet iotwall {}\n"
        "delete table inet iotwall\n"
        "table inet iotwall {\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority 0; policy accept;\n"
        "\t\tmeta l4proto tcp meta mark 0x10771077 reject with tcp reset\n"
        "\t\ttcp flags & rst == rst return\n"
        "\t\tiifname { \"eth0\" } tcp dport { 8080-8179, 9000 } queue num 0-1 bypass\n"
        "\t\tiifname { \"eth0\" } tcp sport { 8080-8179, 9000 } queue num 0-1 bypass\n"
        "\t\toifname { \"eth0\" } tcp dport { 8080-8179, 9000 } queue num 0-1 bypass\n"
        "\t\toifname { \"eth0\" } tcp sport { 8080-8179, 9000 } queue num 0-1 bypass\n"
        "\t}\n"
        "}\n");
  RuleSpec s;
  s.queues = {2};
  s.hook = RuleSpec::kLocal;
  s.ports = {{80, 80}};
  const std::string r = nft_ruleset(s);
  CHECK(r.find("\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n") !=
        std::string::npos);
  CHECK(r.find("\tchain output {\n\t\ttype filter hook output priority 0; policy accept;\n") !=
        std::string::npos);
  CHECK(r.find("\t\ttcp dport { 80 } queue num 2\n") != std::string::npos);
  CHECK(r.find("bypass") == std::string::npos);
  CHECK(r.find("ifname") == std::string::npos);
}

// Records every call; answers from a script per tool (default: exit 0, no output).
class FakeRunner : public CommandRunner {
 public:
  struct Call {
    std::vector<std::string> argv;
    std::string input;
  };
  bool run(const std::vector<std::string>& argv, std::string_view input, CommandResult* r,
           std::string* error) override {
    calls.push_back({argv, std::string(input)});
    if (missing.count(argv[0])) {
      *error = argv[0] + ": command not found";
      return false;
    }
    *r = CommandResult{0, "", ""};
    auto& q = script[argv[0]];
    if (!q.empty()) {
      *r = q.front();
      q.pop_front();
    }
    return true;
  }
  bool has(const std::string& tool) override { return missing.count(tool) == 0; }

  std::vector<Call> calls;
  std::map<std::string, std::deque<CommandResult>> script;
  std::map<std::string, int> missing;
};

TEST_CASE("packet rules: backend detection prefers nftables, falls back, remembers") {
  {
    FakeRunner f;
    PacketRules rules(&f);
    std::string e;
    CHECK(rules.detect_backend(&e) == Backend::kNftables);
    REQUIRE(f.calls.size() == 1);
    CHECK(f.calls[0].argv == std::vector<std::string>{"nft", "-f", "-"});
    CHECK(f.calls[0].input.find("queue num 0 bypass") != std::string::npos);
    CHECK(f.calls[0].input.find("delete table inet iotwall_probe") != std::string::npos);
    CHECK(rules.detect_backend(&e) == Backend::kNftables);
    CHECK(f.calls.size() == 1);  // cached
  }
  {
    FakeRunner f;
    f.script["nft"] = {{1, "", "Error: No such file or directory"}};
    PacketRules rules(&f);
    std::string e;
    CHECK(rules.detect_backend(&e) == Backend::kIptables);
    REQUIRE(f.calls.size() == 2);
    CHECK(f.calls[1].argv == std::vector<std::string>{"iptables-restore", "--noflush"});
    CHECK(f.calls[1].input.find("-j NFQUEUE") != std::string::npos);
    CHECK(f.calls[1].input.find("-X IOTWALL_PROBE") != std::string::npos);
  }
  {
    FakeRunner f;
    f.missing["nft"] = 1;
    f.script["iptables-restore"] = {{2, "", "unknown option \"--queue-num\""}};
    PacketRules rules(&f);
    std::string e;
    CHECK_FALSE(rules.detect_backend(&e));
    CHECK(e.find("nft: command not found") != std::string::npos);
    CHECK(e.find("unknown option") != std::string::npos);
  }
}

TEST_CASE("packet rules: iptables install replaces old jumps, both families, atomically each") {
  FakeRunner f;
  const std::string saved =
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:IOTWALL - "
      "[0:0]\n"
      "-A FORWARD -m comment --comment iotwall -j IOTWALL\n-A FORWARD -p udp -j ACCEPT\n"
      "-A IOTWALL -p tcp -j NFQUEUE --queue-num 0\nCOMMIT\n";
  f.script["iptables-save"] = {{0, saved, ""}};
  PacketRules rules(&f);
  std::string e;
  REQUIRE(rules.install(gateway_spec(), Backend::kIptables, &e));
  REQUIRE(f.calls.size() == 4);
  CHECK(f.calls[0].argv == std::vector<std::string>{"iptables-save", "-t", "filter"});
  CHECK(f.calls[1].argv == std::vector<std::string>{"iptables-restore", "--noflush"});
  CHECK(f.calls[2].argv == std::vector<std::string>{"ip6tables-save", "-t", "filter"});
  CHECK(f.calls[3].argv == std::vector<std::string>{"ip6tables-restore", "--noflush"});
  const std::string& in = f.calls[1].input;
  CHECK(in.rfind("*filter\n-D FORWARD -m comment --comment iotwall -j IOTWALL\n:IOTWALL - [0:0]\n",
                 0) == 0);
  CHECK(in.find("-D FORWARD -p udp") == std::string::npos);  // not ours
  CHECK(in.find("-I FORWARD 1 -m comment --comment iotwall -j IOTWALL\nCOMMIT\n") !=
        std::string::npos);
  CHECK(f.calls[3].input.rfind("*filter\n:IOTWALL - [0:0]\n", 0) == 0);

  // An invalid spec runs nothing.
  f.calls.clear();
  RuleSpec bad = gateway_spec();
  bad.ports.clear();
  CHECK_FALSE(rules.install(bad, Backend::kIptables, &e));
  CHECK(f.calls.empty());
}

TEST_CASE("packet rules: IPv6 failing undoes IPv4 and says why") {
  FakeRunner f;
  f.script["iptables-save"] = {
      {0, "", ""},
      {0, "*filter\n:IOTWALL - [0:0]\n-A INPUT -m comment --comment iotwall -j IOTWALL\n", ""}};
  f.script["ip6tables-restore"] = {{1, "", "ip6tables-restore: line 3 failed"}};
  PacketRules rules(&f);
  std::string e;
  CHECK_FALSE(rules.install(gateway_spec(), Backend::kIptables, &e));
  CHECK(e.find("ip6tables-restore --noflush failed (exit 1): ip6tables-restore: line 3 failed") !=
        std::string::npos);
  REQUIRE(f.calls.size() == 6);
  CHECK(f.calls[4].argv[0] == "iptables-save");
  CHECK(f.calls[5].argv[0] == "iptables-restore");
  CHECK(f.calls[5].input ==
        "*filter\n-D INPUT -m comment --comment iotwall -j IOTWALL\n:IOTWALL - [0:0]\n-X "
        "IOTWALL\nCOMMIT\n");
}

TEST_CASE("packet rules: nftables install is one transaction") {
  FakeRunner f;
  PacketRules rules(&f);
  std::string e;
  REQUIRE(rules.install(gateway_spec(), Backend::kNftables, &e));
  REQUIRE(f.calls.size() == 1);
  CHECK(f.calls[0].argv == std::vector<std::string>{"nft", "-f", "-"});
  CHECK(f.calls[0].input == nft_ruleset(gateway_spec()));
  f.script["nft"] = {{1, "", "Error: Could not process rule: No such file or directory\n"}};
  CHECK_FALSE(rules.install(gateway_spec(), Backend::kNftables, &e));
  CHECK(e == "nft -f - failed (exit 1): Error: Could not process rule: No such file or directory");
}

TEST_CASE("packet rules: leftovers of both backends are removed, absent tools skipped") {
  FakeRunner f;
  f.script["nft"] = {{0, "table ip filter\ntable inet iotwall\n", ""}};
  f.script["iptables-save"] = {
      {0,
       "*filter\n:IOTWALL - [0:0]\n-A OUTPUT -m comment --comment iotwall -j IOTWALL\n"
       "-A INPUT -m comment --comment iotwall -j IOTWALL\n-A IOTWALL -j DROP\n",
       ""}};
  f.missing["ip6tables-save"] = 1;
  PacketRules rules(&f);
  std::string e;
  REQUIRE(rules.remove_leftovers(&e));
  REQUIRE(f.calls.size() == 4);
  CHECK(f.calls[0].argv == std::vector<std::string>{"nft", "list", "tables"});
  CHECK(f.calls[1].input == nft_delete_table());
  CHECK(f.calls[3].input ==
        "*filter\n-D OUTPUT -m comment --comment iotwall -j IOTWALL\n-D INPUT -m comment --comment "
        "iotwall -j IOTWALL\n"
        ":IOTWALL - [0:0]\n-X IOTWALL\nCOMMIT\n");

  // Nothing left: nothing changed.
  FakeRunner clean;
  clean.script["nft"] = {{0, "table ip filter\ntable inet iotwall_other\n", ""}};
  clean.script["iptables-save"] = {{0, "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", ""}};
  PacketRules rules2(&clean);
  REQUIRE(rules2.remove_leftovers(&e));
  for (const auto& c : clean.calls)
    CHECK(
        (c.argv[0] == "nft" ? c.argv[1] == "list" : c.argv[0].find("-save") != std::string::npos));

  // A failing removal is an error naming the tool.
  FakeRunner failing;
  failing.script["iptables-save"] = {{0, ":IOTWALL - [0:0]\n", ""}};
  failing.script["iptables-restore"] = {{4, "", "CHAIN_DEL failed (Device or resource busy)"}};
  failing.missing["nft"] = 1;
  PacketRules rules3(&failing);
  CHECK_FALSE(rules3.remove_leftovers(&e));
  CHECK(e.find("iptables-restore --noflush failed (exit 4): CHAIN_DEL failed") !=
        std::string::npos);
}

}  // namespace
}  // namespace iotwall::firewall
