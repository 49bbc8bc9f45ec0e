#include "firewall/nfq_message.h"

#include <arpa/inet.h>
#include <endian.h>

#include <algorithm>
#include <cstring>
#include <limits>

extern "C" {
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
}

namespace iotwall::firewall {
namespace {

// An attribute's payload if it is at least `size` bytes long.
const void* attr_payload(const nlattr* a, size_t size) {
  if (a == nullptr || mnl_attr_get_payload_len(a) < size) return nullptr;
  return mnl_attr_get_payload(a);
}

void attr_u32(const nlattr* a, uint32_t* v) {
  if (const void* p = attr_payload(a, sizeof(uint32_t))) {
    uint32_t be;
    std::memcpy(&be, p, sizeof be);
    *v = ntohl(be);
  }
}

bool parse_packet(const nlmsghdr* nlh, PacketFields* p) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nfgenmsg)) return false;
  nfgenmsg g;
  std::memcpy(&g, mnl_nlmsg_get_payload(nlh), sizeof g);
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attr) < 0) return false;
  const void* hdr = attr_payload(attr[NFQA_PACKET_HDR], sizeof(nfqnl_msg_packet_hdr));
  if (hdr == nullptr) return false;
  nfqnl_msg_packet_hdr ph;
  std::memcpy(&ph, hdr, sizeof ph);
  *p = PacketFields{};
  p->id = ntohl(ph.packet_id);
  p->queue = ntohs(g.res_id);
  p->hw_protocol = ntohs(ph.hw_protocol);
  p->hook = ph.hook;
  if (const nlattr* a = attr[NFQA_PAYLOAD]) {
    p->payload = {static_cast<const std::byte*>(mnl_attr_get_payload(a)),
                  mnl_attr_get_payload_len(a)};
  }
  p->original_length = static_cast<uint32_t>(p->payload.size());
  attr_u32(attr[NFQA_CAP_LEN], &p->original_length);
  attr_u32(attr[NFQA_MARK], &p->mark);
  attr_u32(attr[NFQA_IFINDEX_INDEV], &p->in_ifindex);
  attr_u32(attr[NFQA_IFINDEX_OUTDEV], &p->out_ifindex);
  uint32_t skb_info = 0;
  attr_u32(attr[NFQA_SKB_INFO], &skb_info);
  p->gso = (skb_info & NFQA_SKB_GSO) != 0;
  if (const void* ts = attr_payload(attr[NFQA_TIMESTAMP], sizeof(nfqnl_msg_packet_timestamp))) {
    nfqnl_msg_packet_timestamp t;
    std::memcpy(&t, ts, sizeof t);
    const uint64_t sec = be64toh(t.sec), usec = be64toh(t.usec);
    // A time the kernel would not send (past year 292277) reads as none.
    if (sec < static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 1000000) - 1 &&
        usec < 1000000) {
      p->timestamp_us = static_cast<int64_t>(sec * 1000000 + usec);
    }
  }
  return true;
}

}  // namespace

DatagramReader::DatagramReader(const std::byte* data, size_t len)
    : cur_(data),
      left_(len > static_cast<size_t>(std::numeric_limits<int>::max()) ? 0
                                                                       : static_cast<int>(len)) {}

bool DatagramReader::next(NetlinkMessage* m) {
  if (left_ <= 0) return false;
  // Checked here rather than with mnl_nlmsg_ok(), which takes a length
  // over 2^31 for a small one.
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(cur_);
  if (static_cast<size_t>(left_) < sizeof(nlmsghdr) || nlh->nlmsg_len < sizeof(nlmsghdr) ||
      nlh->nlmsg_len > static_cast<uint32_t>(left_)) {
    left_ = 0;  // bytes that are no whole message
    *m = NetlinkMessage{};
    m->kind = NetlinkMessage::kMalformed;
    return true;
  }
  const size_t step = std::min<size_t>(NLMSG_ALIGN(nlh->nlmsg_len), static_cast<size_t>(left_));
  cur_ += step;
  left_ -= static_cast<int>(step);
  *m = NetlinkMessage{};
  m->seq = nlh->nlmsg_seq;
  if (nlh->nlmsg_type == NLMSG_ERROR) {
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
      m->kind = NetlinkMessage::kMalformed;
      return true;
    }
    nlmsgerr e;
    std::memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof e);
    m->kind = NetlinkMessage::kReply;
    m->error =
        e.error == std::numeric_limits<int>::min() ? std::numeric_limits<int>::max() : -e.error;
    return true;
  }
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE ||
      NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET) {
    m->kind = NetlinkMessage::kOther;
    return true;
  }
  m->kind = parse_packet(nlh, &m->packet) ? NetlinkMessage::kPacket : NetlinkMessage::kMalformed;
  return true;
}

std::optional<uint32_t> truncated_packet_id(const std::byte* data, size_t len) {
  const size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  if (len < at + NLA_HDRLEN + sizeof(nfqnl_msg_packet_hdr)) return std::nullopt;
  nlmsghdr h;
  std::memcpy(&h, data, sizeof h);
  if (NFNL_SUBSYS_ID(h.nlmsg_type) != NFNL_SUBSYS_QUEUE ||
      NFNL_MSG_TYPE(h.nlmsg_type) != NFQNL_MSG_PACKET) {
    return std::nullopt;
  }
  nlattr a;
  std::memcpy(&a, data + at, sizeof a);
  if ((a.nla_type & NLA_TYPE_MASK) != NFQA_PACKET_HDR ||
      a.nla_len < NLA_HDRLEN + sizeof(nfqnl_msg_packet_hdr)) {
    return std::nullopt;
  }
  nfqnl_msg_packet_hdr ph;
  std::memcpy(&ph, data + at + NLA_HDRLEN, sizeof ph);
  return ntohl(ph.packet_id);
}

}  // namespace iotwall::firewall
