// Tests of daemon/config.{h,cc}: defaults, the shipped file, every kind of
// error with its line and key, and `iotwall check-config` as a user runs it.
#include "daemon/config.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli_run.h"

namespace {

using iotwall::AtLimit;
using iotwall::Config;
using iotwall::Hook;
using iotwall::Mode;
using iotwall::NonVsl;
using iotwall::RuleBackend;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/iotwall-config-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

// The errors of parsing `yaml` as "t.yaml"; none when it parses.
std::vector<std::string> errors_of(const std::string& yaml) {
  Config c;
  std::vector<std::string> errors;
  const bool ok = iotwall::parse_config(yaml, "t.yaml", &c, &errors);
  CHECK(ok == errors.empty());
  return errors;
}

// The one error of `yaml`.
std::string error_of(const std::string& yaml) {
  const std::vector<std::string> e = errors_of(yaml);
  INFO(yaml);
  REQUIRE(e.size() == 1);
  return e[0];
}

Config parsed(const std::string& yaml) {
  Config c;
  std::vector<std::string> errors;
  INFO(yaml);
  const bool ok = iotwall::parse_config(yaml, "t.yaml", &c, &errors);
  for (const std::string& e : errors) UNSCOPED_INFO(e);
  REQUIRE(ok);
  REQUIRE(errors.empty());
  return c;
}

void check_defaults(const Config& c) {
  const Config d;
  CHECK(c.mode == Mode::kEnforce);
  CHECK(c.log_level == "info");
  CHECK(c.state == "/var/lib/iotwall/state.db");
  CHECK(c.control_socket == "/run/iotwall/control.sock");
  CHECK(c.control_group == "iotwall");
  CHECK(c.queues == std::vector<uint16_t>{0});
  CHECK(c.queue_length == 4096);
  CHECK(c.copy_bytes == 65535);
  CHECK(!c.fail_open);
  CHECK(!c.bypass);
  CHECK(c.backend == RuleBackend::kAuto);
  CHECK(c.hook == Hook::kForward);
  CHECK(c.interfaces.empty());
  CHECK(c.ports == d.ports);
  CHECK(c.ports == std::vector<std::pair<uint16_t, uint16_t>>{{8080, 8179}});
  CHECK(c.hold_max_bytes == 65536);
  CHECK(c.hold_max_ms == 500);
  CHECK(c.hold_at_limit == AtLimit::kAccept);
  CHECK(c.reset_on_deny);
  CHECK(c.non_vsl == NonVsl::kEdge);
  CHECK(c.threshold == 7.0);
  CHECK(c.learning_phase_ms == 15 * 60 * 1000);
  CHECK(c.edge_ttl_ms == 60 * 60 * 1000);
  CHECK(c.window_ms == 60'000);
  CHECK(c.generalise_types);
  CHECK(c.snapshot_interval_ms == 60'000);
  CHECK(c.site.services.empty());
  CHECK(c.site_map_path.empty());
}

}  // namespace

TEST_CASE("config: an empty file gives the defaults") {
  for (const char* text : {"", "\n", "# only a comment\n", "---\n"}) {
    const Config c = parsed(text);
    check_defaults(c);
    CHECK(c.path == "t.yaml");
  }
  CHECK(iotwall::config_summary(Config{}) == "mode enforce, 1 queue, ports 8080-8179, 0 services");
}

TEST_CASE("config: the shipped default file is valid and says the defaults") {
  Config c;
  std::vector<std::string> errors;
  const std::string path = std::string(IOTWALL_SOURCE_DIR) + "/systemd/iotwall.yaml";
  const bool ok = iotwall::load_config(path, &c, &errors);
  for (const std::string& e : errors) UNSCOPED_INFO(e);
  REQUIRE(ok);
  CHECK(errors.empty());
  check_defaults(c);
  CHECK(c.path == path);
}

TEST_CASE("config: a full file parses to the expected struct") {
  const Config c = parsed(
      "mode: learning\n"
      "log_level: debug\n"
      "state: /srv/iotwall/db.sqlite\n"
      "control:\n"
      "  socket: /run/iw.sock\n"
      "  group: wheel\n"
      "queue:\n"
      "  numbers: [3, 4, 7]\n"
      "  length: 10000\n"
      "  copy_bytes: 1500\n"
      "  fail_open: true\n"
      "  bypass: yes\n"
      "rules:\n"
      "  backend: iptables\n"
      "  hook: local\n"
      "  interfaces: [eth0, br-iot.2]\n"
      "  ports: [\"8080-8179\", 443, \"9000\"]\n"
      "verdicts:\n"
      "  hold: {max_bytes: 1MiB, max_time: 2s, at_limit: drop}\n"
      "  reset_on_deny: false\n"
      "  non_vsl: drop\n"
      "detector:\n"
      "  threshold: 3.5\n"
      "  learning_phase: 1.5h\n"
      "  edge_ttl: 0\n"
      "  window: 30\n"
      "  generalise_types: off\n"
      "  snapshot_interval: 5m\n"
      "site:\n"
      "  services:\n"
      "    - id: lightcontrol1\n"
      "      address: /agent1/lightcontrol1\n"
      "      type: /lightControler\n"
      "      room: Kitchen\n"
      "      ip: 10.1.1.2\n"
      "    - {id: agent1, address: /agent1, ip: 'fe80::1', knowledge_agent: true}\n");
  CHECK(c.mode == Mode::kLearning);
  CHECK(c.log_level == "debug");
  CHECK(c.state == "/srv/iotwall/db.sqlite");
  CHECK(c.control_socket == "/run/iw.sock");
  CHECK(c.control_group == "wheel");
  CHECK(c.queues == std::vector<uint16_t>{3, 4, 7});
  CHECK(c.queue_length == 10000);
  CHECK(c.copy_bytes == 1500);
  CHECK(c.fail_open);
  CHECK(c.bypass);
  CHECK(c.backend == RuleBackend::kIptables);
  CHECK(c.hook == Hook::kLocal);
  CHECK(c.interfaces == std::vector<std::string>{"eth0", "br-iot.2"});
  CHECK(c.ports ==
        std::vector<std::pair<uint16_t, uint16_t>>{{8080, 8179}, {443, 443}, {9000, 9000}});
  CHECK(c.hold_max_bytes == 1024 * 1024);
  CHECK(c.hold_max_ms == 2000);
  CHECK(c.hold_at_limit == AtLimit::kDrop);
  CHECK(!c.reset_on_deny);
  CHECK(c.non_vsl == NonVsl::kDrop);
  CHECK(c.threshold == 3.5);
  CHECK(c.learning_phase_ms == 90 * 60 * 1000);
  CHECK(c.edge_ttl_ms == 0);
  CHECK(c.window_ms == 30'000);
  CHECK(!c.generalise_types);
  CHECK(c.snapshot_interval_ms == 5 * 60'000);
  REQUIRE(c.site.services.size() == 2);
  CHECK(c.site.services[0].id == "lightcontrol1");
  CHECK(c.site.services[0].room == "Kitchen");
  CHECK(c.site.services[0].ip->to_string() == "10.1.1.2");
  CHECK(c.site.services[1].knowledge_agent);
  CHECK(c.site.services[1].ip->family == 6);
  CHECK(iotwall::config_summary(c) ==
        "mode learning, 3 queues, ports 8080-8179,443,9000, 2 services");
}

TEST_CASE("config: single values stand for lists of one") {
  const Config c = parsed("queue: {numbers: 5}\nrules: {ports: 8443, interfaces: wlan0}\n");
  CHECK(c.queues == std::vector<uint16_t>{5});
  CHECK(c.ports == std::vector<std::pair<uint16_t, uint16_t>>{{8443, 8443}});
  CHECK(c.interfaces == std::vector<std::string>{"wlan0"});
}

TEST_CASE("config: each kind of error names the file, the line and the key") {
  // Wrong type.
  CHECK(error_of("mode: enforce\nqueue:\n  length: [1, 2]\n") ==
        "t.yaml: line 3: queue.length: expected an integer (got a list)");
  CHECK(error_of("queue:\n  length: lots\n") ==
        "t.yaml: line 2: queue.length: expected an integer (got 'lots')");
  CHECK(error_of("queue: 5\n") ==
        "t.yaml: line 1: queue: expected a mapping with numbers, length, copy_bytes, fail_open, "
        "bypass (got '5')");
  CHECK(error_of("queue:\n  fail_open: maybe\n") ==
        "t.yaml: line 2: queue.fail_open: expected true or false (got 'maybe')");
  CHECK(error_of("mode:\n") ==
        "t.yaml: line 1: mode: expected one of learning, enforce, monitor (got nothing)");
  // Out of range.
  CHECK(error_of("\n\nqueue:\n  length: 0\n") ==
        "t.yaml: line 4: queue.length: must be between 1 and 1000000 (got 0)");
  CHECK(
      error_of("queue:\n  copy_bytes: 99999999999999999999\n") ==
      "t.yaml: line 2: queue.copy_bytes: must be between 64 and 65535 (got 99999999999999999999)");
  CHECK(error_of("queue: {numbers: [70000]}\n") ==
        "t.yaml: line 1: queue.numbers[0]: must be between 0 and 65535 (got 70000)");
  CHECK(error_of("detector:\n  threshold: 0\n") ==
        "t.yaml: line 2: detector.threshold: must be above 0 and at most 1e6 (got 0)");
  CHECK(error_of("detector:\n  threshold: nan\n") ==
        "t.yaml: line 2: detector.threshold: expected a number (got 'nan')");
  CHECK(
      error_of("verdicts:\n  hold:\n    max_bytes: 100\n") ==
      "t.yaml: line 3: verdicts.hold.max_bytes: must be between 1024 and 16777216 bytes (got 100)");
  CHECK(error_of("detector: {window: 0}\n") ==
        "t.yaml: line 1: detector.window: must be between 1000 ms and 86400000 ms (got 0)");
  // Unknown key, at any depth.
  CHECK(error_of("queue:\n  lenght: 5\n") ==
        "t.yaml: line 2: queue.lenght: unknown key (known: numbers, length, copy_bytes, fail_open, "
        "bypass)");
  CHECK(error_of("mode: enforce\ncolour: blue\n") ==
        "t.yaml: line 2: colour: unknown key (known: mode, log_level, state, control, queue, "
        "rules, verdicts, "
        "detector, site, site_map)");
  CHECK(error_of("verdicts: {hold: {max_size: 1}}\n")
            .find("line 1: verdicts.hold.max_size: unknown key") != std::string::npos);
  // Duplicate key.
  CHECK(error_of("mode: enforce\nmode: learning\n") == "t.yaml: line 2: mode: duplicate key");
  // Bad enum value.
  CHECK(error_of("mode: enforcing\n") ==
        "t.yaml: line 1: mode: expected one of learning, enforce, monitor (got 'enforcing')");
  CHECK(error_of("rules:\n  hook: prerouting\n") ==
        "t.yaml: line 2: rules.hook: expected one of forward, input, output, local (got "
        "'prerouting')");
  CHECK(error_of("log_level: verbose\n") ==
        "t.yaml: line 1: log_level: expected one of debug, info, warning, error (got 'verbose')");
  // Duplicate queue.
  CHECK(error_of("queue:\n  numbers:\n    - 1\n    - 2\n    - 1\n") ==
        "t.yaml: line 5: queue.numbers[2]: duplicate queue 1");
  CHECK(error_of("queue:\n  numbers: []\n") ==
        "t.yaml: line 2: queue.numbers: give between 1 and 64 queue numbers (got 0)");
  // Bad duration.
  CHECK(error_of("detector:\n  learning_phase: 5 parsecs\n") ==
        "t.yaml: line 2: detector.learning_phase: not a duration (got '5 parsecs'): a number with "
        "a unit ms, s, m, "
        "h or d (e.g. 500ms, 15m, 1h), or a plain number of seconds");
  CHECK(
      error_of("detector:\n  edge_ttl: -5s\n").find("line 2: detector.edge_ttl: not a duration") !=
      std::string::npos);
  // Bad port range.
  CHECK(error_of("rules:\n  ports: [8080, \"90-80\"]\n") ==
        "t.yaml: line 2: rules.ports[1]: the range is reversed: 90 > 80 (got '90-80')");
  CHECK(error_of("rules:\n  ports: [0]\n") ==
        "t.yaml: line 2: rules.ports[0]: ports must be between 1 and 65535 (got '0')");
  CHECK(error_of("rules:\n  ports: [http]\n") ==
        "t.yaml: line 2: rules.ports[0]: expected a port or a range LO-HI such as 8080-8179 (got "
        "'http')");
  CHECK(error_of("rules:\n  ports: []\n") ==
        "t.yaml: line 2: rules.ports: give at least one port or range (the VSL servers' ports)");
  // Interfaces, paths, group.
  CHECK(error_of("rules:\n  interfaces: [eth0, \"a/b\"]\n")
            .find("line 2: rules.interfaces[1]: not an interface name") != std::string::npos);
  CHECK(error_of("rules:\n  interfaces: [averyveryverylongname]\n")
            .find("rules.interfaces[0]: not an interface") != std::string::npos);
  CHECK(error_of("rules:\n  interfaces: [eth0, eth0]\n") ==
        "t.yaml: line 2: rules.interfaces[1]: duplicate interface 'eth0'");
  CHECK(error_of("state: state.db\n") ==
        "t.yaml: line 1: state: must be an absolute path (got 'state.db')");
  CHECK(error_of("control:\n  socket: /run/" + std::string(120, 'x') + "\n")
            .find("line 2: control.socket: too long: at most 107 bytes") != std::string::npos);
  CHECK(error_of("control:\n  group: \"a b\"\n").find("line 2: control.group: not a group name") !=
        std::string::npos);
}

TEST_CASE("config: a YAML syntax error gives its line") {
  const std::string e = error_of("mode: enforce\nqueue:\n  numbers: [1, 2\nrules: {}\n");
  CHECK(e.starts_with("t.yaml: line "));
  CHECK(e.find("YAML syntax error") != std::string::npos);
  CHECK(error_of("mode: enforce\nrules: {ports: [1}\n").find("t.yaml: line 2: YAML syntax error") ==
        0);
  CHECK(error_of("a: b: c\n").find("t.yaml: line 1: YAML syntax error") == 0);
  const std::string deep = error_of("mode: " + std::string(5000, '[') + "\n");
  CHECK(deep.starts_with("t.yaml: line "));
  CHECK(deep.find(": YAML nested too deeply") != std::string::npos);
  CHECK(error_of("mode: \"a\\x01b\"\n") ==
        "t.yaml: line 1: mode: expected one of learning, enforce, monitor (got 'a\\x01b')");
  CHECK(error_of("[1, 2]\n") ==
        "t.yaml: line 1: top level: expected a mapping with mode, log_level, state, control, "
        "queue, rules, verdicts, "
        "detector, site, site_map (got a list)");
}

TEST_CASE("config: several errors are reported at once, in file order") {
  const std::vector<std::string> e = errors_of(
      "mode: strict\n"
      "queue:\n"
      "  numbers: [1, 1]\n"
      "  length: 0\n"
      "rules:\n"
      "  ports: [\"90-80\"]\n"
      "  hooks: forward\n"
      "detector:\n"
      "  learning_phase: 5 parsecs\n");
  REQUIRE(e.size() == 6);
  CHECK(e[0].starts_with("t.yaml: line 1: mode: "));
  CHECK(e[1].starts_with("t.yaml: line 3: queue.numbers[1]: duplicate queue 1"));
  CHECK(e[2].starts_with("t.yaml: line 4: queue.length: "));
  CHECK(e[3].starts_with("t.yaml: line 6: rules.ports[0]: "));
  CHECK(e[4].starts_with("t.yaml: line 7: rules.hooks: unknown key"));
  CHECK(e[5].starts_with("t.yaml: line 9: detector.learning_phase: "));
  // Nothing is written on failure.
  Config c;
  c.mode = Mode::kMonitor;
  std::vector<std::string> errors;
  CHECK(!iotwall::parse_config("mode: strict\n", "t.yaml", &c, &errors));
  CHECK(c.mode == Mode::kMonitor);
}

TEST_CASE("config: the inline site map is checked with the file's lines") {
  CHECK(error_of("mode: enforce\n"
                 "site:\n"
                 "  services:\n"
                 "    - id: a\n"
                 "      colour: blue\n"
                 "queue: {length: 5}\n") ==
        "t.yaml: line 5: site.services[0].colour: unknown key (known: id, address, type, room, ip, "
        "knowledge_agent)");
  CHECK(error_of("site:\n  services:\n    - id: a\n      ip: 10.0.0.300\n") ==
        "t.yaml: line 4: site.services[0].ip: not an IPv4 or IPv6 address: '10.0.0.300'");
  CHECK(error_of("site:\n  services:\n    - id: a\n    - id: a\n") ==
        "t.yaml: line 4: site.services[1].id: duplicate id 'a'");
  // Flow style on the key's line, and a site after the other keys.
  CHECK(error_of("queue: {length: 5}\n\nsite: {services: [{id: x}, {address: /y}]}\n") ==
        "t.yaml: line 3: site.services[1].id: missing or empty");
  CHECK(error_of("site:\n  servces: []\n") ==
        "t.yaml: line 2: site.servces: unknown key (known: services)");
  CHECK(error_of("site: [a]\n").find("line 1: site: expected a mapping with services") !=
        std::string::npos);
  // A flow document: the error is placed at the site's line.
  CHECK(error_of("{mode: enforce,\n site: {services: [{colour: x}]}}\n")
            .starts_with("t.yaml: line 2: site.services[0].colour: unknown key"));
  const Config c = parsed("{mode: learning,\n site: {services: [{id: x, room: R}]}}\n");
  REQUIRE(c.site.services.size() == 1);
  CHECK(c.site.services[0].room == "R");
  CHECK(parsed("site:\n").site.services.empty());
  // An alias to an anchor outside the site, and CRLF line ends.
  const Config a = parsed("log_level: &a info\nsite:\n  services:\n    - {id: *a}\n");
  REQUIRE(a.site.services.size() == 1);
  CHECK(a.site.services[0].id == "info");
  CHECK(error_of("mode: enforce\r\nsite:\r\n  services:\r\n    - id: a\r\n      colour: b\r\n")
            .starts_with("t.yaml: line 5: site.services[0].colour: unknown key"));
  // yaml-cpp breaks lines at LF only: lone CRs make one long line, an error.
  CHECK(error_of("mode: enforce\rsite:\r  services:\r    - id: a\r")
            .starts_with("t.yaml: line 1: YAML syntax error"));
}

TEST_CASE("config: site_map names a file, relative to the config's directory") {
  TempDir d;
  d.write("site.yaml", "services:\n  - id: a\n    room: Hall\n  - id: b\n");
  d.write("bad.yaml", "services:\n  - id: a\n    room: [x]\n");
  const std::string cfg = d.write("iotwall.yaml", "mode: monitor\nsite_map: site.yaml\n");
  Config c;
  std::vector<std::string> errors;
  REQUIRE(iotwall::load_config(cfg, &c, &errors));
  REQUIRE(c.site.services.size() == 2);
  CHECK(c.site.services[0].room == "Hall");
  CHECK(c.site_map_path == d.path + "/site.yaml");
  CHECK(iotwall::config_summary(c) == "mode monitor, 1 queue, ports 8080-8179, 2 services");

  // An absolute path, and errors in the site map file name both files.
  const std::string bad = d.write("bad-cfg.yaml", "\nsite_map: " + d.path + "/bad.yaml\n");
  errors.clear();
  CHECK(!iotwall::load_config(bad, &c, &errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == bad + ": line 2: site_map: " + d.path +
                         "/bad.yaml: line 3: services[0].room: expected a string");
  errors.clear();
  const std::string missing = d.write("missing.yaml", "site_map: nowhere.yaml\n");
  CHECK(!iotwall::load_config(missing, &c, &errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] ==
        missing + ": line 1: site_map: " + d.path + "/nowhere.yaml: No such file or directory");
}

TEST_CASE("config: site and site_map together are an error") {
  TempDir d;
  d.write("site.yaml", "services: []\n");
  const std::string cfg =
      d.write("c.yaml", "site_map: site.yaml\nmode: enforce\nsite:\n  services: []\n");
  Config c;
  std::vector<std::string> errors;
  CHECK(!iotwall::load_config(cfg, &c, &errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] ==
        cfg + ": line 3: site: give either site (inline) or site_map (a file), not both");
}

TEST_CASE("config: load_config reports unreadable files") {
  Config c;
  std::vector<std::string> errors;
  CHECK(!iotwall::load_config("/nonexistent/iotwall.yaml", &c, &errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "/nonexistent/iotwall.yaml: No such file or directory");
  errors.clear();
  CHECK(!iotwall::load_config("/tmp", &c, &errors));
  CHECK(errors.size() == 1);
}

TEST_CASE("config: durations, port ranges and names") {
  using iotwall::parse_duration_ms;
  CHECK(parse_duration_ms("500ms") == 500);
  CHECK(parse_duration_ms("60s") == 60'000);
  CHECK(parse_duration_ms("15m") == 900'000);
  CHECK(parse_duration_ms("1h") == 3'600'000);
  CHECK(parse_duration_ms("2d") == 172'800'000);
  CHECK(parse_duration_ms("90") == 90'000);
  CHECK(parse_duration_ms("0.5") == 500);
  CHECK(parse_duration_ms("0") == 0);
  for (const char* bad :
       {"", "s", "5 parsecs", "5 s", "-1", "1e3", ".5", "5x", "1.2.3s", "99999999999d", "nan"}) {
    INFO(bad);
    CHECK(!parse_duration_ms(bad));
  }
  using iotwall::parse_port_range;
  CHECK(parse_port_range("8080-8179") == std::pair<uint16_t, uint16_t>{8080, 8179});
  CHECK(parse_port_range("443") == std::pair<uint16_t, uint16_t>{443, 443});
  for (const char* bad : {"", "90-80", "0", "65536", "1-", "-5", "a-b", "1-2-3", "+5"}) {
    INFO(bad);
    CHECK(!parse_port_range(bad));
  }
  CHECK(iotwall::format_ports({{1, 1}, {8080, 8179}}) == "1,8080-8179");
  for (const Mode m : {Mode::kLearning, Mode::kEnforce, Mode::kMonitor}) {
    CHECK(iotwall::parse_mode(iotwall::mode_name(m)) == m);
  }
  for (const Hook h : {Hook::kForward, Hook::kInput, Hook::kOutput, Hook::kLocal}) {
    CHECK(iotwall::parse_hook(iotwall::hook_name(h)) == h);
  }
  for (const RuleBackend b :
       {RuleBackend::kAuto, RuleBackend::kNftables, RuleBackend::kIptables, RuleBackend::kNone}) {
    CHECK(iotwall::parse_backend(iotwall::backend_name(b)) == b);
  }
  for (const NonVsl n : {NonVsl::kAccept, NonVsl::kDrop, NonVsl::kEdge}) {
    CHECK(iotwall::parse_non_vsl(iotwall::non_vsl_name(n)) == n);
  }
  CHECK(iotwall::parse_at_limit("accept") == AtLimit::kAccept);
  CHECK(!iotwall::parse_mode("Enforce"));
}

TEST_CASE("config: which changed keys need a restart") {
  const Config a;
  Config b = a;
  CHECK(iotwall::keys_needing_restart(a, b).empty());
  b.mode = Mode::kMonitor;  // live
  b.threshold = 3;
  b.hold_max_ms = 100;
  b.site.services.push_back({});
  CHECK(iotwall::keys_needing_restart(a, b).empty());
  b.queues = {1, 2};
  b.ports = {{80, 80}};
  b.window_ms = 1000;
  CHECK(iotwall::keys_needing_restart(a, b) ==
        std::vector<std::string>{"queue.numbers", "rules.ports", "detector.window"});
}

TEST_CASE("check-config: the command as a user runs it") {
  using iotwall::testing::run;
  TempDir d;
  const std::string good =
      d.write("good.yaml", "queue: {numbers: [0, 1]}\nsite:\n  services: [{id: a}]\n");
  const std::string bad = d.write("bad.yaml", "mode: strict\nqueue:\n  length: 0\n");

  iotwall::testing::Run r = run("check-config " + good);
  CHECK(r.status == 0);
  CHECK(r.out == good + ": ok (mode enforce, 2 queues, ports 8080-8179, 1 service)\n");
  r = run("check-config --config " + good);
  CHECK(r.status == 0);
  r = run(std::string("check-config ") + IOTWALL_SOURCE_DIR + "/systemd/iotwall.yaml");
  CHECK(r.status == 0);
  CHECK(r.out.find(": ok (mode enforce, 1 queue, ports 8080-8179, 0 services)") !=
        std::string::npos);

  r = run("check-config " + bad);
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find(bad +
                   ": line 1: mode: expected one of learning, enforce, monitor (got 'strict')\n") !=
        std::string::npos);
  CHECK(r.err.find(bad + ": line 3: queue.length: must be between 1 and 1000000 (got 0)\n") !=
        std::string::npos);
  CHECK(r.err.find("2 errors") != std::string::npos);

  r = run("check-config " + d.path + "/none.yaml");
  CHECK(r.status == 1);
  CHECK(r.err.find("No such file or directory") != std::string::npos);

  CHECK(run("check-config").status == 2);                      // no file
  CHECK(run("check-config " + good + " " + bad).status == 2);  // two files
  CHECK(run("check-config --colour " + good).status == 2);
  r = run("check-config --help");
  CHECK(r.status == 0);
  CHECK(r.out.find("check-config FILE") != std::string::npos);
}

namespace {

// Runs `cmd` through the shell; its exit status, or -1.
int shell(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

}  // namespace

TEST_CASE("install.mk: make install honours DESTDIR and PREFIX, keeps a configuration") {
  if (shell("command -v make >/dev/null 2>&1") != 0) {
    std::printf("SKIP: make is not installed\n");
    WARN("SKIP: make is not installed");
    return;
  }
  TempDir d;
  const std::string src = IOTWALL_SOURCE_DIR;
  std::string build = IOTWALL_BIN;  // BUILD/daemon/iotwall
  build = build.substr(0, build.rfind('/'));
  build = build.substr(0, build.rfind('/'));
  // The main Makefile's part: a default goal and `build` (done already).
  const std::string mk = d.write(
      "Makefile", "all:\n\t@echo default-goal\nbuild:\n\t@true\ninclude " + src + "/install.mk\n");
  const std::string mk_first =
      d.write("Makefile.first", "include " + src + "/install.mk\nall:\n\t@echo default-goal\n");
  const std::string root = d.path + "/root";
  const std::string make =
      "make -s -C '" + src + "' -f '" + mk + "' BUILD='" + build + "' DESTDIR='" + root + "' ";
  const std::string log = " >'" + d.path + "/log' 2>&1";

  // The include changes no default goal.
  CHECK(shell("make -s -C '" + src + "' -f '" + mk + "' >'" + d.path + "/goal' 2>&1") == 0);
  CHECK(iotwall::testing::slurp(d.path + "/goal") == "default-goal\n");
  CHECK(shell("make -s -C '" + src + "' -f '" + mk_first + "' >'" + d.path + "/goal' 2>&1") == 0);
  CHECK(iotwall::testing::slurp(d.path + "/goal") == "default-goal\n");

  REQUIRE(shell(make + "install" + log) == 0);
  INFO(iotwall::testing::slurp(d.path + "/log"));
  const std::string unit = root + "/lib/systemd/system/iotwall.service";
  const std::string conf = root + "/etc/iotwall/iotwall.yaml";
  for (const std::string& f :
       {root + "/usr/local/sbin/iotwall", unit, conf, root + "/usr/lib/sysusers.d/iotwall.conf",
        root + "/usr/lib/tmpfiles.d/iotwall.conf", root + "/usr/local/share/man/man8/iotwall.8"}) {
    INFO(f);
    CHECK(exists(f));
  }
  CHECK(access((root + "/usr/local/sbin/iotwall").c_str(), X_OK) == 0);
  const std::string u = iotwall::testing::slurp(unit);
  CHECK(u.find("ExecStart=/usr/local/sbin/iotwall run --config /etc/iotwall/iotwall.yaml\n") !=
        std::string::npos);
  CHECK(u.find("@SBINDIR@") == std::string::npos);
  CHECK(iotwall::testing::slurp(conf) == iotwall::testing::slurp(src + "/systemd/iotwall.yaml"));

  // A second install keeps a changed configuration and puts the default beside it.
  std::ofstream(conf) << "mode: monitor\n";
  REQUIRE(shell(make + "install" + log) == 0);
  CHECK(iotwall::testing::slurp(conf) == "mode: monitor\n");
  CHECK(exists(conf + ".default"));

  // PREFIX moves the binary and the man page, and ExecStart with them.
  REQUIRE(shell(make + "PREFIX=/usr install" + log) == 0);
  CHECK(exists(root + "/usr/sbin/iotwall"));
  CHECK(exists(root + "/usr/share/man/man8/iotwall.8"));
  CHECK(iotwall::testing::slurp(unit).find("ExecStart=/usr/sbin/iotwall run") != std::string::npos);

  // uninstall removes what install put, keeps the changed configuration.
  REQUIRE(shell(make + "uninstall" + log) == 0);
  CHECK(!exists(root + "/usr/local/sbin/iotwall"));
  CHECK(!exists(unit));
  CHECK(!exists(root + "/usr/lib/sysusers.d/iotwall.conf"));
  CHECK(!exists(root + "/usr/local/share/man/man8/iotwall.8"));
  CHECK(!exists(conf + ".default"));
  CHECK(iotwall::testing::slurp(conf) == "mode: monitor\n");
}

TEST_CASE("iotwall.8: the man page names every subcommand and formats cleanly") {
  const iotwall::testing::Run help = iotwall::testing::run("--help");
  REQUIRE(help.status == 0);
  const std::string page =
      iotwall::testing::slurp(std::string(IOTWALL_SOURCE_DIR) + "/docs/iotwall.8");
  REQUIRE(!page.empty());
  // The command names, as `iotwall --help` lists them ("  NAME  summary").
  std::istringstream lines(help.out);
  int commands = 0;
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("  ") || line.size() < 3 || line[2] == ' ') continue;
    std::string name = line.substr(2, line.find(' ', 2) - 2);
    ++commands;
    std::string roff;  // "-" is "\-" in roff
    for (char ch : name) roff += ch == '-' ? std::string("\\-") : std::string(1, ch);
    INFO(name);
    CHECK(page.find(".B iotwall " + roff) != std::string::npos);
  }
  CHECK(commands >= 14);
  if (shell("command -v groff >/dev/null 2>&1") != 0) {
    std::printf("SKIP: groff is not installed: the page's formatting is not checked\n");
    WARN("SKIP: groff is not installed");
    return;
  }
  TempDir d;
  CHECK(shell("groff -man -ww -z '" + std::string(IOTWALL_SOURCE_DIR) + "/docs/iotwall.8' 2>'" +
              d.path + "/w'") == 0);
  CHECK(iotwall::testing::slurp(d.path + "/w").empty());
}

TEST_CASE("config: mangled files give errors, never a crash") {
  const std::string base =
      iotwall::testing::slurp(std::string(IOTWALL_SOURCE_DIR) + "/systemd/iotwall.yaml") +
      "site:\n  services:\n    - {id: a, ip: 10.0.0.1, room: R}\n";
  uint64_t rng = 42;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  const std::string alphabet = ":-[]{}#&*!|>'\"\n \t,.?0123456789abcdefghijklmnopqrstuvwxyz\x01\xff";
  int failed = 0;
  for (int round = 0; round < 1500; ++round) {
    std::string text = base.substr(0, next() % (base.size() + 1));  // truncated
    for (int k = 0, n = 1 + static_cast<int>(next() % 4); k < n && !text.empty(); ++k) {
      text[next() % text.size()] = alphabet[next() % alphabet.size()];
    }
    Config c;
    std::vector<std::string> errors;
    const bool ok = iotwall::parse_config(text, "t.yaml", &c, &errors);
    CHECK(ok == errors.empty());
    if (!ok) ++failed;
    for (const std::string& e : errors) {
      if (!e.starts_with("t.yaml: ")) FAIL_CHECK(e);
    }
  }
  CHECK(failed > 100);  // the mangling does reach the checks
}

TEST_CASE("config: a reload keeps the running values of the keys that need a restart", "[config]") {
  Config running, loaded;
  running.state = "/var/lib/iotwall/state.db";
  loaded.state = "/tmp/other.db";
  loaded.queues = {3};
  loaded.threshold = 9;
  const std::vector<std::string> keys = iotwall::keys_needing_restart(running, loaded);
  CHECK(keys == std::vector<std::string>{"state", "queue.numbers"});
  const Config kept = iotwall::keep_restart_keys(running, loaded);
  CHECK(kept.state == running.state);
  CHECK(kept.queues == running.queues);
  CHECK(kept.threshold == 9);  // applies live
  CHECK(iotwall::keys_needing_restart(running, kept).empty());
}
