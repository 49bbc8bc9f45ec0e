#include "dpi/decode_counters.h"

#include <boost/beast/http/error.hpp>

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

void DecodeCounters::add_http_error(int code) {
  if (code >= 0 && static_cast<size_t>(code) < kHttpErrorSlots) http_errors_[static_cast<size_t>(code)]++;
}

uint64_t DecodeCounters::http_errors(int code) const {
  return code >= 0 && static_cast<size_t>(code) < kHttpErrorSlots ? http_errors_[static_cast<size_t>(code)] : 0;
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
  for (size_t i = 0; i < kHttpErrorSlots; ++i) {
    if (http_errors_[i] == 0) continue;
    // Beast's message for the code, as a counter name: "bad method" -> "bad_method".
    name = "http.error.";
    for (char ch : make_error_code(static_cast<boost::beast::http::error>(i)).message()) {
      name += ch == ' ' ? '_' : ch;
    }
    fn(name, http_errors_[i]);
  }
}

}  // namespace iotwall::dpi
