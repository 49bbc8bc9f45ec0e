// Config: the daemon's configuration (`iotwall run --config FILE`,
// `iotwall check-config FILE`), parsed from YAML with every error named by
// file, line and key path. docs/configuration.md describes every key;
// systemd/iotwall.yaml is the shipped default.
//
//   mode: enforce                    # learning | enforce | monitor
//   log_level: info                  # debug | info | warning | error
//   state: /var/lib/iotwall/state.db
//   control: {socket: /run/iotwall/control.sock, group: iotwall}
//   queue: {numbers: [0], length: 4096, copy_bytes: 65535, fail_open: false, bypass: false}
//   rules: {backend: auto, hook: forward, interfaces: [], ports: ["8080-8179"]}
//   verdicts:
//     hold: {max_bytes: 64KiB, max_time: 500ms, at_limit: accept}
//     reset_on_deny: true
//     non_vsl: edge                  # accept | drop | edge
//   detector: {threshold: 7.0, learning_phase: 15m, edge_ttl: 1h, window: 60s,
//              generalise_types: true, snapshot_interval: 60s}
//   site: {services: [...]}          # inline site map (docs/site-map.md), or
//   site_map: site.yaml              # a site map file (relative: to the config's directory)
//
// Thread-safety: the functions are pure (load_config and a site_map key read
// files) and may run on any thread; a Config is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dpi/site_map.h"

namespace iotwall {

enum class Mode { kLearning, kEnforce, kMonitor };
enum class RuleBackend { kAuto, kNftables, kIptables, kNone /* rules installed by someone else */ };
enum class Hook { kForward, kInput, kOutput, kLocal /* input and output */ };
enum class NonVsl { kAccept, kDrop, kEdge /* judged as edge-level accesses (operation unknown) */ };
enum class AtLimit { kDrop, kAccept };  // a request held beyond its bound

struct Config {
  std::string path;  // the file it came from (empty: parsed from a string without a name)
  Mode mode = Mode::kEnforce;
  std::string log_level = "info";  // debug | info | warning | error
  std::string state = "/var/lib/iotwall/state.db";
  std::string control_socket = "/run/iotwall/control.sock";
  std::string control_group =
      "iotwall";  // members may use the control CLI (and root); empty: root only
  // queue:
  std::vector<uint16_t> queues{0};  // one worker thread each
  uint32_t queue_length = 4096;
  uint32_t copy_bytes = 65535;
  bool fail_open = false;  // kernel accepts when our queue is full
  bool bypass = false;     // traffic passes while the daemon is down (fail-closed by default)
  // rules:
  RuleBackend backend = RuleBackend::kAuto;
  Hook hook = Hook::kForward;
  std::vector<std::string> interfaces;  // empty: any
  std::vector<std::pair<uint16_t, uint16_t>> ports{
      {8080, 8179}};  // VSL server port ranges, lo <= hi
  // verdicts:
  size_t hold_max_bytes = 64 * 1024;  // bytes of one incomplete request held
  int64_t hold_max_ms = 500;
  AtLimit hold_at_limit = AtLimit::kAccept;  // the access is still judged at its last packet
  bool reset_on_deny = true;  // a denied access also resets its connection
  NonVsl non_vsl = NonVsl::kEdge;
  // detector:
  double threshold = 7.0;
  int64_t learning_phase_ms = 15 * 60 * 1000;  // 0: no learning phase
  int64_t edge_ttl_ms = 60 * 60 * 1000;        // 0: edges never leave the live graph
  int64_t window_ms = 60'000;
  bool generalise_types = true;
  int64_t snapshot_interval_ms = 60'000;
  // site: inline (`site:`) or from `site_map:`, never both.
  dpi::SiteMap site;
  std::string
      site_map_path;  // the resolved `site_map:` file (empty: inline or none); re-read on reload
};

// Parses a config. Collects EVERY error (not only the first), each naming
// file, line and key path, e.g.
//   "iotwall.yaml: line 12: queue.length: must be between 1 and 1000000 (got 0)".
// Unknown keys are errors listing the known keys. An empty document gives
// the defaults. `path` names the text in messages and anchors a relative
// `site_map:` (empty: the current directory). *out is written only on
// success. Never throws.
bool parse_config(std::string_view yaml, const std::string& path, Config* out,
                  std::vector<std::string>* errors);
// Reads `path` (at most 16 MiB) and parses it.
bool load_config(const std::string& path, Config* out, std::vector<std::string>* errors);

// One line for logs and check-config: "mode enforce, 1 queue, ports 8080-8179, 42 services".
std::string config_summary(const Config& c);

// SIGHUP: the keys (as written in the file, e.g. "queue.numbers") whose
// value differs between the running config and a newly loaded one and that
// take effect only at a restart (queues, rules, state, control socket,
// detector.window). Every other key applies live. Empty: all changes apply.
std::vector<std::string> keys_needing_restart(const Config& running, const Config& loaded);
// `loaded` with each of those keys set back to its running value: what a
// reload runs with.
Config keep_restart_keys(const Config& running, Config loaded);

// Names as written in the file, and their parsers (nullopt: not a name).
std::string_view mode_name(Mode m);
std::string_view backend_name(RuleBackend b);
std::string_view hook_name(Hook h);
std::string_view non_vsl_name(NonVsl n);
std::string_view at_limit_name(AtLimit a);
std::optional<Mode> parse_mode(std::string_view s);
std::optional<RuleBackend> parse_backend(std::string_view s);
std::optional<Hook> parse_hook(std::string_view s);
std::optional<NonVsl> parse_non_vsl(std::string_view s);
std::optional<AtLimit> parse_at_limit(std::string_view s);

// "500ms", "60s", "15m", "1h", "2d", "1.5h" or a plain number of seconds
// ("90", "0.5") -> milliseconds, rounded to the nearest; nullopt when
// malformed, negative or above 10 years.
std::optional<int64_t> parse_duration_ms(std::string_view s);
// "8080-8179" or "8080" -> the range; nullopt when malformed, outside
// 1-65535, or lo > hi.
std::optional<std::pair<uint16_t, uint16_t>> parse_port_range(std::string_view s);
// "8080-8179,9000": the ranges as written in check-config's summary.
std::string format_ports(const std::vector<std::pair<uint16_t, uint16_t>>& ports);

}  // namespace iotwall
