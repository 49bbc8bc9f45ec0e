// InlineEngine: one queue worker's packet path. A queued packet (its ticket
// and its IP bytes) goes through the DPI (dpi/capture_decoder.h, inline
// mode), every access it completes is judged by the detector, and the
// policy (firewall/policy.h) turns the judgements into the packet's verdict:
//
//   - a packet carrying part of a request not complete yet is held
//     (firewall/hold.h) and gets the request's verdict when it completes;
//     at the hold bound (bytes, ms) the configured at-limit action applies;
//   - a packet completing accesses gets the worst of their verdicts, and so
//     do the packets held for them; a dropped access condemns its
//     connection: every later packet of it is dropped (the first one
//     rejected with a TCP reset when reset_on_deny), so a retransmission
//     cannot carry a denied request through;
//   - plumbing (handshakes, ACKs, responses) passes; an answer arriving
//     alone passes before it is decoded;
//   - a connection that is not plaintext VSL (TLS, or bytes that are not
//     HTTP) follows the non-VSL setting: accept, drop, or judged once as an
//     edge-level access (operation unknown) whose verdict sticks;
//   - a connection that began as HTTP but whose requests can no longer be
//     judged (bytes the parser refuses, a URL too long, an unknown path):
//     its client's bytes are dropped in enforce mode, and it is condemned;
//   - a malformed packet on a queued port is dropped in enforce mode.
//
// Every packet given to packet() gets exactly one verdict (PacketTicket).
// Time: the caller's clock (ms since the epoch), which is also the model's.
// Thread-safety: none; a worker owns its engine. counters() may be read
// from any thread (single-writer counters).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "daemon/config.h"
#include "daemon/log.h"
#include "dpi/capture_decoder.h"
#include "dpi/site_map.h"
#include "firewall/counter.h"
#include "firewall/hold.h"
#include "firewall/policy.h"
#include "firewall/ticket.h"
#include <absl/container/flat_hash_set.h>
#include "model/detector.h"
#include "model/intern.h"

namespace iotwall {

// Bounds on the names clients send (docs/operating.md, "Bounds"): past
// them a new name becomes Interner::kOverflowName, whose edges are denied.
inline constexpr size_t kMaxNames = 262144;
inline constexpr size_t kMaxNameBytes = size_t{16} << 20;

struct EngineOptions {
  size_t max_names = kMaxNames;
  size_t max_name_bytes = kMaxNameBytes;
  firewall::Mode mode = firewall::Mode::kEnforce;
  firewall::HoldLimits hold;
  firewall::Action hold_at_limit = firewall::Action::kAccept;
  bool reset_on_deny = true;
  NonVsl non_vsl = NonVsl::kEdge;
  DetectorOptions detector;
  int queue = 0;  // for log lines
};

// The engine's options from a configuration (learning mode: an endless
// learning phase, so every service learns).
EngineOptions engine_options(const Config& c, int queue);

struct EngineCounters {
  firewall::Counter packets, accepted, dropped, rejected;
  firewall::Counter held;          // packets that waited for their request
  firewall::Counter hold_limit;    // requests that hit the hold bound
  firewall::Counter streamed;      // packets passed unheld after their request's bound
  firewall::Counter answered_first;  // answers whose verdict left before their decoding
  firewall::Counter accesses, flagged;  // judged; flagged anomalous (or would be)
  firewall::Counter would_drop;    // monitor mode: drops not done
  firewall::Counter condemned;     // connections condemned by a drop
  firewall::Counter non_vsl;       // connections judged by the non-VSL setting
  firewall::Counter refused;       // client packets of HTTP connections no longer judgeable
  firewall::Counter malformed;     // packets the parser refused
};

class InlineEngine {
 public:
  // Bounds on the names clients send (docs/operating.md, "Bounds"): past
  // them a new name becomes Interner::kOverflowName, whose edges are denied.

  InlineEngine(const EngineOptions& o, const dpi::SiteMap& site, Log& log);
  ~InlineEngine();
  InlineEngine(const InlineEngine&) = delete;
  InlineEngine& operator=(const InlineEngine&) = delete;

  // One queued packet; `ip` is valid during the call only. Two clocks:
  // `now_us` the wall clock (the model's time: accesses are stamped with
  // it), `steady_ms` a monotonic clock for the hold's bounds (a wall clock
  // stepped back must not stretch them). `alone`: no other packet is
  // waiting, so a verdict known before the packet is decoded (an answer
  // on a plain HTTP connection) is sent at once, and the decoding follows
  // off the packet's path; in a batch, verdicts leave together.
  void packet(firewall::PacketTicket t, std::span<const uint8_t> ip, int64_t now_us, int64_t steady_ms,
              bool alone = false);
  // Time passes: held requests past their bound, the detector's windows.
  // Call at least at next_deadline_ms().
  void tick(int64_t now_us, int64_t steady_ms);
  // When tick() is next needed (steady clock, ms).
  int64_t next_deadline_ms() const;

  // SIGHUP: new settings that apply live (mode, thresholds, hold, ...).
  void reconfigure(const EngineOptions& o);
  // SIGHUP with a new site map: the decoder starts afresh with it (open
  // connections are picked up midway; held requests get the at-limit
  // action). The graph and models stay.
  void set_site(const dpi::SiteMap& site);
  // A restored state (graph and models) replaces the current one.
  Detector& detector() { return detector_; }
  const Detector& detector() const { return detector_; }
  Interner& interner() { return in_; }
  const Interner& interner() const { return in_; }
  const EngineOptions& options() const { return opt_; }
  const EngineCounters& counters() const { return counters_; }
  size_t held_packets() const { return hold_.packets(); }
  size_t connections() const { return decoder_->connections(); }

 private:
  // Per-connection byte (InlinePacket::mark).
  enum Mark : uint8_t {
    kOpen = 0,
    kCondemned = 1,  // a drop: every later packet is dropped
    kAllowed = 2,    // a non-VSL connection judged and let through
    kStreaming = 3,  // a request let through at its hold bound: its other
                     // packets pass at once, its access is still judged
  };

  static Interner& bounded(Interner& in, const EngineOptions& o);
  // An answer passed before its decoding (see packet()); false when the
  // packet is not one.
  bool answer_first(firewall::PacketTicket& t, std::span<const uint8_t> ip, int64_t now_us);
  void judge(const Access& a, bool* drop);
  void refused(firewall::PacketTicket& t, uint8_t* mark, const dpi::InlinePacket& p);
  void finish(firewall::PacketTicket& t, firewall::Action a, bool reset);
  void release(uint64_t conn, firewall::Action a);
  // REQUIRES: `mark` is the current packet's connection's.
  void condemn(uint8_t* mark);
  // `closed`: the connection is gone (no mark to set later).
  void at_hold_limit(uint64_t conn, uint8_t* mark, firewall::PacketTicket* t, bool closed);
  void log_flagged(const Access& a, const Verdict& v, bool dropped);

  EngineOptions opt_;
  Log& log_;
  Interner in_;  // before the detector and the decoder, which keep references
  Detector detector_;
  dpi::SiteMap site_;
  std::unique_ptr<dpi::CaptureDecoder> decoder_;
  firewall::HoldTable<firewall::PacketTicket> hold_;
  // Marks for connections whose held request reached its time bound in
  // tick(), which cannot reach their mark: set at their next packet
  // (bounded; purged of connections silent for 10 minutes).
  struct NextMark {
    uint8_t mark;
    int64_t since_ms;  // steady
  };
  static constexpr size_t kMaxNextMarks = 65536;
  absl::flat_hash_map<uint64_t, NextMark> next_mark_;
  int64_t last_purge_ms_ = 0;
  EngineCounters counters_;
  int64_t now_ms_ = 0;     // wall clock, the model's time
  int64_t steady_ms_ = 0;  // monotonic, the hold's time
};

}  // namespace iotwall
