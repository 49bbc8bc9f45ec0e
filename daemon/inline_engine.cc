#include "daemon/inline_engine.h"

#include <algorithm>
#include <limits>

#include "model/verdict_reason.h"
#include "model/wording.h"

namespace iotwall {

using firewall::Action;
using firewall::PacketTicket;

EngineOptions engine_options(const Config& c, int queue) {
  EngineOptions o;
  switch (c.mode) {
    case Mode::kLearning:
      o.mode = firewall::Mode::kLearning;
      break;
    case Mode::kEnforce:
      o.mode = firewall::Mode::kEnforce;
      break;
    case Mode::kMonitor:
      o.mode = firewall::Mode::kMonitor;
      break;
  }
  o.hold.max_bytes = c.hold_max_bytes;
  o.hold.max_ms = c.hold_max_ms;
  o.hold_at_limit = c.hold_at_limit == AtLimit::kAccept ? Action::kAccept : Action::kDrop;
  o.reset_on_deny = c.reset_on_deny;
  o.non_vsl = c.non_vsl;
  o.detector.threshold = c.threshold;
  o.detector.window_ms = c.window_ms;
  o.detector.graph.edge_ttl_ms = c.edge_ttl_ms;
  o.detector.graph.generalise_types = c.generalise_types;
  // Learning mode: every service stays in its learning phase.
  o.detector.graph.learning_phase_ms =
      c.mode == Mode::kLearning ? std::numeric_limits<int64_t>::max() / 4 : c.learning_phase_ms;
  o.queue = queue;
  return o;
}

namespace {

dpi::CaptureOptions capture_options() {
  dpi::CaptureOptions o;
  o.inline_mode = true;
  return o;
}

}  // namespace

// Bounds the interner before the detector reads its overflow name.
Interner& InlineEngine::bounded(Interner& in, const EngineOptions& o) {
  in.set_limits(o.max_names, o.max_name_bytes);
  return in;
}

InlineEngine::InlineEngine(const EngineOptions& o, const dpi::SiteMap& site, Log& log)
    : opt_(o),
      log_(log),
      detector_(o.detector, bounded(in_, o)),
      site_(site),
      decoder_(std::make_unique<dpi::CaptureDecoder>(capture_options(), site_, in_)),
      hold_(o.hold) {}

InlineEngine::~InlineEngine() = default;

void InlineEngine::reconfigure(const EngineOptions& o) {
  opt_ = o;
  hold_.set_limits(o.hold);
  detector_.set_threshold(o.detector.threshold);
  detector_.graph().set_options(o.detector.graph);
}

void InlineEngine::set_site(const dpi::SiteMap& site) {
  const Action a = opt_.mode == firewall::Mode::kEnforce ? opt_.hold_at_limit : Action::kAccept;
  hold_.release_all([&](PacketTicket& t) { finish(t, a, false); });
  next_mark_.clear();
  decoder_.reset();
  site_ = site;
  decoder_ = std::make_unique<dpi::CaptureDecoder>(capture_options(), site_, in_);
}

void InlineEngine::finish(PacketTicket& t, Action a, bool reset) {
  if (a == Action::kAccept) {
    counters_.accepted.add();
    t.accept();
  } else if (reset) {
    counters_.rejected.add();
    t.reject();
  } else {
    counters_.dropped.add();
    t.drop();
  }
}

void InlineEngine::release(uint64_t conn, Action a) {
  hold_.release(conn, [&](PacketTicket& t) { finish(t, a, false); });
}

void InlineEngine::condemn(uint8_t* mark) {
  if (mark == nullptr || *mark == kCondemned) return;
  *mark = kCondemned;
  counters_.condemned.add();
  // The connection is over (reset, or its packets dropped): its DPI state
  // goes after the short timeout. Resets are not queued, so it would
  // otherwise stay until the idle timeout.
  decoder_->closing_last();
}

void InlineEngine::log_flagged(const Access& a, const Verdict& v, bool dropped) {
  if (!log_.enabled(LogLevel::kWarning)) return;
  std::string f = "queue=" + std::to_string(opt_.queue);
  f += " action=";
  f += dropped ? "drop" : (opt_.mode == firewall::Mode::kMonitor ? "would_drop" : "accept");
  f += " src=" + log_value(in_.str(a.source()));
  f += " op=" + log_value(a.op == Operation::kUnknown ? "unknown" : operation_name(a.op));
  f += " node=" + log_value(in_.str(a.node_address));
  f += " edge=" + std::string(edge_state_name(v.graph.state));
  if (v.scored) {
    char av[32];
    std::snprintf(av, sizeof av, "%.2f", v.av);
    f += " av=";
    f += av;
  }
  f += " reason=" + log_value(verdict_reason(v, a, detector_, in_));
  log_.limited(LogLevel::kWarning, "anomaly", f);
  // A new question is a change of the edge's state: said once, in words.
  if (v.graph.asked && v.graph.reason == Reason::kNewEdge) {
    if (const Question* q = detector_.graph().question(v.graph.question)) {
      log_.limited(LogLevel::kInfo, "pending",
                   "queue=" + std::to_string(opt_.queue) + " question=" + std::to_string(q->id) +
                       " text=" + log_value(question_text(detector_.graph(), *q, in_)));
    }
  }
}

void InlineEngine::judge(const Access& a, bool* drop) {
  const Verdict v = detector_.observe(a);
  counters_.accesses.add();
  const firewall::PolicyDecision d = firewall::decide(opt_.mode, v.anomalous);
  if (v.anomalous) counters_.flagged.add();
  if (d.would_drop && d.action == Action::kAccept) counters_.would_drop.add();
  if (v.anomalous) log_flagged(a, v, d.action == Action::kDrop);
  if (d.action == Action::kDrop) *drop = true;
}

void InlineEngine::at_hold_limit(uint64_t conn, uint8_t* mark, PacketTicket* t, bool closed) {
  counters_.hold_limit.add();
  const Action a = opt_.mode == firewall::Mode::kEnforce ? opt_.hold_at_limit : Action::kAccept;
  // Dropped: the connection is condemned. Accepted: the rest of the request
  // streams (a sender waiting for an ACK, e.g. Nagle's algorithm, would
  // otherwise stall at every bound), its access judged at its last packet.
  const uint8_t m = a == Action::kDrop ? kCondemned : kStreaming;
  if (mark != nullptr) {
    if (m == kCondemned) {
      condemn(mark);
    } else if (*mark == kOpen) {
      *mark = kStreaming;
    }
  } else if (!closed && next_mark_.size() < kMaxNextMarks) {
    next_mark_[conn] = NextMark{m, steady_ms_};
  }
  release(conn, a);
  if (t != nullptr) finish(*t, a, a == Action::kDrop && opt_.reset_on_deny);
}

bool InlineEngine::answer_first(PacketTicket& t, std::span<const uint8_t> ip, int64_t now_us) {
  uint64_t conn = 0;
  uint8_t* mark = nullptr;
  if (!decoder_->peek_answer(ip, &conn, &mark) || *mark != kOpen ||
      (!next_mark_.empty() && next_mark_.contains(conn))) {
    return false;
  }
  counters_.answered_first.add();
  counters_.accepted.add();
  t.accept_now();
  // The decoding keeps the connection's state (framing, identities); what
  // it finds applies from the next packet on.
  const dpi::InlinePacket& p = decoder_->packet_inline(ip, now_us);
  bool drop = false;
  for (const Access& a : p.accesses) judge(a, &drop);  // none expected (peek_answer)
  if (drop) {
    condemn(p.mark);
    release(conn, Action::kDrop);
  } else if (p.mark == nullptr && hold_.holds(conn)) {
    at_hold_limit(conn, nullptr, nullptr, /*closed=*/true);
  }
  return true;
}

void InlineEngine::packet(PacketTicket t, std::span<const uint8_t> ip, int64_t now_us, int64_t steady_ms,
                          bool alone) {
  counters_.packets.add();
  now_ms_ = now_us / 1000;
  steady_ms_ = std::max(steady_ms_, steady_ms);
  if (alone && answer_first(t, ip, now_us)) return;
  const bool enforce = opt_.mode == firewall::Mode::kEnforce;
  const dpi::InlinePacket& p = decoder_->packet_inline(ip, now_us);
  if (p.status != dpi::ParseStatus::kOk) {
    counters_.malformed.add();
    finish(t, enforce ? Action::kDrop : Action::kAccept, false);
    return;
  }
  const uint64_t conn = p.info.id;
  uint8_t* mark = p.mark;
  if (conn == 0) {  // no flow: a stray ACK or RST, nothing to judge
    finish(t, Action::kAccept, false);
    return;
  }
  if (mark == nullptr) {
    // The packet closed its connection (FIN, RST), maybe completing a last
    // request: judged all the same.
    next_mark_.erase(conn);
    bool drop = false;
    for (const Access& a : p.accesses) judge(a, &drop);
    if (drop) {
      release(conn, Action::kDrop);
      finish(t, Action::kDrop, opt_.reset_on_deny);
      return;
    }
    if (!p.accesses.empty()) {
      release(conn, Action::kAccept);
    } else if (hold_.holds(conn)) {
      at_hold_limit(conn, nullptr, nullptr, /*closed=*/true);  // will never complete
    }
    finish(t, Action::kAccept, false);
    return;
  }
  if (!next_mark_.empty()) {
    if (auto it = next_mark_.find(conn); it != next_mark_.end()) {
      if (it->second.mark == kCondemned) {
        condemn(mark);
      } else if (*mark == kOpen) {
        *mark = kStreaming;
      }
      next_mark_.erase(it);
    }
  }
  if (*mark == kCondemned) {
    release(conn, Action::kDrop);
    finish(t, Action::kDrop, false);
    return;
  }

  const bool vsl = p.kind == dpi::InlinePacket::Kind::kVsl || p.kind == dpi::InlinePacket::Kind::kSniffing ||
                   p.kind == dpi::InlinePacket::Kind::kNone;
  if (!p.accesses.empty()) {
    bool drop = false;
    for (const Access& a : p.accesses) judge(a, &drop);
    if (drop) {
      condemn(mark);
      release(conn, Action::kDrop);
      finish(t, Action::kDrop, opt_.reset_on_deny);
      return;
    }
    release(conn, Action::kAccept);
    if (*mark == kStreaming) *mark = kOpen;  // the next request is held again
    // The packet may also carry the start of the next request (held below),
    // or bytes after which decoding stopped (the non-VSL rule, below).
    if (!p.incomplete && (vsl || *mark == kAllowed)) {
      finish(t, Action::kAccept, false);
      return;
    }
  }

  if (p.incomplete && *mark == kStreaming) {
    counters_.streamed.add();
    finish(t, Action::kAccept, false);
    return;
  }
  if (p.incomplete) {
    const size_t bytes = ip.size();
    if (hold_.hold(conn, t, bytes, steady_ms_)) {
      counters_.held.add();
      return;
    }
    at_hold_limit(conn, mark, &t, false);
    return;
  }

  switch (p.kind) {
    case dpi::InlinePacket::Kind::kNone:
    case dpi::InlinePacket::Kind::kSniffing:
    case dpi::InlinePacket::Kind::kVsl:
      finish(t, Action::kAccept, false);  // plumbing and answers
      return;
    case dpi::InlinePacket::Kind::kRefused:
      refused(t, mark, p);
      return;
    case dpi::InlinePacket::Kind::kTls:
    case dpi::InlinePacket::Kind::kOther:
      break;
  }
  // Not plaintext VSL: the non-VSL setting, once per connection.
  if (*mark == kAllowed || !p.payload) {
    release(conn, Action::kAccept);
    finish(t, Action::kAccept, false);
    return;
  }
  counters_.non_vsl.add();
  bool drop = false;
  switch (opt_.non_vsl) {
    case NonVsl::kAccept:
      break;
    case NonVsl::kDrop:
      drop = enforce;
      if (opt_.mode != firewall::Mode::kLearning) {
        log_.limited(LogLevel::kWarning, "non_vsl",
                     "queue=" + std::to_string(opt_.queue) + " action=" + (drop ? "drop" : "would_drop") +
                         " client=" + p.info.client.to_string() + " server=" + p.info.server.to_string());
      }
      break;
    case NonVsl::kEdge:
      judge(decoder_->edge_access(p.info, now_us), &drop);
      break;
  }
  if (drop) {
    condemn(mark);
    release(conn, Action::kDrop);
    finish(t, Action::kDrop, opt_.reset_on_deny);
    return;
  }
  *mark = kAllowed;
  release(conn, Action::kAccept);  // bytes held while sniffing
  finish(t, Action::kAccept, false);
}

// A client's bytes on a connection whose requests can no longer be judged
// (it began as HTTP): dropped in enforce, and the connection with them.
// The server's bytes (answers to requests judged before) pass.
void InlineEngine::refused(PacketTicket& t, uint8_t* mark, const dpi::InlinePacket& p) {
  if (p.dir != dpi::Direction::kToServer || !p.payload) {
    finish(t, Action::kAccept, false);
    return;
  }
  counters_.refused.add();
  const firewall::PolicyDecision d = firewall::decide(opt_.mode, /*anomalous=*/true);
  if (d.would_drop && d.action == Action::kAccept) counters_.would_drop.add();
  if (opt_.mode != firewall::Mode::kLearning) {
    log_.limited(LogLevel::kWarning, "refused",
                 "queue=" + std::to_string(opt_.queue) +
                     " action=" + (d.action == Action::kDrop ? "drop" : "would_drop") +
                     " client=" + p.info.client.to_string() + " server=" + p.info.server.to_string() +
                     " reason=" + log_value("request the decoder cannot judge"));
  }
  if (d.action == Action::kDrop) {
    condemn(mark);
    release(p.info.id, Action::kDrop);
    finish(t, Action::kDrop, opt_.reset_on_deny);
    return;
  }
  release(p.info.id, Action::kAccept);
  finish(t, Action::kAccept, false);
}

void InlineEngine::tick(int64_t now_us, int64_t steady_ms) {
  now_ms_ = std::max(now_ms_, now_us / 1000);
  steady_ms_ = std::max(steady_ms_, steady_ms);
  hold_.expire(steady_ms_, [&](uint64_t conn) { at_hold_limit(conn, nullptr, nullptr, false); });
  // Marks for connections that never sent again (closed or idle since).
  if (!next_mark_.empty() && steady_ms_ - last_purge_ms_ >= 60'000) {
    last_purge_ms_ = steady_ms_;
    absl::erase_if(next_mark_, [&](const auto& e) { return steady_ms_ - e.second.since_ms > 600'000; });
  }
  detector_.flush(now_ms_);
}

int64_t InlineEngine::next_deadline_ms() const {
  return std::min(hold_.next_deadline(), steady_ms_ + 1000);
}

}  // namespace iotwall
