// libFuzzer target: a TlsObserver fed both directions, the input split into
// chunks by control bytes (as in http_vsl_fuzz):
//   c & 0x80      direction (0: to the server, 1: to the client)
//   c & 0x7f == 0x7f  a gap of the next two bytes' value + 1 bytes
//   else c & 0x40 ? ((c & 0x3f) + 1) * 64 : (c & 0x3f) + 1 bytes of data follow
// Closes at the end. Checks the documented bounds of what it reports.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dpi/tls_observer.h"

using namespace iotwall::dpi;

namespace {

class Listener final : public TlsListener {
 public:
  void on_sni(std::string_view host, int64_t) override {
    if (host.size() > TlsObserver::kMaxSni) __builtin_trap();
    touch(host);
  }
  void on_version(uint16_t, int64_t) override {}
  void on_client_identity(const CertIdentity& id, int64_t) override { touch(id.service_id); }
  void on_server_identity(const CertIdentity& id, int64_t) override { touch(id.service_id); }
  void on_bad_certificate(Direction, std::string_view why, int64_t) override { touch(why); }
  void on_exchange(const TlsExchange& x) override {
    if (x.reply_us != 0 && x.reply_us < x.start_us) __builtin_trap();
  }
  void touch(std::string_view s) {
    for (char c : s) sum += static_cast<unsigned char>(c);
  }
  size_t sum = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Listener listener;
  TlsCounters counters;
  (void)TlsObserver::looks_like_tls(std::span<const uint8_t>(data, std::min<size_t>(size, 9)));
  TlsObserver tls(&listener, &counters);
  int64_t ts = 1'000'000;
  size_t i = 0;
  while (i < size) {
    const uint8_t ctl = data[i++];
    const Direction d = (ctl & 0x80) ? Direction::kToClient : Direction::kToServer;
    const uint8_t v = ctl & 0x7f;
    if (v == 0x7f) {
      uint64_t missing = 1;
      if (i + 1 < size) {
        missing = (uint64_t{data[i]} << 8 | data[i + 1]) + 1;
        i += 2;
      }
      tls.on_gap(d, missing, ts);
      continue;
    }
    const size_t want = (v & 0x40) ? ((v & 0x3f) + 1u) * 64u : (v & 0x3f) + 1u;
    const size_t n = std::min(want, size - i);
    tls.on_data(d, std::span<const uint8_t>(data + i, n), ts);
    i += n;
    ts += 1000;
  }
  tls.on_close(CloseReason::kFin, ts);
  if (tls.sni().size() > TlsObserver::kMaxSni) __builtin_trap();
  return 0;
}
