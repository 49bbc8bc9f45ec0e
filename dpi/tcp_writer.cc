#include "dpi/tcp_writer.h"

#include <algorithm>

namespace iotwall::dpi {
namespace {

uint64_t splitmix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr int kClient = 0, kServer = 1;

}  // namespace

TcpWriter::TcpWriter(SegmentSink* sink, const Endpoint& client, const Endpoint& server,
                     uint64_t seed, uint16_t mss)
    : sink_(sink), client_(client), server_(server), rng_(seed), mss_(mss) {
  seq_[kClient] = static_cast<uint32_t>(splitmix(&rng_));
  seq_[kServer] = static_cast<uint32_t>(splitmix(&rng_));
}

int64_t TcpWriter::step() { return 40 + static_cast<int64_t>(splitmix(&rng_) % 121); }

void TcpWriter::emit(Direction d, uint8_t flags, std::span<const uint8_t> payload, int64_t ts_us,
                     uint16_t mss_option) {
  const int from = d == Direction::kToServer ? kClient : kServer;
  TcpSegment s;
  s.src = from == kClient ? client_ : server_;
  s.dst = from == kClient ? server_ : client_;
  s.seq = seq_[from];
  s.ack = (flags & kTcpAck) ? seq_[1 - from] : 0;
  s.flags = flags;
  s.mss_option = mss_option;
  s.payload.assign(payload.begin(), payload.end());
  s.ts_us = ts_us;
  seq_[from] += static_cast<uint32_t>(payload.size()) + ((flags & (kTcpSyn | kTcpFin)) ? 1 : 0);
  last_us_ = std::max(last_us_, ts_us);
  sink_->put(std::move(s));
}

int64_t TcpWriter::connect(int64_t ts) {
  emit(Direction::kToServer, kTcpSyn, {}, ts, mss_);
  ts += step();
  emit(Direction::kToClient, kTcpSyn | kTcpAck, {}, ts, mss_);
  ts += step();
  emit(Direction::kToServer, kTcpAck, {}, ts);
  connected_ = true;
  return ts;
}

int64_t TcpWriter::send(Direction d, std::span<const uint8_t> bytes, int64_t ts, bool ack_last) {
  const Direction back = d == Direction::kToServer ? Direction::kToClient : Direction::kToServer;
  size_t segments = 0;
  for (size_t off = 0; off < bytes.size(); off += mss_) {
    if (off != 0) ts += step();
    const size_t n = std::min<size_t>(mss_, bytes.size() - off);
    const bool last = off + n == bytes.size();
    emit(d, last ? kTcpPsh | kTcpAck : kTcpAck, bytes.subspan(off, n), ts);
    ++segments;
    if ((!last && segments % 2 == 0) || (last && ack_last)) {
      ts += step();
      emit(back, kTcpAck, {}, ts);
    }
  }
  return ts;
}

int64_t TcpWriter::close(int64_t ts) {
  emit(Direction::kToServer, kTcpFin | kTcpAck, {}, ts);
  ts += step();
  emit(Direction::kToClient, kTcpFin | kTcpAck, {}, ts);
  ts += step();
  emit(Direction::kToServer, kTcpAck, {}, ts);
  connected_ = false;
  return ts;
}

}  // namespace iotwall::dpi
