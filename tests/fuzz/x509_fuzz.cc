// libFuzzer target: parse_x509_identity on the whole input (one DER
// certificate). Checks the documented bounds of what it accepts.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dpi/x509_identity.h"

using namespace iotwall::dpi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CertIdentity id;
  std::string error;
  if (parse_x509_identity(std::span<const uint8_t>(data, size), &id, &error)) {
    if (id.service_id.empty() || id.service_id.size() > kMaxIdentityString) __builtin_trap();
    if (id.access_ids.size() > kMaxAccessIds) __builtin_trap();
  } else if (error.empty()) {
    __builtin_trap();  // a reject names its reason
  }
  return 0;
}
