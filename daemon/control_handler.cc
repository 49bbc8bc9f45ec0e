#include "daemon/control_handler.h"

#include <pwd.h>

#include <charconv>

#include "daemon/store.h"
#include "model/wording.h"

namespace iotwall {

using nlohmann::json;

namespace {

json error_reply(const std::string& e) { return json{{"ok", false}, {"error", e}}; }

std::string str(const Interner& in, Sym s) { return std::string(in.str(s)); }

}  // namespace

std::string actor_of(const Peer& p) {
  std::string s = "uid " + std::to_string(p.uid);
  passwd pw{}, *res = nullptr;
  char buf[1024];
  if (getpwuid_r(p.uid, &pw, buf, sizeof buf, &res) == 0 && res != nullptr) {
    s += " (" + std::string(res->pw_name) + ")";
  }
  return s;
}

json ControlHandler::handle(const json& request, const Peer& peer) {
  if (!request.is_object() || !request.contains("cmd") || !request["cmd"].is_string()) {
    return error_reply("a request is an object with a \"cmd\" string");
  }
  const std::string cmd = request["cmd"].get<std::string>();
  if (cmd == "pending") return pending();
  if (cmd == "approve") return answer(request, true, peer);
  if (cmd == "deny") return answer(request, false, peer);
  if (cmd == "status") return status();
  if (cmd == "graph") return graph();
  return error_reply("unknown command '" + cmd + "' (pending, approve, deny, status, graph)");
}

std::string ControlHandler::id_of(const QueueWorker& w, uint32_t question) const {
  if (workers_.size() == 1) return std::to_string(question);
  return std::to_string(w.queue()) + ":" + std::to_string(question);
}

bool ControlHandler::parse_id(const std::string& id, QueueWorker** w, uint32_t* question,
                              std::string* error) {
  std::string_view q = id;
  uint32_t queue = 0;
  bool has_queue = false;
  if (const size_t colon = q.find(':'); colon != std::string_view::npos) {
    const auto r = std::from_chars(q.data(), q.data() + colon, queue);
    if (r.ec != std::errc() || r.ptr != q.data() + colon) {
      *error = "bad question id '" + id + "' (a number, or QUEUE:NUMBER)";
      return false;
    }
    has_queue = true;
    q = q.substr(colon + 1);
  }
  const auto r = std::from_chars(q.data(), q.data() + q.size(), *question);
  if (q.empty() || r.ec != std::errc() || r.ptr != q.data() + q.size() || *question == 0) {
    *error = "bad question id '" + id + "' (a number, or QUEUE:NUMBER)";
    return false;
  }
  if (!has_queue) {
    if (workers_.size() != 1) {
      *error = "several queues: give the id as QUEUE:NUMBER (see iotwall pending)";
      return false;
    }
    *w = workers_.front().get();
    return true;
  }
  for (auto& x : workers_) {
    if (x->queue() == queue) {
      *w = x.get();
      return true;
    }
  }
  *error = "no queue " + std::to_string(queue);
  return false;
}

json ControlHandler::pending() {
  json list = json::array();
  for (auto& w : workers_) {
    json part = w->call([&](InlineEngine& e) {
      json out = json::array();
      const CommGraph& g = e.detector().graph();
      const Interner& in = e.interner();
      for (const Question& q : g.questions()) {
        if (!q.open) continue;
        json sources = json::array();
        for (uint32_t v : q.sources) {
          const Vertex& vx = g.vertices()[v];
          sources.push_back(str(in, vx.id.empty() ? vx.name : vx.id));
        }
        const Edge& ex = g.edges()[q.exemplar_edge];
        const Vertex& src = g.vertices()[ex.src];
        const Vertex& dst = g.vertices()[ex.dst];
        std::string exemplar = vertex_text(src, in) + " wants to " +
                               std::string(operation_verb(ex.op)) + " " + vertex_text(dst, in);
        out.push_back(json{{"id", id_of(*w, q.id)},
                           {"text", question_text(g, q, in)},
                           {"asked_ms", q.asked_ms},
                           {"type_level", q.type_level},
                           {"sources", std::move(sources)},
                           {"exemplar", std::move(exemplar)}});
      }
      return out;
    });
    for (auto& q : part) list.push_back(std::move(q));
  }
  return json{{"ok", true}, {"questions", std::move(list)}};
}

json ControlHandler::answer(const json& request, bool approve, const Peer& peer) {
  if (!request.contains("id") || !(request["id"].is_string() || request["id"].is_number_unsigned())) {
    return error_reply("missing \"id\" (the question's id, see iotwall pending)");
  }
  const std::string id =
      request["id"].is_string() ? request["id"].get<std::string>() : std::to_string(request["id"].get<uint64_t>());
  std::string scope_name = "type", service;
  bool scope_given = false;
  if (request.contains("scope")) {
    if (!request["scope"].is_string() ||
        (request["scope"] != "type" && request["scope"] != "service")) {
      return error_reply("\"scope\" is \"type\" or \"service\"");
    }
    scope_name = request["scope"].get<std::string>();
    scope_given = true;
  }
  if (request.contains("service")) {
    if (!request["service"].is_string()) return error_reply("\"service\" is a service id");
    service = request["service"].get<std::string>();
    if (!scope_given) scope_name = "service";
  }
  QueueWorker* w = nullptr;
  uint32_t qid = 0;
  std::string error;
  if (!parse_id(id, &w, &qid, &error)) return error_reply(error);

  struct Result {
    std::string error, text, scope;
    std::future<std::string> committed;
  };
  const std::string actor = actor_of(peer);
  Result r = w->call([&](InlineEngine& e) {
    Result out;
    CommGraph& g = e.detector().graph();
    const Interner& in = e.interner();
    const Question* q = g.question(qid);
    if (q == nullptr) {
      out.error = "no question " + id;
      return out;
    }
    uint32_t source = CommGraph::kNoVertex;
    if (!service.empty()) {
      for (uint32_t v : q->sources) {
        const Vertex& vx = g.vertices()[v];
        if (in.str(vx.id) == service || in.str(vx.name) == service) source = v;
      }
      if (source == CommGraph::kNoVertex) {
        out.error = "question " + id + " does not wait on service '" + service + "'";
        return out;
      }
    }
    out.text = question_text(g, *q, in);
    const Scope scope = scope_name == "service" ? Scope::kService : Scope::kType;
    if (!g.answer(qid, approve, scope, source, &out.error)) return out;
    const Decision& d = g.decisions().back();
    out.scope = d.scope == Scope::kType ? "type" : "service";
    SnapshotJob job = w->snapshot_job(d.time_ms > 0 ? d.time_ms : wall_us() / 1000);
    job.snapshot.saved_ms = wall_us() / 1000;
    job.decision = decision_row(w->queue(), g, d, in, actor);
    out.committed = store_.submit(std::move(job));
    return out;
  });
  if (!r.error.empty()) return error_reply(r.error);
  // Acknowledged only when durable. The decision already applies to packets.
  const std::string stored = r.committed.get();
  const char* verb = approve ? "approved" : "denied";
  log_.line(LogLevel::kInfo, "decision",
            std::string("question=") + id + " decision=" + verb + " scope=" + r.scope +
                " actor=" + log_value(actor) + " text=" + log_value(r.text) +
                (stored.empty() ? "" : " store_error=" + log_value(stored)));
  if (!stored.empty()) {
    return error_reply(std::string(verb) + " and in force, but not saved: " + stored);
  }
  return json{{"ok", true}, {"id", id}, {"decision", verb}, {"scope", r.scope}, {"text", r.text}};
}

json ControlHandler::status() {
  json queues = json::array();
  for (auto& w : workers_) {
    const EngineCounters& c = w->engine_counters();
    json q = w->call([&](InlineEngine& e) {
      const CommGraph& g = e.detector().graph();
      // Sizes, to watch memory: strings and vertices grow with every new
      // name a client sends (docs/operating.md, "Bounds").
      return json{{"pending", g.open_questions()},
                  {"services", g.vertices().size()},
                  {"edges", g.edges().size()},
                  {"held", e.held_packets()},
                  {"connections", e.connections()},
                  {"strings", e.interner().size()},
                  {"strings_overflowed", e.interner().overflowed()},
                  {"anomalous_edges", g.anomalous_edges()},
                  {"edges_overflowed", g.overflowed_edges()},
                  {"graph_bytes", g.bytes()},
                  {"model_bytes", e.detector().model_bytes()},
                  {"flows", e.detector().flows()}};
    });
    q["queue"] = w->queue();
    q["packets"] = c.packets.get();
    q["accepted"] = c.accepted.get();
    q["dropped"] = c.dropped.get();
    q["rejected"] = c.rejected.get();
    q["undecided"] = w->undecided();
    q["accesses"] = c.accesses.get();
    q["anomalies"] = c.flagged.get();
    q["would_drop"] = c.would_drop.get();
    q["hold_limit"] = c.hold_limit.get();
    q["held_total"] = c.held.get();
    q["streamed"] = c.streamed.get();
    q["answered_first"] = c.answered_first.get();
    q["non_vsl"] = c.non_vsl.get();
    q["refused"] = c.refused.get();
    q["malformed"] = c.malformed.get();
    q["kernel_lost"] = w->queue_counters().enobufs.get();
    queues.push_back(std::move(q));
  }
  std::string error;
  const int64_t now = wall_us() / 1000;
  json r{{"ok", true},
         {"version", info_.version},
         {"mode", mode_name(info_.mode.load())},
         {"uptime_s", static_cast<double>(now - info_.started_ms) / 1000.0},
         {"backend", info_.backend},
         {"config", info_.config_path},
         {"state", info_.state_path},
         {"last_snapshot_ms", store_.last_saved_ms()},
         {"snapshots_written", store_.written()},
         {"log_suppressed", log_.suppressed()},
         {"queues", std::move(queues)}};
  if (const std::string e = store_.last_error(); !e.empty()) r["state_error"] = e;
  return r;
}

json ControlHandler::graph() {
  json vertices = json::array(), edges = json::array();
  for (auto& w : workers_) {
    w->call([&](InlineEngine& e) {
      const CommGraph& g = e.detector().graph();
      const Interner& in = e.interner();
      for (const Vertex& v : g.vertices()) {
        vertices.push_back(json{{"name", str(in, v.name)},
                                {"id", str(in, v.id)},
                                {"type", str(in, v.type)},
                                {"room", str(in, v.location)}});
      }
      for (const Edge& x : g.edges()) {
        edges.push_back(json{{"src", str(in, g.vertices()[x.src].name)},
                             {"dst", str(in, g.vertices()[x.dst].name)},
                             {"op", x.op == Operation::kUnknown ? "unknown" : operation_name(x.op)},
                             {"state", edge_state_name(x.state)},
                             {"count", x.count},
                             {"first_seen_ms", x.first_seen},
                             {"last_seen_ms", x.last_seen}});
      }
      return 0;
    });
  }
  return json{{"ok", true}, {"vertices", std::move(vertices)}, {"edges", std::move(edges)}};
}

}  // namespace iotwall
