// FakeSink: a VerdictSink that records the verdicts it is given, for the
// ticket and hold tests.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "firewall/ticket.h"

namespace iotwall::firewall {

class FakeSink : public VerdictSink {
 public:
  explicit FakeSink(VerdictKind fail = VerdictKind::kDrop) : fail_(fail) {}
  void verdict(uint32_t id, VerdictKind k) override { given.emplace_back(id, k); }
  VerdictKind fail_verdict() const override { return fail_; }

  std::vector<std::pair<uint32_t, VerdictKind>> given;

 private:
  VerdictKind fail_;
};

}  // namespace iotwall::firewall
