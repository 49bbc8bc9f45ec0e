// Config files: YAML through yaml-cpp, checked key by key. Every error is
// collected (the parse goes on after one), each naming the line and the key
// path; every yaml-cpp exception is caught here.
#include "daemon/config.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <set>
#include <sstream>

namespace iotwall {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kMaxDurationMs = 3650 * kDay;  // ten years
constexpr size_t kMaxFileBytes = 16 << 20;
constexpr size_t kMaxQueues = 64;    // one thread each
constexpr size_t kSunPathMax = 107;  // sizeof(sockaddr_un::sun_path) - 1
constexpr size_t kIfNameMax = 15;    // IFNAMSIZ - 1

// The parse of one document: the text (for the inline site map), where
// messages go, and how they start.
struct Ctx {
  std::string_view text;
  std::string prefix;  // "FILE: " or ""
  std::string dir;     // the config file's directory, for a relative site_map
  std::vector<std::string>* errors;

  void error(const YAML::Mark& m, const std::string& key, const std::string& msg) {
    std::string s = prefix;
    if (m.line >= 0) s += "line " + std::to_string(m.line + 1) + ": ";
    if (!key.empty()) s += key + ": ";
    errors->push_back(s + msg);
  }
};

// One entry of a mapping: where it is and what it holds.
struct Entry {
  const YAML::Node& key;
  const YAML::Node& value;
  std::string path;  // "queue.length"

  // A null value's mark points past it: report the key's line instead.
  YAML::Mark mark() const {
    return value.IsDefined() && !value.IsNull() && value.Mark().line >= 0 ? value.Mark()
                                                                          : key.Mark();
  }
};

std::string join(std::initializer_list<const char*> names) {
  std::string s;
  for (const char* n : names) s += std::string(s.empty() ? "" : ", ") + n;
  return s;
}

// What a node is, for "expected X (got Y)".
std::string got(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  std::string s;
  for (const unsigned char ch : n.Scalar()) {  // control bytes escaped; UTF-8 kept
    if (s.size() >= 40) {
      s += "...";
      break;
    }
    if (ch < 0x20 || ch == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", ch);
      s += b;
    } else {
      s += static_cast<char>(ch);
    }
  }
  return "'" + s + "'";
}

std::string fmt_double(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// Calls fn(entry) for each key of `map` that is in `known`; non-string,
// duplicate and unknown keys are errors. A null (empty) section is no keys.
void each_key(Ctx& c, const YAML::Node& map, const YAML::Mark& at, const std::string& where,
              std::initializer_list<const char*> known,
              const std::function<void(const Entry&)>& fn) {
  if (!map.IsDefined() || map.IsNull()) return;
  if (!map.IsMap()) {
    c.error(map.Mark().line >= 0 ? map.Mark() : at, where.empty() ? "top level" : where,
            "expected a mapping with " + join(known) + " (got " + got(map) + ")");
    return;
  }
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string path_of = where.empty() ? "" : where + ".";
    if (!kv.first.IsScalar()) {
      c.error(kv.first.Mark(), where.empty() ? "top level" : where,
              "a key must be a plain name (got " + got(kv.first) + ")");
      continue;
    }
    const std::string& key = kv.first.Scalar();
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return key == k; }) ==
        known.end()) {
      c.error(kv.first.Mark(), path_of + key, "unknown key (known: " + join(known) + ")");
      continue;
    }
    if (!seen.insert(key).second) {
      c.error(kv.first.Mark(), path_of + key, "duplicate key");
      continue;
    }
    fn(Entry{kv.first, kv.second, path_of + key});
  }
}

// --- scalars -----------------------------------------------------------------

bool get_scalar(Ctx& c, const Entry& e, const char* what, std::string* out) {
  if (!e.value.IsScalar()) {
    c.error(e.mark(), e.path, std::string("expected ") + what + " (got " + got(e.value) + ")");
    return false;
  }
  *out = e.value.Scalar();
  return true;
}

std::optional<int64_t> to_int(std::string_view s) {
  int64_t v = 0;
  const char* end = s.data() + s.size();
  if (s.empty()) return std::nullopt;
  const auto r = std::from_chars(s.data(), end, v);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return v;
}

bool get_int(Ctx& c, const Entry& e, int64_t lo, int64_t hi, int64_t* out) {
  std::string s;
  if (!get_scalar(c, e, "an integer", &s)) return false;
  const std::optional<int64_t> v = to_int(s);
  if (!v) {
    const bool digits =
        !s.empty() && std::all_of(s.begin() + (s[0] == '-'), s.end(),
                                  [](unsigned char ch) { return std::isdigit(ch) != 0; });
    c.error(e.mark(), e.path,
            digits ? "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                         " (got " + s + ")"
                   : "expected an integer (got " + got(e.value) + ")");
    return false;
  }
  if (*v < lo || *v > hi) {
    c.error(e.mark(), e.path,
            "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " + s +
                ")");
    return false;
  }
  *out = *v;
  return true;
}

bool get_bool(Ctx& c, const Entry& e, bool* out) {
  std::string s;
  if (!get_scalar(c, e, "true or false", &s)) return false;
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (l == "true" || l == "yes" || l == "on") {
    *out = true;
  } else if (l == "false" || l == "no" || l == "off") {
    *out = false;
  } else {
    c.error(e.mark(), e.path, "expected true or false (got " + got(e.value) + ")");
    return false;
  }
  return true;
}

bool get_duration(Ctx& c, const Entry& e, int64_t lo, int64_t hi, int64_t* out) {
  std::string s;
  if (!get_scalar(c, e, "a duration such as 500ms, 60s, 15m, 1h", &s)) return false;
  const std::optional<int64_t> v = parse_duration_ms(s);
  if (!v) {
    c.error(e.mark(), e.path,
            "not a duration (got " + got(e.value) +
                "): a number with a unit ms, s, m, h or d (e.g. 500ms, 15m, 1h), or a plain number "
                "of seconds");
    return false;
  }
  if (*v < lo || *v > hi) {
    c.error(e.mark(), e.path,
            "must be between " + std::to_string(lo) + " ms and " + std::to_string(hi) +
                " ms (got " + s + ")");
    return false;
  }
  *out = *v;
  return true;
}

// Bytes: a plain number, or with KiB / MiB.
bool get_size(Ctx& c, const Entry& e, int64_t lo, int64_t hi, size_t* out) {
  std::string s;
  if (!get_scalar(c, e, "a size such as 65536 or 64KiB", &s)) return false;
  std::string_view num = s;
  int64_t unit = 1;
  for (const auto& [suffix, mult] :
       {std::pair<std::string_view, int64_t>{"KiB", 1024}, {"MiB", 1024 * 1024}}) {
    if (num.size() > suffix.size() && num.ends_with(suffix)) {
      num.remove_suffix(suffix.size());
      unit = mult;
      break;
    }
  }
  const std::optional<int64_t> v = to_int(num);
  if (!v || *v < 0 || *v > (int64_t{1} << 40)) {
    c.error(e.mark(), e.path,
            "expected a size in bytes, e.g. 65536 or 64KiB (got " + got(e.value) + ")");
    return false;
  }
  const int64_t bytes = *v * unit;
  if (bytes < lo || bytes > hi) {
    c.error(e.mark(), e.path,
            "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                " bytes (got " + s + ")");
    return false;
  }
  *out = static_cast<size_t>(bytes);
  return true;
}

// An enum value through its parser; the message lists the accepted names.
template <typename T>
bool get_enum(Ctx& c, const Entry& e, std::optional<T> (*parse)(std::string_view),
              std::initializer_list<const char*> names, T* out) {
  std::string s;
  if (!get_scalar(c, e, ("one of " + join(names)).c_str(), &s)) return false;
  const std::optional<T> v = parse(s);
  if (!v) {
    c.error(e.mark(), e.path, "expected one of " + join(names) + " (got " + got(e.value) + ")");
    return false;
  }
  *out = *v;
  return true;
}

bool get_absolute_path(Ctx& c, const Entry& e, size_t max_len, std::string* out) {
  std::string s;
  if (!get_scalar(c, e, "an absolute path", &s)) return false;
  if (s.empty() || s[0] != '/') {
    c.error(e.mark(), e.path, "must be an absolute path (got " + got(e.value) + ")");
    return false;
  }
  if (s.back() == '/') {
    c.error(e.mark(), e.path, "must name a file, not a directory (got " + got(e.value) + ")");
    return false;
  }
  if (s.size() > max_len) {
    c.error(e.mark(), e.path,
            "too long: at most " + std::to_string(max_len) + " bytes (got " +
                std::to_string(s.size()) + ")");
    return false;
  }
  *out = s;
  return true;
}

// A list, or a single scalar standing for a list of one: calls fn for each
// item with its own path ("rules.ports[1]").
void each_item(Ctx& c, const Entry& e, const char* what,
               const std::function<void(const Entry&)>& fn) {
  if (e.value.IsNull()) return;
  if (e.value.IsScalar()) {
    fn(e);
    return;
  }
  if (!e.value.IsSequence()) {
    c.error(e.mark(), e.path,
            std::string("expected a list of ") + what + " (got " + got(e.value) + ")");
    return;
  }
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    fn(Entry{e.key, item, e.path + "[" + std::to_string(i) + "]"});
  }
}

// Why `s` is not a port range, or empty when it is one.
std::string port_range_problem(std::string_view s, std::pair<uint16_t, uint16_t>* out) {
  const size_t dash = s.find('-');
  const std::string_view a = s.substr(0, dash);
  const std::string_view b = dash == std::string_view::npos ? a : s.substr(dash + 1);
  const std::optional<int64_t> lo = to_int(a), hi = to_int(b);
  if (!lo || !hi || a.starts_with('-') || b.starts_with('-') || a.starts_with('+') ||
      b.starts_with('+')) {
    return "expected a port or a range LO-HI such as 8080-8179";
  }
  if (*lo < 1 || *lo > 65535 || *hi < 1 || *hi > 65535) return "ports must be between 1 and 65535";
  if (*lo > *hi)
    return "the range is reversed: " + std::to_string(*lo) + " > " + std::to_string(*hi);
  *out = {static_cast<uint16_t>(*lo), static_cast<uint16_t>(*hi)};
  return "";
}

// --- sections ------------------------------------------------------------------

void parse_control(Ctx& c, const Entry& sec, Config* cfg) {
  each_key(c, sec.value, sec.mark(), sec.path, {"socket", "group"}, [&](const Entry& e) {
    if (e.key.Scalar() == "socket") {
      get_absolute_path(c, e, kSunPathMax, &cfg->control_socket);
    } else {
      std::string g;
      if (!get_scalar(c, e, "a group name", &g)) return;
      const bool ok = g.size() <= 32 && (g.empty() || g[0] != '-') &&
                      std::all_of(g.begin(), g.end(), [](unsigned char ch) {
                        return std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.';
                      });
      if (!ok) {
        c.error(e.mark(), e.path,
                "not a group name (letters, digits, '_', '-', '.', at most 32, not starting with "
                "'-'; got " +
                    got(e.value) + ")");
        return;
      }
      cfg->control_group = g;
    }
  });
}

void parse_queue(Ctx& c, const Entry& sec, Config* cfg) {
  each_key(c, sec.value, sec.mark(), sec.path,
           {"numbers", "length", "copy_bytes", "fail_open", "bypass"}, [&](const Entry& e) {
             const std::string& k = e.key.Scalar();
             int64_t v = 0;
             if (k == "numbers") {
               std::vector<uint16_t> qs;
               bool ok = true;
               each_item(c, e, "queue numbers", [&](const Entry& item) {
                 if (!get_int(c, item, 0, 65535, &v)) {
                   ok = false;
                 } else if (std::find(qs.begin(), qs.end(), v) != qs.end()) {
                   c.error(item.mark(), item.path, "duplicate queue " + std::to_string(v));
                   ok = false;
                 } else {
                   qs.push_back(static_cast<uint16_t>(v));
                 }
               });
               if (!ok) return;
               if (qs.empty() || qs.size() > kMaxQueues) {
                 c.error(e.mark(), e.path,
                         "give between 1 and " + std::to_string(kMaxQueues) +
                             " queue numbers (got " + std::to_string(qs.size()) + ")");
                 return;
               }
               cfg->queues = std::move(qs);
             } else if (k == "length") {
               if (get_int(c, e, 1, 1'000'000, &v)) cfg->queue_length = static_cast<uint32_t>(v);
             } else if (k == "copy_bytes") {
               if (get_int(c, e, 64, 65535, &v)) cfg->copy_bytes = static_cast<uint32_t>(v);
             } else if (k == "fail_open") {
               get_bool(c, e, &cfg->fail_open);
             } else {
               get_bool(c, e, &cfg->bypass);
             }
           });
}

bool valid_ifname(std::string_view s) {
  if (s.empty() || s.size() > kIfNameMax || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == '@';
  });
}

void parse_rules(Ctx& c, const Entry& sec, Config* cfg) {
  each_key(
      c, sec.value, sec.mark(), sec.path, {"backend", "hook", "interfaces", "ports"},
      [&](const Entry& e) {
        const std::string& k = e.key.Scalar();
        if (k == "backend") {
          get_enum(c, e, parse_backend, {"auto", "nftables", "iptables", "none"}, &cfg->backend);
        } else if (k == "hook") {
          get_enum(c, e, parse_hook, {"forward", "input", "output", "local"}, &cfg->hook);
        } else if (k == "interfaces") {
          std::vector<std::string> ifs;
          bool ok = true;
          each_item(c, e, "interface names", [&](const Entry& item) {
            std::string name;
            if (!get_scalar(c, item, "an interface name", &name)) {
              ok = false;
            } else if (!valid_ifname(name)) {
              c.error(item.mark(), item.path,
                      "not an interface name (1 to 15 letters, digits, '_', '-', '.', '@'; got " +
                          got(item.value) + ")");
              ok = false;
            } else if (std::find(ifs.begin(), ifs.end(), name) != ifs.end()) {
              c.error(item.mark(), item.path, "duplicate interface '" + name + "'");
              ok = false;
            } else {
              ifs.push_back(name);
            }
          });
          if (ok) cfg->interfaces = std::move(ifs);
        } else {
          std::vector<std::pair<uint16_t, uint16_t>> ports;
          bool ok = true;
          each_item(c, e, "ports or port ranges", [&](const Entry& item) {
            std::string s;
            if (!get_scalar(c, item, "a port or a range LO-HI", &s)) {
              ok = false;
              return;
            }
            std::pair<uint16_t, uint16_t> r;
            if (const std::string why = port_range_problem(s, &r); !why.empty()) {
              c.error(item.mark(), item.path, why + " (got " + got(item.value) + ")");
              ok = false;
              return;
            }
            ports.push_back(r);
          });
          if (!ok) return;
          if (ports.empty()) {
            c.error(e.mark(), e.path, "give at least one port or range (the VSL servers' ports)");
            return;
          }
          cfg->ports = std::move(ports);
        }
      });
}

void parse_verdicts(Ctx& c, const Entry& sec, Config* cfg) {
  each_key(c, sec.value, sec.mark(), sec.path, {"hold", "reset_on_deny", "non_vsl"},
           [&](const Entry& e) {
             const std::string& k = e.key.Scalar();
             if (k == "hold") {
               each_key(c, e.value, e.mark(), e.path, {"max_bytes", "max_time", "at_limit"},
                        [&](const Entry& h) {
                          const std::string& hk = h.key.Scalar();
                          if (hk == "max_bytes") {
                            get_size(c, h, 1024, 16 << 20, &cfg->hold_max_bytes);
                          } else if (hk == "max_time") {
                            get_duration(c, h, 1, kMinute, &cfg->hold_max_ms);
                          } else {
                            get_enum(c, h, parse_at_limit, {"drop", "accept"}, &cfg->hold_at_limit);
                          }
                        });
             } else if (k == "reset_on_deny") {
               get_bool(c, e, &cfg->reset_on_deny);
             } else {
               get_enum(c, e, parse_non_vsl, {"accept", "drop", "edge"}, &cfg->non_vsl);
             }
           });
}

void parse_detector(Ctx& c, const Entry& sec, Config* cfg) {
  each_key(c, sec.value, sec.mark(), sec.path,
           {"threshold", "learning_phase", "edge_ttl", "window", "generalise_types",
            "snapshot_interval"},
           [&](const Entry& e) {
             const std::string& k = e.key.Scalar();
             if (k == "threshold") {
               std::string s;
               if (!get_scalar(c, e, "a number", &s)) return;
               double v = 0;
               const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
               if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() ||
                   !std::isfinite(v)) {
                 c.error(e.mark(), e.path, "expected a number (got " + got(e.value) + ")");
               } else if (!(v > 0 && v <= 1e6)) {
                 c.error(e.mark(), e.path,
                         "must be above 0 and at most 1e6 (got " + fmt_double(v) + ")");
               } else {
                 cfg->threshold = v;
               }
             } else if (k == "learning_phase") {
               get_duration(c, e, 0, kMaxDurationMs, &cfg->learning_phase_ms);
             } else if (k == "edge_ttl") {
               get_duration(c, e, 0, kMaxDurationMs, &cfg->edge_ttl_ms);
             } else if (k == "window") {
               get_duration(c, e, kSecond, kDay, &cfg->window_ms);
             } else if (k == "generalise_types") {
               get_bool(c, e, &cfg->generalise_types);
             } else {
               get_duration(c, e, kSecond, kDay, &cfg->snapshot_interval_ms);
             }
           });
}

// A site map message "line N: services[0].x: ..." names keys from the site
// map's top; inline they sit under `site.` ("line N: site: ..." for a
// message without a key).
std::string under_site(const std::string& msg) {
  size_t i = 0;
  if (msg.starts_with("line ")) {
    i = msg.find(": ");
    if (i == std::string::npos) return msg;
    i += 2;
  }
  const size_t colon = std::min(msg.find(": ", i), msg.size());
  const std::string_view key(msg.data() + i, colon - i);
  const bool keyish = colon < msg.size() && !key.empty() &&
                      std::all_of(key.begin(), key.end(), [](unsigned char ch) {
                        return std::isalnum(ch) || ch == '_' || ch == '.' || ch == '[' || ch == ']';
                      });
  return msg.substr(0, i) + (keyish ? "site." : "site: ") + msg.substr(i);
}

// The site's text cut out of the document in place: earlier lines blank,
// the columns before it spaces, later top-level keys left out, so that a
// parse of it numbers lines as the file does (yaml-cpp breaks lines at
// '\n' only, as this does). Empty for a flow-style document.
std::string site_in_place(const Ctx& c, const YAML::Node& root, const Entry& e) {
  const YAML::Mark at = e.value.Mark();
  if (root.Style() != YAML::EmitterStyle::Block || at.line < 0) return "";
  int end_line = -1;  // the first top-level key after `site`
  for (const auto& kv : root) {
    const int l = kv.first.Mark().line;
    if (l > e.key.Mark().line && (end_line < 0 || l < end_line)) end_line = l;
  }
  std::string text;
  int line = 0;
  for (size_t pos = 0; pos <= c.text.size() && (end_line < 0 || line < end_line); ++line) {
    size_t nl = c.text.find('\n', pos);
    if (nl == std::string_view::npos) nl = c.text.size();
    const std::string_view l = c.text.substr(pos, nl - pos);
    if (line == at.line) {
      const size_t col = std::min(static_cast<size_t>(std::max(at.column, 0)), l.size());
      text.append(col, ' ');
      text.append(l.substr(col));
    } else if (line > at.line) {
      text.append(l);
    }
    text.push_back('\n');
    pos = nl + 1;
  }
  return text;
}

// The inline site map, checked by dpi::parse_site_map itself: the node
// re-emitted decides (aliases resolved); when it is invalid, the same parse
// of the site's text in place names the line in the file.
void parse_site(Ctx& c, const YAML::Node& root, const Entry& e, Config* cfg) {
  if (e.value.IsNull()) {
    cfg->site = {};
    return;
  }
  if (!e.value.IsMap()) {
    c.error(e.mark(), e.path,
            "expected a mapping with services (docs/site-map.md) (got " + got(e.value) + ")");
    return;
  }
  YAML::Emitter out;
  out << e.value;
  std::string error = out.good() ? "" : "cannot re-emit: " + out.GetLastError();
  dpi::SiteMap site;
  if (out.good() && dpi::parse_site_map(out.c_str(), &site, &error)) {
    cfg->site = std::move(site);
    return;
  }
  const std::string text = site_in_place(c, root, e);
  std::string located;
  if (!text.empty() && !dpi::parse_site_map(text, &site, &located)) {
    c.errors->push_back(c.prefix + under_site(located));
    return;
  }
  // No line of its own: at the line where `site:` starts.
  if (error.starts_with("line "))
    error = error.substr(std::min(error.size(), error.find(": ") + 2));
  c.error(e.mark(), "", under_site(error));
}

void parse_site_map_file(Ctx& c, const Entry& e, Config* cfg) {
  std::string file;
  if (!get_scalar(c, e, "a file name", &file)) return;
  if (file.empty()) {
    c.error(e.mark(), e.path, "empty file name");
    return;
  }
  if (file[0] != '/' && !c.dir.empty()) file = c.dir + "/" + file;
  std::string error;
  dpi::SiteMap site;
  if (!dpi::load_site_map(file, &site, &error)) {
    c.error(e.mark(), e.path, error);
    return;
  }
  cfg->site = std::move(site);
  cfg->site_map_path = file;
}

void parse_root(Ctx& c, const YAML::Node& root, Config* cfg) {
  std::optional<YAML::Mark> site_at, site_map_at;  // where each key was given
  each_key(c, root, root.Mark(), "",
           {"mode", "log_level", "state", "control", "queue", "rules", "verdicts", "detector",
            "site", "site_map"},
           [&](const Entry& e) {
             const std::string& k = e.key.Scalar();
             if (k == "mode") {
               get_enum(c, e, parse_mode, {"learning", "enforce", "monitor"}, &cfg->mode);
             } else if (k == "log_level") {
               std::string s;
               if (!get_scalar(c, e, "one of debug, info, warning, error", &s)) return;
               if (s != "debug" && s != "info" && s != "warning" && s != "error") {
                 c.error(e.mark(), e.path,
                         "expected one of debug, info, warning, error (got " + got(e.value) + ")");
                 return;
               }
               cfg->log_level = s;
             } else if (k == "state") {
               get_absolute_path(c, e, 4096, &cfg->state);
             } else if (k == "control") {
               parse_control(c, e, cfg);
             } else if (k == "queue") {
               parse_queue(c, e, cfg);
             } else if (k == "rules") {
               parse_rules(c, e, cfg);
             } else if (k == "verdicts") {
               parse_verdicts(c, e, cfg);
             } else if (k == "detector") {
               parse_detector(c, e, cfg);
             } else if (k == "site") {
               site_at = e.key.Mark();
               parse_site(c, root, e, cfg);
             } else {
               site_map_at = e.key.Mark();
               parse_site_map_file(c, e, cfg);
             }
           });
  if (site_at && site_map_at) {
    const bool site_later = site_at->line > site_map_at->line;
    c.error(site_later ? *site_at : *site_map_at, site_later ? "site" : "site_map",
            "give either site (inline) or site_map (a file), not both");
  }
}

template <typename T, size_t N>
std::optional<T> lookup(const std::array<std::pair<std::string_view, T>, N>& table,
                        std::string_view s) {
  for (const auto& [name, v] : table) {
    if (name == s) return v;
  }
  return std::nullopt;
}

template <typename T, size_t N>
std::string_view name_of(const std::array<std::pair<std::string_view, T>, N>& table, T v) {
  for (const auto& [name, value] : table) {
    if (value == v) return name;
  }
  return "?";
}

constexpr std::array<std::pair<std::string_view, Mode>, 3> kModes{
    {{"learning", Mode::kLearning}, {"enforce", Mode::kEnforce}, {"monitor", Mode::kMonitor}}};
constexpr std::array<std::pair<std::string_view, RuleBackend>, 4> kBackends{
    {{"auto", RuleBackend::kAuto},
     {"nftables", RuleBackend::kNftables},
     {"iptables", RuleBackend::kIptables},
     {"none", RuleBackend::kNone}}};
constexpr std::array<std::pair<std::string_view, Hook>, 4> kHooks{{{"forward", Hook::kForward},
                                                                   {"input", Hook::kInput},
                                                                   {"output", Hook::kOutput},
                                                                   {"local", Hook::kLocal}}};
constexpr std::array<std::pair<std::string_view, NonVsl>, 3> kNonVsl{
    {{"accept", NonVsl::kAccept}, {"drop", NonVsl::kDrop}, {"edge", NonVsl::kEdge}}};
constexpr std::array<std::pair<std::string_view, AtLimit>, 2> kAtLimit{
    {{"drop", AtLimit::kDrop}, {"accept", AtLimit::kAccept}}};

}  // namespace

std::string_view mode_name(Mode m) { return name_of(kModes, m); }
std::string_view backend_name(RuleBackend b) { return name_of(kBackends, b); }
std::string_view hook_name(Hook h) { return name_of(kHooks, h); }
std::string_view non_vsl_name(NonVsl n) { return name_of(kNonVsl, n); }
std::string_view at_limit_name(AtLimit a) { return name_of(kAtLimit, a); }
std::optional<Mode> parse_mode(std::string_view s) { return lookup(kModes, s); }
std::optional<RuleBackend> parse_backend(std::string_view s) { return lookup(kBackends, s); }
std::optional<Hook> parse_hook(std::string_view s) { return lookup(kHooks, s); }
std::optional<NonVsl> parse_non_vsl(std::string_view s) { return lookup(kNonVsl, s); }
std::optional<AtLimit> parse_at_limit(std::string_view s) { return lookup(kAtLimit, s); }

std::optional<int64_t> parse_duration_ms(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
  const std::string_view num = s.substr(0, n), unit = s.substr(n);
  if (num.empty() || !std::isdigit(static_cast<unsigned char>(num[0]))) return std::nullopt;
  double v = 0;
  const auto r = std::from_chars(num.data(), num.data() + num.size(), v);
  if (r.ec != std::errc() || r.ptr != num.data() + num.size() || !std::isfinite(v))
    return std::nullopt;
  double factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s" || unit.empty()) {
    factor = kSecond;
  } else if (unit == "m") {
    factor = kMinute;
  } else if (unit == "h") {
    factor = kHour;
  } else if (unit == "d") {
    factor = kDay;
  } else {
    return std::nullopt;
  }
  const double ms = v * factor;
  if (!(ms >= 0 && ms <= static_cast<double>(kMaxDurationMs))) return std::nullopt;
  return std::llround(ms);
}

std::optional<std::pair<uint16_t, uint16_t>> parse_port_range(std::string_view s) {
  std::pair<uint16_t, uint16_t> r;
  if (!port_range_problem(s, &r).empty()) return std::nullopt;
  return r;
}

std::string format_ports(const std::vector<std::pair<uint16_t, uint16_t>>& ports) {
  std::string s;
  for (const auto& [lo, hi] : ports) {
    if (!s.empty()) s += ",";
    s += std::to_string(lo);
    if (hi != lo) s += "-" + std::to_string(hi);
  }
  return s;
}

bool parse_config(std::string_view yaml, const std::string& path, Config* out,
                  std::vector<std::string>* errors) {
  const size_t errors_before = errors->size();
  Ctx c{yaml, path.empty() ? "" : path + ": ", "", errors};
  if (const size_t slash = path.rfind('/'); slash != std::string::npos) {
    c.dir = slash == 0 ? "/" : path.substr(0, slash);
  }
  Config cfg;
  cfg.path = path;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    parse_root(c, root, &cfg);
  } catch (const YAML::DeepRecursion& e) {
    c.error(e.mark, "", "YAML nested too deeply (" + std::to_string(e.depth()) + " levels)");
  } catch (const YAML::Exception& e) {
    // e.mark is 0-based; e.msg is the bare message.
    c.error(e.mark, "", "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    c.error(YAML::Mark::null_mark(), "", std::string("cannot parse: ") + e.what());
  }
  if (errors->size() != errors_before) return false;
  *out = std::move(cfg);
  return true;
}

bool load_config(const std::string& path, Config* out, std::vector<std::string>* errors) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    errors->push_back(path + ": " + std::strerror(errno));
    return false;
  }
  std::string text;
  char buf[65536];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    text.append(buf, static_cast<size_t>(f.gcount()));
    if (text.size() > kMaxFileBytes) {
      errors->push_back(path + ": too large for a configuration file (over " +
                        std::to_string(kMaxFileBytes >> 20) + " MiB)");
      return false;
    }
  }
  if (f.bad()) {
    errors->push_back(path + ": read error");
    return false;
  }
  return parse_config(text, path, out, errors);
}

std::string config_summary(const Config& c) {
  const size_t q = c.queues.size(), s = c.site.services.size();
  return "mode " + std::string(mode_name(c.mode)) + ", " + std::to_string(q) +
         (q == 1 ? " queue" : " queues") + ", ports " + format_ports(c.ports) + ", " +
         std::to_string(s) + (s == 1 ? " service" : " services");
}

namespace {

// Every key that takes effect only at a restart: f(member, name).
template <class F>
void each_restart_key(F&& f) {
  f(&Config::state, "state");
  f(&Config::control_socket, "control.socket");
  f(&Config::control_group, "control.group");
  f(&Config::queues, "queue.numbers");
  f(&Config::queue_length, "queue.length");
  f(&Config::copy_bytes, "queue.copy_bytes");
  f(&Config::fail_open, "queue.fail_open");
  f(&Config::bypass, "queue.bypass");
  f(&Config::backend, "rules.backend");
  f(&Config::hook, "rules.hook");
  f(&Config::interfaces, "rules.interfaces");
  f(&Config::ports, "rules.ports");
  f(&Config::window_ms, "detector.window");
}

}  // namespace

std::vector<std::string> keys_needing_restart(const Config& a, const Config& b) {
  std::vector<std::string> keys;
  each_restart_key([&](auto member, const char* key) {
    if (!(a.*member == b.*member)) keys.push_back(key);
  });
  return keys;
}

Config keep_restart_keys(const Config& running, Config loaded) {
  each_restart_key([&](auto member, const char*) { loaded.*member = running.*member; });
  return loaded;
}

}  // namespace iotwall
