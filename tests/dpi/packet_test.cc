#include "dpi/packet.h"

#include <pcap/dlt.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

using namespace iotwall::dpi;

namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
          const Bytes& payload, size_t option_bytes = 0) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, ack);
  b.push_back(static_cast<uint8_t>(((20 + option_bytes) / 4) << 4));
  b.push_back(flags);
  put16(b, 29200);                                           // window
  put16(b, 0);                                               // checksum
  put16(b, 0);                                               // urgent
  for (size_t i = 0; i < option_bytes; ++i) b.push_back(1);  // NOPs
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload.size()));
  put16(b, 0);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// IPv4 10.0.0.1 -> 10.0.0.2 with `option_bytes` of options (a multiple of 4).
Bytes ipv4(uint8_t proto, const Bytes& l4, size_t option_bytes = 0, uint16_t frag = 0) {
  Bytes b;
  b.push_back(static_cast<uint8_t>(0x40 | (5 + option_bytes / 4)));
  b.push_back(0);
  put16(b, static_cast<uint16_t>(20 + option_bytes + l4.size()));
  put16(b, 0x1234);
  put16(b, frag);
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);
  for (uint8_t x : {10, 0, 0, 1, 10, 0, 0, 2}) b.push_back(x);
  for (size_t i = 0; i < option_bytes; ++i) b.push_back(1);  // NOP options
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

// IPv6 fe80::1 -> fe80::2; `ext` is the extension header chain, `next`
// the first next-header value.
Bytes ipv6(uint8_t next, const Bytes& ext, const Bytes& l4) {
  Bytes b = {0x60, 0, 0, 0};
  put16(b, static_cast<uint16_t>(ext.size() + l4.size()));
  b.push_back(next);
  b.push_back(64);
  for (int a = 1; a <= 2; ++a) {
    b.push_back(0xfe);
    b.push_back(0x80);
    for (int i = 0; i < 13; ++i) b.push_back(0);
    b.push_back(static_cast<uint8_t>(a));
  }
  b.insert(b.end(), ext.begin(), ext.end());
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

// An IPv6 extension header of (len8 + 1) * 8 bytes.
Bytes ext_header(uint8_t next, uint8_t len8) {
  Bytes b((size_t{len8} + 1) * 8, 0);
  b[0] = next;
  b[1] = len8;
  return b;
}

Bytes eth(uint16_t type, const Bytes& payload, std::initializer_list<uint16_t> vlan_tpids = {}) {
  Bytes b = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  std::vector<uint16_t> tpids(vlan_tpids);
  for (uint16_t tpid : tpids) {
    put16(b, tpid);
    put16(b, 100);  // TCI: VLAN 100
  }
  put16(b, type);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes sll(uint16_t proto, const Bytes& payload) {
  Bytes b;
  put16(b, 0);  // packet type: to us
  put16(b, 1);  // ARPHRD_ETHER
  put16(b, 6);
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(i));
  put16(b, proto);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes sll2(uint16_t proto, const Bytes& payload) {
  Bytes b;
  put16(b, proto);
  put16(b, 0);
  put32(b, 3);  // interface index
  put16(b, 1);  // ARPHRD_ETHER
  b.push_back(0);
  b.push_back(6);
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(i));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes null_link(uint32_t family_host_order_le, const Bytes& payload) {
  Bytes b(4 + payload.size(), 0);
  b[0] = static_cast<uint8_t>(family_host_order_le);
  std::copy(payload.begin(), payload.end(), b.begin() + 4);
  return b;
}

ParseStatus parse(LinkType link, const Bytes& frame, Packet* p) {
  return parse_packet(link, std::span<const uint8_t>(frame.data(), frame.size()), p);
}

std::string payload_of(const Packet& p) { return std::string(p.payload.begin(), p.payload.end()); }

const Bytes kTcp = tcp(40000, 8081, 1000, 2000, kTcpAck | kTcpPsh, text("hello"));

}  // namespace

TEST_CASE("link types map from pcap DLT values", "[packet]") {
  CHECK(link_type_from_dlt(DLT_EN10MB) == LinkType::kEthernet);
  CHECK(link_type_from_dlt(DLT_LINUX_SLL) == LinkType::kLinuxSll);
  CHECK(link_type_from_dlt(DLT_LINUX_SLL2) == LinkType::kLinuxSll2);
  CHECK(link_type_from_dlt(DLT_RAW) == LinkType::kRaw);
  CHECK(link_type_from_dlt(101) == LinkType::kRaw);
  CHECK(link_type_from_dlt(DLT_NULL) == LinkType::kNull);
  CHECK(link_type_from_dlt(DLT_LOOP) == LinkType::kNull);
  CHECK_FALSE(link_type_from_dlt(DLT_IEEE802_11).has_value());
  CHECK(link_type_name(LinkType::kLinuxSll2) == "linux_sll2");
}

TEST_CASE("ethernet IPv4 TCP: addresses, ports, flags, sequence numbers, payload", "[packet]") {
  Packet p;
  const Bytes frame = eth(0x0800, ipv4(6, kTcp));  // p.payload points into it
  REQUIRE(parse(LinkType::kEthernet, frame, &p) == ParseStatus::kOk);
  CHECK(p.src.to_string() == "10.0.0.1:40000");
  CHECK(p.dst.to_string() == "10.0.0.2:8081");
  CHECK(p.protocol == kIpProtoTcp);
  CHECK(p.tcp_flags == (kTcpAck | kTcpPsh));
  CHECK(p.seq == 1000);
  CHECK(p.ack == 2000);
  CHECK(p.window == 29200);
  CHECK(payload_of(p) == "hello");
}

TEST_CASE("every link type reaches the same packet", "[packet]") {
  const Bytes ip = ipv4(6, kTcp);
  const Bytes ip6 = ipv6(6, {}, kTcp);
  struct Case {
    LinkType link;
    Bytes frame;
    int family;
  };
  const std::vector<Case> cases = {
      {LinkType::kEthernet, eth(0x0800, ip), 4},
      {LinkType::kEthernet, eth(0x86DD, ip6), 6},
      {LinkType::kLinuxSll, sll(0x0800, ip), 4},
      {LinkType::kLinuxSll, sll(0x86DD, ip6), 6},
      {LinkType::kLinuxSll2, sll2(0x0800, ip), 4},
      {LinkType::kLinuxSll2, sll2(0x86DD, ip6), 6},
      {LinkType::kRaw, ip, 4},
      {LinkType::kRaw, ip6, 6},
      {LinkType::kNull, null_link(2, ip), 4},
      {LinkType::kNull, null_link(10, ip6), 6},       // Linux AF_INET6
      {LinkType::kNull, null_link(30, ip6), 6},       // macOS AF_INET6
      {LinkType::kNull, cat({{0, 0, 0, 2}, ip}), 4},  // DLT_LOOP: network order
  };
  for (const Case& c : cases) {
    INFO("link " << link_type_name(c.link) << " family " << c.family);
    Packet p;
    REQUIRE(parse(c.link, c.frame, &p) == ParseStatus::kOk);
    CHECK(p.src.ip.family == c.family);
    CHECK(p.src.port == 40000);
    CHECK(p.dst.port == 8081);
    CHECK(payload_of(p) == "hello");
  }
}

TEST_CASE("stacked VLAN tags are stripped", "[packet]") {
  Packet p;
  for (auto tags : {std::vector<uint16_t>{0x8100}, std::vector<uint16_t>{0x88A8, 0x8100},
                    std::vector<uint16_t>{0x9100, 0x8100, 0x8100}}) {
    Bytes frame = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    for (uint16_t t : tags) {
      put16(frame, t);
      put16(frame, 7);
    }
    put16(frame, 0x0800);
    const Bytes ip = ipv4(6, kTcp);
    frame.insert(frame.end(), ip.begin(), ip.end());
    REQUIRE(parse(LinkType::kEthernet, frame, &p) == ParseStatus::kOk);
    CHECK(payload_of(p) == "hello");
  }
  // A tag cut short.
  const Bytes cut = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0, 7};
  CHECK(parse(LinkType::kEthernet, cut, &p) == ParseStatus::kTruncatedLinkHeader);
}

TEST_CASE("IPv4 options are skipped and trailing padding ignored", "[packet]") {
  const Bytes small = tcp(1, 2, 3, 4, kTcpAck, text("x"), /*option_bytes=*/12);
  Bytes frame = eth(0x0800, ipv4(6, small, /*option_bytes=*/8));
  frame.resize(frame.size() + 6, 0xEE);  // Ethernet padding to the minimum size
  Packet p;
  REQUIRE(parse(LinkType::kEthernet, frame, &p) == ParseStatus::kOk);
  CHECK(payload_of(p) == "x");
  CHECK(p.src.port == 1);
}

TEST_CASE("UDP honours its length field", "[packet]") {
  Bytes frame = eth(0x0800, ipv4(17, udp(1234, 1234, text("ka"))));
  frame.resize(60, 0);
  Packet p;
  REQUIRE(parse(LinkType::kEthernet, frame, &p) == ParseStatus::kOk);
  CHECK(p.protocol == kIpProtoUdp);
  CHECK(p.dst.port == 1234);
  CHECK(payload_of(p) == "ka");
}

TEST_CASE("IPv6 extension headers are skipped", "[packet]") {
  const Bytes ext = cat({ext_header(43, 0), ext_header(60, 1), ext_header(6, 0)});
  Packet p;
  const Bytes frame = ipv6(0, ext, kTcp);
  REQUIRE(parse(LinkType::kRaw, frame, &p) == ParseStatus::kOk);
  CHECK(p.src.to_string() == "[fe80::1]:40000");
  CHECK(p.protocol == kIpProtoTcp);
  CHECK(payload_of(p) == "hello");
}

TEST_CASE("every reject reason", "[packet]") {
  Packet p;
  const auto is = [&](LinkType l, const Bytes& f, ParseStatus want) {
    INFO("want " << status_name(want));
    CHECK(parse(l, f, &p) == want);
  };
  is(LinkType::kEthernet, Bytes(10, 0), ParseStatus::kTruncatedLinkHeader);
  is(LinkType::kLinuxSll, Bytes(15, 0), ParseStatus::kTruncatedLinkHeader);
  is(LinkType::kLinuxSll2, Bytes(19, 0), ParseStatus::kTruncatedLinkHeader);
  is(LinkType::kNull, Bytes(3, 0), ParseStatus::kTruncatedLinkHeader);
  is(LinkType::kEthernet, eth(0x0806, Bytes(28, 0)), ParseStatus::kUnsupportedLinkProtocol);
  is(LinkType::kNull, null_link(99, ipv4(6, kTcp)), ParseStatus::kUnsupportedLinkProtocol);
  is(LinkType::kEthernet, eth(0x0800, Bytes(12, 0x45)), ParseStatus::kTruncatedIp);
  is(LinkType::kRaw, {}, ParseStatus::kTruncatedIp);
  Bytes short_total = ipv4(6, kTcp);
  short_total.pop_back();  // total length says one more byte
  is(LinkType::kRaw, short_total, ParseStatus::kTruncatedIp);
  Bytes v6_short = ipv6(6, {}, kTcp);
  v6_short.pop_back();
  is(LinkType::kRaw, v6_short, ParseStatus::kTruncatedIp);
  is(LinkType::kEthernet, eth(0x0800, ipv6(6, {}, kTcp)), ParseStatus::kBadIpVersion);
  Bytes v5 = ipv4(6, kTcp);
  v5[0] = 0x55;
  is(LinkType::kRaw, v5, ParseStatus::kBadIpVersion);
  Bytes ihl4 = ipv4(6, kTcp);
  ihl4[0] = 0x44;
  is(LinkType::kRaw, ihl4, ParseStatus::kBadIpHeaderLength);
  Bytes total_small = ipv4(6, kTcp);
  total_small[2] = 0;
  total_small[3] = 19;
  is(LinkType::kRaw, total_small, ParseStatus::kBadIpHeaderLength);
  is(LinkType::kRaw, ipv6(0, {6, 10, 0, 0, 0, 0, 0, 0}, kTcp),  // claims 88 bytes
     ParseStatus::kTruncatedIpv6Extension);
  is(LinkType::kRaw, ipv6(0, {6, 0, 0, 0}, {}), ParseStatus::kTruncatedIpv6Extension);
  is(LinkType::kRaw, ipv4(6, kTcp, 0, 0x2000), ParseStatus::kFragment);  // MF: first fragment
  is(LinkType::kRaw, ipv4(6, kTcp, 0, 0x0010), ParseStatus::kFragment);  // a later fragment
  is(LinkType::kRaw, ipv6(44, ext_header(6, 0), kTcp), ParseStatus::kFragment);
  is(LinkType::kRaw, ipv4(1, Bytes(8, 0)), ParseStatus::kUnsupportedL4Protocol);
  CHECK(p.src.ip.to_string() == "10.0.0.1");
  CHECK(p.protocol == kIpProtoIcmp);
  is(LinkType::kRaw, ipv6(59, {}, {}), ParseStatus::kUnsupportedL4Protocol);
  is(LinkType::kRaw, ipv4(6, Bytes(19, 0)), ParseStatus::kTruncatedTcp);
  Bytes off4 = tcp(1, 2, 3, 4, 0, {});
  off4[12] = 0x40;
  is(LinkType::kRaw, ipv4(6, off4), ParseStatus::kBadTcpOffset);
  Bytes off15 = tcp(1, 2, 3, 4, 0, text("abc"));
  off15[12] = 0xF0;
  is(LinkType::kRaw, ipv4(6, off15), ParseStatus::kBadTcpOffset);
  is(LinkType::kRaw, ipv4(17, Bytes(7, 0)), ParseStatus::kTruncatedUdp);
  Bytes ulen = udp(1, 2, text("abc"));
  ulen[5] = 4;
  is(LinkType::kRaw, ipv4(17, ulen), ParseStatus::kBadUdpLength);
  ulen[5] = 200;
  is(LinkType::kRaw, ipv4(17, ulen), ParseStatus::kBadUdpLength);
}

TEST_CASE("status names are distinct", "[packet]") {
  std::vector<std::string_view> names;
  for (int i = 0; i < kParseStatusCount; ++i) {
    const std::string_view n = status_name(static_cast<ParseStatus>(i));
    CHECK(n != "?");
    for (std::string_view m : names) CHECK(m != n);
    names.push_back(n);
  }
}

TEST_CASE("every prefix of a valid frame is rejected cleanly, never read past", "[packet]") {
  const Bytes ext = cat({ext_header(60, 0), ext_header(6, 1)});
  const std::vector<std::pair<LinkType, Bytes>> frames = {
      {LinkType::kEthernet,
       eth(0x0800, ipv4(6, tcp(1, 2, 3, 4, kTcpAck, text("data"), 8), 4), {0x88A8, 0x8100})},
      {LinkType::kEthernet, eth(0x86DD, ipv6(0, ext, tcp(1, 2, 3, 4, kTcpAck, text("data"))))},
      {LinkType::kLinuxSll, sll(0x0800, ipv4(17, udp(5, 6, text("udp"))))},
      {LinkType::kLinuxSll2, sll2(0x86DD, ipv6(17, {}, udp(5, 6, text("udp"))))},
      {LinkType::kNull, null_link(2, ipv4(6, tcp(1, 2, 3, 4, 0, {})))},
  };
  for (const auto& [link, frame] : frames) {
    Packet p;
    REQUIRE(parse(link, frame, &p) == ParseStatus::kOk);
    for (size_t n = 0; n < frame.size(); ++n) {
      // An exact-size heap copy, so ASan catches any read past the prefix.
      std::vector<uint8_t> prefix(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(n));
      INFO("link " << link_type_name(link) << " prefix " << n);
      CHECK(parse(link, prefix, &p) != ParseStatus::kOk);
    }
  }
}
