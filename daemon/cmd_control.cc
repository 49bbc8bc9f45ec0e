// iotwall pending / approve / deny / status / graph: the control CLI. Each
// sends one request to the running daemon's control socket
// (daemon/control_socket.h) and prints the reply in plain words, or as JSON
// with --json. Replies are read defensively: a missing or mistyped key prints
// as "-" or is left out, never crashes.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "daemon/control_socket.h"
#include "daemon/text_table.h"

namespace iotwall::cli {
namespace {

namespace po = boost::program_options;
using json = nlohmann::json;

constexpr const char* kDefaultSocket = "/run/iotwall/control.sock";

// The options every control subcommand has.
struct Common {
  std::string socket = kDefaultSocket;
  bool json = false;
};

void add_common(po::options_description* opts, Common* c) {
  opts->add_options()
      ("help,h", "show this help")
      ("socket", po::value(&c->socket)->default_value(c->socket), "the daemon's control socket")
      ("json", po::bool_switch(&c->json), "print the daemon's reply as one line of JSON (for scripts)");
}

// ---- Reading replies defensively.

const json* field(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  const auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

// A string field, or a number printed as text; `fallback` otherwise.
std::string text(const json& o, const char* key, const std::string& fallback = "") {
  const json* v = field(o, key);
  if (v == nullptr) return fallback;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return v->dump();
  if (v->is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v->get<double>());
    return buf;
  }
  return fallback;
}

std::optional<double> number(const json& o, const char* key) {
  const json* v = field(o, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  const double d = v->get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

// A count for a table: "1,234", or "-" when missing or not a count.
std::string count(const json& o, const char* key) {
  const std::optional<double> d = number(o, key);
  if (!d || *d < 0 || *d > 1.8e19) return "-";
  return group(static_cast<uint64_t>(*d));
}

const json& array(const json& o, const char* key) {
  static const json empty = json::array();
  const json* v = field(o, key);
  return v != nullptr && v->is_array() ? *v : empty;
}

// "2025-11-30 08:00:00 UTC" from milliseconds since the epoch.
std::string utc(double ms) {
  if (!(ms >= 0 && ms < 1e16)) return "?";
  const time_t t = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  char buf[64];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) return "?";
  return buf;
}

// "12.5 s", "4 min 05 s", "3 h 02 min", "2 d 07 h".
std::string duration(double s) {
  char buf[64];
  if (!(s >= 0 && s < 1e12)) return "?";
  const long long n = static_cast<long long>(s);
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else if (n < 3600) {
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", n / 60, n % 60);
  } else if (n < 86400) {
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", n / 3600, n % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld d %02lld h", n / 86400, n % 86400 / 3600);
  }
  return buf;
}

std::string join(const json& list, const char* sep) {
  std::string out;
  if (!list.is_array()) return out;
  for (const json& v : list) {
    if (!v.is_string()) continue;
    out.append(out.empty() ? "" : sep).append(v.get<std::string>());
  }
  return out;
}

// Sends `request`. Returns -1 with *reply set when the daemon said ok;
// otherwise prints (the raw reply with --json, else the error) and returns
// the exit status.
int call(const char* command, const Common& c, const json& request, json* reply) {
  std::string error;
  if (!control_call(c.socket, request, reply, &error)) {
    std::fprintf(stderr, "iotwall %s: %s\n", command, error.c_str());
    return 1;
  }
  const json* ok = field(*reply, "ok");
  const bool good = ok != nullptr && ok->is_boolean() && ok->get<bool>();
  if (c.json) {
    std::printf("%s\n", reply->dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return good ? 0 : 1;
  }
  if (good) return -1;
  std::string why = text(*reply, "error");
  if (why.empty()) why = "the daemon refused: " + reply->dump(-1, ' ', false, json::error_handler_t::replace);
  if (why == "permission denied") why += " (root or group iotwall)";
  std::fprintf(stderr, "iotwall %s: %s\n", command, why.c_str());
  return 1;
}

// ---- pending

// Returns the exit status: 1 when the reply has no question list.
int print_pending(const json& reply) {
  const json* questions = field(reply, "questions");
  if (questions == nullptr || !questions->is_array()) {
    std::fprintf(stderr, "iotwall pending: the daemon's reply has no question list: %s\n",
                 reply.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return 1;
  }
  if (questions->empty()) {
    std::printf("no pending questions\n");
    return 0;
  }
  size_t width = 1;
  for (const json& q : *questions) width = std::max(width, text(q, "id", "?").size());
  const std::string indent(2 + width + 2, ' ');
  for (const json& q : *questions) {
    const std::string id = text(q, "id", "?");
    std::printf("  %*s  %s\n", static_cast<int>(width), id.c_str(), text(q, "text", "(no text)").c_str());
    if (const std::string ex = text(q, "exemplar"); !ex.empty()) std::printf("%s%s\n", indent.c_str(), ex.c_str());
    std::string last;
    if (const json* s = field(q, "sources"); s != nullptr && s->is_array() && !s->empty()) {
      last = "waiting: " + join(*s, ", ");
    }
    if (const std::optional<double> asked = number(q, "asked_ms")) {
      last.append(last.empty() ? "" : " \u00b7 ").append("asked ").append(utc(*asked));
    }
    if (!last.empty()) std::printf("%s%s\n", indent.c_str(), last.c_str());
  }
  return 0;
}

// ---- approve / deny

int run_decision(const char* command, int argc, char** argv) {
  Common c;
  std::string id, service;
  po::options_description opts(std::string("iotwall ") + command + " ID [--service SVC] [options]");
  add_common(&opts, &c);
  opts.add_options()
      ("id", po::value(&id), "the question's id, as 'iotwall pending' lists it")
      ("service", po::value(&service), "answer only for this waiting service (by id), not for its whole type");
  po::variables_map vm;
  if (const int rc = parse_command_line(command, argc, argv, opts, &vm, "id"); rc >= 0) return rc;
  if (id.empty()) {
    std::fprintf(stderr, "iotwall %s: which question? give its id (see 'iotwall pending')\n", command);
    return 2;
  }
  json request{{"cmd", command}, {"id", id}};
  if (!service.empty()) {
    request["scope"] = "service";
    request["service"] = service;
  }
  json reply;
  if (const int rc = call(command, c, request, &reply); rc >= 0) return rc;

  const std::string decision =
      text(reply, "decision", std::string(command) == "approve" ? "approved" : "denied");
  std::string line = decision + " " + text(reply, "id", id);
  if (const std::string t = text(reply, "text"); !t.empty()) line += ": " + t;
  const std::string scope = text(reply, "scope");
  if (scope == "type") {
    const std::string type = text(reply, "type");
    line += type.empty() ? " (for every service of its type)" : " (for every " + type + ")";
  } else if (scope == "service") {
    line += " (for " + text(reply, "service", service.empty() ? "one service" : service) + " only)";
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

// ---- status

void print_status(const json& reply) {
  const auto row = [](const char* name, const std::string& value) {
    if (!value.empty()) std::printf("%-10s %s\n", name, value.c_str());
  };
  row("mode", text(reply, "mode"));
  if (const std::optional<double> up = number(reply, "uptime_s")) row("uptime", duration(*up));
  row("version", text(reply, "version"));
  row("backend", text(reply, "backend"));
  row("config", text(reply, "config"));
  row("state", text(reply, "state"));
  if (const std::optional<double> ms = number(reply, "last_snapshot_ms")) row("snapshot", utc(*ms));
  if (field(reply, "decisions") != nullptr) row("decisions", count(reply, "decisions"));

  const json& queues = array(reply, "queues");
  if (queues.empty()) return;
  static constexpr const char* kColumns[] = {"packets",  "accepted",  "dropped", "rejected", "held",
                                             "undecided", "accesses", "anomalies", "pending", "services",
                                             "edges"};
  std::vector<std::string> header{"queue"};
  header.insert(header.end(), std::begin(kColumns), std::end(kColumns));
  TextTable table(std::move(header));
  for (const json& q : queues) {
    std::vector<std::string> r{text(q, "queue", "?")};
    for (const char* k : kColumns) r.push_back(count(q, k));
    table.add(std::move(r));
  }
  std::printf("\n");
  table.print(stdout);
}

// ---- graph

// An edge as read from the reply, with display names.
struct EdgeRow {
  std::string src, dst, op, state, count;
  std::string src_name, dst_name;  // vertex names (addresses), for dot
};

// Graphviz: a quoted id or label.
std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(ch);
  }
  return out + "\"";
}

const char* state_colour(const std::string& state) {
  if (state == "learned") return "gray40";
  if (state == "approved") return "darkgreen";
  if (state == "pending") return "orange";
  if (state == "denied") return "red";
  return "black";
}

void print_graph(const json& reply, bool dot) {
  // Vertex name (address) -> short id, for the table.
  std::map<std::string, std::string> ids;
  const json& vertices = array(reply, "vertices");
  for (const json& v : vertices) {
    const std::string name = text(v, "name");
    if (!name.empty()) ids[name] = text(v, "id", name);
  }
  const auto short_id = [&](const std::string& name) {
    const auto it = ids.find(name);
    return it == ids.end() || it->second.empty() ? name : it->second;
  };
  std::vector<EdgeRow> edges;
  for (const json& e : array(reply, "edges")) {
    EdgeRow r;
    r.src_name = text(e, "src", "?");
    r.dst_name = text(e, "dst", "?");
    r.src = short_id(r.src_name);
    r.dst = short_id(r.dst_name);
    r.op = text(e, "op", "?");
    r.state = text(e, "state", "?");
    r.count = count(e, "count");
    edges.push_back(std::move(r));
  }
  std::stable_sort(edges.begin(), edges.end(), [](const EdgeRow& a, const EdgeRow& b) {
    return std::tie(a.src, a.dst, a.op) < std::tie(b.src, b.dst, b.op);
  });

  if (dot) {
    std::printf("digraph iotwall {\n  rankdir=LR;\n  node [shape=box];\n");
    std::printf("  // edge colours: learned gray40, approved darkgreen, pending orange (dashed), denied red\n");
    for (const json& v : vertices) {
      const std::string name = text(v, "name");
      if (name.empty()) continue;
      std::string label = text(v, "id", name);
      for (const char* k : {"type", "room"}) {
        if (const std::string s = text(v, k); !s.empty()) label += "\n" + s;
      }
      std::printf("  %s [label=%s];\n", dot_quote(name).c_str(), dot_quote(label).c_str());
    }
    for (const EdgeRow& e : edges) {
      std::printf("  %s -> %s [label=%s, color=%s%s];\n", dot_quote(e.src_name).c_str(), dot_quote(e.dst_name).c_str(),
                  dot_quote(e.op + " " + e.count).c_str(), state_colour(e.state),
                  e.state == "pending" ? ", style=dashed" : "");
    }
    std::printf("}\n");
    return;
  }

  if (edges.empty()) {
    std::printf("no edges (%zu services)\n", vertices.size());
    return;
  }
  // Text columns left-aligned, the count right-aligned; the source only on
  // the first row of its group.
  std::vector<std::array<std::string, 5>> rows{{"source", "op", "destination", "state", "count"}};
  std::map<std::string, size_t> states;
  for (size_t i = 0; i < edges.size(); ++i) {
    const EdgeRow& e = edges[i];
    const bool first = i == 0 || edges[i - 1].src != e.src;
    rows.push_back({first ? e.src : "", e.op, e.dst, e.state, e.count});
    ++states[e.state];
  }
  std::array<size_t, 5> width{};
  for (const auto& r : rows) {
    for (size_t k = 0; k < r.size(); ++k) width[k] = std::max(width[k], r[k].size());
  }
  for (const auto& r : rows) {
    std::printf("  %-*s  %-*s  %-*s  %-*s  %*s\n", static_cast<int>(width[0]), r[0].c_str(), static_cast<int>(width[1]),
                r[1].c_str(), static_cast<int>(width[2]), r[2].c_str(), static_cast<int>(width[3]), r[3].c_str(),
                static_cast<int>(width[4]), r[4].c_str());
  }
  std::string summary;
  for (const char* s : {"learned", "approved", "pending", "denied"}) {
    if (const auto it = states.find(s); it != states.end()) {
      summary.append(summary.empty() ? "" : ", ").append(std::to_string(it->second)).append(" ").append(s);
      states.erase(it);
    }
  }
  for (const auto& [s, n] : states) summary.append(summary.empty() ? "" : ", ").append(std::to_string(n) + " " + s);
  std::printf("\n%zu services, %zu edges: %s\n", vertices.size(), edges.size(), summary.c_str());
}

// pending, status, graph: no argument but the common options.
int run_query(const char* command, int argc, char** argv) {
  Common c;
  bool dot = false;
  po::options_description opts(std::string("iotwall ") + command + " [options]");
  add_common(&opts, &c);
  if (std::string(command) == "graph") {
    opts.add_options()("dot", po::bool_switch(&dot), "print Graphviz dot (edge colours by state)");
  }
  po::variables_map vm;
  if (const int rc = parse_command_line(command, argc, argv, opts, &vm); rc >= 0) return rc;
  json reply;
  if (const int rc = call(command, c, json{{"cmd", command}}, &reply); rc >= 0) return rc;
  if (std::string(command) == "pending") return print_pending(reply);
  if (std::string(command) == "status") {
    print_status(reply);
  } else {
    print_graph(reply, dot);
  }
  return 0;
}

}  // namespace

int run_pending(int argc, char** argv) { return run_query("pending", argc, argv); }
int run_status(int argc, char** argv) { return run_query("status", argc, argv); }
int run_graph(int argc, char** argv) { return run_query("graph", argc, argv); }
int run_approve(int argc, char** argv) { return run_decision("approve", argc, argv); }
int run_deny(int argc, char** argv) { return run_decision("deny", argc, argv); }

}  // namespace iotwall::cli
