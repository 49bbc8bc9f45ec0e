// FlowTable: parsed packets -> TCP connections -> ConnectionHandlers.
//
// A SYN opens a connection (client = the SYN's sender; a SYN-ACK without a
// seen SYN opens it too); a data segment of an unknown flow opens a
// "midstream" one: with one port among the configured server ports that
// side is the server, else the lower port is. Packets of unknown flows
// without data or SYN (ACK, FIN, RST) are only counted. UDP and other
// protocols are only counted, never handed to a handler.
//
// A connection ends with on_close after its pending data was delivered
// (holes given up as gaps): on FIN from both sides once both directions are
// complete (kFin), on RST (kReset), idle (kIdle; a flow whose FINs were
// both seen but whose data is incomplete closes as kFin), evicted at
// max_flows (kEvicted) or by close_all (kShutdown). A SYN with a new ISN
// on a live flow closes the old connection (kFin if it was closing, else
// kReset) and opens a new one.
//
// Bounds: max_flows connections (at the bound the least recently active
// flow is evicted, half-open or closing ones first); out-of-order data
// within max_buffered_bytes in total and max_direction_bytes per direction
// (see reassembly.h for what happens at the bound). Flows live in a
// reusing pool with two LRU lists (established; half-open or closing), so
// steady state allocates only the handler of each new connection, and
// expiry is O(1) amortised per packet. The flow slots and the index by
// 5-tuple grow to the high-water mark of simultaneous flows, not to
// max_flows, and are reused from there (freed slots first, last freed
// first), so steady churn touches no new memory.
//
// Thread-safety: none; one table per worker. Handlers are called from
// packet(), expire() and close_all() and must not call back into the table.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "dpi/packet.h"
#include "dpi/reassembly.h"
#include "dpi/stream.h"

namespace iotwall::dpi {

struct FlowTableOptions {
  size_t max_flows = 65536;
  size_t max_buffered_bytes = size_t{64} << 20;  // out-of-order data, all flows
  size_t max_direction_bytes = size_t{256} << 10;
  size_t chunk_bytes = 2048;                           // unit of out-of-order storage
  int64_t idle_timeout_us = int64_t{300} * 1'000'000;  // established
  int64_t short_timeout_us = int64_t{30} * 1'000'000;  // half-open or closing
  std::vector<uint16_t> server_ports;                  // for connections picked up midway
};

struct FlowTableCounters {
  uint64_t packets = 0;
  uint64_t tcp_packets = 0;
  uint64_t udp_datagrams = 0;
  uint64_t icmp_packets = 0;  // ICMP and ICMPv6
  uint64_t other_packets = 0;
  uint64_t tcp_without_flow = 0;  // no flow and neither SYN nor data
  uint64_t tcp_ignored = 0;       // of connections the factory declined
  uint64_t flows_opened = 0;      // including midstream
  uint64_t flows_midstream = 0;
  uint64_t flows_declined = 0;  // factory returned nullptr
  uint64_t flows_closed_fin = 0;
  uint64_t flows_closed_reset = 0;
  uint64_t flows_closed_idle = 0;
  uint64_t flows_evicted = 0;
  uint64_t flows_closed_shutdown = 0;
  uint64_t flows_current = 0;
  uint64_t flows_peak = 0;
  ReassemblyCounters reassembly;

  // Calls fn(name, value) for every counter, in a fixed order.
  void for_each(const std::function<void(std::string_view, uint64_t)>& fn) const;
};

class FlowTable {
 public:
  // `factory` must outlive the table.
  FlowTable(const FlowTableOptions& options, ConnectionFactory& factory);
  ~FlowTable();  // destroys handlers without on_close: call close_all() first
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // One parsed packet (parse_status kOk, or kUnsupportedL4Protocol to count
  // it). Timestamps should not go backwards by much; they only drive expiry.
  void packet(const Packet& p, int64_t ts_us);
  // Closes every flow idle for longer than its timeout.
  void expire(int64_t now_us);
  // Closes every flow with kShutdown (end of capture, daemon exit).
  void close_all(int64_t ts_us);

  const FlowTableCounters& counters() const { return counters_; }
  size_t size() const { return map_.size(); }
  // Slots of the index by 5-tuple: follows the high-water mark of
  // simultaneous flows (for tests and memory reports).
  size_t index_capacity() const { return map_.capacity(); }

  // What the latest packet() did, for an inline verdict.
  struct LastPacket {
    ConnectionInfo info;                  // id 0: the packet has no flow
    ConnectionHandler* handler = nullptr;  // valid until the next call; null if closed
    Direction dir = Direction::kToServer;
    bool ahead = false;  // bytes of its direction wait behind a hole
  };
  const LastPacket& last() const { return last_; }
  // The live connection a TCP packet belongs to, without touching it (its
  // handler and the packet's direction), or false. For a firewall that
  // decides some packets before decoding them.
  bool find(const Packet& p, ConnectionHandler** handler, Direction* dir, uint64_t* id) const;
  // The latest packet's connection is over for the caller (a firewall
  // reset it): it gets the short timeout of a closing connection instead
  // of the idle one, its handler kept until then for the packets still on
  // the way.
  void closing_last();

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr uint32_t kSlabBits = 10;  // flows are allocated 1024 at a time

  struct Key {
    Endpoint a, b;  // a < b
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.a, k.b);
    }
  };
  enum class State : uint8_t { kHalfOpen, kEstablished, kClosing };
  enum List : uint8_t { kShort = 0, kLong = 1 };  // by idle timeout
  struct Flow {
    Key key;
    ConnectionInfo info;
    std::unique_ptr<ConnectionHandler> handler;
    Reassembly dir[2];
    uint32_t fin_seq[2] = {0, 0};
    uint32_t client_isn = 0;
    bool fin_seen[2] = {false, false};
    bool seen[2] = {false, false};
    bool has_isn = false;
    State state = State::kHalfOpen;
    int64_t last_us = 0;
    uint32_t prev = kNil, next = kNil;  // in lists_[list], or the free list
    List list = kShort;
  };
  struct ListHead {
    uint32_t head = kNil, tail = kNil;
  };

  static Key make_key(const Endpoint& x, const Endpoint& y);
  Flow& flow(uint32_t i) { return slabs_[i >> kSlabBits][i & ((1u << kSlabBits) - 1)]; }
  const Flow& flow(uint32_t i) const { return slabs_[i >> kSlabBits][i & ((1u << kSlabBits) - 1)]; }
  // A free flow slot, or kNil when max_flows are in use.
  uint32_t alloc_flow();
  // Opens a connection for `p` (no flow yet); returns its index or kNil.
  uint32_t open(const Packet& p, int64_t ts_us);
  void tcp(uint32_t f, const Packet& p, int64_t ts_us);
  void close(uint32_t f, CloseReason why, int64_t ts_us);
  void expire_some(int64_t now_us, int budget);
  ReassemblyContext context(Flow& f, Direction d, int64_t ts_us);
  List list_for(State s) const { return s == State::kEstablished ? kLong : kShort; }
  void set_state(uint32_t f, State s);
  void link_tail(uint32_t f, List l);
  void unlink(uint32_t f);
  void touch(uint32_t f, int64_t ts_us);

  FlowTableOptions options_;
  ConnectionFactory& factory_;
  std::bitset<65536> server_ports_;
  ChunkPool pool_;
  std::vector<std::unique_ptr<Flow[]>> slabs_;  // grows up to max_flows, never shrinks
  uint32_t allocated_ = 0;                      // slots ever handed out
  uint32_t free_head_ = kNil;
  absl::flat_hash_map<Key, uint32_t> map_;
  ListHead lists_[2];
  uint64_t next_id_ = 1;
  FlowTableCounters counters_;
  LastPacket last_;
  uint32_t last_flow_ = kNil;  // the flow of last_, while last_.handler is set
};

}  // namespace iotwall::dpi
