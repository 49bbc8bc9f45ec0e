// iotwall learn: learns a site's graph and type models from a capture (or
// a trace) taken as normal, and saves them: a portable model another node
// or site starts from (`eval --load-models`, `--load-state`).
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

namespace iotwall::cli {

int run_learn(int argc, char** argv) {
  namespace po = boost::program_options;
  InputArgs ia;
  std::string save;
  po::options_description opts("iotwall learn (--pcap FILE | --trace FILE) --save STATE [options]");
  opts.add_options()
      ("help,h", "show this help")
      ("pcap", po::value(&ia.pcap), "capture to learn from (every access taken as normal)")
      ("trace", po::value(&ia.trace), "or a DS2OS-format trace")
      ("site-map", po::value(&ia.site_map), "with --pcap: the site's services (rooms, IP -> service), YAML")
      ("save", po::value(&save)->required(), "state file to write (graph and type models)");
  po::variables_map vm;
  if (const int rc = parse_command_line("learn", argc, argv, opts, &vm); rc >= 0) return rc;
  Interner in;
  AccessInput input;
  std::string error;
  bool usage = false;
  if (!input.open(ia, in, &error, &usage)) {
    std::fprintf(stderr, "iotwall learn: %s\n", error.c_str());
    return usage ? 2 : 1;
  }
  // Everything is normal here: every service stays in its learning phase,
  // so every edge is learned and every access feeds its type's model.
  DetectorOptions o;
  o.graph.learning_phase_ms = kMaxTraceMs;
  Detector det(o, in);
  TraceRecord r;
  int64_t last = 0;
  while (input.next(&r)) {
    det.observe(r.access);
    last = std::max(last, r.access.time_ms);
  }
  if (!input.io_error().empty()) {
    std::fprintf(stderr, "iotwall learn: %s: %s\n", input.name().c_str(), input.io_error().c_str());
    return 1;
  }
  if (input.stats().rows == 0) {
    std::fprintf(stderr, "iotwall learn: %s holds no accesses\n", input.name().c_str());
    return 1;
  }
  det.flush(last + o.window_ms);  // the last windows become descriptors
  if (!write_file(save, save_state(det.graph(), det.models(), in), &error)) {
    std::fprintf(stderr, "iotwall learn: %s\n", error.c_str());
    return 1;
  }
  std::fprintf(stderr, "%s: %llu accesses; %zu services, %zu edges; %zu type models from %llu descriptors (%zu bytes) -> %s\n",
               input.name().c_str(), static_cast<unsigned long long>(input.stats().rows),
               det.graph().vertices().size(), det.graph().edges().size(), det.models().size(),
               static_cast<unsigned long long>(det.descriptors()), det.model_bytes(), save.c_str());
  return 0;
}

}  // namespace iotwall::cli
