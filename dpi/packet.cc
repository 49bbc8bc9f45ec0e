#include "dpi/packet.h"

#include <pcap/dlt.h>

#include <cstring>

namespace iotwall::dpi {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86DD;
constexpr uint16_t kEtherVlan = 0x8100;     // 802.1Q
constexpr uint16_t kEtherQinQ = 0x88A8;     // 802.1ad
constexpr uint16_t kEtherQinQOld = 0x9100;  // pre-standard stacked tag

constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6DestOptions = 60;

constexpr int kLinkDltRaw = 101;  // LINKTYPE_RAW as some files carry it

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0];
}

// IP version expected from the link layer; 0 = take the version nibble.
ParseStatus parse_ip(int version, std::span<const uint8_t> b, Packet* out);

// Strips VLAN tags, then dispatches on the ethertype.
ParseStatus parse_ethertype(uint16_t type, std::span<const uint8_t> b, Packet* out) {
  while (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld) {
    if (b.size() < 4) return ParseStatus::kTruncatedLinkHeader;
    type = be16(b.data() + 2);
    b = b.subspan(4);
  }
  if (type == kEtherIpv4) return parse_ip(4, b, out);
  if (type == kEtherIpv6) return parse_ip(6, b, out);
  return ParseStatus::kUnsupportedLinkProtocol;
}

ParseStatus parse_l4(uint8_t proto, std::span<const uint8_t> b, Packet* out) {
  out->protocol = proto;
  out->src.port = out->dst.port = 0;
  out->tcp_flags = 0;
  out->window = 0;
  out->seq = out->ack = 0;
  if (proto == kIpProtoTcp) {
    if (b.size() < 20) return ParseStatus::kTruncatedTcp;
    const size_t offset = static_cast<size_t>(b[12] >> 4) * 4;
    if (offset < 20 || offset > b.size()) return ParseStatus::kBadTcpOffset;
    out->src.port = be16(b.data());
    out->dst.port = be16(b.data() + 2);
    out->seq = be32(b.data() + 4);
    out->ack = be32(b.data() + 8);
    out->tcp_flags = b[13];
    out->window = be16(b.data() + 14);
    out->payload = b.subspan(offset);
    return ParseStatus::kOk;
  }
  if (proto == kIpProtoUdp) {
    if (b.size() < 8) return ParseStatus::kTruncatedUdp;
    const size_t len = be16(b.data() + 4);
    if (len < 8 || len > b.size()) return ParseStatus::kBadUdpLength;
    out->src.port = be16(b.data());
    out->dst.port = be16(b.data() + 2);
    out->payload = b.subspan(8, len - 8);
    return ParseStatus::kOk;
  }
  out->payload = b;
  return ParseStatus::kUnsupportedL4Protocol;
}

ParseStatus parse_ipv4(std::span<const uint8_t> b, Packet* out) {
  if (b.size() < 20) return ParseStatus::kTruncatedIp;
  const size_t ihl = static_cast<size_t>(b[0] & 0x0F) * 4;
  if (ihl < 20) return ParseStatus::kBadIpHeaderLength;
  const size_t total = be16(b.data() + 2);
  if (total < ihl) return ParseStatus::kBadIpHeaderLength;
  if (total > b.size()) return ParseStatus::kTruncatedIp;
  const uint16_t frag = be16(b.data() + 6);
  if ((frag & 0x2000) != 0 || (frag & 0x1FFF) != 0) return ParseStatus::kFragment;
  out->src.ip = IpAddress{};
  out->dst.ip = IpAddress{};
  out->src.ip.family = out->dst.ip.family = 4;
  std::memcpy(out->src.ip.bytes.data(), b.data() + 12, 4);
  std::memcpy(out->dst.ip.bytes.data(), b.data() + 16, 4);
  return parse_l4(b[9], b.subspan(ihl, total - ihl), out);
}

ParseStatus parse_ipv6(std::span<const uint8_t> b, Packet* out) {
  if (b.size() < 40) return ParseStatus::kTruncatedIp;
  const size_t payload_len = be16(b.data() + 4);
  if (40 + payload_len > b.size()) return ParseStatus::kTruncatedIp;
  out->src.ip.family = out->dst.ip.family = 6;
  std::memcpy(out->src.ip.bytes.data(), b.data() + 8, 16);
  std::memcpy(out->dst.ip.bytes.data(), b.data() + 24, 16);
  uint8_t next = b[6];
  std::span<const uint8_t> rest = b.subspan(40, payload_len);
  // Each extension header is at least 8 bytes, so this loop ends.
  while (next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6DestOptions ||
         next == kIpv6Fragment) {
    if (next == kIpv6Fragment) return ParseStatus::kFragment;
    if (rest.size() < 8) return ParseStatus::kTruncatedIpv6Extension;
    const size_t len = (size_t{rest[1]} + 1) * 8;
    if (len > rest.size()) return ParseStatus::kTruncatedIpv6Extension;
    next = rest[0];
    rest = rest.subspan(len);
  }
  return parse_l4(next, rest, out);
}

ParseStatus parse_ip(int version, std::span<const uint8_t> b, Packet* out) {
  if (b.empty()) return ParseStatus::kTruncatedIp;
  const int nibble = b[0] >> 4;
  if (version != 0 && nibble != version) return ParseStatus::kBadIpVersion;
  if (nibble == 4) return parse_ipv4(b, out);
  if (nibble == 6) return parse_ipv6(b, out);
  return ParseStatus::kBadIpVersion;
}

}  // namespace

std::optional<LinkType> link_type_from_dlt(int dlt) {
  switch (dlt) {
    case DLT_EN10MB:
      return LinkType::kEthernet;
    case DLT_LINUX_SLL:
      return LinkType::kLinuxSll;
    case DLT_LINUX_SLL2:
      return LinkType::kLinuxSll2;
    case DLT_RAW:
    case kLinkDltRaw:
    case DLT_IPV4:
    case DLT_IPV6:
      return LinkType::kRaw;
    case DLT_NULL:
    case DLT_LOOP:
      return LinkType::kNull;
    default:
      return std::nullopt;
  }
}

std::string_view link_type_name(LinkType t) {
  switch (t) {
    case LinkType::kEthernet:
      return "ethernet";
    case LinkType::kLinuxSll:
      return "linux_sll";
    case LinkType::kLinuxSll2:
      return "linux_sll2";
    case LinkType::kRaw:
      return "raw";
    case LinkType::kNull:
      return "null";
  }
  return "?";
}

std::string_view status_name(ParseStatus s) {
  switch (s) {
    case ParseStatus::kOk:
      return "ok";
    case ParseStatus::kTruncatedLinkHeader:
      return "truncated_link_header";
    case ParseStatus::kUnsupportedLinkProtocol:
      return "unsupported_link_protocol";
    case ParseStatus::kTruncatedIp:
      return "truncated_ip";
    case ParseStatus::kBadIpVersion:
      return "bad_ip_version";
    case ParseStatus::kBadIpHeaderLength:
      return "bad_ip_header_length";
    case ParseStatus::kTruncatedIpv6Extension:
      return "truncated_ipv6_extension";
    case ParseStatus::kFragment:
      return "fragment";
    case ParseStatus::kUnsupportedL4Protocol:
      return "unsupported_l4_protocol";
    case ParseStatus::kTruncatedTcp:
      return "truncated_tcp";
    case ParseStatus::kBadTcpOffset:
      return "bad_tcp_offset";
    case ParseStatus::kTruncatedUdp:
      return "truncated_udp";
    case ParseStatus::kBadUdpLength:
      return "bad_udp_length";
  }
  return "?";
}

ParseStatus parse_packet(LinkType link, std::span<const uint8_t> b, Packet* out) {
  out->payload = {};
  switch (link) {
    case LinkType::kEthernet:
      if (b.size() < 14) return ParseStatus::kTruncatedLinkHeader;
      return parse_ethertype(be16(b.data() + 12), b.subspan(14), out);
    case LinkType::kLinuxSll:
      if (b.size() < 16) return ParseStatus::kTruncatedLinkHeader;
      return parse_ethertype(be16(b.data() + 14), b.subspan(16), out);
    case LinkType::kLinuxSll2:
      if (b.size() < 20) return ParseStatus::kTruncatedLinkHeader;
      return parse_ethertype(be16(b.data()), b.subspan(20), out);
    case LinkType::kRaw:
      return parse_ip(0, b, out);
    case LinkType::kNull: {
      if (b.size() < 4) return ParseStatus::kTruncatedLinkHeader;
      // The family is in the capturing host's byte order (DLT_LOOP: network
      // order), so accept either. AF_INET6 differs between BSDs and Linux.
      const uint32_t le = le32(b.data()), be = be32(b.data());
      const auto is = [&](uint32_t v) { return le == v || be == v; };
      if (is(2)) return parse_ip(4, b.subspan(4), out);
      if (is(10) || is(24) || is(28) || is(30)) return parse_ip(6, b.subspan(4), out);
      return ParseStatus::kUnsupportedLinkProtocol;
    }
  }
  return ParseStatus::kUnsupportedLinkProtocol;
}

}  // namespace iotwall::dpi
