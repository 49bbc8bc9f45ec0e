// Inputs shared by the benchmarks: a simulated site's trace, written once to
// a temporary file and parsed once into memory.
#pragma once

#include <string>
#include <vector>

#include "model/access.h"
#include "model/intern.h"

namespace iotwall::bench {

// A 24-hour, 12-room simulated site (seed 1) as a DS2OS-format file; the
// path stays valid until the process exits.
const std::string& trace_file();
// The same trace, parsed: the Interner owns the strings the records use.
Interner& interner();
const std::vector<TraceRecord>& records();

}  // namespace iotwall::bench
