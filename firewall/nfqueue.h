// NfQueue: one NFQUEUE queue bound through netlink (libmnl and
// libnetfilter_queue's mnl helpers): receives queued packets in batches and
// sends their verdicts back, batched.
//
// Use: one NfQueue per queue number, driven by one worker thread:
//   poll(fd()) -> receive(&packets) -> decide each packet's ticket -> flush().
// Every received packet comes with a PacketTicket (ticket.h): decide it now,
// or move it away to decide later (a held packet); a ticket that ends
// undecided gets the fail verdict. Verdicts are queued by the tickets and
// sent by flush(), as few netlink messages as is safe (verdict_plan.h) in one
// sendmsg.
//
// Thread-safety: one thread uses an NfQueue (and its tickets); counters()
// may be read from any thread.
// Lifetimes: QueuedPacket::payload points into a buffer owned by the
// NfQueue and stays valid until the next receive() call (copy what must
// live longer). Tickets must not outlive their NfQueue. Destroying the
// NfQueue flushes queued verdicts and gives every packet still undecided
// the fail verdict before closing the socket (closing unbinds the queue).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "firewall/counter.h"
#include "firewall/outstanding_ids.h"
#include "firewall/ticket.h"
#include "firewall/verdict_plan.h"

struct mnl_socket;

namespace iotwall::firewall {

struct NfQueueOptions {
  uint16_t queue = 0;
  // Copy mode NFQNL_COPY_PACKET with this many bytes of each packet
  // (0: metadata only). The kernel caps it at 65531.
  uint32_t copy_bytes = 65535;
  // Packets the kernel holds for us at most (NFQA_CFG_QUEUE_MAXLEN); beyond
  // it new packets are dropped, or accepted with fail_open.
  uint32_t max_len = 4096;
  // NFQA_CFG_F_FAIL_OPEN: the kernel accepts packets while the queue is
  // full instead of dropping them.
  bool fail_open = false;
  // NFQA_CFG_F_GSO: GSO packets arrive whole (up to 64 KiB, checksum maybe
  // not computed yet) instead of being segmented by the kernel first. On by
  // default: one packet and one verdict instead of dozens, no software
  // segmentation; nothing here reads checksums, and the DPI reassembles TCP
  // anyway. A packet longer than copy_bytes arrives truncated (see
  // QueuedPacket::original_length).
  bool gso = true;
  // Socket receive buffer (SO_RCVBUFFORCE, else SO_RCVBUF up to rmem_max).
  int receive_buffer_bytes = 8 << 20;
  // Packets read by one receive() call at most.
  size_t max_batch = 256;
  // Bytes of received datagrams kept per receive() call (payload storage);
  // raised to hold at least two packets of copy_bytes.
  size_t arena_bytes = 1 << 20;
  // The verdict of a packet nobody decided (a ticket dropped undecided).
  VerdictKind fail_verdict = VerdictKind::kDrop;
  uint32_t reset_mark = kDefaultResetMark;
};

struct QueuedPacket {
  PacketTicket ticket;                 // its verdict; id() is the kernel's packet id
  uint16_t hw_protocol = 0;            // EtherType, host order (0x0800 IPv4, 0x86dd IPv6)
  uint8_t hook = 0;                    // NF_INET_* hook it was queued from
  std::span<const std::byte> payload;  // the network-layer packet (maybe truncated)
  uint32_t original_length = 0;        // length before truncation to copy_bytes
  int64_t timestamp_us = 0;            // kernel receive time (UNIX epoch), 0 if none
  uint32_t mark = 0;
  uint32_t in_ifindex = 0;   // 0: none
  uint32_t out_ifindex = 0;  // 0: none
  bool gso = false;          // a GSO packet (larger than the MTU)
};

struct NfQueueCounters {
  Counter received;                     // packets delivered to receive()
  Counter accepted, dropped, rejected;  // verdicts sent, by kind (a batch counts each packet)
  Counter verdict_messages;             // single verdict messages sent
  Counter batches;                      // batch verdict messages sent
  Counter sends;                        // sendmsg calls carrying verdicts
  Counter stale_verdicts;               // verdicts for an unknown or already decided id (ignored)
  Counter receive_errors;               // recv failures other than "nothing to read"
  // ENOBUFS from recv: the kernel lost messages because we were slow. With
  // NETLINK_NO_ENOBUFS (set) such losses are not reported here but in
  // KernelQueueStats::user_dropped; the lost packets are dropped by the
  // kernel, or accepted with fail_open.
  Counter enobufs;
  Counter parse_errors;   // malformed or truncated messages
  Counter kernel_errors;  // error replies from the kernel (e.g. a verdict it refused)
  Counter reset_loops;    // packets that came back with the reset mark (no reject rule): dropped
};

// The kernel's own figures for a queue (/proc/net/netfilter/nfnetlink_queue,
// of the calling thread's network namespace).
struct KernelQueueStats {
  uint32_t portid = 0;         // netlink port of the process bound to it
  uint32_t waiting = 0;        // packets queued and waiting for a verdict
  uint32_t queue_dropped = 0;  // dropped because the queue was full
  uint32_t user_dropped = 0;   // dropped because the socket buffer was full
  uint32_t id_sequence = 0;    // last packet id given
};
std::optional<KernelQueueStats> read_kernel_queue_stats(uint16_t queue);

class NfQueue final : public VerdictSink {
 public:
  // Binds the queue in the calling thread's network namespace. On failure
  // returns null and sets *error to what failed, e.g. "queue 3 is already
  // bound by another process (netlink port 1234)" or "NFQUEUE not
  // available: ...". Needs CAP_NET_ADMIN.
  static std::unique_ptr<NfQueue> open(const NfQueueOptions& o, std::string* error);
  ~NfQueue() override;
  NfQueue(const NfQueue&) = delete;
  NfQueue& operator=(const NfQueue&) = delete;

  // For poll(): readable when packets wait.
  int fd() const;
  const NfQueueOptions& options() const { return opts_; }

  // Reads every datagram available without blocking (at most max_batch
  // packets) into *out, which is cleared first: tickets still pending in it
  // get the fail verdict. Returns false only on a socket error (*error set);
  // ENOBUFS and malformed messages are counted, not errors. An empty *out
  // means nothing was waiting. *out's storage is reused: no allocation per
  // packet once warm.
  bool receive(std::vector<QueuedPacket>* out, std::string* error);

  // VerdictSink: queues the verdict until flush(). A verdict for an id
  // that is unknown or already decided is ignored and counted.
  void verdict(uint32_t id, VerdictKind k) override;
  VerdictKind fail_verdict() const override { return opts_.fail_verdict; }
  // flush(), its error left to the next flush() (which retries and reports).
  void send_now() override;

  // Sends the queued verdicts. On failure returns false with *error set and
  // keeps the verdicts not sent, for the next flush().
  bool flush(std::string* error);

  // Verdicts queued and not sent yet; packets received and not decided.
  size_t queued_verdicts() const { return pending_.size(); }
  size_t undecided_packets() const;

  const NfQueueCounters& counters() const { return counters_; }

 private:
  explicit NfQueue(const NfQueueOptions& o);
  bool configure(std::string* error);
  bool config_request(uint32_t seq, bool bind, std::string* what_failed, int* err);
  // Parses the netlink messages of one datagram, appending packets to *out.
  void parse_datagram(const std::byte* data, size_t len, std::vector<QueuedPacket>* out);
  bool send_messages(std::span<const VerdictMessage> msgs, size_t* sent_end, std::string* error);

  NfQueueOptions opts_;
  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  std::vector<std::byte> arena_;  // received datagrams of the current batch
  size_t max_datagram_ = 0;
  std::vector<std::byte> send_buf_;  // verdict messages of one sendmsg
  std::vector<uint32_t> setup_ids_;  // packets that arrived while configuring
  OutstandingIds outstanding_;
  std::vector<PendingVerdict> pending_;
  std::vector<VerdictMessage> plan_;
  NfQueueCounters counters_;
};

}  // namespace iotwall::firewall
