// Packet ids of one NFQUEUE queue: the kernel numbers queued packets 1, 2, 3...
// per queue and wraps at 2^32, so ids compare in serial-number order (as
// the kernel does): `a` is before `b` when (b - a) mod 2^32 is below 2^31.
#pragma once

#include <cstdint>

namespace iotwall::firewall {

inline bool id_before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

}  // namespace iotwall::firewall
