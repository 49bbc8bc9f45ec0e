// Parsing a subcommand's options, the same way for every subcommand: no
// positional arguments, --help prints the options, a usage error names
// itself and how to get help.
#pragma once

#include <boost/program_options.hpp>

namespace iotwall::cli {

// Returns -1 when the command should run (vm filled and notified), else
// the exit status to return: 0 after --help, 2 after a usage error.
int parse_command_line(const char* command, int argc, char** argv,
                       const boost::program_options::options_description& opts,
                       boost::program_options::variables_map* vm);

}  // namespace iotwall::cli
