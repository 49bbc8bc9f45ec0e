#include "daemon/access_input.h"

namespace iotwall {

bool AccessInput::open(const InputArgs& a, Interner& in, std::string* error, bool* usage) {
  *usage = false;
  const int given = !a.trace.empty() + !a.pcap.empty() + !a.iface.empty();
  if (given != 1) {
    *usage = true;
    *error = given == 0 ? "an input is required" : "give only one input";
    return false;
  }
  if (!a.trace.empty() && (!a.site_map.empty() || !a.labels.empty())) {
    *usage = true;
    *error = "--site-map and --labels are for captures (a trace carries both)";
    return false;
  }
  if (!a.site_map.empty() && !dpi::load_site_map(a.site_map, &site_, error)) {
    *error = "--site-map: " + *error;
    return false;
  }
  if (!a.trace.empty()) {
    name_ = a.trace;
    trace_ = TraceReader::open(a.trace, in, error);
    if (!trace_) *error = "cannot open " + *error;
    return trace_ != nullptr;
  }
  name_ = a.pcap.empty() ? a.iface : a.pcap;
  capture_ = a.pcap.empty() ? CaptureReader::open_live(a.iface, site_, in, error)
                            : CaptureReader::open_file(a.pcap, site_, in, error);
  if (!capture_) {
    *error = "cannot open " + name_ + ": " + *error;
    return false;
  }
  if (!a.labels.empty() && !capture_->load_labels(a.labels, error)) {
    *error = "--labels: " + *error;
    return false;
  }
  return true;
}

}  // namespace iotwall
