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
};

class CaptureDecoder final : private ConnectionFactory, private AccessSink {
 public:
  CaptureDecoder(const CaptureOptions& o, const SiteMap& site, Interner& in);
  ~CaptureDecoder() override;
  CaptureDecoder(const CaptureDecoder&) = delete;
  CaptureDecoder& operator=(const CaptureDecoder&) = delete;

  // One captured frame (its bytes are not kept).
  void packet(LinkType link, std::span<const uint8_t> frame, int64_t ts_us);
  // End of input: closes every connection (pending reads are emitted).
  void finish(int64_t ts_us);
  // The next access whose reorder window has passed; after finish(), or
  // with `all` (a live capture gone quiet), every access left. False when
  // none is ready.
  bool next(Access* out, bool all = false);

  // Every counter, by name, in a fixed order.
  void for_each(const std::function<void(std::string_view, uint64_t)>& fn) const;
  uint64_t accesses() const { return accesses_; }
  uint64_t late() const { return reorder_.late(); }
  Directory& directory() { return dir_; }

 private:
  class Connection;
  std::unique_ptr<ConnectionHandler> open(const ConnectionInfo& c) override;
  void on_access(const Access& a) override;

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
  FlowTable flows_;  // last: its handlers refer to the members above
};

}  // namespace iotwall::dpi
