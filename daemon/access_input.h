// AccessInput: where a command's accesses come from: a DS2OS-format trace,
// a pcap file, or a live interface (the last two through the DPI), behind
// one next(). Shared by eval, learn, decode and monitor.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/capture_reader.h"
#include "dpi/site_map.h"
#include "model/access.h"
#include "model/intern.h"
#include "model/trace_reader.h"

namespace iotwall {

struct InputArgs {
  std::string trace;     // DS2OS CSV ('-' = stdin)
  std::string pcap;      // capture file
  std::string iface;     // live capture
  std::string site_map;  // rooms and IP -> service for captures
  std::string labels;    // a trace whose labels the capture's accesses take
};

class AccessInput {
 public:
  // Opens exactly one of trace / pcap / iface. False with *error (a usage
  // error sets *usage) on failure.
  bool open(const InputArgs& a, Interner& in, std::string* error, bool* usage);

  bool next(TraceRecord* r) { return trace_ ? trace_->next(r) : capture_->next(r); }
  const TraceStats& stats() const { return trace_ ? trace_->stats() : capture_->stats(); }
  const std::string& io_error() const { return trace_ ? trace_->io_error() : capture_->io_error(); }
  // The name given (for messages).
  const std::string& name() const { return name_; }
  TraceReader* trace() { return trace_.get(); }
  CaptureReader* capture() { return capture_.get(); }

 private:
  std::string name_;
  dpi::SiteMap site_;
  std::unique_ptr<TraceReader> trace_;
  std::unique_ptr<CaptureReader> capture_;
};

}  // namespace iotwall
