// The files of `iotwall eval --roc FILE` and `--report DIR`: the threshold
// sweep and the errors over time as CSV, rendered as PNG charts by gnuplot.
#pragma once

#include <string>

#include "model/evaluator.h"

namespace iotwall::cli {

// threshold,detection_rate,false_positive_rate, one row per threshold.
bool write_roc_csv(const EvalReport& r, const std::string& path, std::string* error);

// DIR/roc.csv, DIR/errors.csv (per time bucket: hours since the first row,
// rows, false positives, misses, detected), DIR/plasticity.csv, the gnuplot
// script DIR/report.gp, and DIR/roc.png and DIR/errors.png rendered by
// running it. Creates DIR if needed.
bool write_report(const EvalReport& r, const std::string& dir, std::string* error);

}  // namespace iotwall::cli
