// HttpStream: one direction of an HTTP/1.1 connection (its requests, or its
// responses) on top of Boost.Beast's HTTP parser, fed in-order bytes in
// pieces of any size. Handles Content-Length, chunked and close-delimited
// bodies, pipelining and keep-alive. Keeps only what the VSL decoder needs:
// the URL, a few headers of interest in fixed buffers, and the body up to a
// limit (a larger body is skipped and counted; the stream stays in sync).
//
// Beast parses a header (and a chunk's size line) only whole: the bytes of
// one not complete yet are kept (at most kMaxHead) until the rest arrives.
//
// A parse error or a gap stops the direction for good (counted; no resync).
// After a message that upgrades the connection (a request with Upgrade, a
// 101 response) the stream stops consuming: the rest belongs to the new
// protocol; resume() returns a request stream to HTTP if the upgrade was
// refused.
//
// Thread-safety: none. The listener and counters must outlive the stream.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "dpi/decode_counters.h"

namespace iotwall::dpi {

// A bounded copy of a header value; longer values are cut and flagged.
template <size_t N>
struct FixedText {
  std::array<char, N> buf{};
  size_t len = 0;
  bool truncated = false;

  void clear() {
    len = 0;
    truncated = false;
  }
  void append(const char* p, size_t n) {
    const size_t room = N - len;
    if (n > room) {
      truncated = true;
      n = room;
    }
    for (size_t i = 0; i < n; ++i) buf[len + i] = p[i];
    len += n;
  }
  std::string_view view() const { return std::string_view(buf.data(), len); }
};

// The request methods the VSL uses; every other one is kOther.
enum class HttpMethod : uint8_t { kOther, kGet, kHead, kPost, kPut, kDelete };

// One message. All views point into the stream's buffers and are valid
// only during the listener call.
struct HttpMessage {
  bool is_request = true;
  HttpMethod method = HttpMethod::kOther;  // requests only
  unsigned status = 0;   // responses only
  std::string_view url;  // requests only; empty if over the limit (url_truncated)
  bool url_truncated = false;
  std::string_view content_type, upgrade, connection, websocket_protocol, authorization;
  std::string_view body;    // empty when skipped (body_skipped) or not yet complete
  uint64_t body_bytes = 0;  // body bytes seen, skipped or not
  bool body_skipped = false;
  bool chunked = false;
  bool upgrades = false;      // the connection switches protocol after this message
  int64_t first_byte_us = 0;  // capture time of the message's first byte
};

class HttpStream {
 public:
  enum class Kind : uint8_t { kRequests, kResponses };
  enum class State : uint8_t { kHttp, kUpgraded, kStopped };

  class Listener {
   public:
    virtual ~Listener() = default;
    // A response begins: true when it has no body whatever its headers say
    // (the answer to a HEAD request).
    virtual bool response_without_body() = 0;
    // The headers of `m` are complete (the body is not yet there).
    virtual void on_http_headers(const HttpMessage& /*m*/) {}
    virtual void on_http_message(const HttpMessage& m) = 0;
  };

  static constexpr size_t kDefaultBodyLimit = 64 * 1024;
  static constexpr size_t kMaxUrl = 4096;
  static constexpr size_t kMaxHead = 80 * 1024;  // a header, as http-parser allowed

  HttpStream(Kind kind, Listener& listener, DecodeCounters& counters,
             size_t body_limit = kDefaultBodyLimit);
  ~HttpStream();
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  // Parses `bytes` (captured at ts_us). Returns how many were consumed:
  // all of them unless the stream stopped or upgraded during the call.
  size_t feed(std::span<const uint8_t> bytes, int64_t ts_us);
  // The direction ended: completes a close-delimited response.
  void finish(int64_t ts_us);
  // Bytes were lost: parsing stops (counted as a gap).
  void on_gap();
  // Stops parsing without counting anything (the connection changed protocol).
  void stop() { state_ = State::kStopped; }
  // REQUIRES: state() == kUpgraded. Parses HTTP again from the next byte.
  void resume();

  State state() const { return state_; }
  Kind kind() const { return kind_; }
  // A message has begun and is not complete yet (an inline firewall holds
  // the packets of such a request).
  bool in_message() const { return in_message_ && state_ == State::kHttp; }

 private:
  struct Impl;  // the Beast parser of the current message (http_stream.cc)
  friend struct Impl;

  void begin_message();
  void note_truncated();

  const Kind kind_;
  Listener& listener_;
  DecodeCounters& counters_;
  const size_t body_limit_;
  State state_ = State::kHttp;
  std::unique_ptr<Impl> impl_;
  int64_t ts_us_ = 0;  // capture time of the bytes being parsed
  bool in_message_ = false;

  // Per-message state, reset at each message's first byte.
  HttpMessage msg_;
  std::string url_;   // reserved once; at most kMaxUrl
  std::string body_;  // grows to the largest body kept, at most body_limit_
  FixedText<128> content_type_;
  FixedText<64> upgrade_;
  FixedText<64> connection_;
  FixedText<128> ws_protocol_;
  FixedText<2048> auth_;
};

}  // namespace iotwall::dpi
