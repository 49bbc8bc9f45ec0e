// PcapWriter: writes TCP segments over IPv4 as Ethernet frames to a pcap
// file (libpcap, DLT_EN10MB, microsecond timestamps), with correct IPv4
// header and TCP checksums. The simulator's capture output.
//
// Errors are values: write() and close() return false and error() says why;
// nothing throws. Thread-safety: none.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dpi/packet.h"  // the TCP flag bits
#include "dpi/stream.h"

typedef struct pcap pcap_t;
typedef struct pcap_dumper pcap_dumper_t;

namespace iotwall::dpi {


struct TcpSegment {
  Endpoint src, dst;  // IPv4 only
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 64240;
  uint16_t mss_option = 0;  // nonzero: an MSS option (SYN, SYN-ACK)
  std::vector<uint8_t> payload;
  int64_t ts_us = 0;  // capture time, microseconds since the epoch
};

// The Internet checksum (RFC 1071) of `bytes`, continuing from `sum`.
uint32_t checksum_add(uint32_t sum, std::span<const uint8_t> bytes);
uint16_t checksum_fold(uint32_t sum);

// Builds the Ethernet/IPv4/TCP frame of `s` into *frame. `ip_id` is the
// IPv4 identification. MAC addresses are derived from the IP addresses
// (02:00:a.b.c.d). REQUIRES: s.src and s.dst are IPv4.
void build_frame(const TcpSegment& s, uint16_t ip_id, std::vector<uint8_t>* frame);

class PcapWriter {
 public:
  PcapWriter() = default;
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Creates (truncates) `path`. False with error() on failure.
  bool open(const std::string& path);
  // Appends one frame. False (and error()) if the writer is not open or
  // the segment is not IPv4 or too large for one frame.
  bool write(const TcpSegment& s);
  // Flushes and closes; false if any write failed (disk full...).
  bool close();

  const std::string& error() const { return error_; }
  uint64_t frames() const { return frames_; }
  uint64_t bytes() const { return bytes_; }

 private:
  pcap_t* pcap_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  std::string path_;
  std::string error_;
  std::vector<uint8_t> frame_;
  uint16_t ip_id_ = 1;
  uint64_t frames_ = 0, bytes_ = 0;
};

}  // namespace iotwall::dpi
