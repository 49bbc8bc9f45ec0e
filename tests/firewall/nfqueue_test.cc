// NfQueue with real packets: a private network namespace, the daemon's own
// rules queueing a TCP port on lo, a client and a server on 127.0.0.1.
#include "firewall/nfqueue.h"

#include <linux/netfilter.h>
#include <net/if.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <thread>

#include "firewall/rules.h"
#include "tests/firewall/netns.h"

namespace iotwall::firewall {
namespace {

using namespace test;

constexpr uint16_t kPort = 18080;

// The namespace, the rules for kPort, and a skip reason when any is missing.
struct Site {
  TestNetns ns;
  PacketRules rules;
  std::string skip;

  explicit Site(bool bypass = false, RuleSpec::Hook hook = RuleSpec::kOutput, uint16_t queue = 0) {
    if (!ns.ok()) {
      skip = ns.skip_reason();
      return;
    }
    RuleSpec s;
    s.queues = {queue};
    s.bypass = bypass;
    s.hook = hook;
    s.ports = {{kPort, kPort}};
    std::string e;
    const auto b = rules.detect_backend(&e);
    if (!b) {
      skip = "NFQUEUE not available: " + e;
      return;
    }
    if (!rules.install(s, *b, &e)) skip = "cannot install the packet rules: " + e;
  }
};

// Drives an NfQueue on its own thread: each packet goes to `decide` with
// the list of held tickets (for tests that decide later); verdicts are
// flushed after every batch.
class QueueThread {
 public:
  using Decide = std::function<void(QueuedPacket&, std::vector<PacketTicket>* held)>;
  QueueThread(std::unique_ptr<NfQueue> q, Decide decide)
      : q_(std::move(q)), decide_(std::move(decide)) {
    thread_ = std::thread([this] { run(); });
  }
  ~QueueThread() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  NfQueue& queue() { return *q_; }
  std::string error() const { return error_; }
  const QueuedPacket& first() const { return first_; }
  std::vector<uint8_t> first_bytes() const { return first_bytes_; }

 private:
  void run() {
    std::vector<QueuedPacket> batch;
    std::vector<PacketTicket> held;
    std::string e;
    // Bounded: tests stop it within seconds; the cap only guards a hang.
    for (int round = 0; round < 200000 && !stop_; ++round) {
      pollfd p{q_->fd(), POLLIN, 0};
      poll(&p, 1, 10);
      if (!q_->receive(&batch, &e)) {
        error_ = e;
        break;
      }
      // Tickets held since the last round are accepted now, each sent on
      // its own as a single verdict: had a batch covered a held packet, the
      // kernel would refuse this verdict (ENOENT, counted in kernel_errors).
      std::vector<PacketTicket> late;
      late.swap(held);
      for (PacketTicket& t : late) {
        t.accept();
        if (!q_->flush(&e)) error_ = e;
      }
      for (QueuedPacket& pk : batch) {
        if (!seen_first_) {
          seen_first_ = true;
          first_.hw_protocol = pk.hw_protocol;
          first_.hook = pk.hook;
          first_.original_length = pk.original_length;
          first_.out_ifindex = pk.out_ifindex;
          first_.in_ifindex = pk.in_ifindex;
          first_.payload = {};
          for (size_t i = 0; i < pk.payload.size() && i < 64; ++i)
            first_bytes_.push_back(static_cast<uint8_t>(pk.payload[i]));
        }
        decide_(pk, &held);
      }
      if (!q_->flush(&e)) error_ = e;
    }
    for (PacketTicket& t : held) t.accept();
    batch.clear();  // any ticket left in it: the fail verdict, sent below
    q_->flush(&e);
  }

  std::unique_ptr<NfQueue> q_;
  Decide decide_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::string error_;
  bool seen_first_ = false;
  QueuedPacket first_;
  std::vector<uint8_t> first_bytes_;
};

// Waits (bounded) until the queue has been quiet for a while: no new packet
// and none waiting, so that the counters are final.
void settle(uint16_t queue) {
  uint32_t last = ~0u;
  for (int i = 0; i < 40; ++i) {
    usleep(50 * 1000);
    const auto st = read_kernel_queue_stats(queue);
    if (!st) return;
    if (st->waiting == 0 && st->id_sequence == last) return;
    last = st->id_sequence;
  }
}

std::unique_ptr<NfQueue> open_queue(uint16_t queue, std::string* e,
                                    VerdictKind fail = VerdictKind::kDrop) {
  NfQueueOptions o;
  o.queue = queue;
  o.fail_verdict = fail;
  return NfQueue::open(o, e);
}

// Serves `n` requests on a thread, each bounded.
struct Server {
  int fd;
  std::atomic<int> served{0};
  std::thread t;
  Server(int listen_fd, int n, int timeout_ms) : fd(listen_fd) {
    t = std::thread([this, n, timeout_ms] {
      for (int i = 0; i < n; ++i)
        if (serve_one(fd, timeout_ms)) ++served;
    });
  }
  ~Server() {
    t.join();
    close(fd);
  }
};

TEST_CASE("nfqueue: accept-all lets data flow; packets carry their metadata") {
  Site site;
  if (!site.skip.empty()) IOTWALL_SKIP(site.skip);
  std::string e;
  auto q = open_queue(0, &e);
  if (!q) IOTWALL_SKIP(e);
  QueueThread qt(std::move(q),
                 [](QueuedPacket& p, std::vector<PacketTicket>*) { p.ticket.accept(); });
  const int lfd = listen_tcp(kPort);
  REQUIRE(lfd >= 0);
  std::string reply;
  {
    Server server(lfd, 1, 3000);
    CHECK(exchange(kPort, std::string(100000, 'x'), 3000, &reply));
  }
  CHECK(reply == "100000");
  settle(0);
  qt.stop();
  const NfQueueCounters& c = qt.queue().counters();
  CHECK(c.received.get() >= 6);  // handshake, data, replies, teardown
  CHECK(c.accepted.get() == c.received.get());
  CHECK(c.dropped.get() == 0);
  CHECK(c.stale_verdicts.get() == 0);
  CHECK(c.kernel_errors.get() == 0);
  CHECK(c.parse_errors.get() == 0);
  CHECK(qt.error().empty());
  CHECK(qt.queue().undecided_packets() == 0);
  // The first packet: the client's SYN on lo, from the OUTPUT hook.
  CHECK(qt.first().hw_protocol == 0x0800);
  CHECK(qt.first().hook == NF_INET_LOCAL_OUT);
  CHECK(qt.first().out_ifindex == if_nametoindex("lo"));
  REQUIRE(qt.first_bytes().size() >= 40);
  CHECK(qt.first_bytes()[0] == 0x45);  // IPv4, 20-byte header
  CHECK(qt.first_bytes()[9] == 6);     // TCP
  CHECK(((qt.first_bytes()[22] << 8) | qt.first_bytes()[23]) == kPort);
  CHECK(qt.first().original_length >= 40);
  const auto st = read_kernel_queue_stats(0);
  REQUIRE(st);
  CHECK(st->waiting == 0);  // every packet got its verdict
}

TEST_CASE("nfqueue: drop stops the connection; reject resets it") {
  Site site;
  if (!site.skip.empty()) IOTWALL_SKIP(site.skip);
  std::string e;
  const int lfd = listen_tcp(kPort);
  REQUIRE(lfd >= 0);
  {
    auto q = open_queue(0, &e);
    if (!q) IOTWALL_SKIP(e);
    QueueThread qt(std::move(q),
                   [](QueuedPacket& p, std::vector<PacketTicket>*) { p.ticket.drop(); });
    int fd = -1;
    const ConnectResult r = connect_tcp(kPort, 400, &fd);
    CHECK(connect_result_name(r) == std::string("timeout"));
    if (r == ConnectResult::kConnected) close(fd);
    qt.stop();
    CHECK(qt.queue().counters().dropped.get() >= 1);
    CHECK(qt.queue().counters().accepted.get() == 0);
  }
  {
    auto q = open_queue(0, &e);
    REQUIRE(q);
    QueueThread qt(std::move(q),
                   [](QueuedPacket& p, std::vector<PacketTicket>*) { p.ticket.reject(); });
    int fd = -1;
    const ConnectResult r = connect_tcp(kPort, 2000, &fd);
    CHECK(connect_result_name(r) == std::string("refused"));  // the rules' TCP reset
    if (r == ConnectResult::kConnected) close(fd);
    qt.stop();
    CHECK(qt.queue().counters().rejected.get() >= 1);
    CHECK(qt.queue().counters().reset_loops.get() ==
          0);  // the marked packet was rejected by the rule
  }
  close(lfd);
}

TEST_CASE("nfqueue: without a program bound, fail-closed stops traffic, bypass lets it pass") {
  for (const bool bypass : {false, true}) {
    Site site(bypass);
    if (!site.skip.empty()) IOTWALL_SKIP(site.skip);
    const int lfd = listen_tcp(kPort);
    REQUIRE(lfd >= 0);
    int fd = -1;
    const ConnectResult r = connect_tcp(kPort, 400, &fd);
    INFO("bypass " << bypass);
    CHECK(connect_result_name(r) == std::string(bypass ? "connected" : "timeout"));
    if (r == ConnectResult::kConnected) close(fd);
    close(lfd);
  }
}

TEST_CASE("nfqueue: a second program cannot bind the same queue") {
  Site site;
  if (!site.skip.empty()) IOTWALL_SKIP(site.skip);
  std::string e;
  auto q = open_queue(0, &e);
  if (!q) IOTWALL_SKIP(e);
  auto again = open_queue(0, &e);
  CHECK_FALSE(again);
  CHECK(e.find("queue 0 is already bound by another process") != std::string::npos);
  NfQueueOptions bad;
  bad.copy_bytes = 70000;
  CHECK_FALSE(NfQueue::open(bad, &e));
  CHECK(e.find("bad options") != std::string::npos);
}

// Many packets, some decided at once and some held for a round (so batches
// must stop short of held ids), over several connections and a bulk
// transfer: every packet gets exactly one verdict, as the kernel sees it.
TEST_CASE("nfqueue: batched verdicts with held packets, each packet exactly one verdict") {
  Site site(false, RuleSpec::kLocal);  // lo traffic queued twice: OUTPUT and INPUT
  if (!site.skip.empty()) IOTWALL_SKIP(site.skip);
  std::string e;
  auto q = open_queue(0, &e);
  if (!q) IOTWALL_SKIP(e);
  uint64_t n = 0;
  QueueThread qt(std::move(q), [&n](QueuedPacket& p, std::vector<PacketTicket>* held) {
    if (++n % 5 == 0) {
      held->push_back(std::move(p.ticket));
    } else {
      p.ticket.accept();
    }
  });
  const int lfd = listen_tcp(kPort);
  REQUIRE(lfd >= 0);
  constexpr int kRequests = 30;
  int ok = 0;
  {
    Server server(lfd, kRequests + 1, 5000);
    std::string reply;
    if (exchange(kPort, std::string(4 << 20, 'b'), 10000, &reply) &&
        reply == std::to_string(4 << 20))
      ++ok;
    for (int i = 0; i < kRequests; ++i) {
      reply.clear();
      if (exchange(kPort, "request " + std::to_string(i), 3000, &reply) &&
          reply == std::to_string(8 + std::to_string(i).size()))
        ++ok;
    }
  }
  CHECK(ok == kRequests + 1);
  settle(0);
  qt.stop();
  const NfQueueCounters& c = qt.queue().counters();
  INFO("received " << c.received.get() << " batches " << c.batches.get() << " singles "
                   << c.verdict_messages.get());
  CHECK(c.received.get() > 300);
  CHECK(c.accepted.get() == c.received.get());
  CHECK(c.batches.get() > 0);
  CHECK(c.verdict_messages.get() > 0);
  CHECK(c.kernel_errors.get() == 0);  // no verdict for a packet the kernel no longer had
  CHECK(c.stale_verdicts.get() == 0);
  CHECK(qt.queue().undecided.get() == 0);
  const auto st = read_kernel_queue_stats(0);
  REQUIRE(st);
  CHECK(st->waiting == 0);
  CHECK(st->id_sequence == c.received.get());  // nothing reached the queue that we did not see
}

// Tickets nobody decides get the fail verdict (here: accept) when the next
// receive() clears the batch: traffic still flows, and they are counted.
TEST_CASE("nfqueue: undecided tickets get the fail verdict") {
  Site site;
  if (!site.skip.empty()) IOTWALL_SKIP(site.skip);
  std::string e;
  auto q = open_queue(0, &e, VerdictKind::kAccept);
  if (!q) IOTWALL_SKIP(e);
  uint64_t n = 0;
  QueueThread qt(std::move(q), [&n](QueuedPacket& p, std::vector<PacketTicket>*) {
    if (++n % 2 == 0) p.ticket.accept();  // odd ones: forgotten
  });
  const int lfd = listen_tcp(kPort);
  REQUIRE(lfd >= 0);
  std::string reply;
  {
    Server server(lfd, 1, 3000);
    CHECK(exchange(kPort, "hello", 3000, &reply));
  }
  CHECK(reply == "5");
  settle(0);
  qt.stop();
  CHECK(qt.queue().undecided.get() >= 3);
  CHECK(qt.queue().counters().accepted.get() == qt.queue().counters().received.get());
  const auto st = read_kernel_queue_stats(0);
  REQUIRE(st);
  CHECK(st->waiting == 0);
}

// A packet held by its ticket stays in the kernel until the ticket is
// decided or dropped; dropped undecided, it gets the fail verdict (here:
// accept) and the connection goes on.
TEST_CASE("nfqueue: a held ticket dropped undecided releases its packet with the fail verdict") {
  Site site;
  if (!site.skip.empty()) IOTWALL_SKIP(site.skip);
  std::string e;
  auto q = open_queue(0, &e, VerdictKind::kAccept);
  if (!q) IOTWALL_SKIP(e);
  const int lfd = listen_tcp(kPort);
  REQUIRE(lfd >= 0);
  std::atomic<int> result{-1};
  std::thread client([&] {
    int fd = -1;
    result = static_cast<int>(connect_tcp(kPort, 3000, &fd));
    if (fd >= 0) close(fd);
  });
  std::vector<QueuedPacket> batch;
  for (int i = 0; i < 300 && batch.empty(); ++i) {
    pollfd p{q->fd(), POLLIN, 0};
    poll(&p, 1, 10);
    REQUIRE(q->receive(&batch, &e));
  }
  REQUIRE(batch.size() == 1);  // the SYN
  {
    PacketTicket held = std::move(batch[0].ticket);
    CHECK(q->undecided_packets() == 1);
    REQUIRE(q->flush(&e));
    usleep(100 * 1000);
    CHECK(result == -1);  // still waiting for its SYN's verdict
    CHECK(read_kernel_queue_stats(0)->waiting == 1);
  }  // dropped undecided: the fail verdict
  CHECK(q->undecided_packets() == 0);
  CHECK(q->undecided.get() == 1);
  REQUIRE(q->flush(&e));
  // The SYN-ACK comes through the queue too: accept the rest.
  for (int i = 0; i < 300 && result == -1; ++i) {
    pollfd p{q->fd(), POLLIN, 0};
    poll(&p, 1, 10);
    REQUIRE(q->receive(&batch, &e));
    for (QueuedPacket& pk : batch) pk.ticket.accept();
    REQUIRE(q->flush(&e));
  }
  client.join();
  CHECK(connect_result_name(static_cast<ConnectResult>(result.load())) == std::string("connected"));
  close(lfd);
}

}  // namespace
}  // namespace iotwall::firewall
