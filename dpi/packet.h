// Packet parsing: one captured frame -> addresses, ports, TCP state and a
// view of the L4 payload. Link layers: Ethernet (stacked 802.1Q/802.1ad
// VLAN tags), Linux cooked v1/v2, BSD loopback, and raw IP (what NFQUEUE
// hands over). IPv4 and IPv6 (extension headers skipped), TCP and UDP.
//
// No allocation, no exceptions: every reject is a ParseStatus value, so the
// caller counts them. IP fragments are rejected (rare on VSL traffic).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dpi/stream.h"

namespace iotwall::dpi {

enum class LinkType : uint8_t {
  kEthernet,   // DLT_EN10MB
  kLinuxSll,   // DLT_LINUX_SLL, "any" interface captures
  kLinuxSll2,  // DLT_LINUX_SLL2
  kRaw,        // starts at the IP header; the version nibble picks v4/v6
  kNull,       // DLT_NULL / DLT_LOOP: a 4-byte address family, either byte order
};

// Maps a pcap DLT value to a LinkType; nullopt when unsupported.
std::optional<LinkType> link_type_from_dlt(int dlt);
std::string_view link_type_name(LinkType t);

inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

// Lifetime: `payload` is a view into the buffer given to parse_packet();
// it is valid only as long as that buffer (for a PcapSource, until its
// next read; for NFQUEUE, until the verdict).
struct Packet {
  Endpoint src, dst;     // ports are 0 for protocols other than TCP/UDP
  uint8_t protocol = 0;  // IP protocol number (the last IPv6 next header)
  uint8_t tcp_flags = 0;
  uint16_t window = 0;  // TCP window, unscaled
  uint32_t seq = 0, ack = 0;
  std::span<const uint8_t> payload;  // L4 payload (UDP: as its length says)
};

enum class ParseStatus : uint8_t {
  kOk,
  kTruncatedLinkHeader,      // shorter than the link header or a VLAN tag
  kUnsupportedLinkProtocol,  // ethertype / cooked protocol / loopback family
  kTruncatedIp,              // shorter than the IP header or its total length
  kBadIpVersion,             // version nibble not 4/6, or not what the link said
  kBadIpHeaderLength,        // IPv4 IHL < 5, or total length < header length
  kTruncatedIpv6Extension,   // an extension header runs past the packet
  kFragment,                 // IPv4 MF/offset, IPv6 fragment header
  kUnsupportedL4Protocol,    // not TCP/UDP: addresses and protocol are filled
  kTruncatedTcp,             // less than the 20-byte TCP header
  kBadTcpOffset,             // data offset < 5 or past the segment
  kTruncatedUdp,             // less than the 8-byte UDP header
  kBadUdpLength,             // UDP length < 8 or past the datagram
};
inline constexpr int kParseStatusCount = static_cast<int>(ParseStatus::kBadUdpLength) + 1;

// "ok", "truncated_link_header", ... (stable; used as counter names).
std::string_view status_name(ParseStatus s);

// Parses `frame` into `*out`. On kUnsupportedL4Protocol, out->src/dst
// (ports 0) and out->protocol are valid, so the caller may still hand the
// packet to FlowTable::packet() to count it; on other rejects *out is
// unspecified. IPv4 total length / IPv6 payload length are honoured, so
// trailing Ethernet padding is ignored; a frame shorter than them (snaplen)
// is kTruncatedIp.
ParseStatus parse_packet(LinkType link, std::span<const uint8_t> frame, Packet* out);

}  // namespace iotwall::dpi
