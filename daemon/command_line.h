// Parsing a subcommand's options, the same way for every subcommand: at
// most one positional argument (given to a named option), --help prints the
// options, a usage error names itself and how to get help.
#pragma once

#include <boost/program_options.hpp>

namespace iotwall::cli {

// Returns -1 when the command should run (vm filled and notified), else
// the exit status to return: 0 after --help, 2 after a usage error.
// `positional`: the option that takes the one positional argument
// (`iotwall approve ID`), or null for none (a stray argument is an error).
int parse_command_line(const char* command, int argc, char** argv,
                       const boost::program_options::options_description& opts,
                       boost::program_options::variables_map* vm, const char* positional = nullptr);

}  // namespace iotwall::cli
