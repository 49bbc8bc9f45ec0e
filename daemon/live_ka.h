// KaServer: a Knowledge Agent's VSL REST interface for test sites
// (`iotwall serve-ka`): answers what the DPI decodes as the VSL
// (shared/docs/VSL-WIRE.md), in the formats dpi/vsl_writer.cc writes.
//
//   GET  /vsl<node>            200 {"value":..,"types":[..],"timestamp":..,"version":N}
//                              (CBOR when the request accepts application/cbor);
//                              404 {"code":404,..} for a node the KA does not know
//   PUT  /vsl<node>            {"value":".."} (JSON or CBOR) stored; 204
//   POST /vsl<node>            {"operation":"SUBSCRIBE"|..}; 204
//   POST /service/register     200, the JSON string of the client's address
//   POST /service/unregister   204
//   GET  /callbacks (Upgrade)  refused with 501 (no callbacks on a test site);
//                              the connection goes on speaking HTTP
//
// Every node is known (reads default to "0") unless the KA was given the
// nodes of a trace (preload_trace): then, as on a real KA and as
// VslWriter answers, a node the trace gives neither a type nor a value (the
// scans' made-up services) answers 404 until written.
//
// One thread, epoll, non-blocking sockets, HTTP/1.1 keep-alive and
// pipelining through http-parser. Bounds, and what happens at them (each
// counted): request head over max_header_bytes -> 431 and close; body over
// max_body_bytes -> 413 and close; a malformed request -> 400 and close;
// max_connections open -> the new connection gets 503 and is closed;
// max_values nodes stored -> later new nodes are answered but not stored.
//
// Thread-safety: start(), run() and counters() from one thread; stop() from
// any thread or a signal handler. Lifetime: run() returns after stop(),
// after the duration, or on an epoll error; the sockets close with the
// server.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dpi/site_map.h"

namespace iotwall::live {

struct KaServerOptions {
  std::vector<std::string> listen;  // "0.0.0.0:8081", "[::1]:8081"; port 0 = ephemeral
  size_t max_connections = 4096;
  size_t max_values = 100000;           // nodes whose value is kept
  size_t max_header_bytes = 16 * 1024;  // request line and headers
  size_t max_body_bytes = 1 << 20;
};

struct KaCounters {
  uint64_t connections = 0;          // accepted and served
  uint64_t connections_refused = 0;  // over max_connections: 503 and closed
  uint64_t accept_errors = 0;        // accept() failed (EMFILE...): listening paused 100 ms
  uint64_t requests = 0;             // complete requests answered
  uint64_t get = 0, put = 0, post = 0, other_method = 0;
  uint64_t reads = 0, writes = 0, operations = 0, registrations = 0, unregistrations = 0;
  uint64_t status_2xx = 0, status_4xx = 0, status_5xx = 0;
  uint64_t not_found = 0;         // 404: unknown node or path
  uint64_t bad_requests = 0;      // 400: malformed HTTP or VSL body
  uint64_t too_large = 0;         // 413 / 431: over a bound, connection closed
  uint64_t upgrades_refused = 0;  // WebSocket upgrades answered 501
  uint64_t values_dropped = 0;    // writes of new nodes not stored (max_values)
  uint64_t bytes_in = 0, bytes_out = 0;
};

class KaServer {
 public:
  // Returns an error message for invalid options, empty when valid.
  static std::string validate(const KaServerOptions& o);

  // REQUIRES: validate(o).empty().
  explicit KaServer(const KaServerOptions& o);
  ~KaServer();
  KaServer(const KaServer&) = delete;
  KaServer& operator=(const KaServer&) = delete;

  // Before start(): the site's services. registerService answers the
  // address of the service whose ip is the client's (else one made from the
  // agent of the port, 8080 + N for N < 10000, else 1, and the modelId); a
  // read of a service's own node carries its type.
  void set_site_map(const dpi::SiteMap& m);
  // Before start(): learns the nodes of a trace (their types and first
  // values); reads of other nodes then answer 404 until written. False with
  // *error when the trace cannot be read.
  bool preload_trace(const std::string& path, std::string* error);

  // Binds and listens on every address. False with *error naming the
  // address that failed.
  bool start(std::string* error);
  // The bound ports, in the order of options.listen (after start()).
  std::vector<uint16_t> ports() const;

  // Serves until stop(), or `duration_s` (> 0) seconds have passed. False
  // with *error when epoll itself fails.
  bool run(double duration_s, std::string* error);
  // Makes run() return promptly. Async-signal-safe.
  void stop();

  // A snapshot; call from run()'s thread or after run() returned.
  KaCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iotwall::live
