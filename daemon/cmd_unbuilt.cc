// TEMPORARY while issue 5 is built in parallel: weak definitions of the
// subcommands not written yet, overridden by the real ones at link time.
// Removed before the work lands.
#include <cstdio>

#include "daemon/commands.h"

namespace iotwall::cli {

#define IOTWALL_UNBUILT(fn)                                   \
  __attribute__((weak)) int fn(int, char** argv) {            \
    std::fprintf(stderr, "iotwall %s: not built yet\n", argv[0]); \
    return 1;                                                 \
  }
IOTWALL_UNBUILT(run_run)
IOTWALL_UNBUILT(run_check_config)
IOTWALL_UNBUILT(run_pending)
IOTWALL_UNBUILT(run_approve)
IOTWALL_UNBUILT(run_deny)
IOTWALL_UNBUILT(run_status)
IOTWALL_UNBUILT(run_graph)
IOTWALL_UNBUILT(run_serve_ka)
IOTWALL_UNBUILT(run_drive)

}  // namespace iotwall::cli
