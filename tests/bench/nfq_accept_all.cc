// iotwall_nfq_accept_all: the floor of any NFQUEUE firewall. Binds a queue
// with the daemon's own NfQueue (same copy mode and options), accepts every
// packet as fast as it can, and at SIGINT/SIGTERM prints how many packets
// it handled. The latency benchmark runs it beside iotwall so that the
// difference isolates the cost of DPI and scoring.
//
//   iotwall_nfq_accept_all --queue N [--batch] [--fail-open] [--copy-bytes B]
//
// --batch: verdicts are sent once per received batch (batched as the daemon
// does); without it, one verdict message per packet.
#include <poll.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "firewall/nfqueue.h"

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

int usage() {
  std::fprintf(
      stderr, "usage: iotwall_nfq_accept_all --queue N [--batch] [--fail-open] [--copy-bytes B]\n");
  return 2;
}

bool parse_number(const char* s, unsigned long max, unsigned long* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace iotwall::firewall;
  NfQueueOptions o;
  bool batch = false, have_queue = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    unsigned long v = 0;
    if (a == "--queue" && i + 1 < argc && parse_number(argv[i + 1], 65535, &v)) {
      o.queue = static_cast<uint16_t>(v);
      have_queue = true;
      ++i;
    } else if (a == "--copy-bytes" && i + 1 < argc && parse_number(argv[i + 1], 65535, &v)) {
      o.copy_bytes = static_cast<uint32_t>(v);
      ++i;
    } else if (a == "--batch") {
      batch = true;
    } else if (a == "--fail-open") {
      o.fail_open = true;
    } else {
      return usage();
    }
  }
  if (!have_queue) return usage();

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::string error;
  std::unique_ptr<NfQueue> q = NfQueue::open(o, &error);
  if (!q) {
    std::fprintf(stderr, "iotwall_nfq_accept_all: %s\n", error.c_str());
    return 1;
  }
  std::printf("iotwall_nfq_accept_all: queue %u bound (%s verdicts)\n", o.queue,
              batch ? "batched" : "single");
  std::fflush(stdout);

  std::vector<QueuedPacket> packets;
  packets.reserve(o.max_batch);
  int rc = 0;
  while (!g_stop.load()) {
    pollfd p{q->fd(), POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;  // a timeout, or EINTR from the stop signal
    if (!q->receive(&packets, &error)) {
      std::fprintf(stderr, "iotwall_nfq_accept_all: %s\n", error.c_str());
      rc = 1;
      break;
    }
    for (QueuedPacket& pk : packets) {
      pk.ticket.accept();
      if (!batch && !q->flush(&error))
        std::fprintf(stderr, "iotwall_nfq_accept_all: %s\n", error.c_str());
    }
    if (batch && !q->flush(&error))
      std::fprintf(stderr, "iotwall_nfq_accept_all: %s\n", error.c_str());
  }
  packets.clear();
  q->flush(&error);
  const NfQueueCounters& c = q->counters();
  std::printf(
      "packets handled: %llu (verdict messages %llu, batches %llu, sends %llu, enobufs %llu)\n",
      static_cast<unsigned long long>(c.accepted.get()),
      static_cast<unsigned long long>(c.verdict_messages.get()),
      static_cast<unsigned long long>(c.batches.get()),
      static_cast<unsigned long long>(c.sends.get()),
      static_cast<unsigned long long>(c.enobufs.get()));
  return rc;
}
