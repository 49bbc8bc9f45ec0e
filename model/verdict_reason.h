// The reason for a verdict in plain words, naming what decided it: "writes a
// text value to a number node", "3 accesses 0.01 s apart where the period is
// 23 s", "never talked to door locks before". For logs and reports: it
// allocates, so it is not on the per-packet path.
#pragma once

#include <string>

#include "model/access.h"
#include "model/detector.h"
#include "model/intern.h"

namespace iotwall {

// Why `v` (the detector's verdict on `a`) flagged or passed the access.
std::string verdict_reason(const Verdict& v, const Access& a, const Detector& d, const Interner& in);

}  // namespace iotwall
