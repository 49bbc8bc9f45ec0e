// The iotwall subcommands. Each takes the arguments after its name
// (argv[0] is the subcommand name) and returns the process exit status:
// 0 success, 1 failure at run time (unreadable input...), 2 usage error.
#pragma once

namespace iotwall::cli {

// Offline: traces and captures.
int run_sim(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_decode(int argc, char** argv);
int run_learn(int argc, char** argv);
int run_monitor(int argc, char** argv);

// The inline firewall daemon and its configuration.
int run_run(int argc, char** argv);
int run_check_config(int argc, char** argv);

// The control CLI: talks to a running daemon over its unix socket.
int run_pending(int argc, char** argv);
int run_approve(int argc, char** argv);
int run_deny(int argc, char** argv);
int run_status(int argc, char** argv);
int run_graph(int argc, char** argv);

// Live test site: a Knowledge Agent speaking VSL REST, and a driver that
// sends a trace's accesses as real HTTP from each service's address.
int run_serve_ka(int argc, char** argv);
int run_drive(int argc, char** argv);

}  // namespace iotwall::cli
