// Planning the netlink messages that carry a set of decided verdicts.
//
// A batch verdict (NFQNL_MSG_VERDICT_BATCH, id X) applies to EVERY packet
// with id <= X still waiting in the kernel queue, so it is only safe when
// all of those are meant to get the same verdict. The plan sorts the
// verdicts by id, groups runs of equal verdicts, and sends a run as one
// batch up to the lowest id still held (received, not decided yet);
// verdicts after a held id go one by one. Messages are processed by the
// kernel in order, so verdicts earlier in the plan are gone before a later
// batch is applied.
//
// Pure functions, no I/O: the NfQueue sends what is planned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "firewall/ticket.h"

namespace iotwall::firewall {

struct PendingVerdict {
  uint32_t id;
  VerdictKind kind;
};

struct VerdictMessage {
  uint32_t id;  // the packet, or for a batch the highest id it covers
  VerdictKind kind;
  bool batch;  // NFQNL_MSG_VERDICT_BATCH (else NFQNL_MSG_VERDICT)
  size_t end;  // this message and those before it cover pending[0, end)
};

// Sorts `pending` by id (serial order) and appends the messages for it to
// *out (cleared first). `lowest_held`: the lowest id received and not
// decided (nullopt: none held).
void plan_verdicts(std::span<PendingVerdict> pending, std::optional<uint32_t> lowest_held,
                   std::vector<VerdictMessage>* out);

}  // namespace iotwall::firewall
