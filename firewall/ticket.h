// PacketTicket: the promise that a queued packet gets exactly one verdict,
// kept by the type. VerdictSink: where a ticket's verdict goes (NfQueue, or
// a fake in tests).
//
// A ticket is created by the receive path for each queued packet and is
// move-only. accept(), drop() or reject() consume it; a ticket destroyed (or
// overwritten by a move) while still pending issues the sink's fail verdict
// and counts it in `undecided`, so a packet nobody decided gets the
// configured fail policy and never stays in the kernel queue. Deciding a
// ticket that is no longer pending (decided twice, or moved from) is a
// programming error: an assert in debug builds; ignored and counted in
// `double_decided` in release builds (NDEBUG).
//
// Thread-safety: none; a ticket is used on the thread that owns its sink.
// Lifetime: a ticket must not outlive its sink. Tiny (16 bytes), allocation-free.
#pragma once

#include <cassert>
#include <cstdint>

#include "firewall/counter.h"

namespace iotwall::firewall {

// kReject hands the packet back to the ruleset with the reset mark, which
// then rejects it with a TCP reset (see rules.h).
enum class VerdictKind : uint8_t { kAccept, kDrop, kReject };

// The mark a kReject verdict puts on a packet before handing it back to the
// ruleset (NF_REPEAT); the daemon's rules reject packets with it (rules.h).
inline constexpr uint32_t kDefaultResetMark = 0x10771077;

inline const char* verdict_kind_name(VerdictKind k) {
  switch (k) {
    case VerdictKind::kAccept:
      return "accept";
    case VerdictKind::kDrop:
      return "drop";
    case VerdictKind::kReject:
      return "reject";
  }
  return "?";
}

class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  // Takes the verdict for packet `id` (NfQueue queues it until flush()).
  virtual void verdict(uint32_t id, VerdictKind k) = 0;
  // The fail policy: the verdict of a packet nobody decided.
  virtual VerdictKind fail_verdict() const = 0;
  // Sends the verdicts taken so far now rather than with the batch (a
  // failure is left to the next regular send, which retries and reports).
  virtual void send_now() {}

  Counter undecided;       // tickets that ended pending and got fail_verdict()
  Counter double_decided;  // decisions on a ticket that was not pending (release builds)
};

class PacketTicket {
 public:
  PacketTicket() = default;  // empty: nothing to decide
  PacketTicket(VerdictSink* sink, uint32_t id) : sink_(sink), id_(id), pending_(sink != nullptr) {}
  PacketTicket(const PacketTicket&) = delete;
  PacketTicket& operator=(const PacketTicket&) = delete;
  // The moved-from ticket is no longer pending (it keeps its sink to count misuse).
  PacketTicket(PacketTicket&& o) noexcept : sink_(o.sink_), id_(o.id_), pending_(o.pending_) {
    o.pending_ = false;
  }
  // A pending ticket overwritten by a move gets the fail verdict first.
  PacketTicket& operator=(PacketTicket&& o) noexcept {
    if (this != &o) {
      fail_if_pending();
      sink_ = o.sink_;
      id_ = o.id_;
      pending_ = o.pending_;
      o.pending_ = false;
    }
    return *this;
  }
  ~PacketTicket() { fail_if_pending(); }

  void accept() { decide(VerdictKind::kAccept); }
  void drop() { decide(VerdictKind::kDrop); }
  void reject() { decide(VerdictKind::kReject); }
  // Accepted, and the verdict leaves at once (a packet decided before the
  // work that follows it).
  void accept_now() {
    VerdictSink* s = sink_;
    decide(VerdictKind::kAccept);
    if (s != nullptr) s->send_now();
  }
  void decide(VerdictKind k) {
    if (!pending_) {
      assert(pending_ && "PacketTicket: decided twice, after a move, or empty");
      if (sink_ != nullptr) sink_->double_decided.add();
      return;
    }
    pending_ = false;
    sink_->verdict(id_, k);
  }

  // True until a verdict was given (or the ticket was moved from).
  bool pending() const { return pending_; }
  uint32_t id() const { return id_; }

 private:
  void fail_if_pending() {
    if (!pending_) return;
    pending_ = false;
    sink_->undecided.add();
    sink_->verdict(id_, sink_->fail_verdict());
  }

  VerdictSink* sink_ = nullptr;
  uint32_t id_ = 0;
  bool pending_ = false;
};

}  // namespace iotwall::firewall
