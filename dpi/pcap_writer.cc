#include "dpi/pcap_writer.h"

#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace iotwall::dpi {
namespace {

constexpr int kSnapLen = 65535;
constexpr size_t kEthLen = 14, kIpLen = 20, kTcpLen = 20;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
void put_mac(uint8_t* p, const IpAddress& ip) {
  p[0] = 0x02;  // locally administered, unicast
  p[1] = 0x00;
  std::memcpy(p + 2, ip.bytes.data(), 4);
}

}  // namespace

uint32_t checksum_add(uint32_t sum, std::span<const uint8_t> b) {
  size_t i = 0;
  for (; i + 1 < b.size(); i += 2) sum += static_cast<uint32_t>(b[i] << 8 | b[i + 1]);
  if (i < b.size()) sum += static_cast<uint32_t>(b[i] << 8);
  return sum;
}

uint16_t checksum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void build_frame(const TcpSegment& s, uint16_t ip_id, std::vector<uint8_t>* frame) {
  const size_t opt = s.mss_option != 0 ? 4 : 0;
  const size_t tcp_len = kTcpLen + opt + s.payload.size();
  frame->assign(kEthLen + kIpLen + tcp_len, 0);
  uint8_t* eth = frame->data();
  put_mac(eth, s.dst.ip);
  put_mac(eth + 6, s.src.ip);
  put16(eth + 12, 0x0800);

  uint8_t* ip = eth + kEthLen;
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(kIpLen + tcp_len));
  put16(ip + 4, ip_id);
  put16(ip + 6, 0x4000);  // don't fragment
  ip[8] = 64;
  ip[9] = 6;  // TCP
  std::memcpy(ip + 12, s.src.ip.bytes.data(), 4);
  std::memcpy(ip + 16, s.dst.ip.bytes.data(), 4);
  put16(ip + 10, checksum_fold(checksum_add(0, {ip, kIpLen})));

  uint8_t* tcp = ip + kIpLen;
  put16(tcp, s.src.port);
  put16(tcp + 2, s.dst.port);
  put32(tcp + 4, s.seq);
  put32(tcp + 8, s.ack);
  tcp[12] = static_cast<uint8_t>(((kTcpLen + opt) / 4) << 4);
  tcp[13] = s.flags;
  put16(tcp + 14, s.window);
  if (opt != 0) {
    tcp[20] = 2;  // MSS
    tcp[21] = 4;
    put16(tcp + 22, s.mss_option);
  }
  if (!s.payload.empty()) std::memcpy(tcp + kTcpLen + opt, s.payload.data(), s.payload.size());
  // Pseudo-header: source, destination, zero, protocol, TCP length.
  uint32_t sum = checksum_add(0, {ip + 12, 8});
  sum += 6 + static_cast<uint32_t>(tcp_len);
  put16(tcp + 16, checksum_fold(checksum_add(sum, {tcp, tcp_len})));
}

PcapWriter::~PcapWriter() { close(); }

bool PcapWriter::open(const std::string& path) {
  close();
  error_.clear();
  path_ = path;
  pcap_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, kSnapLen, PCAP_TSTAMP_PRECISION_MICRO);
  if (pcap_ == nullptr) {
    error_ = "pcap_open_dead failed";
    return false;
  }
  dumper_ = pcap_dump_open(pcap_, path.c_str());
  if (dumper_ == nullptr) {
    error_ = pcap_geterr(pcap_);
    pcap_close(pcap_);
    pcap_ = nullptr;
    return false;
  }
  return true;
}

bool PcapWriter::write(const TcpSegment& s) {
  if (dumper_ == nullptr) {
    if (error_.empty()) error_ = "the pcap file is not open";
    return false;
  }
  if (s.src.ip.family != 4 || s.dst.ip.family != 4) {
    error_ = "only IPv4 segments can be written";
    return false;
  }
  if (s.ts_us < 0) {
    error_ = "negative timestamp";
    return false;
  }
  if (kEthLen + kIpLen + kTcpLen + 4 + s.payload.size() > kSnapLen) {
    error_ = "segment too large for one frame";
    return false;
  }
  build_frame(s, ip_id_++, &frame_);
  pcap_pkthdr h{};
  h.ts.tv_sec = static_cast<time_t>(s.ts_us / 1'000'000);
  h.ts.tv_usec = static_cast<suseconds_t>(s.ts_us % 1'000'000);
  h.caplen = h.len = static_cast<bpf_u_int32>(frame_.size());
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, frame_.data());
  ++frames_;
  bytes_ += frame_.size();
  return true;
}

bool PcapWriter::close() {
  bool ok = true;
  if (dumper_ != nullptr) {
    std::FILE* f = pcap_dump_file(dumper_);
    if (pcap_dump_flush(dumper_) != 0 || std::ferror(f)) {
      ok = false;
      if (error_.empty()) error_ = path_ + ": write failed: " + std::strerror(errno);
    }
    pcap_dump_close(dumper_);  // fclose; its result is not reported by libpcap
    dumper_ = nullptr;
  }
  if (pcap_ != nullptr) {
    pcap_close(pcap_);
    pcap_ = nullptr;
  }
  return ok && error_.empty();
}

}  // namespace iotwall::dpi
