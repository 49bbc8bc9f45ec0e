#include "firewall/nfqueue.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

extern "C" {
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
}

#include "firewall/nfq_message.h"

namespace iotwall::firewall {
namespace {

// Room for a datagram's headers and metadata attributes beside the copied
// payload (they take a few hundred bytes; the rest is margin).
constexpr size_t kMetadataRoom = 4096;
// Verdict messages of one sendmsg (the buffer is twice this: mnl_nlmsg_batch).
constexpr size_t kSendLimit = 32 * 1024;
// How long binding waits for the kernel's answer.
constexpr int kConfigTimeoutMs = 2000;

size_t align8(size_t n) { return (n + 7) & ~size_t{7}; }

int kernel_verdict(VerdictKind k) {
  switch (k) {
    case VerdictKind::kAccept:
      return NF_ACCEPT;
    case VerdictKind::kDrop:
      return NF_DROP;
    case VerdictKind::kReject:
      return NF_REPEAT;  // with the reset mark
  }
  return NF_DROP;
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::optional<KernelQueueStats> read_kernel_queue_stats(uint16_t queue) {
  std::FILE* f = std::fopen("/proc/thread-self/net/netfilter/nfnetlink_queue", "r");
  if (f == nullptr) f = std::fopen("/proc/self/net/netfilter/nfnetlink_queue", "r");
  if (f == nullptr) return std::nullopt;
  std::optional<KernelQueueStats> found;
  char line[256];
  for (int lines = 0; lines < 65536 && std::fgets(line, sizeof line, f) != nullptr; ++lines) {
    unsigned num, portid, total, mode, range, qdropped, udropped, seq;
    if (std::sscanf(line, "%u %u %u %u %u %u %u %u", &num, &portid, &total, &mode, &range,
                    &qdropped, &udropped, &seq) == 8 &&
        num == queue) {
      found = KernelQueueStats{portid, total, qdropped, udropped, seq};
      break;
    }
  }
  std::fclose(f);
  return found;
}

NfQueue::NfQueue(const NfQueueOptions& o) : opts_(o) {
  max_datagram_ = align8(opts_.copy_bytes + kMetadataRoom);
  arena_.resize(std::max(opts_.arena_bytes, 2 * max_datagram_));
  send_buf_.resize(2 * kSendLimit);
  pending_.reserve(opts_.max_batch * 2);
  plan_.reserve(opts_.max_batch * 2);
}

std::unique_ptr<NfQueue> NfQueue::open(const NfQueueOptions& o, std::string* error) {
  const std::string q = "queue " + std::to_string(o.queue);
  if (o.copy_bytes > 65535 || o.max_len == 0 || o.max_batch == 0 || o.receive_buffer_bytes <= 0) {
    *error = q + ": bad options (copy_bytes 0-65535, max_len, max_batch and receive buffer > 0)";
    return nullptr;
  }
  std::unique_ptr<NfQueue> nq(new NfQueue(o));
  nq->nl_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (nq->nl_ == nullptr) {
    *error = "NFQUEUE not available: cannot open a netfilter netlink socket: " + errno_text(errno);
    return nullptr;
  }
  if (mnl_socket_bind(nq->nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    *error = "cannot bind a netfilter netlink socket: " + errno_text(errno);
    return nullptr;
  }
  nq->portid_ = mnl_socket_get_portid(nq->nl_);
  const int fd = mnl_socket_get_fd(nq->nl_);
  // A receive buffer sized for bursts; SO_RCVBUFFORCE passes rmem_max with CAP_NET_ADMIN.
  const int rcvbuf = o.receive_buffer_bytes;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
    *error = q + ": cannot set the receive buffer: " + errno_text(errno);
    return nullptr;
  }
  // Overruns must not mark the socket failed: the kernel drops the packet
  // it cannot deliver (or accepts it with fail_open) and we go on.
  int one = 1;
  if (mnl_socket_setsockopt(nq->nl_, NETLINK_NO_ENOBUFS, &one, sizeof one) != 0) {
    *error = q + ": cannot set NETLINK_NO_ENOBUFS: " + errno_text(errno);
    return nullptr;
  }
  if (!nq->configure(error)) return nullptr;
  return nq;
}

bool NfQueue::configure(std::string* error) {
  const std::string q = "queue " + std::to_string(opts_.queue);
  if (auto st = read_kernel_queue_stats(opts_.queue); st && st->portid != portid_) {
    *error = q + " is already bound by another process (netlink port " +
             std::to_string(st->portid) + ")";
    return false;
  }
  const uint32_t seq =
      static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::string what;
  int err = 0;
  if (!config_request(seq, true, &what, &err)) {
    *error = q + ": " + what;
    return false;
  }
  if (err == EPERM || err == EBUSY) {
    if (auto st = read_kernel_queue_stats(opts_.queue); st && st->portid != portid_) {
      *error = q + " is already bound by another process (netlink port " +
               std::to_string(st->portid) + ")";
    } else if (err == EPERM) {
      *error = "cannot bind " + q + ": permission denied (NFQUEUE needs CAP_NET_ADMIN)";
    } else {
      *error = q + " is already bound by another process";
    }
    return false;
  }
  if (err != 0) {
    *error = "NFQUEUE not available: binding " + q + " failed: " + errno_text(err) +
             " (is the nfnetlink_queue module available?)";
    return false;
  }
  if (!config_request(seq + 1, false, &what, &err)) {
    *error = q + ": " + what;
    return false;
  }
  if (err != 0) {
    *error = "cannot configure " + q + " (copy " + std::to_string(opts_.copy_bytes) +
             " bytes, length " + std::to_string(opts_.max_len) +
             (opts_.fail_open ? ", fail-open" : "") + (opts_.gso ? ", GSO" : "") +
             "): " + errno_text(err);
    return false;
  }
  // Packets queued before the configuration took effect carry no payload:
  // hand them back to the hook (NF_REPEAT), which queues them again.
  if (!setup_ids_.empty()) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    for (uint32_t id : setup_ids_) {
      nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, opts_.queue);
      nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), NF_REPEAT);
      if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
        *error = q + ": cannot requeue a packet that arrived while binding: " + errno_text(errno);
        return false;
      }
    }
    setup_ids_.clear();
  }
  return true;
}

// Sends one configuration request (bind, or parameters) asking for an
// acknowledgement and waits for it: *err is its errno (0: done). Returns
// false (and *what_failed) when the request could not be sent or answered.
bool NfQueue::config_request(uint32_t seq, bool bind, std::string* what_failed, int* err) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, opts_.queue);
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = seq;
  if (bind) {
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  } else {
    nfq_nlmsg_cfg_put_params(nlh, opts_.copy_bytes == 0 ? NFQNL_COPY_META : NFQNL_COPY_PACKET,
                             static_cast<int>(opts_.copy_bytes));
    nfq_nlmsg_cfg_put_qmaxlen(nlh, opts_.max_len);
    const uint32_t mask = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
    const uint32_t flags =
        (opts_.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0) | (opts_.gso ? NFQA_CFG_F_GSO : 0);
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
  }
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
    *what_failed = "cannot send to the kernel: " + errno_text(errno);
    return false;
  }
  const int fd = mnl_socket_get_fd(nl_);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kConfigTimeoutMs);
  for (int reads = 0; reads < 100000; ++reads) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = recv(fd, arena_.data(), arena_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) continue;
      *what_failed = "cannot read from the kernel: " + errno_text(errno);
      return false;
    }
    DatagramReader reader(arena_.data(), static_cast<size_t>(n));
    NetlinkMessage m;
    while (reader.next(&m)) {
      if (m.kind == NetlinkMessage::kReply && m.seq == seq) {
        *err = m.error;
        return true;
      }
      if (m.kind == NetlinkMessage::kPacket) setup_ids_.push_back(m.packet.id);
    }
  }
  *what_failed = "no answer from the kernel";
  return false;
}

NfQueue::~NfQueue() {
  if (nl_ == nullptr) return;
  // Nothing stays in the kernel without our word: undecided packets get the fail verdict.
  outstanding_.decide_all([this](uint32_t id) {
    undecided.add();
    pending_.push_back({id, opts_.fail_verdict});
  });
  std::string ignored;
  flush(&ignored);
  mnl_socket_close(nl_);
}

int NfQueue::fd() const { return mnl_socket_get_fd(nl_); }

size_t NfQueue::undecided_packets() const { return outstanding_.undecided(); }

bool NfQueue::receive(std::vector<QueuedPacket>* out, std::string* error) {
  out->clear();  // tickets left pending in it get the fail verdict here
  const int fd = mnl_socket_get_fd(nl_);
  size_t used = 0;
  for (size_t reads = 0; reads < 2 * opts_.max_batch + 16 && out->size() < opts_.max_batch;
       ++reads) {
    if (arena_.size() - used < max_datagram_) break;  // payloads must stay put until the next call
    sockaddr_nl from{};
    iovec iov{arena_.data() + used, arena_.size() - used};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      if (errno ==
          ENOBUFS) {  // lost messages: their packets were dropped (or accepted) by the kernel
        counters_.enobufs.add();
        continue;
      }
      counters_.receive_errors.add();
      *error = "queue " + std::to_string(opts_.queue) + ": receive failed: " + errno_text(errno);
      return false;
    }
    if (n == 0) break;
    if (from.nl_pid != 0) {  // only the kernel speaks to us
      counters_.parse_errors.add();
      continue;
    }
    const std::byte* data = arena_.data() + used;
    if (msg.msg_flags & MSG_TRUNC) {
      // Cannot happen with the room kept per datagram; if it does, the
      // packet still gets a verdict (the fail verdict) rather than stay queued.
      counters_.parse_errors.add();
      if (auto id = truncated_packet_id(data, static_cast<size_t>(n));
          id && outstanding_.add(*id)) {
        verdict(*id, opts_.fail_verdict);
      }
      continue;
    }
    parse_datagram(data, static_cast<size_t>(n), out);
    used += align8(static_cast<size_t>(n));
  }
  return true;
}

void NfQueue::parse_datagram(const std::byte* data, size_t len, std::vector<QueuedPacket>* out) {
  DatagramReader reader(data, len);
  NetlinkMessage m;
  while (reader.next(&m)) {
    if (m.kind == NetlinkMessage::kReply) {
      if (m.error != 0) counters_.kernel_errors.add();  // e.g. a verdict it refused
      continue;
    }
    if (m.kind == NetlinkMessage::kOther) continue;
    const PacketFields& f = m.packet;
    if (m.kind == NetlinkMessage::kMalformed || f.queue != opts_.queue) {
      counters_.parse_errors.add();
      continue;
    }
    if (!outstanding_.add(f.id)) {  // the same id twice: the first one's verdict stands
      counters_.parse_errors.add();
      continue;
    }
    if (f.mark == opts_.reset_mark && f.mark != 0) {
      // A reject came back to us: no rule rejects marked packets. Drop it
      // rather than loop.
      counters_.reset_loops.add();
      verdict(f.id, VerdictKind::kDrop);
      continue;
    }
    QueuedPacket& p = out->emplace_back();
    p.ticket = PacketTicket(this, f.id);
    p.hw_protocol = f.hw_protocol;
    p.hook = f.hook;
    p.payload = f.payload;
    p.original_length = f.original_length;
    p.timestamp_us = f.timestamp_us;
    p.mark = f.mark;
    p.in_ifindex = f.in_ifindex;
    p.out_ifindex = f.out_ifindex;
    p.gso = f.gso;
    counters_.received.add();
  }
}

void NfQueue::verdict(uint32_t id, VerdictKind k) {
  if (outstanding_.decide(id) != OutstandingIds::Decide::kOk) {
    counters_.stale_verdicts.add();
    return;
  }
  pending_.push_back({id, k});
}

bool NfQueue::flush(std::string* error) {
  if (pending_.empty()) return true;
  plan_verdicts(pending_, outstanding_.lowest_undecided(), &plan_);
  size_t sent_end = 0;
  const bool ok = send_messages(plan_, &sent_end, error);
  for (size_t i = 0; i < sent_end; ++i) {
    switch (pending_[i].kind) {
      case VerdictKind::kAccept:
        counters_.accepted.add();
        break;
      case VerdictKind::kDrop:
        counters_.dropped.add();
        break;
      case VerdictKind::kReject:
        counters_.rejected.add();
        break;
    }
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(sent_end));
  return ok;
}

void NfQueue::send_now() {
  std::string error;
  flush(&error);
}

// Packs the planned messages into as few sendmsg calls as fit kSendLimit.
// *sent_end: how much of pending_ the messages sent cover.
bool NfQueue::send_messages(std::span<const VerdictMessage> msgs, size_t* sent_end,
                            std::string* error) {
  mnl_nlmsg_batch* b = mnl_nlmsg_batch_start(send_buf_.data(), kSendLimit);
  size_t in_batch_end = 0;  // pending_ covered by the messages in b before the current one
  uint64_t singles = 0, batches = 0;  // messages in b (sent when b is)
  auto send = [&](size_t covered_end) {
    if (mnl_socket_sendto(nl_, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0) {
      *error = "queue " + std::to_string(opts_.queue) +
               ": sending verdicts failed: " + errno_text(errno);
      return false;
    }
    counters_.sends.add();
    counters_.verdict_messages.add(singles);
    counters_.batches.add(batches);
    singles = batches = 0;
    *sent_end = covered_end;
    return true;
  };
  bool ok = true;
  for (const VerdictMessage& m : msgs) {
    nlmsghdr* nlh =
        nfq_nlmsg_put(static_cast<char*>(mnl_nlmsg_batch_current(b)),
                      m.batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, opts_.queue);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(m.id), kernel_verdict(m.kind));
    if (m.kind == VerdictKind::kReject) nfq_nlmsg_verdict_put_mark(nlh, opts_.reset_mark);
    if (!mnl_nlmsg_batch_next(b)) {  // full: send what is before this message
      if (!(ok = send(in_batch_end))) break;
      mnl_nlmsg_batch_reset(b);  // moves this message to the front
    }
    in_batch_end = m.end;
    ++(m.batch ? batches : singles);
  }
  if (ok && !mnl_nlmsg_batch_is_empty(b)) ok = send(in_batch_end);
  mnl_nlmsg_batch_stop(b);
  return ok;
}

}  // namespace iotwall::firewall
