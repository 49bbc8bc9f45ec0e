// libFuzzer target: JsonBody and CborBody on the same bytes. Each parser is
// used twice (a prefix, then the whole input) to exercise buffer reuse.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dpi/cbor_body.h"
#include "dpi/json_body.h"

using namespace iotwall::dpi;

namespace {

// Touches every view so ASan sees a dangling one.
size_t touch(const BodyFields& f) {
  size_t n = 0;
  for (std::string_view v : {f.string, f.value, f.type, f.operation, f.callback_id, f.model_id,
                             f.address, f.invoke, f.client_id}) {
    for (char c : v) n += static_cast<unsigned char>(c);
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const size_t half = size / 2;
  volatile size_t sink = 0;
  {
    JsonBody json;
    BodyFields f;
    const char* p = reinterpret_cast<const char*>(data);
    if (json.parse(std::string_view(p, half), &f)) sink = sink + touch(f);
    f = BodyFields{};
    if (json.parse(std::string_view(p, size), &f)) sink = sink + touch(f);
  }
  {
    CborBody cbor;
    BodyFields f;
    if (cbor.parse(std::span<const uint8_t>(data, half), &f)) sink = sink + touch(f);
    f = BodyFields{};
    if (cbor.parse(std::span<const uint8_t>(data, size), &f)) sink = sink + touch(f);
  }
  return 0;
}
