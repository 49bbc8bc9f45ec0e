// PcapSource: packets from a capture file (pcap or pcapng) or a live
// interface, through libpcap. The OS boundary of the offline path; the
// daemon's live path is NFQUEUE, this one serves capture and replay.
//
// Errors are values: open_*() return nullptr and fill `error`, next()
// returns false and sets error() (never throws). No allocation per packet.
// Thread-safety: none; one source per thread.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "dpi/packet.h"

namespace iotwall::dpi {

// Lifetime: `data` points into libpcap's buffer and is valid only until the
// next call to next() (or the source's destruction).
struct RawPacket {
  int64_t ts_us = 0;
  uint32_t caplen = 0;  // == data.size()
  uint32_t origlen = 0;
  std::span<const uint8_t> data;
};

struct LiveOptions {
  int snaplen = 65535;
  bool promiscuous = false;
  int timeout_ms = 200;  // next() returns false this often with no packet
  int buffer_bytes = 0;  // kernel buffer; 0 = libpcap's default
};

class PcapSource {
 public:
  static std::unique_ptr<PcapSource> open_file(const std::string& path, std::string* error);
  static std::unique_ptr<PcapSource> open_live(const std::string& interface,
                                               const LiveOptions& options, std::string* error);
  ~PcapSource();
  PcapSource(const PcapSource&) = delete;
  PcapSource& operator=(const PcapSource&) = delete;

  // Compiles and installs a BPF filter ("tcp or udp port 1234").
  bool set_filter(const std::string& expression, std::string* error);

  // The next packet. False at the end of a file (at_end()), on a live read
  // timeout (neither at_end() nor error()), or on a read error (error()).
  bool next(RawPacket* out);

  // Makes a blocked or later next() return false (at_end()). Safe to call
  // from a signal handler (pcap_breakloop).
  void breakloop() { pcap_breakloop(pcap_); }

  // Live capture: packets the kernel or the interface dropped (pcap_stats).
  // False for a file.
  bool kernel_drops(uint64_t* dropped, uint64_t* if_dropped) const;

  LinkType link_type() const { return link_; }
  int datalink() const { return dlt_; }
  bool at_end() const { return at_end_; }
  const std::string& error() const { return error_; }
  uint64_t packets() const { return packets_; }
  uint64_t truncated() const { return truncated_; }  // caplen < origlen (snaplen)

 private:
  PcapSource(pcap_t* p, LinkType link, int dlt) : pcap_(p), link_(link), dlt_(dlt) {}
  // Maps the handle's datalink; on failure closes it and fills `error`.
  static std::unique_ptr<PcapSource> wrap(pcap_t* p, const std::string& name, std::string* error);

  pcap_t* pcap_;
  LinkType link_;
  int dlt_;
  bool at_end_ = false;
  std::string error_;
  uint64_t packets_ = 0;
  uint64_t truncated_ = 0;
};

}  // namespace iotwall::dpi
