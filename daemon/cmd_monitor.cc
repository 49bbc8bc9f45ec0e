// iotwall monitor: live passive mode. Captures an interface (libpcap),
// decodes and scores every access, and reports anomalies and new
// relationships as they happen, without blocking anything (the inline
// firewall adds verdicts). Stops on SIGINT/SIGTERM or after --duration.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include <boost/program_options.hpp>

#include "daemon/access_input.h"
#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "daemon/state_file.h"
#include "model/detector.h"
#include "model/graph_file.h"
#include "model/verdict_reason.h"

namespace iotwall::cli {
namespace {

std::atomic<CaptureReader*> g_capture{nullptr};  // for the signal handler only
static_assert(std::atomic<CaptureReader*>::is_always_lock_free);
extern "C" void on_stop_signal(int) {
  if (CaptureReader* c = g_capture.load(); c != nullptr) c->stop();
}

}  // namespace

int run_monitor(int argc, char** argv) {
  namespace po = boost::program_options;
  InputArgs ia;
  std::string load_state_path, save_state_path;
  double learning_phase_s = 15 * 60, duration_s = 0;
  po::options_description opts("iotwall monitor (--iface IF | --pcap FILE) [options]");
  opts.add_options()
      ("help,h", "show this help")
      ("iface", po::value(&ia.iface), "interface to capture live (libpcap)")
      ("pcap", po::value(&ia.pcap), "or a capture file, replayed as if live")
      ("site-map", po::value(&ia.site_map), "the site's services (rooms, IP -> service), YAML")
      ("load-state", po::value(&load_state_path), "start from a saved state (graph and models)")
      ("save-state", po::value(&save_state_path), "save the graph and models when stopping")
      ("learning-phase", po::value(&learning_phase_s)->default_value(learning_phase_s), "per-service learning phase, seconds")
      ("duration", po::value(&duration_s), "stop after SECONDS of capture time (0: until a signal)");
  po::variables_map vm;
  if (const int rc = parse_command_line("monitor", argc, argv, opts, &vm); rc >= 0) return rc;
  if (!(learning_phase_s >= 0 && learning_phase_s <= 1e9) || !(duration_s >= 0 && duration_s <= 1e9)) {
    std::fprintf(stderr, "iotwall monitor: durations must be between 0 and 1e9 seconds\n");
    return 2;
  }
  if (!ia.trace.empty()) return 2;
  Interner in;
  AccessInput input;
  std::string error;
  bool usage = false;
  if (!input.open(ia, in, &error, &usage)) {
    std::fprintf(stderr, "iotwall monitor: %s\n", error.c_str());
    return usage ? 2 : 1;
  }
  DetectorOptions o;
  o.graph.learning_phase_ms = static_cast<int64_t>(learning_phase_s * 1000);
  Detector det(o, in);
  if (!load_state_path.empty()) {
    std::string bytes;
    CommGraph g(o.graph);
    absl::flat_hash_map<uint32_t, TypeModel> models;
    if (!read_file(load_state_path, &bytes, &error) || !load_state(bytes, in, &g, &models, &error)) {
      std::fprintf(stderr, "iotwall monitor: cannot load %s: %s\n", load_state_path.c_str(), error.c_str());
      return 1;
    }
    det.restore(std::move(g), std::move(models));
  }
  g_capture = input.capture();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);

  TraceRecord r;
  uint64_t n = 0, flagged = 0;
  int64_t first = -1;
  while (input.next(&r)) {
    ++n;
    if (first < 0) first = r.access.time_ms;
    const Verdict v = det.observe(r.access);
    if (v.anomalous) {
      ++flagged;
      std::printf("%lld %s -> %s %s: %s\n", static_cast<long long>(r.access.time_ms),
                  std::string(in.str(r.access.source())).c_str(), std::string(in.str(r.access.dest())).c_str(),
                  std::string(operation_name(r.access.op)).c_str(), verdict_reason(v, r.access, det, in).c_str());
      std::fflush(stdout);
    }
    if (duration_s > 0 && r.access.time_ms - first >= duration_s * 1000) input.capture()->stop();
  }
  g_capture = nullptr;
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  // What was learned is kept even when the capture failed: the windows
  // still open become descriptors, then the state is saved.
  det.flush(det.graph().now() + o.window_ms);
  if (!save_state_path.empty() && !write_file(save_state_path, save_state(det.graph(), det.models(), in), &error)) {
    std::fprintf(stderr, "iotwall monitor: %s\n", error.c_str());
    return 1;
  }
  if (!input.io_error().empty()) {
    std::fprintf(stderr, "iotwall monitor: %s: %s\n", input.name().c_str(), input.io_error().c_str());
    return 1;
  }
  std::string counters;
  input.capture()->for_each([&](std::string_view k, uint64_t v) {
    if (v != 0) counters.append(counters.empty() ? "" : ", ").append(k).append(" ").append(std::to_string(v));
  });
  std::fprintf(stderr, "%s: %llu accesses, %llu flagged, %zu questions open\n%s\n", input.name().c_str(),
               static_cast<unsigned long long>(n), static_cast<unsigned long long>(flagged),
               det.graph().open_questions(), counters.c_str());
  return 0;
}

}  // namespace iotwall::cli
