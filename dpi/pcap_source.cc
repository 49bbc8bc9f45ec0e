#include "dpi/pcap_source.h"

namespace iotwall::dpi {

std::unique_ptr<PcapSource> PcapSource::wrap(pcap_t* p, const std::string& name,
                                             std::string* error) {
  const int dlt = pcap_datalink(p);
  const std::optional<LinkType> link = link_type_from_dlt(dlt);
  if (!link) {
    const char* dlt_name = pcap_datalink_val_to_name(dlt);
    *error = name + ": unsupported link type " + std::to_string(dlt) + " (" +
             (dlt_name ? dlt_name : "unknown") +
             "); supported: EN10MB, LINUX_SLL, LINUX_SLL2, RAW, NULL, LOOP";
    pcap_close(p);
    return nullptr;
  }
  return std::unique_ptr<PcapSource>(new PcapSource(p, *link, dlt));
}

std::unique_ptr<PcapSource> PcapSource::open_file(const std::string& path, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (p == nullptr) {
    *error = "cannot read capture " + path + ": " + errbuf;
    return nullptr;
  }
  return wrap(p, path, error);
}

std::unique_ptr<PcapSource> PcapSource::open_live(const std::string& interface,
                                                  const LiveOptions& o, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_create(interface.c_str(), errbuf);
  if (p == nullptr) {
    *error = "cannot capture on " + interface + ": " + errbuf;
    return nullptr;
  }
  pcap_set_snaplen(p, o.snaplen);
  pcap_set_promisc(p, o.promiscuous ? 1 : 0);
  pcap_set_immediate_mode(p, 1);
  pcap_set_timeout(p, o.timeout_ms);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
  if (o.buffer_bytes > 0) pcap_set_buffer_size(p, o.buffer_bytes);
  const int rc = pcap_activate(p);
  if (rc < 0) {
    // For PCAP_ERROR the handle's error text says more than the code.
    const std::string why = rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc);
    *error = "cannot capture on " + interface + ": " + why;
    pcap_close(p);
    return nullptr;
  }
  return wrap(p, interface, error);
}

PcapSource::~PcapSource() { pcap_close(pcap_); }

bool PcapSource::set_filter(const std::string& expression, std::string* error) {
  bpf_program prog{};
  if (pcap_compile(pcap_, &prog, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    *error = "bad capture filter '" + expression + "': " + pcap_geterr(pcap_);
    return false;
  }
  const int rc = pcap_setfilter(pcap_, &prog);
  pcap_freecode(&prog);
  if (rc != 0) {
    *error = "cannot install capture filter: " + std::string(pcap_geterr(pcap_));
    return false;
  }
  return true;
}

namespace {
constexpr int64_t kMaxSeconds = int64_t{1} << 40;  // far beyond any real capture, far from overflow
}  // namespace

bool PcapSource::next(RawPacket* out) {
  if (at_end_ || !error_.empty()) return false;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(pcap_, &h, &data);
  if (rc == 1) {
    ++packets_;
    if (h->caplen < h->len) ++truncated_;
    // A crafted file's seconds could overflow the microseconds: such a
    // packet gets -1, which the decoder rejects and counts.
    const int64_t sec = h->ts.tv_sec;
    out->ts_us = sec < 0 || sec > kMaxSeconds ? -1 : sec * 1'000'000 + h->ts.tv_usec;
    out->caplen = h->caplen;
    out->origlen = h->len;
    out->data = std::span<const uint8_t>(data, h->caplen);
    return true;
  }
  if (rc == 0) return false;  // live read timeout
  if (rc == PCAP_ERROR_BREAK) {
    at_end_ = true;
    return false;
  }
  error_ = std::string("capture read error: ") + pcap_geterr(pcap_);
  return false;
}

bool PcapSource::kernel_drops(uint64_t* dropped, uint64_t* if_dropped) const {
  pcap_stat st{};
  if (pcap_stats(pcap_, &st) != 0) return false;  // files have none
  *dropped = st.ps_drop;
  *if_dropped = st.ps_ifdrop;
  return true;
}

}  // namespace iotwall::dpi
