// WebSocketStream: one direction of a WebSocket connection (RFC 6455) as a
// streaming state machine: frames may be split at any byte. Unmasks,
// handles 7/16/64-bit lengths, reassembles fragmented messages up to a
// limit (a larger message is skipped and counted, the stream stays in
// sync), accepts control frames between fragments, and emits complete text
// and binary messages. A protocol error stops the direction (counted); a
// close frame ends it.
//
// Thread-safety: none. The listener and counters must outlive the stream.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dpi/decode_counters.h"

namespace iotwall::dpi {

class WebSocketStream {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // A complete message of `from`; `payload` (unmasked) is valid during the
    // call only. ts_us is the capture time of its first frame's first byte.
    virtual void on_ws_message(const WebSocketStream& from, bool text, std::string_view payload,
                               int64_t ts_us) = 0;
  };

  enum class State : uint8_t { kOpen, kClosed, kStopped };
  static constexpr size_t kDefaultMessageLimit = 64 * 1024;

  WebSocketStream(Listener& listener, DecodeCounters& counters,
                  size_t message_limit = kDefaultMessageLimit);
  WebSocketStream(const WebSocketStream&) = delete;
  WebSocketStream& operator=(const WebSocketStream&) = delete;

  void feed(std::span<const uint8_t> bytes, int64_t ts_us);
  // Bytes were lost: parsing stops (counted as a gap).
  void on_gap();

  State state() const { return state_; }
  // A frame or a fragmented message is partly received.
  bool in_message() const {
    return state_ == State::kOpen && (in_message_ || in_payload_ || header_len_ > 0);
  }

 private:
  enum Opcode : uint8_t {
    kContinuation = 0,
    kText = 1,
    kBinary = 2,
    kClose = 8,
    kPing = 9,
    kPong = 10,
  };

  bool start_frame();  // header complete: validate, prepare the payload
  void end_frame();
  void fail();

  Listener& listener_;
  DecodeCounters& counters_;
  const size_t limit_;
  State state_ = State::kOpen;

  // The frame being parsed.
  std::array<uint8_t, 14> header_{};
  size_t header_len_ = 0;
  size_t header_need_ = 2;
  bool in_payload_ = false;
  uint8_t opcode_ = 0;
  bool fin_ = false;
  bool masked_ = false;
  std::array<uint8_t, 4> mask_{};
  uint64_t remaining_ = 0;  // payload bytes still to come
  uint64_t offset_ = 0;     // payload bytes seen (for the mask)
  int64_t frame_ts_ = 0;

  // The message being reassembled.
  bool in_message_ = false;  // a fragmented message is open
  bool msg_text_ = false;
  bool msg_skipped_ = false;
  int64_t msg_ts_ = 0;
  std::string msg_;  // grows to the largest message, at most limit_
};

}  // namespace iotwall::dpi
