// CaptureDecoder: the whole DPI pipeline for one worker: captured packets
// in, accesses out, in the order of their requests.
//
//   frame -> parse_packet -> FlowTable (TCP reassembly) -> per connection:
//     plaintext: VslConnection (HTTP/1.1, WebSocket callbacks) -> Access
//     TLS:       TlsObserver -> certificate identities, and one edge-level
//                Access per request-like exchange (operation unknown)
//
// A read is decoded when its response arrives, so accesses leave the
// connections slightly out of request order; a reorder buffer of
// `reorder_ms` of capture time puts them back (later ones are released at
// once and counted as late).
//
// Every packet, message or record not decoded is counted by reason
// (for_each). Thread-safety: none. Lifetime: the Interner must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "dpi/decode_counters.h"
#include "dpi/directory.h"
#include "dpi/flow_table.h"
#include "dpi/packet.h"
#include "dpi/site_map.h"
#include "dpi/stream.h"
#include "dpi/tls_observer.h"
#include "dpi/vsl_connection.h"
#include "model/access.h"
#include "model/intern.h"
#include "model/reorder_buffer.h"

namespace iotwall::dpi {

struct CaptureOptions {
  FlowTableOptions flows;
  int64_t reorder_ms = 10'000;
  size_t max_reorder = 1 << 16;  // accesses held at most
  // Inline (a firewall, packet_inline()): accesses are emitted when their
  // request completes (VslConnection::emit_at_request) and returned with
  // the packet that completed them; no reorder buffer; TLS connections give
  // no per-exchange accesses (the firewall judges them at their start).
  bool inline_mode = false;
};

// What one packet did, for an inline verdict (CaptureDecoder::packet_inline).
struct InlinePacket {
  enum class Kind : uint8_t {
    kNone,      // no live connection (not TCP, unparsed, no flow, or it just closed)
    kSniffing,  // too few bytes yet to tell TLS from HTTP
    kVsl,       // plaintext HTTP being decoded
    kTls,
    kOther,     // neither: not HTTP from its first bytes
    // Began as HTTP, but its requests can no longer be judged: bytes the
    // parser refuses, a gap, a URL too long, a path the decoder does not
    // know. What follows must not pass unjudged.
    kRefused,
  };
  ParseStatus status = ParseStatus::kOk;
  bool payload = false;  // TCP payload bytes
  ConnectionInfo info;   // id 0: no connection
  Direction dir = Direction::kToServer;
  Kind kind = Kind::kNone;
  // Part of a request (or of a callback frame) has arrived and the rest has
  // not, or bytes wait behind a hole: the packet belongs to an access not
  // decided yet.
  bool incomplete = false;
  // One byte of the caller's state per connection (0 when it opens), e.g. a
  // verdict that sticks; null when there is no live connection. Valid until
  // the next call.
  uint8_t* mark = nullptr;
  // Accesses this packet completed; valid until the next call.
  std::span<const Access> accesses;
};

class CaptureDecoder final : private ConnectionFactory, private AccessSink {
 public:
  CaptureDecoder(const CaptureOptions& o, const SiteMap& site, Interner& in);
  ~CaptureDecoder() override;
  CaptureDecoder(const CaptureDecoder&) = delete;
  CaptureDecoder& operator=(const CaptureDecoder&) = delete;

  // One captured frame (its bytes are not kept).
  void packet(LinkType link, std::span<const uint8_t> frame, int64_t ts_us);
  // REQUIRES: options.inline_mode, ts_us a valid time (the daemon's clock).
  // One IP packet (as NFQUEUE delivers it) and what it did. The result is
  // valid until the next call.
  const InlinePacket& packet_inline(std::span<const uint8_t> ip_packet, int64_t ts_us);
  // A data segment from the server of a live plaintext HTTP connection (no
  // upgrade under way): an answer, which cannot complete an access. Lets a
  // firewall give its verdict before decoding it (packet_inline() still
  // follows). Sets the connection's id and mark; touches nothing.
  bool peek_answer(std::span<const uint8_t> ip_packet, uint64_t* conn, uint8_t** mark) const;
  // The latest packet_inline()'s connection was reset by the caller: it is
  // forgotten after the short timeout of a closing connection (30 s by
  // default) instead of the idle one (the reset itself is not seen).
  void closing_last() { flows_.closing_last(); }
  // An edge-level access (operation unknown) for a connection: its parties
  // by site map IP, else by address (a server by ip:port).
  Access edge_access(const ConnectionInfo& c, int64_t ts_us);
  // End of input: closes every connection (pending reads are emitted).
  void finish(int64_t ts_us);
  // The next access whose reorder window has passed; after finish(), or
  // with `all` (a live capture gone quiet), every access left. False when
  // none is ready.
  bool next(Access* out, bool all = false);

  // Every counter, by name, in a fixed order.
  void for_each(const std::function<void(std::string_view, uint64_t)>& fn) const;
  uint64_t accesses() const { return accesses_; }
  size_t connections() const { return flows_.size(); }  // tracked now
  uint64_t late() const { return reorder_.late(); }
  Directory& directory() { return dir_; }

 private:
  class Connection;
  std::unique_ptr<ConnectionHandler> open(const ConnectionInfo& c) override;
  void on_access(const Access& a) override;
  // A party's identity: certificate, else site map IP, else (a server) the
  // SNI, else its address.
  void fill(const std::string& cert_id, const std::string& sni, const Endpoint& ep, bool server,
            Sym* id, Sym* address, Sym* type, Sym* room);

  Interner& in_;
  Directory dir_;
  DecodeCounters decode_;
  TlsCounters tls_;
  std::array<uint64_t, kParseStatusCount> parse_{};
  uint64_t accesses_ = 0, edge_accesses_ = 0, identity_mismatch_ = 0, bad_time_ = 0;
  int64_t clock_ms_ = 0;  // the latest packet's time
  ReorderBuffer reorder_;
  int64_t reorder_ms_;
  bool finished_ = false;
  bool inline_ = false;
  std::vector<Access> inline_out_;  // accesses of the current packet (inline)
  InlinePacket last_;
  FlowTable flows_;  // last: its handlers refer to the members above
};

}  // namespace iotwall::dpi
