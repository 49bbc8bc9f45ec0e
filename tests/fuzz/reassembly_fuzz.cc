// libFuzzer target: a FlowTable (and through it Reassembly and ChunkPool)
// fed synthetic TCP segments decoded from the input, to exercise
// out-of-order data, overlaps, sequence wraparound, eviction and the
// buffer bounds.
//
// Input: byte 0 picks the chunk size; then 7 bytes per segment:
//   b0  bits 0-1 client (4 of them), bit 2 direction (1: server -> client),
//       bit 3 server port (8080, a configured server port, or 9000),
//       bits 4-5 == 3: UDP instead of TCP, bit 6: ICMP, bit 7: expire() after
//   b1  TCP flags (low 5 bits: FIN SYN RST PSH ACK)
//   b2-3 signed sequence offset from the direction's base (bytes)
//   b4  payload length
//   b5  time advance: bit 7 set, (b5 & 0x7f) s, else b5 ms
//   b6  0xf?: moves the direction's base by (b6 & 0xf) << 28 (a new ISN)
// Every base starts just below 2^32, so sequence numbers wrap.
//
// Oracle: a payload byte is the low byte of its sequence number, so every
// copy of a byte agrees: a handler must see each direction as a run of
// consecutive byte values, gaps advancing it by their size, no overlap
// conflict is ever counted, and nothing follows on_close. Bounds: flows
// <= max_flows, buffered bytes <= max_buffered_bytes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "dpi/flow_table.h"
#include "dpi/packet.h"
#include "dpi/stream.h"

using namespace iotwall::dpi;

namespace {

class Checker final : public ConnectionHandler {
 public:
  void on_data(Direction d, std::span<const uint8_t> bytes, int64_t) override {
    if (closed_ || bytes.empty()) __builtin_trap();
    Side& s = side_[static_cast<int>(d)];
    for (uint8_t b : bytes) {
      if (s.known && b != s.expected) __builtin_trap();  // bytes out of order or misplaced
      s.expected = static_cast<uint8_t>(b + 1);
      s.known = true;
    }
  }
  void on_gap(Direction d, uint64_t missing, int64_t) override {
    if (closed_) __builtin_trap();
    Side& s = side_[static_cast<int>(d)];
    s.expected = static_cast<uint8_t>(s.expected + missing);
  }
  void on_close(CloseReason, int64_t) override {
    if (closed_) __builtin_trap();  // closed twice
    closed_ = true;
  }

 private:
  struct Side {
    bool known = false;
    uint8_t expected = 0;
  };
  std::array<Side, 2> side_;
  bool closed_ = false;
};

class Factory final : public ConnectionFactory {
 public:
  std::unique_ptr<ConnectionHandler> open(const ConnectionInfo& c) override {
    if (c.id == 0) __builtin_trap();
    // Decline one connection in eight, so that path runs too.
    if ((c.id & 7) == 5) return nullptr;
    return std::make_unique<Checker>();
  }
};

Endpoint endpoint(uint8_t host, uint16_t port) {
  Endpoint e;
  e.ip.family = 4;
  e.ip.bytes[0] = 10;
  e.ip.bytes[1] = 1;
  e.ip.bytes[3] = host;
  e.port = port;
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr size_t kChunk[] = {1, 7, 64, 512};
  FlowTableOptions o;
  o.max_flows = 3;
  o.max_buffered_bytes = 8192;
  o.max_direction_bytes = 2048;
  o.chunk_bytes = kChunk[data[0] & 3];
  o.idle_timeout_us = 5'000'000;
  o.short_timeout_us = 1'000'000;
  o.server_ports = {8080};
  Factory factory;
  FlowTable table(o, factory);

  // Base sequence number per (client, server port, direction).
  std::array<uint32_t, 16> base;
  for (size_t k = 0; k < base.size(); ++k) base[k] = 0xffffff00u - static_cast<uint32_t>(k) * 0x1000;
  std::array<uint8_t, 256> payload;
  int64_t ts = 1'000'000;

  for (size_t i = 1; i + 7 <= size; i += 7) {
    const uint8_t* b = data + i;
    const unsigned client = b[0] & 3;
    const bool to_client = b[0] & 4;
    const bool port8080 = b[0] & 8;
    const size_t k = (client << 2) | (port8080 ? 2 : 0) | (to_client ? 1 : 0);
    const Endpoint c = endpoint(static_cast<uint8_t>(2 + client), static_cast<uint16_t>(40000 + client));
    const Endpoint s = endpoint(1, port8080 ? 8080 : 9000);
    if ((b[6] & 0xf0) == 0xf0) base[k] += uint32_t{b[6] & 0x0fu} << 28;

    Packet p;
    p.src = to_client ? s : c;
    p.dst = to_client ? c : s;
    p.protocol = (b[0] & 0x40) ? kIpProtoIcmp : ((b[0] & 0x30) == 0x30 ? kIpProtoUdp : kIpProtoTcp);
    p.tcp_flags = b[1] & 0x1f;
    p.seq = base[k] + static_cast<uint32_t>(static_cast<int16_t>(b[2] << 8 | b[3]));
    p.ack = base[k ^ 1] + 1;
    p.window = 65535;
    if (p.protocol == kIpProtoIcmp) {
      p.src.port = p.dst.port = 0;
      p.tcp_flags = 0;
    }
    // The payload's first byte follows the SYN, which takes one number.
    const uint32_t first = p.seq + ((p.tcp_flags & kTcpSyn) ? 1 : 0);
    for (size_t j = 0; j < b[4]; ++j) payload[j] = static_cast<uint8_t>(first + j);
    p.payload = std::span<const uint8_t>(payload.data(), b[4]);

    ts += (b[5] & 0x80) ? int64_t{b[5] & 0x7f} * 1'000'000 : int64_t{b[5]} * 1000;
    table.packet(p, ts);
    if (b[0] & 0x80) table.expire(ts);

    const FlowTableCounters& n = table.counters();
    if (table.size() > o.max_flows || n.flows_current > o.max_flows) __builtin_trap();
    if (n.reassembly.buffered_bytes > o.max_buffered_bytes) __builtin_trap();
    if (n.reassembly.overlap_conflict_bytes != 0) __builtin_trap();
  }
  table.close_all(ts);
  if (table.size() != 0 || table.counters().flows_current != 0) __builtin_trap();
  if (table.counters().reassembly.buffered_bytes != 0) __builtin_trap();
  return 0;
}
