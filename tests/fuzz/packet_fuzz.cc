// libFuzzer target: parse_packet on every link type. The first input byte
// picks the link type; the rest is the frame. Checks that the payload view
// stays inside the frame.
#include <cstddef>
#include <cstdint>
#include <span>

#include "dpi/packet.h"

using namespace iotwall::dpi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr LinkType kLinks[] = {LinkType::kEthernet, LinkType::kLinuxSll,
                                        LinkType::kLinuxSll2, LinkType::kRaw, LinkType::kNull};
  const LinkType link = kLinks[data[0] % 5];
  const std::span<const uint8_t> frame(data + 1, size - 1);
  Packet p;
  const ParseStatus s = parse_packet(link, frame, &p);
  if (status_name(s).empty()) __builtin_trap();
  if (s == ParseStatus::kOk && !p.payload.empty()) {
    if (p.payload.data() < frame.data() ||
        p.payload.data() + p.payload.size() > frame.data() + frame.size()) {
      __builtin_trap();  // the payload view left the frame
    }
  }
  (void)link_type_from_dlt(static_cast<int>(data[0]) - 8);
  (void)link_type_name(link);
  return 0;
}
