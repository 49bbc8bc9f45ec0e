#include "daemon/command_line.h"

#include <cstdio>
#include <iostream>

namespace iotwall::cli {

int parse_command_line(const char* command, int argc, char** argv,
                       const boost::program_options::options_description& opts,
                       boost::program_options::variables_map* vm, const char* positional) {
  namespace po = boost::program_options;
  try {
    po::positional_options_description pos;  // empty: a stray argument is an error
    if (positional != nullptr) pos.add(positional, 1);
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), *vm);
    if (vm->count("help")) {
      std::cout << opts << "\n";
      return 0;
    }
    po::notify(*vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "iotwall %s: %s\ntry 'iotwall %s --help'\n", command, e.what(), command);
    return 2;
  }
  return -1;
}

}  // namespace iotwall::cli
