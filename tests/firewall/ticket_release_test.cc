// The release-build behaviour of PacketTicket (this file is compiled with
// NDEBUG): deciding a ticket that is not pending is ignored and counted.
#include <catch2/catch.hpp>
#include <vector>

#include "firewall/ticket.h"
#include "tests/firewall/fake_sink.h"

#ifndef NDEBUG
#error "ticket_release_test.cc must be compiled with NDEBUG"
#endif

namespace iotwall::firewall {
namespace {

using V = std::pair<uint32_t, VerdictKind>;

TEST_CASE("ticket (release): deciding twice is ignored and counted") {
  FakeSink sink;
  {
    PacketTicket t(&sink, 3);
    t.accept();
    t.drop();
    t.reject();
    PacketTicket u(std::move(t));
    u.accept();  // u was made from a decided ticket: not pending either
    t.accept();  // NOLINT(bugprone-use-after-move)
  }
  CHECK(sink.given == std::vector<V>{{3, VerdictKind::kAccept}});
  CHECK(sink.double_decided.get() == 4);
  CHECK(sink.undecided.get() == 0);
}

TEST_CASE("ticket (release): an empty ticket's decision is ignored") {
  PacketTicket t;
  t.accept();
  CHECK_FALSE(t.pending());
}

}  // namespace
}  // namespace iotwall::firewall
