// Reading the netlink messages the kernel sends to an NFQUEUE listener: a
// datagram holds one or more messages (queued packets, error replies to our
// requests). Pure parsing without I/O, so tests can feed it any bytes.
//
// REQUIRES: the datagram starts 4-byte aligned (netlink alignment).
// Lifetime: spans in the results point into the datagram given.
// Thread-safety: none needed (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace iotwall::firewall {

struct PacketFields {
  uint32_t id = 0;                     // the kernel's packet id
  uint16_t queue = 0;                  // the queue it came from
  uint16_t hw_protocol = 0;            // EtherType, host order
  uint8_t hook = 0;                    // NF_INET_* hook
  std::span<const std::byte> payload;  // network-layer packet (maybe truncated)
  uint32_t original_length = 0;        // NFQA_CAP_LEN, else the payload's length
  int64_t timestamp_us = 0;            // 0 if none
  uint32_t mark = 0;
  uint32_t in_ifindex = 0, out_ifindex = 0;  // 0: none
  bool gso = false;                          // NFQA_SKB_INFO says GSO
};

struct NetlinkMessage {
  enum Kind {
    kPacket,     // a queued packet: `packet`
    kReply,      // an error or acknowledgement: `error` (0: ack, else errno), `seq`
    kOther,      // nothing for us (NOOP, DONE, other types)
    kMalformed,  // not what the kernel sends (bad lengths, no packet header, ...)
  };
  Kind kind = kOther;
  PacketFields packet;
  int error = 0;
  uint32_t seq = 0;
};

class DatagramReader {
 public:
  DatagramReader(const std::byte* data, size_t len);
  // The next message into *m; false at the end. Trailing bytes that are no
  // whole message give one kMalformed.
  bool next(NetlinkMessage* m);

 private:
  const std::byte* cur_;
  int left_;
};

// The packet id of a queued-packet message from its first attribute (the
// kernel puts NFQA_PACKET_HDR first), for a datagram cut short.
std::optional<uint32_t> truncated_packet_id(const std::byte* data, size_t len);

}  // namespace iotwall::firewall
