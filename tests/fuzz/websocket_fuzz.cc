// libFuzzer target: one WebSocketStream direction fed the input in pieces.
// Each piece starts with a control byte: 0xff = a gap, else the piece's
// length (1..254 bytes of input follow). Closed and stopped streams are
// fed on, as the VSL decoder may do.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dpi/decode_counters.h"
#include "dpi/websocket.h"

using namespace iotwall::dpi;

namespace {

class Listener final : public WebSocketStream::Listener {
 public:
  void on_ws_message(const WebSocketStream&, bool, std::string_view payload, int64_t) override {
    for (char c : payload) sum += static_cast<unsigned char>(c);
    if (payload.size() > WebSocketStream::kDefaultMessageLimit) __builtin_trap();
  }
  size_t sum = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DecodeCounters counters;
  Listener listener;
  WebSocketStream ws(listener, counters);
  int64_t ts = 1'000'000;
  size_t i = 0;
  while (i < size) {
    const uint8_t c = data[i++];
    if (c == 0xff) {
      ws.on_gap();
      continue;
    }
    const size_t n = std::min<size_t>(c + 1u, size - i);
    ws.feed(std::span<const uint8_t>(data + i, n), ts);
    i += n;
    ts += 1000;
  }
  return 0;
}
