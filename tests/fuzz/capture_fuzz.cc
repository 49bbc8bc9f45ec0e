// libFuzzer target: the whole pipeline, CaptureDecoder::packet on frames
// cut from the input, then finish() and every access drained.
//
// Input: byte 0 picks the link type; then frames, each as a 2-byte
// big-endian length (cut to what is left), a 1-byte time advance in ms,
// and the frame. A configured site map names a KA and one service, so the
// directory paths are taken.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "tests/fuzz/fuzz_site.h"
#include "dpi/capture_decoder.h"
#include "dpi/site_map.h"
#include "model/intern.h"

using namespace iotwall;
using namespace iotwall::dpi;

namespace {

using iotwall::fuzz::make_site;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const SiteMap site = make_site();
  static constexpr LinkType kLinks[] = {LinkType::kEthernet, LinkType::kLinuxSll,
                                        LinkType::kLinuxSll2, LinkType::kRaw, LinkType::kNull};
  const LinkType link = kLinks[data[0] % 5];
  Interner in;
  CaptureOptions o;
  o.flows.max_flows = 16;
  o.flows.max_buffered_bytes = 64 * 1024;
  o.flows.max_direction_bytes = 16 * 1024;
  o.flows.server_ports = {8080, 8081};
  o.reorder_ms = 1000;
  o.max_reorder = 64;
  CaptureDecoder dec(o, site, in);
  int64_t ts = 1'520'031'600'000'000;
  Access a;
  uint64_t out = 0;
  size_t i = 1;
  while (i + 3 <= size) {
    const size_t want = size_t{data[i]} << 8 | data[i + 1];
    ts += int64_t{data[i + 2]} * 1000;
    i += 3;
    const size_t n = std::min(want, size - i);
    dec.packet(link, std::span<const uint8_t>(data + i, n), ts);
    i += n;
    while (dec.next(&a)) ++out;
  }
  dec.finish(ts);
  while (dec.next(&a)) ++out;
  if (out != dec.accesses()) __builtin_trap();  // every access comes out once
  return 0;
}
