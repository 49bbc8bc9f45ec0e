// The live driver (`iotwall drive`): sends a DS2OS-format trace's accesses
// as real HTTP/1.1 requests, each from its source service's own address to
// its agent's Knowledge Agent, on the trace's schedule (sped up), and
// reports per label what became of each row. A flood mode sends requests
// back to back on a few connections for throughput and latency benchmarks.
//
// Trace mode: rows in time order; row time t goes out at (t - t0) / speed
// after the start. Each source service with an ip in the site map binds to
// that ip and keeps one keep-alive connection to its KA (the site map's
// /agentN entry, else 10.0.N>>8.N&255; port port_base + N). One request in
// flight per service; later rows wait in its FIFO (at most max_backlog,
// then skipped_backlog). Request bytes are VslWriter::exchange()'s.
//
// Outcomes of a row (RowCounts): answered (a complete HTTP response; its
// latency runs from the request's first byte sent to the response's last
// byte received), reset (ECONNRESET/EPIPE, or the KA closed with the
// request in flight), timeout (no response, or no connection, within
// timeout_ms: the connection is aborted), refused (connect failed), error
// (a malformed response), skipped (notifyCallback and operations without a
// wire form), skipped_backlog, unmapped (a source without an ip, unless
// connect_override is set), unfinished (not done when the run ended).
// After reset, timeout or error the service reconnects for its next row.
//
// One thread, epoll, non-blocking sockets, CLOCK_MONOTONIC timers; the run
// ends when every row is done, after duration_s, or when *stop is set.
// Thread-safety: drive() uses only its arguments; run several at once
// freely. Only *stop may change during a run (from any thread or a signal).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dpi/site_map.h"

namespace iotwall::live {

struct DriveOptions {
  // Trace mode.
  std::string trace;                // DS2OS CSV with labels
  double speed = 10;                // trace time runs `speed` times faster
  std::optional<int64_t> start_ms;  // t0; earlier rows are left out (default: the first row's time)
  uint64_t max_rows = 0;            // rows at most (0: all)
  size_t max_backlog = 1000;        // rows waiting per service
  // Flood mode: `connections` connections (from different services of the
  // site map) send `requests` requests in all, each as soon as the last
  // answer came: a read, or a write, of the service's own node.
  bool flood = false;
  int connections = 16;
  uint64_t requests = 20000;
  bool flood_write = false;
  // Both modes.
  dpi::SiteMap site_map;
  double duration_s = 0;  // end after (0: when done)
  int timeout_ms = 1500;
  std::string connect_override;  // an ip: every connection goes there, without bind() (tests)
  int port_base = 8080;          // the KA of agent N listens at port_base + N
  std::map<int, uint16_t> agent_ports;      // per-agent ports (override port_base; tests)
  uint64_t seed = 1;                        // request encodings (VslWriter)
  bool progress = false;                    // a status line on stderr every second
  const std::atomic<bool>* stop = nullptr;  // set to end the run early
};

// What became of rows (or flood requests). rows = answered + reset +
// timeout + refused + error + skipped + skipped_backlog + unmapped +
// unfinished.
struct RowCounts {
  uint64_t rows = 0;
  uint64_t sent = 0;  // rows whose request's first byte went out
  uint64_t answered = 0;
  uint64_t non_2xx = 0;  // of the answered, with a status outside 200..299
  uint64_t reset = 0;
  uint64_t timeout = 0;
  uint64_t refused = 0;
  uint64_t error = 0;
  uint64_t skipped = 0;
  uint64_t skipped_backlog = 0;
  uint64_t unmapped = 0;
  uint64_t unfinished = 0;
  uint64_t blocked() const { return reset + timeout + refused; }
};

struct LatencySummary {
  uint64_t count = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};

struct DriveReport {
  bool flood = false;
  std::map<std::string, RowCounts> per_label;  // label as written; "unlabeled" when empty
  RowCounts total;
  LatencySummary latency;            // answered requests
  LatencySummary latency_normal;     // answered rows labelled normal
  LatencySummary lag;                // sent time minus scheduled time (trace mode)
  std::map<int, uint64_t> statuses;  // HTTP status -> answers
  uint64_t connections = 0;          // connect() attempts
  uint64_t bind_errors = 0;          // bind() to a service ip failed (counted as refused)
  std::string first_bind_error;
  uint64_t services = 0;    // sending services (trace) or connections (flood)
  double trace_span_s = 0;  // last - first row time (trace mode)
  double elapsed_s = 0;
  double requests_per_s = 0;  // answered / elapsed
};

// Returns an error message for invalid options, empty when valid.
std::string validate(const DriveOptions& o);

// Runs a trace (or a flood). False with *error when the trace cannot be
// read, the site map has no usable service (flood), or epoll fails; row
// failures are outcomes, never errors.
// REQUIRES: validate(o).empty().
bool drive(const DriveOptions& o, DriveReport* out, std::string* error);

// The report as JSON (docs/live-site.md).
std::string report_json(const DriveReport& r);

// Percentiles of `ms` (reordered). Exposed for tests.
LatencySummary summarize(std::vector<double>* ms);

}  // namespace iotwall::live
