// iotwall check-config FILE: parses a configuration as `iotwall run` would
// (daemon/config.h) and prints a one-line summary, or every error.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "daemon/config.h"

namespace iotwall::cli {

int run_check_config(int argc, char** argv) {
  namespace po = boost::program_options;
  std::string path;
  po::options_description opts("iotwall check-config FILE  (exit 0: valid, 1: errors, 2: usage)");
  opts.add_options()
      ("help,h", "show this help")
      ("config,c", po::value(&path)->required(),
       "the configuration file (also accepted as the only argument)");
  po::variables_map vm;
  if (const int rc = parse_command_line("check-config", argc, argv, opts, &vm, "config"); rc >= 0) return rc;
  Config config;
  std::vector<std::string> errors;
  if (!load_config(path, &config, &errors)) {
    for (const std::string& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), errors.size(),
                 errors.size() == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s: ok (%s)\n", path.c_str(), config_summary(config).c_str());
  return 0;
}

}  // namespace iotwall::cli
