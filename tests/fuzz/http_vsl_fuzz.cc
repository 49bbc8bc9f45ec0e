// libFuzzer target: a plaintext VslConnection (HTTP/1.1 requests and
// responses, the callback WebSocket, JSON/CBOR bodies) fed the input split
// into chunks by control bytes:
//   c & 0x80      direction (0: to the server, 1: to the client)
//   c & 0x7f == 0x7f  a gap of the next byte's value + 1 bytes
//   else c & 0x40 ? ((c & 0x3f) + 1) * 32 : (c & 0x3f) + 1 bytes of data follow
// The connection closes (kFin) at the end. Every access emitted must name
// only interned strings.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "tests/fuzz/fuzz_site.h"
#include "dpi/decode_counters.h"
#include "dpi/directory.h"
#include "dpi/site_map.h"
#include "dpi/vsl_connection.h"
#include "model/intern.h"

using namespace iotwall;
using namespace iotwall::dpi;

namespace {

class Sink final : public AccessSink {
 public:
  explicit Sink(const Interner& in) : in_(in) {}
  void on_access(const Access& a) override {
    for (Sym s : {a.source_id, a.source_address, a.source_type, a.source_location, a.dest_address,
                  a.dest_type, a.dest_location, a.node_address, a.node_type}) {
      if (s.id >= in_.size()) __builtin_trap();  // a Sym from nowhere
    }
    ++count;
  }
  uint64_t count = 0;

 private:
  const Interner& in_;
};

using iotwall::fuzz::make_site;

Endpoint endpoint(const char* ip, uint16_t port) {
  Endpoint e;
  e.ip = *parse_ip(ip);
  e.port = port;
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const SiteMap site = make_site();
  Interner in;
  Directory dir(site, in);
  DecodeCounters counters;
  Sink sink(in);
  ConnectionInfo info;
  info.id = 1;
  // The first byte picks the client: a configured service or a KA.
  info.client = endpoint(size > 0 && (data[0] & 1) ? "10.0.0.1" : "10.1.0.2", 40000);
  info.server = endpoint("10.0.0.1", 8081);
  info.start_us = 1'000'000;
  {
    VslConnection c(info, dir, in, sink, counters);
    int64_t ts = info.start_us;
    size_t i = size > 0 ? 1 : 0;
    while (i < size) {
      const uint8_t ctl = data[i++];
      const Direction d = (ctl & 0x80) ? Direction::kToClient : Direction::kToServer;
      const uint8_t v = ctl & 0x7f;
      if (v == 0x7f) {
        const uint64_t missing = i < size ? data[i++] + 1u : 1u;
        c.on_gap(d, missing, ts);
        continue;
      }
      const size_t want = (v & 0x40) ? ((v & 0x3f) + 1u) * 32u : (v & 0x3f) + 1u;
      const size_t n = std::min(want, size - i);
      c.on_data(d, std::span<const uint8_t>(data + i, n), ts);
      i += n;
      ts += 1500;
    }
    c.on_close(CloseReason::kFin, ts);
    (void)c.client_id();
  }
  return 0;
}
