// iotwall: a self-learning, default-deny firewall for IoT microservices.
// This file only dispatches to the subcommands in daemon/cmd_*.cc.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "daemon/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"sim", iotwall::cli::run_sim, "generate a labelled trace of a simulated IoT site"},
    {"eval", iotwall::cli::run_eval, "replay a labelled trace or capture through the detector and score it"},
    {"decode", iotwall::cli::run_decode, "decode a capture into a DS2OS-format trace"},
    {"learn", iotwall::cli::run_learn, "learn a site's graph and models from a capture or trace, save them"},
    {"monitor", iotwall::cli::run_monitor, "capture an interface live, score every access, report anomalies"},
    {"run", iotwall::cli::run_run, "the inline firewall: NFQUEUE verdicts for every access (as a service)"},
    {"check-config", iotwall::cli::run_check_config, "validate a configuration file, name every error"},
    {"pending", iotwall::cli::run_pending, "list the running daemon's open questions"},
    {"approve", iotwall::cli::run_approve, "approve a pending question (takes effect on the next packet)"},
    {"deny", iotwall::cli::run_deny, "deny a pending question (takes effect on the next packet)"},
    {"status", iotwall::cli::run_status, "the running daemon's mode, counters and queues"},
    {"graph", iotwall::cli::run_graph, "the running daemon's communication graph"},
    {"serve-ka", iotwall::cli::run_serve_ka, "serve a Knowledge Agent's VSL REST interface (test sites)"},
    {"drive", iotwall::cli::run_drive, "send a trace's accesses as real HTTP requests (test sites)"},
};

void usage(std::FILE* f) {
  std::fprintf(f, "usage: iotwall <command> [options]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(f, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(f, "\n'iotwall <command> --help' shows the options of a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string_view name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(stdout);
    return 0;
  }
  if (name == "--version") {
    std::printf("iotwall 0.1.0\n");
    return 0;
  }
  for (const Command& c : kCommands) {
    if (name == c.name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "iotwall: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
