#include "firewall/nfq_message.h"

#include <arpa/inet.h>
#include <endian.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
}

namespace iotwall::firewall {
namespace {

// A datagram as the kernel writes it, built with libmnl into aligned storage.
class Datagram {
 public:
  Datagram() : buf_(16384 / 8, 0) {}
  // A queued packet message with the usual attributes.
  void packet(uint32_t id, uint16_t queue, const std::string& payload, bool with_header = true) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(tail());
    nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
    auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    g->nfgen_family = AF_INET;
    g->res_id = htons(queue);
    if (with_header) {
      nfqnl_msg_packet_hdr ph{htonl(id), htons(0x0800), 3};
      mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof ph, &ph);
    }
    mnl_attr_put_u32(nlh, NFQA_MARK, htonl(0x77));
    nfqnl_msg_packet_timestamp ts{htobe64(1700000000), htobe64(250000)};
    mnl_attr_put(nlh, NFQA_TIMESTAMP, sizeof ts, &ts);
    mnl_attr_put_u32(nlh, NFQA_IFINDEX_INDEV, htonl(2));
    mnl_attr_put_u32(nlh, NFQA_IFINDEX_OUTDEV, htonl(1));
    mnl_attr_put_u32(nlh, NFQA_CAP_LEN, htonl(1500));
    mnl_attr_put_u32(nlh, NFQA_SKB_INFO, htonl(NFQA_SKB_GSO));
    mnl_attr_put(nlh, NFQA_PAYLOAD, payload.size(), payload.data());
    len_ += nlh->nlmsg_len;
  }
  void error_reply(int err, uint32_t seq) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(tail());
    nlh->nlmsg_type = NLMSG_ERROR;
    nlh->nlmsg_seq = seq;
    auto* e = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
    e->error = -err;
    len_ += nlh->nlmsg_len;
  }
  void other(uint16_t type) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(tail());
    nlh->nlmsg_type = type;
    len_ += nlh->nlmsg_len;
  }
  void garbage(size_t n) {
    std::memset(tail(), 0xab, n);
    len_ += n;
  }
  std::byte* data() { return reinterpret_cast<std::byte*>(buf_.data()); }
  size_t size() const { return len_; }

 private:
  char* tail() { return reinterpret_cast<char*>(buf_.data()) + len_; }
  std::vector<uint64_t> buf_;
  size_t len_ = 0;
};

std::vector<NetlinkMessage> read_all(const std::byte* data, size_t len) {
  std::vector<NetlinkMessage> out;
  DatagramReader r(data, len);
  NetlinkMessage m;
  for (int i = 0; i < 10000 && r.next(&m); ++i) out.push_back(m);
  return out;
}

TEST_CASE("nfq message: packets and replies of one datagram") {
  Datagram d;
  d.packet(42, 3, "IPv4 bytes");
  d.packet(43, 3, "");
  d.error_reply(ENOENT, 9);
  d.error_reply(0, 10);
  d.other(NLMSG_NOOP);
  const auto ms = read_all(d.data(), d.size());
  REQUIRE(ms.size() == 5);
  REQUIRE(ms[0].kind == NetlinkMessage::kPacket);
  const PacketFields& p = ms[0].packet;
  CHECK(p.id == 42);
  CHECK(p.queue == 3);
  CHECK(p.hw_protocol == 0x0800);
  CHECK(p.hook == 3);
  CHECK(std::string(reinterpret_cast<const char*>(p.payload.data()), p.payload.size()) ==
        "IPv4 bytes");
  CHECK(p.payload.data() > d.data());
  CHECK(p.original_length == 1500);
  CHECK(p.timestamp_us == 1700000000LL * 1000000 + 250000);
  CHECK(p.mark == 0x77);
  CHECK(p.in_ifindex == 2);
  CHECK(p.out_ifindex == 1);
  CHECK(p.gso);
  CHECK(ms[1].kind == NetlinkMessage::kPacket);
  CHECK(ms[1].packet.id == 43);
  CHECK(ms[1].packet.payload.empty());
  CHECK((ms[2].kind == NetlinkMessage::kReply && ms[2].error == ENOENT && ms[2].seq == 9));
  CHECK((ms[3].kind == NetlinkMessage::kReply && ms[3].error == 0 && ms[3].seq == 10));
  CHECK(ms[4].kind == NetlinkMessage::kOther);
}

TEST_CASE("nfq message: what the kernel would not send is malformed, not a crash") {
  {
    Datagram d;
    d.packet(1, 0, "x", /*with_header=*/false);
    const auto ms = read_all(d.data(), d.size());
    REQUIRE(ms.size() == 1);
    CHECK(ms[0].kind == NetlinkMessage::kMalformed);
  }
  {
    Datagram d;
    d.packet(1, 0, "x");
    d.garbage(7);  // shorter than a header
    const auto ms = read_all(d.data(), d.size());
    REQUIRE(ms.size() == 2);
    CHECK(ms[0].kind == NetlinkMessage::kPacket);
    CHECK(ms[1].kind == NetlinkMessage::kMalformed);
  }
  {
    Datagram d;
    d.garbage(64);  // a header claiming 0xabababab bytes
    const auto ms = read_all(d.data(), d.size());
    REQUIRE(ms.size() == 1);
    CHECK(ms[0].kind == NetlinkMessage::kMalformed);
  }
  CHECK(read_all(nullptr, 0).empty());
}

TEST_CASE("nfq message: the id of a datagram cut short") {
  Datagram d;
  d.packet(77, 0, std::string(1000, 'p'));
  CHECK(truncated_packet_id(d.data(), 40) == 77u);
  CHECK_FALSE(truncated_packet_id(d.data(), 20));
  Datagram e;
  e.error_reply(EPERM, 1);
  CHECK_FALSE(truncated_packet_id(e.data(), e.size()));
}

// Random damage to a valid datagram (flipped bytes, cut short): the reader
// ends, every span it gives lies inside the datagram (ASan would see the rest).
TEST_CASE("nfq message: damaged datagrams, random") {
  Datagram good;
  good.packet(5, 1, std::string(200, 'a'));
  good.packet(6, 1, "bb");
  good.error_reply(ENOENT, 3);
  std::mt19937 rng(7);
  std::vector<uint64_t> copy(good.size() / 8 + 1);
  auto* bytes = reinterpret_cast<uint8_t*>(copy.data());
  int packets = 0, malformed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::memcpy(bytes, good.data(), good.size());
    size_t len = good.size();
    const int flips = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int i = 0; i < flips; ++i) bytes[rng() % len] = static_cast<uint8_t>(rng());
    if (rng() % 3 == 0) len = rng() % (len + 1);
    for (const NetlinkMessage& m : read_all(reinterpret_cast<std::byte*>(bytes), len)) {
      if (m.kind == NetlinkMessage::kPacket) {
        ++packets;
        const auto* b = reinterpret_cast<const std::byte*>(bytes);
        REQUIRE(m.packet.payload.data() + m.packet.payload.size() <= b + len);
        REQUIRE((m.packet.payload.empty() || m.packet.payload.data() >= b));
      }
      malformed += m.kind == NetlinkMessage::kMalformed;
    }
  }
  CHECK(packets > 1000);
  CHECK(malformed > 1000);
}

}  // namespace
}  // namespace iotwall::firewall
