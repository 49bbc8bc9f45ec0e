#include "firewall/verdict_plan.h"

#include <algorithm>

#include "firewall/packet_id.h"

namespace iotwall::firewall {

void plan_verdicts(std::span<PendingVerdict> pending, std::optional<uint32_t> lowest_held,
                   std::vector<VerdictMessage>* out) {
  out->clear();
  std::sort(pending.begin(), pending.end(),
            [](const PendingVerdict& a, const PendingVerdict& b) { return id_before(a.id, b.id); });
  const size_t n = pending.size();
  size_t i = 0;
  while (i < n) {
    const VerdictKind kind = pending[i].kind;
    size_t j = i + 1;
    while (j < n && pending[j].kind == kind) ++j;
    // [i, j) is a run of one verdict; [i, k) of it lies before the lowest held id.
    size_t k = j;
    if (lowest_held) {
      k = i;
      while (k < j && id_before(pending[k].id, *lowest_held)) ++k;
    }
    if (k - i >= 2) {
      out->push_back({pending[k - 1].id, kind, true, k});
    } else if (k - i == 1) {
      out->push_back({pending[i].id, kind, false, k});
    }
    for (size_t m = k; m < j; ++m) out->push_back({pending[m].id, kind, false, m + 1});
    i = j;
  }
}

}  // namespace iotwall::firewall
