#include "dpi/decode_counters.h"

#include <http_parser.h>

#include <string>

namespace iotwall::dpi {

const std::array<std::string_view, DecodeCounters::kReasonCount> DecodeCounters::kReasonNames = {
    "gap",
    "http.body_too_large",
    "http.url_too_long",
    "http.header_truncated",
    "http.unpaired_response",
    "http.pending_overflow",
    "http.upgrade_overflow",
    "http.upgrade_judged",
    "ws.protocol_error",
    "ws.message_too_large",
    "body.bad_json",
    "body.bad_cbor",
    "body.undecoded_content_type",
    "vsl.unknown_path",
    "vsl.unknown_method",
    "vsl.unknown_operation",
    "vsl.ka_internal",
    "vsl.callback_stream",
    "vsl.home_unknown",
    "vsl.read_unanswered",
    "vsl.read_failed",
    "vsl.register_failed",
    "vsl.bad_callback",
    "vsl.auth_untrusted",
    "vsl.auth_bad",
    "directory.full",
};

void DecodeCounters::add_http_error(unsigned http_errno) {
  if (http_errno < kHttpErrnoSlots) http_errors_[http_errno]++;
}

uint64_t DecodeCounters::http_errors(unsigned http_errno) const {
  return http_errno < kHttpErrnoSlots ? http_errors_[http_errno] : 0;
}

uint64_t DecodeCounters::http_errors_total() const {
  uint64_t n = 0;
  for (uint64_t e : http_errors_) n += e;
  return n;
}

void DecodeCounters::for_each(
    const std::function<void(std::string_view name, uint64_t n)>& fn) const {
  for (size_t i = 0; i < kReasonCount; ++i) fn(kReasonNames[i], reasons_[i]);
  std::string name;
  for (int i = 0; i < kOperationCount; ++i) {
    const std::string_view op = operation_name(static_cast<Operation>(i));
    name = "access.";
    name += op.empty() ? std::string_view("unknown") : op;
    fn(name, accesses_[i]);
  }
  for (size_t i = 0; i < kHttpErrnoSlots; ++i) {
    if (http_errors_[i] == 0) continue;
    name = "http.error.";
    name += http_errno_name(static_cast<enum http_errno>(i));
    fn(name, http_errors_[i]);
  }
}

}  // namespace iotwall::dpi
