#include "firewall/ticket.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <map>
#include <random>
#include <type_traits>
#include <vector>

#include "tests/firewall/fake_sink.h"

namespace iotwall::firewall {
namespace {

using V = std::pair<uint32_t, VerdictKind>;

static_assert(!std::is_copy_constructible_v<PacketTicket>);
static_assert(!std::is_copy_assignable_v<PacketTicket>);
static_assert(std::is_nothrow_move_constructible_v<PacketTicket>);
static_assert(std::is_nothrow_move_assignable_v<PacketTicket>);
static_assert(sizeof(PacketTicket) <= 16);

TEST_CASE("ticket: a decision is given once, to the sink") {
  FakeSink sink;
  {
    PacketTicket a(&sink, 1), b(&sink, 2), c(&sink, 3);
    CHECK(a.pending());
    a.accept();
    b.drop();
    c.reject();
    CHECK_FALSE(a.pending());
    CHECK(a.id() == 1);
  }
  CHECK(sink.given == std::vector<V>{{1, VerdictKind::kAccept},
                                     {2, VerdictKind::kDrop},
                                     {3, VerdictKind::kReject}});
  CHECK(sink.undecided.get() == 0);
  CHECK(sink.double_decided.get() == 0);
}

TEST_CASE("ticket: destroyed undecided, it gets the fail verdict and is counted") {
  FakeSink drop_sink(VerdictKind::kDrop), accept_sink(VerdictKind::kAccept);
  { PacketTicket t(&drop_sink, 7); }
  { PacketTicket t(&accept_sink, 8); }
  CHECK(drop_sink.given == std::vector<V>{{7, VerdictKind::kDrop}});
  CHECK(accept_sink.given == std::vector<V>{{8, VerdictKind::kAccept}});
  CHECK(drop_sink.undecided.get() == 1);
  CHECK(accept_sink.undecided.get() == 1);
}

TEST_CASE("ticket: an empty ticket gives nothing") {
  FakeSink sink;
  {
    PacketTicket t;
    CHECK_FALSE(t.pending());
  }
  {
    PacketTicket t(nullptr, 5);
    CHECK_FALSE(t.pending());
  }
  CHECK(sink.given.empty());
}

TEST_CASE("ticket: a move carries the duty; the moved-from ticket owes nothing") {
  FakeSink sink;
  {
    PacketTicket a(&sink, 11);
    PacketTicket b(std::move(a));
    CHECK_FALSE(a.pending());  // NOLINT(bugprone-use-after-move): checked on purpose
    CHECK(b.pending());
    CHECK(sink.given.empty());
    b.accept();
  }
  CHECK(sink.given == std::vector<V>{{11, VerdictKind::kAccept}});

  sink.given.clear();
  {
    PacketTicket a(&sink, 21);
    PacketTicket b(&sink, 22);
    b = std::move(a);  // b was pending: 22 gets the fail verdict now
    CHECK(sink.given == std::vector<V>{{22, VerdictKind::kDrop}});
    CHECK(b.id() == 21);
    b = std::move(b);  // self-move changes nothing
    CHECK(b.pending());
  }
  CHECK(sink.given == std::vector<V>{{22, VerdictKind::kDrop}, {21, VerdictKind::kDrop}});
  CHECK(sink.undecided.get() == 2);
}

TEST_CASE("ticket: a vector of tickets moved around gives each packet exactly one verdict") {
  FakeSink sink;
  std::mt19937 rng(42);
  std::map<uint32_t, VerdictKind> want;
  {
    std::vector<PacketTicket> held;
    for (uint32_t id = 1; id <= 1000; ++id)
      held.emplace_back(&sink, id);  // reallocations move them
    std::shuffle(held.begin(), held.end(), rng);
    std::vector<PacketTicket> other;
    for (size_t i = 0; i < held.size(); i += 3) other.push_back(std::move(held[i]));
    held.erase(std::remove_if(held.begin(), held.end(),
                              [](const PacketTicket& t) { return !t.pending(); }),
               held.end());
    for (PacketTicket& t : other) {
      const VerdictKind k = (t.id() % 2) ? VerdictKind::kAccept : VerdictKind::kReject;
      want[t.id()] = k;
      t.decide(k);
    }
    for (size_t i = 0; i < held.size(); i += 2) {
      want[held[i].id()] = VerdictKind::kAccept;
      held[i].accept();
    }
    for (size_t i = 1; i < held.size(); i += 2)
      want[held[i].id()] = VerdictKind::kDrop;  // fail verdict
  }
  std::map<uint32_t, int> times;
  for (const auto& [id, k] : sink.given) {
    ++times[id];
    CHECK(want[id] == k);
  }
  CHECK(times.size() == 1000);
  CHECK(std::all_of(times.begin(), times.end(), [](const auto& e) { return e.second == 1; }));
  CHECK(sink.given.size() == 1000);
}

#ifndef NDEBUG
// Runs fn in a child process; true if it died of SIGABRT (an assert).
template <typename F>
bool aborts(F fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGABRT, SIG_DFL);
    if (std::freopen("/dev/null", "w", stderr) == nullptr) _exit(3);  // the expected assert message
    fn();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

TEST_CASE("ticket: deciding twice asserts in debug builds") {
  CHECK(aborts([] {
    FakeSink sink;
    PacketTicket t(&sink, 1);
    t.accept();
    t.drop();
  }));
  CHECK(aborts([] {
    FakeSink sink;
    PacketTicket t(&sink, 1);
    PacketTicket u(std::move(t));
    t.accept();  // NOLINT(bugprone-use-after-move)
  }));
  CHECK_FALSE(aborts([] {
    FakeSink sink;
    PacketTicket t(&sink, 1);
    t.accept();
  }));
}
#endif

}  // namespace
}  // namespace iotwall::firewall
