// SiteWire: writes a simulated site's accesses as the packets a monitor at
// the Knowledge Agents would capture (pcap), and the SiteMap a decoder
// needs for what the wire does not carry. `iotwall sim --pcap` uses it.
//
// Layout (docs/simulator.md, "On the wire"): the KA of agent N listens at
// 10.0.N>>8.N&255 port 8080+N; each source service gets its own address
// (10.<1+agent>.x.y, allocated in order of first appearance) and one
// keep-alive HTTP/1.1 connection to its own agent's KA, re-established
// every 200-400 requests; a service that subscribes, locks or registers a
// virtual node also opens its callback WebSocket, lazily. The request of
// each access starts at exactly time_ms * 1000 us (later only when the
// same connection is still busy within that millisecond; counted as late).
// With tls_share > 0 that share of the services speak TLS 1.2 with client
// certificates: the handshake, then one application-data record per
// request and per response.
//
// Packets are written to the file in timestamp order.
// Thread-safety: none. The Interner must outlive the SiteWire.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dpi/site_map.h"
#include "model/access.h"
#include "model/intern.h"

namespace iotwall::dpi {

struct SiteWireOptions {
  uint64_t seed = 1;         // encodings, timings, sequence numbers
  double tls_share = 0;      // 0..1: the share of source services on TLS
  int reconnect_min = 200;   // requests on a connection before it is closed
  int reconnect_max = 400;   // and re-opened (drawn in [min, max]); 0: never
};

struct SiteWireStats {
  uint64_t accesses = 0;        // records given to add()
  uint64_t plain_requests = 0;  // VSL requests in plain HTTP
  uint64_t tls_requests = 0;    // VSL requests inside TLS
  uint64_t callbacks = 0;       // notifyCallback invocations (WebSocket frames)
  uint64_t tls_callbacks = 0;   // of which inside TLS
  uint64_t skipped = 0;         // operations with no wire form (unknown, other)
  uint64_t late = 0;            // requests that could not start in their millisecond
  uint64_t connections = 0;     // TCP connections opened
  uint64_t callback_connections = 0;  // of which callback WebSockets
  uint64_t packets = 0;
  uint64_t bytes = 0;  // pcap frame bytes
};

class SiteWire {
 public:
  // Returns an error message for invalid options, empty when valid.
  static std::string validate(const SiteWireOptions& o);

  // REQUIRES: validate(o).empty().
  SiteWire(const Interner& in, const SiteWireOptions& o);
  ~SiteWire();
  SiteWire(const SiteWire&) = delete;
  SiteWire& operator=(const SiteWire&) = delete;

  // Creates the pcap file. False with *error on failure.
  bool open(const std::string& pcap_path, std::string* error);
  // Writes one access. Records must come in nondecreasing time_ms (as
  // SiteSimulator::next gives them); false with *error otherwise or when
  // writing failed.
  bool add(const TraceRecord& r, std::string* error);
  // Closes every connection (FIN), writes what is pending and closes the
  // file. False with *error when a write failed.
  bool finish(std::string* error);

  // Every service seen (sources with their address; destinations only,
  // such as the scans' made-up services, without one) and every KA, in
  // order of first appearance.
  SiteMap site_map() const;
  const SiteWireStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotwall::dpi
