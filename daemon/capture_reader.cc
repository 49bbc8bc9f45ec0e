#include "daemon/capture_reader.h"

#include <utility>

namespace iotwall {
namespace {

dpi::CaptureOptions capture_options() {
  dpi::CaptureOptions o;
  // The VSL's KA ports (8080 + agent number) identify servers in
  // connections picked up midway.
  for (uint16_t p = 8080; p < 8180; ++p) o.flows.server_ports.push_back(p);
  // IoT services keep their connection to the KA open and may idle for
  // long; memory stays bounded by max_flows.
  o.flows.idle_timeout_us = int64_t{3600} * 1'000'000;
  return o;
}

}  // namespace

CaptureReader::CaptureReader(std::unique_ptr<dpi::PcapSource> src, const dpi::SiteMap& site, Interner& in,
                             bool live)
    : in_(in), src_(std::move(src)), decoder_(capture_options(), site, in), live_(live) {}

std::unique_ptr<CaptureReader> CaptureReader::open_file(const std::string& path, const dpi::SiteMap& site,
                                                        Interner& in, std::string* error) {
  auto src = dpi::PcapSource::open_file(path, error);
  if (!src) return nullptr;
  return std::unique_ptr<CaptureReader>(new CaptureReader(std::move(src), site, in, false));
}

std::unique_ptr<CaptureReader> CaptureReader::open_live(const std::string& iface, const dpi::SiteMap& site,
                                                        Interner& in, std::string* error) {
  auto src = dpi::PcapSource::open_live(iface, dpi::LiveOptions{}, error);
  if (!src) return nullptr;
  return std::unique_ptr<CaptureReader>(new CaptureReader(std::move(src), site, in, true));
}

bool CaptureReader::load_labels(const std::string& trace_path, std::string* error) {
  auto reader = TraceReader::open(trace_path, in_, error);
  if (!reader) return false;
  TraceRecord r;
  while (reader->next(&r)) {
    labels_[LabelKey{r.access.time_ms, r.access.source_id.id}].push_back(Label{r.label, r.label_class});
  }
  if (!reader->io_error().empty()) {
    *error = reader->io_error();
    return false;
  }
  labelled_ = true;
  return true;
}

void CaptureReader::label(TraceRecord* r) {
  if (!labelled_) return;
  const auto it = labels_.find(LabelKey{r->access.time_ms, r->access.source_id.id});
  if (it == labels_.end() || it->second.empty()) {
    ++labels_missing_;
    return;
  }
  r->label = it->second.front().text;
  r->label_class = it->second.front().cls;
  it->second.pop_front();
  ++labels_matched_;
}

bool CaptureReader::next(TraceRecord* out) {
  Access a;
  for (;;) {
    if (decoder_.next(&a)) break;
    if (done_) return false;
    dpi::RawPacket p;
    if (stop_.load(std::memory_order_relaxed)) {
      done_ = true;
    } else if (src_->next(&p)) {
      ++stats_.lines;
      stats_.bytes += p.caplen;
      last_ts_us_ = p.ts_us;
      decoder_.packet(src_->link_type(), p.data, p.ts_us);
      continue;
    } else if (live_ && src_->error().empty() && !src_->at_end()) {
      // The read timeout: the link is quiet, so nothing older is coming;
      // release what waits for reordering, then look at stop_ again.
      if (decoder_.next(&a, true)) break;
      continue;
    } else {
      done_ = true;
      io_error_ = src_->error();
    }
    decoder_.finish(last_ts_us_);
  }
  *out = TraceRecord{};
  out->access = a;
  out->line = ++stats_.rows;
  label(out);
  return true;
}

void CaptureReader::for_each(const std::function<void(std::string_view, uint64_t)>& fn) const {
  fn("capture_packets", src_->packets());
  fn("capture_truncated", src_->truncated());
  uint64_t dropped = 0, if_dropped = 0;
  if (live_ && src_->kernel_drops(&dropped, &if_dropped)) {
    fn("capture_dropped_kernel", dropped);
    fn("capture_dropped_interface", if_dropped);
  }
  decoder_.for_each(fn);
  if (labelled_) {
    fn("labels_matched", labels_matched_);
    fn("labels_missing", labels_missing_);
  }
}

}  // namespace iotwall
