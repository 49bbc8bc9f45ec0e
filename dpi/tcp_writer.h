// TcpWriter: one TCP connection as the packets a capture would show: the
// three-way handshake, data in both directions segmented at the MSS with
// correct sequence and acknowledgement numbers, pure ACKs, and the FIN
// teardown. Timestamps advance by small deterministic steps (40-160 us per
// packet, from the seed) so an HTTP exchange fits well within 1 ms.
//
// Segments go to a SegmentSink in the order they are made; their
// timestamps only increase within one connection, not across connections
// (the sink orders them if it must).
// Thread-safety: none. The sink must outlive the writer.
#pragma once

#include <cstdint>
#include <span>

#include "dpi/pcap_writer.h"
#include "dpi/stream.h"

namespace iotwall::dpi {

class SegmentSink {
 public:
  virtual ~SegmentSink() = default;
  virtual void put(TcpSegment s) = 0;
};

class TcpWriter {
 public:
  static constexpr uint16_t kDefaultMss = 1460;

  // REQUIRES: mss > 0.
  TcpWriter(SegmentSink* sink, const Endpoint& client, const Endpoint& server, uint64_t seed,
            uint16_t mss = kDefaultMss);

  // SYN at ts_us, SYN-ACK, ACK. Returns the time of the last packet.
  // REQUIRES: !connected().
  int64_t connect(int64_t ts_us);
  // Sends `bytes` from one side, the first segment at ts_us. The receiver
  // sends a pure ACK after every second segment and, when ack_last, after
  // the last (leave it false when the reply follows at once and carries
  // the ACK). Returns the time of the last packet. REQUIRES: connected().
  int64_t send(Direction d, std::span<const uint8_t> bytes, int64_t ts_us, bool ack_last);
  // FIN from the client at ts_us, FIN-ACK from the server, the final ACK.
  // Returns the time of the last packet. REQUIRES: connected().
  int64_t close(int64_t ts_us);

  // The next deterministic step between two packets, 40..160 us.
  int64_t step();

  bool connected() const { return connected_; }
  int64_t last_us() const { return last_us_; }  // time of the last packet written
  const Endpoint& client() const { return client_; }
  const Endpoint& server() const { return server_; }

 private:
  void emit(Direction d, uint8_t flags, std::span<const uint8_t> payload, int64_t ts_us,
            uint16_t mss_option = 0);

  SegmentSink* sink_;
  Endpoint client_, server_;
  uint64_t rng_;
  uint16_t mss_;
  uint32_t seq_[2];  // next sequence number sent by [client, server]
  bool connected_ = false;
  int64_t last_us_ = 0;
};

}  // namespace iotwall::dpi
