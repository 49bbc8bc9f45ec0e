#include "dpi/websocket.h"

#include <algorithm>

namespace iotwall::dpi {

WebSocketStream::WebSocketStream(Listener& listener, DecodeCounters& counters, size_t message_limit)
    : listener_(listener), counters_(counters), limit_(message_limit) {}

void WebSocketStream::on_gap() {
  if (state_ == State::kStopped) return;
  counters_.add(DecodeCounters::kGap);
  state_ = State::kStopped;
}

void WebSocketStream::fail() {
  counters_.add(DecodeCounters::kWsProtocolError);
  state_ = State::kStopped;
}

void WebSocketStream::feed(std::span<const uint8_t> bytes, int64_t ts_us) {
  size_t i = 0;
  while (i < bytes.size() && state_ == State::kOpen) {
    if (!in_payload_) {
      if (header_len_ == 0) frame_ts_ = ts_us;
      while (header_len_ < header_need_ && i < bytes.size()) header_[header_len_++] = bytes[i++];
      if (header_len_ < header_need_) return;
      if (header_len_ == 2) {  // the full header's size is now known
        const uint8_t len7 = header_[1] & 0x7f;
        header_need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((header_[1] & 0x80) ? 4 : 0);
        if (header_len_ < header_need_) continue;
      }
      if (!start_frame()) return;
      if (remaining_ == 0) end_frame();
      continue;
    }
    const size_t n = static_cast<size_t>(
        std::min<uint64_t>(remaining_, static_cast<uint64_t>(bytes.size() - i)));
    const bool keep =
        (opcode_ == kText || opcode_ == kBinary || opcode_ == kContinuation) && !msg_skipped_;
    if (keep) {
      const size_t at = msg_.size();
      msg_.append(reinterpret_cast<const char*>(bytes.data() + i), n);
      if (masked_) {
        for (size_t k = 0; k < n; ++k) msg_[at + k] ^= static_cast<char>(mask_[(offset_ + k) & 3]);
      }
    }
    i += n;
    offset_ += n;
    remaining_ -= n;
    if (remaining_ == 0) end_frame();
  }
}

bool WebSocketStream::start_frame() {
  fin_ = (header_[0] & 0x80) != 0;
  opcode_ = header_[0] & 0x0f;
  masked_ = (header_[1] & 0x80) != 0;
  const uint8_t len7 = header_[1] & 0x7f;
  size_t p = 2;
  uint64_t len = len7;
  if (len7 == 126) {
    len = (uint64_t{header_[2]} << 8) | header_[3];
    p = 4;
  } else if (len7 == 127) {
    len = 0;
    for (int k = 0; k < 8; ++k) len = (len << 8) | header_[2 + k];
    p = 10;
    if (len >> 63) return fail(), false;  // the most significant bit must be 0
  }
  if (masked_) {
    for (int k = 0; k < 4; ++k) mask_[k] = header_[p + k];
  }
  // No extension is negotiated by the VSL: reserved bits must be zero.
  if (header_[0] & 0x70) return fail(), false;
  const bool control = opcode_ >= 8;
  if (control) {
    if (opcode_ != kClose && opcode_ != kPing && opcode_ != kPong) return fail(), false;
    if (!fin_ || len > 125) return fail(), false;
  } else if (opcode_ == kContinuation) {
    if (!in_message_) return fail(), false;
  } else if (opcode_ == kText || opcode_ == kBinary) {
    if (in_message_) return fail(), false;  // a new message inside a fragmented one
    in_message_ = true;
    msg_text_ = opcode_ == kText;
    msg_skipped_ = false;
    msg_ts_ = frame_ts_;
    msg_.clear();
  } else {
    return fail(), false;
  }
  if (!control && !msg_skipped_ && len > limit_ - msg_.size()) {
    msg_skipped_ = true;
    msg_.clear();
    counters_.add(DecodeCounters::kWsMessageTooLarge);
  }
  if (!control && !msg_skipped_ && msg_.capacity() < msg_.size() + len) {
    size_t want = msg_.capacity() < 256 ? 256 : msg_.capacity() * 2;
    while (want < msg_.size() + len) want *= 2;
    msg_.reserve(want < limit_ ? want : limit_);
  }
  remaining_ = len;
  offset_ = 0;
  in_payload_ = true;
  return true;
}

void WebSocketStream::end_frame() {
  in_payload_ = false;
  header_len_ = 0;
  header_need_ = 2;
  if (opcode_ == kClose) {
    state_ = State::kClosed;
    return;
  }
  if (opcode_ == kPing || opcode_ == kPong) return;
  if (!fin_) return;  // more fragments follow
  in_message_ = false;
  if (!msg_skipped_) listener_.on_ws_message(*this, msg_text_, msg_, msg_ts_);
  msg_.clear();
}

}  // namespace iotwall::dpi
