// PacketRules against the real tools, in a private network namespace.
#include "firewall/rules.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "tests/firewall/netns.h"

namespace iotwall::firewall {
namespace {

using test::TestNetns;

// The rule lines of `<tool>-save -t filter` (no comments, counters or COMMIT).
std::vector<std::string> saved_rules(TestNetns& ns, const std::string& tool) {
  std::string out;
  ns.run({tool + "-save", "-t", "filter"}, "", &out);
  std::vector<std::string> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line == "COMMIT" || line == "*filter") continue;
    if (line[0] == ':') line = line.substr(0, line.find(' '));  // ":CHAIN POLICY [n:m]" -> ":CHAIN"
    lines.push_back(line);
  }
  return lines;
}

bool mentions_iotwall(const std::vector<std::string>& lines) {
  return std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("IOTWALL") != std::string::npos || l.find("iotwall") != std::string::npos;
  });
}

RuleSpec node_spec() {
  RuleSpec s;
  s.queues = {0, 1};
  s.hook = RuleSpec::kLocal;
  s.interfaces = {"lo"};
  s.ports = {{8080, 8179}, {9000, 9000}};
  return s;
}

// Whether this kernel takes nftables' own queue statement.
bool kernel_has_nft_queue(TestNetns& ns) {
  return ns.run({"nft", "-f", "-"},
                "table inet t_probe { chain c { meta l4proto tcp queue num 7 } }\ndelete table "
                "inet t_probe\n") == 0;
}

TEST_CASE("rules: the backend detected is the one the kernel supports") {
  TestNetns ns;
  if (!ns.ok()) IOTWALL_SKIP(ns.skip_reason());
  PacketRules rules;
  std::string e;
  const auto b = rules.detect_backend(&e);
  REQUIRE(b);
  // On this project's CI kernel the native queue statement is missing.
  CHECK(*b == (kernel_has_nft_queue(ns) ? Backend::kNftables : Backend::kIptables));
  std::string tables;
  ns.run({"nft", "list", "tables"}, "", &tables);
  CHECK(tables.find("iotwall_probe") == std::string::npos);  // the probe leaves nothing
  std::string saved;
  ns.run({"iptables-save"}, "", &saved);
  CHECK(saved.find("IOTWALL_PROBE") == std::string::npos);
}

TEST_CASE("rules: iptables install creates exactly the expected rules, twice without duplicates") {
  TestNetns ns;
  if (!ns.ok()) IOTWALL_SKIP(ns.skip_reason());
  if (ns.run({"iptables", "-A", "INPUT", "-p", "udp", "-j", "ACCEPT"}) != 0)
    IOTWALL_SKIP("iptables does not work here");
  const std::vector<std::string> before = saved_rules(ns, "iptables");
  PacketRules rules;
  std::string e;
  REQUIRE(rules.install(node_spec(), Backend::kIptables, &e));
  const std::string q = " -j NFQUEUE --queue-balance 0:1";
  const std::vector<std::string> expected = {
      ":INPUT",
      ":FORWARD",
      ":OUTPUT",
      ":IOTWALL",
      "-A INPUT -m comment --comment iotwall -j IOTWALL",
      "-A INPUT -p udp -j ACCEPT",
      "-A OUTPUT -m comment --comment iotwall -j IOTWALL",
      "-A IOTWALL -p tcp -m mark --mark 0x10771077 -j REJECT --reject-with tcp-reset",
      "-A IOTWALL -p tcp -m tcp --tcp-flags RST RST -j RETURN",
      "-A IOTWALL -i lo -p tcp -m multiport --dports 8080:8179,9000" + q,
      "-A IOTWALL -i lo -p tcp -m multiport --sports 8080:8179,9000" + q,
      "-A IOTWALL -o lo -p tcp -m multiport --dports 8080:8179,9000" + q,
      "-A IOTWALL -o lo -p tcp -m multiport --sports 8080:8179,9000" + q,
  };
  CHECK(saved_rules(ns, "iptables") == expected);
  std::vector<std::string> expected6 = expected;
  expected6.erase(std::find(expected6.begin(), expected6.end(), "-A INPUT -p udp -j ACCEPT"));
  CHECK(saved_rules(ns, "ip6tables") == expected6);

  REQUIRE(rules.install(node_spec(), Backend::kIptables, &e));
  CHECK(saved_rules(ns, "iptables") == expected);
  CHECK(saved_rules(ns, "ip6tables") == expected6);

  // A changed spec replaces the old rules.
  RuleSpec s = node_spec();
  s.hook = RuleSpec::kForward;
  s.interfaces.clear();
  s.queues = {4};
  s.bypass = true;
  REQUIRE(rules.install(s, Backend::kIptables, &e));
  CHECK(saved_rules(ns, "iptables") ==
        std::vector<std::string>{
            ":INPUT",
            ":FORWARD",
            ":OUTPUT",
            ":IOTWALL",
            "-A INPUT -p udp -j ACCEPT",
            "-A FORWARD -m comment --comment iotwall -j IOTWALL",
            "-A IOTWALL -p tcp -m mark --mark 0x10771077 -j REJECT --reject-with tcp-reset",
            "-A IOTWALL -p tcp -m tcp --tcp-flags RST RST -j RETURN",
            "-A IOTWALL -p tcp -m multiport --dports 8080:8179,9000 -j NFQUEUE --queue-num 4 "
            "--queue-bypass",
            "-A IOTWALL -p tcp -m multiport --sports 8080:8179,9000 -j NFQUEUE --queue-num 4 "
            "--queue-bypass",
        });

  REQUIRE(rules.remove(Backend::kIptables, &e));
  CHECK(saved_rules(ns, "iptables") == before);
  CHECK_FALSE(mentions_iotwall(saved_rules(ns, "ip6tables")));
  REQUIRE(rules.remove(Backend::kIptables, &e));  // nothing to remove: fine
}

TEST_CASE("rules: leftovers of a crashed run are removed at the next start") {
  TestNetns ns;
  if (!ns.ok()) IOTWALL_SKIP(ns.skip_reason());
  std::string e;
  {
    PacketRules crashed;
    if (!crashed.install(node_spec(), Backend::kIptables, &e))
      IOTWALL_SKIP("iptables does not work here: " + e);
  }  // "forgotten": nothing removed
  // A leftover nftables table too (a run with the other backend); a plain
  // chain, so any kernel takes it.
  const bool nft =
      ns.run({"nft", "-f", "-"}, "table inet iotwall { chain c { tcp dport 9 accept } }\n") == 0;
  REQUIRE(mentions_iotwall(saved_rules(ns, "iptables")));
  PacketRules next;
  REQUIRE(next.remove_leftovers(&e));
  CHECK_FALSE(mentions_iotwall(saved_rules(ns, "iptables")));
  CHECK_FALSE(mentions_iotwall(saved_rules(ns, "ip6tables")));
  if (nft) {
    std::string tables;
    ns.run({"nft", "list", "tables"}, "", &tables);
    CHECK(tables.find("inet iotwall") == std::string::npos);
  }
  REQUIRE(next.remove_leftovers(&e));  // again: nothing to do, no error
}

TEST_CASE("rules: the nftables ruleset is valid nft syntax") {
  TestNetns ns;
  if (!ns.ok()) IOTWALL_SKIP(ns.skip_reason());
  RuleSpec s = node_spec();
  s.bypass = true;
  for (RuleSpec::Hook h :
       {RuleSpec::kForward, RuleSpec::kInput, RuleSpec::kOutput, RuleSpec::kLocal}) {
    s.hook = h;
    std::string out, err;
    const int rc = ns.run({"nft", "-c", "-f", "-"}, nft_ruleset(s), &out, &err);
    if (rc == -1) IOTWALL_SKIP("nft is not installed");
    INFO(nft_ruleset(s) << err);
    // A kernel without the queue expression refuses it (ENOENT); any other
    // complaint is ours.
    CHECK((rc == 0 || (err.find("No such file or directory") != std::string::npos &&
                       err.find("syntax error") == std::string::npos)));
    if (rc != 0) {
      // Everything but the queue statement must be accepted by the kernel too.
      std::string no_queue = nft_ruleset(s);
      for (size_t at; (at = no_queue.find("queue num 0-1 bypass")) != std::string::npos;) {
        no_queue.replace(at, std::string("queue num 0-1 bypass").size(), "accept");
      }
      CHECK(ns.run({"nft", "-c", "-f", "-"}, no_queue, &out, &err) == 0);
      INFO(err);
    }
  }
}

TEST_CASE("rules: nftables install where the kernel lacks the queue statement fails clearly") {
  TestNetns ns;
  if (!ns.ok()) IOTWALL_SKIP(ns.skip_reason());
  if (kernel_has_nft_queue(ns)) IOTWALL_SKIP("this kernel has the nftables queue statement");
  PacketRules rules;
  std::string e;
  CHECK_FALSE(rules.install(node_spec(), Backend::kNftables, &e));
  CHECK(e.find("nft -f - failed") != std::string::npos);
  CHECK(e.find("No such file or directory") != std::string::npos);
  std::string tables;
  ns.run({"nft", "list", "tables"}, "", &tables);
  CHECK(tables.find("inet iotwall") == std::string::npos);  // atomic: nothing half-installed
}

}  // namespace
}  // namespace iotwall::firewall
