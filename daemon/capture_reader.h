// CaptureReader: accesses decoded from packets (a pcap file, or a live
// interface through libpcap), presented like a trace: TraceRecords in
// request order, optionally labelled from a trace of the same site.
//
// Labels (`--labels TRACE`): a decoded access takes the label of the
// trace row with the same timestamp (ms) and source id, first come first
// served; a capture and its trace written by `iotwall sim` match row for
// row. Accesses without a match are unlabelled (counted).
//
// Thread-safety: none; stop() may be called from a signal handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

#include "dpi/capture_decoder.h"
#include "dpi/pcap_source.h"
#include "dpi/site_map.h"
#include "model/access.h"
#include "model/intern.h"
#include "model/trace_reader.h"

namespace iotwall {

class CaptureReader {
 public:
  static std::unique_ptr<CaptureReader> open_file(const std::string& path, const dpi::SiteMap& site,
                                                  Interner& in, std::string* error);
  static std::unique_ptr<CaptureReader> open_live(const std::string& iface, const dpi::SiteMap& site,
                                                  Interner& in, std::string* error);

  // Reads the labels of a trace (see above). False with *error on failure.
  bool load_labels(const std::string& trace_path, std::string* error);

  // The next access; false at the end of the file (or after stop() live).
  bool next(TraceRecord* out);
  // Live capture: makes next() return false soon (async-signal-safe).
  void stop() {
    stop_.store(true, std::memory_order_relaxed);
    src_->breakloop();
  }

  // rows: accesses returned; bytes: captured bytes read; lines: packets.
  const TraceStats& stats() const { return stats_; }
  const std::string& io_error() const { return io_error_; }
  // Every counter of the capture and the decoder, by name.
  void for_each(const std::function<void(std::string_view, uint64_t)>& fn) const;

 private:
  CaptureReader(std::unique_ptr<dpi::PcapSource> src, const dpi::SiteMap& site, Interner& in, bool live);
  void label(TraceRecord* r);

  struct LabelKey {
    int64_t time_ms;
    uint32_t source;
    friend bool operator==(const LabelKey&, const LabelKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const LabelKey& k) {
      return H::combine(std::move(h), k.time_ms, k.source);
    }
  };
  struct Label {
    Sym text;
    LabelClass cls;
  };

  Interner& in_;
  std::unique_ptr<dpi::PcapSource> src_;
  dpi::CaptureDecoder decoder_;
  bool live_;
  bool done_ = false;
  int64_t last_ts_us_ = 0;
  std::atomic<bool> stop_{false};
  TraceStats stats_;
  std::string io_error_;
  bool labelled_ = false;
  absl::flat_hash_map<LabelKey, std::deque<Label>> labels_;
  uint64_t labels_matched_ = 0, labels_missing_ = 0;
};

}  // namespace iotwall
