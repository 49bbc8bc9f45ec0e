// DecodeCounters: why bytes did not become accesses, and how many accesses
// of each operation did. Filled by the HTTP, WebSocket, body and VSL
// decoders; read by the CLI and the daemon's status report.
//
// Thread-safety: none; one per worker, shared by its connections.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>

#include "model/access.h"

namespace iotwall::dpi {

class DecodeCounters {
 public:
  // Reasons a message, frame or body was not (fully) decoded. The names
  // given by for_each are in kReasonNames, in this order.
  enum Reason : uint8_t {
    kGap,                   // a direction lost bytes: its parsing stopped
    kHttpBodyTooLarge,      // body over the limit: skipped, value not decoded
    kHttpUrlTooLong,        // URL over the limit: the request is not decoded
    kHttpHeaderTruncated,   // a header of interest over its buffer: cut
    kHttpUnpairedResponse,  // a response with no request waiting for it
    kHttpPendingOverflow,   // too many unanswered requests: responses ignored
    kHttpUpgradeOverflow,   // too many bytes after an upgrade request: stopped
    kHttpUpgradeJudged,     // inline: an upgrade other than the callback stream, judged as a request
    kWsProtocolError,       // bad WebSocket framing: the direction stopped
    kWsMessageTooLarge,     // message over the limit: skipped
    kBadJson,
    kBadCbor,
    kUndecodedContentType,  // protobuf, XML, octet-stream...: value not decoded
    kUnknownPath,           // not /vsl/, /search/, /service/...
    kUnknownMethod,         // e.g. DELETE on /vsl/: emitted as kOther
    kUnknownOperation,      // a POST "operation" we do not know: kOther
    kKaInternal,            // /ka/handshake, /ka/requestKorUpdate: not accesses
    kCallbackStream,        // /callback-stream/<id>: not decoded
    kHomeUnknown,           // "~" before the caller's address was known
    kReadUnanswered,        // a read emitted without its response
    kReadFailed,            // a read answered with an error status
    kRegisterFailed,        // registerService without a 200 + address
    kBadCallback,           // a callback frame without address or invoke
    kAuthUntrusted,         // Authorization: VSL from a non-KA: ignored
    kAuthBad,               // Authorization: VSL not base64 JSON with clientId
    kDirectoryFull,         // a learned fact dropped at the directory's bound
    kReasonCount,
  };
  static const std::array<std::string_view, kReasonCount> kReasonNames;

  void add(Reason r, uint64_t n = 1) { reasons_[r] += n; }
  // `code` is a boost::beast::http::error value; out of range ignored.
  void add_http_error(int code);
  void add_access(Operation op) { accesses_[static_cast<size_t>(op)]++; }

  uint64_t get(Reason r) const { return reasons_[r]; }
  uint64_t http_errors(int code) const;
  uint64_t http_errors_total() const;
  uint64_t accesses(Operation op) const { return accesses_[static_cast<size_t>(op)]; }

  // Visits every reason ("gap", "http.body_too_large", ...) and every
  // operation ("access.read", ..., "access.unknown"), zeros included, then
  // the HTTP parser errors seen ("http.error.bad_method"), non-zero
  // only. The name is valid during the call only.
  void for_each(const std::function<void(std::string_view name, uint64_t n)>& fn) const;

 private:
  static constexpr size_t kHttpErrorSlots = 64;
  std::array<uint64_t, kReasonCount> reasons_{};
  std::array<uint64_t, kHttpErrorSlots> http_errors_{};
  std::array<uint64_t, kOperationCount> accesses_{};
};

}  // namespace iotwall::dpi
