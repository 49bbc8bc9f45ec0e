// The iotwall subcommands. Each takes the arguments after its name
// (argv[0] is the subcommand name) and returns the process exit status:
// 0 success, 1 failure at run time (unreadable input...), 2 usage error.
#pragma once

namespace iotwall::cli {

int run_sim(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_decode(int argc, char** argv);
int run_learn(int argc, char** argv);
int run_monitor(int argc, char** argv);

}  // namespace iotwall::cli
