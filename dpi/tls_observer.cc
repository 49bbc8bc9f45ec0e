#include "dpi/tls_observer.h"

#include <algorithm>
#include <cstring>

#include "dpi/tls_wire.h"

namespace iotwall::dpi {
namespace {

using namespace tls;

// The ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
constexpr uint8_t kHelloRetryRandom[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

// A bounds-checked reader of TLS presentation-language fields. Every read
// fails (returns false) rather than run past the end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool empty() const { return pos_ == b_.size(); }
  bool u8(uint8_t* v) {
    if (b_.size() - pos_ < 1) return false;
    *v = b_[pos_++];
    return true;
  }
  bool u16(uint16_t* v) {
    if (b_.size() - pos_ < 2) return false;
    *v = static_cast<uint16_t>((b_[pos_] << 8) | b_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>* out) {
    if (b_.size() - pos_ < n) return false;
    *out = b_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // A vector with a 1-, 2- or 3-byte length prefix.
  bool vec(int prefix, std::span<const uint8_t>* out) {
    if (b_.size() - pos_ < static_cast<size_t>(prefix)) return false;
    size_t n = 0;
    for (int i = 0; i < prefix; ++i) n = (n << 8) | b_[pos_++];
    return bytes(n, out);
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

bool is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a; }

// A host name as SNI may carry it: 1..255 visible ASCII characters.
bool valid_host(std::span<const uint8_t> h) {
  if (h.empty() || h.size() > TlsObserver::kMaxSni) return false;
  for (uint8_t c : h)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

TlsObserver::TlsObserver(TlsListener* listener, TlsCounters* counters)
    : listener_(listener), counters_(counters) {}

bool TlsObserver::looks_like_tls(std::span<const uint8_t> b) {
  if (b.size() < 3 || b[0] != kHandshake || b[1] != 3 || b[2] > 4) return false;
  if (b.size() >= 5) {
    const size_t len = (size_t{b[3]} << 8) | b[4];
    if (len == 0 || len > kMaxRecord) return false;
  }
  return b.size() < 6 || b[5] == kClientHello || b[5] == kServerHello;
}

void TlsObserver::stop(Direction d, uint64_t* reason) {
  Side& s = side(d);
  if (s.stopped) return;
  ++*reason;
  ++counters_->stopped;
  s.stopped = true;
  std::vector<uint8_t>().swap(s.hs);
}

void TlsObserver::on_data(Direction d, std::span<const uint8_t> bytes, int64_t ts_us) {
  Side& s = side(d);
  while (!bytes.empty() && !s.stopped) {
    if (!s.in_body) {
      const size_t take = std::min<size_t>(5 - s.header_len, bytes.size());
      std::memcpy(s.header + s.header_len, bytes.data(), take);
      s.header_len = static_cast<uint8_t>(s.header_len + take);
      bytes = bytes.subspan(take);
      if (s.header_len < 5) return;
      s.header_len = 0;
      if (!begin_record(d, ts_us)) return;
      if (s.body_left == 0) end_record(d, ts_us);
      continue;
    }
    const size_t take = std::min(s.body_left, bytes.size());
    if (s.type == kHandshake && !s.encrypted) handshake_bytes(d, bytes.first(take), ts_us);
    s.body_left -= take;
    bytes = bytes.subspan(take);
    if (s.body_left == 0) end_record(d, ts_us);
  }
}

bool TlsObserver::begin_record(Direction d, int64_t ts_us) {
  Side& s = side(d);
  const uint8_t* h = s.header;
  const size_t len = (size_t{h[3]} << 8) | h[4];
  if (h[0] < kChangeCipherSpec || h[0] > kHeartbeat) {
    stop(d, &counters_->bad_record_type);
    return false;
  }
  if (h[1] != 3 || h[2] > 4) {
    stop(d, &counters_->bad_record_version);
    return false;
  }
  if (len > kMaxRecord || (len == 0 && h[0] != kApplicationData)) {
    stop(d, &counters_->bad_record_length);
    return false;
  }
  // Handshake messages may span records, but nothing may come between
  // their fragments (RFC 5246 6.2.1, RFC 8446 5.1).
  if (h[0] != kHandshake && !s.encrypted && (!s.hs.empty() || s.hs_skip != 0)) {
    stop(d, &counters_->bad_handshake);
    return false;
  }
  ++counters_->records;
  s.type = h[0];
  s.body_len = s.body_left = len;
  s.in_body = true;
  switch (s.type) {
    case kChangeCipherSpec:
      s.encrypted = true;
      std::vector<uint8_t>().swap(s.hs);
      break;
    case kHandshake:
    case kAlert:
      if (s.encrypted) ++counters_->encrypted_records;
      break;
    case kApplicationData:
      if (!s.encrypted) {  // keys are in use: no more plaintext handshake
        s.encrypted = true;
        std::vector<uint8_t>().swap(s.hs);
      }
      application_data(d, len, ts_us);
      break;
    default:
      break;
  }
  return true;
}

void TlsObserver::end_record(Direction d, int64_t /*ts_us*/) { side(d).in_body = false; }

void TlsObserver::handshake_bytes(Direction d, std::span<const uint8_t> bytes, int64_t ts_us) {
  Side& s = side(d);
  if (s.hs_skip != 0) {
    const size_t k = std::min(s.hs_skip, bytes.size());
    s.hs_skip -= k;
    bytes = bytes.subspan(k);
    if (bytes.empty()) return;
  }
  s.hs.insert(s.hs.end(), bytes.begin(), bytes.end());
  size_t pos = 0;
  while (!s.stopped && !s.encrypted && s.hs.size() - pos >= 4) {
    const uint8_t* m = s.hs.data() + pos;
    const size_t len = (size_t{m[1]} << 16) | (size_t{m[2]} << 8) | m[3];
    const size_t have = s.hs.size() - pos - 4;
    if (len > kMaxHandshakeMessage) {
      ++counters_->skipped_handshake;
      if (have >= len) {
        pos += 4 + len;
        continue;
      }
      s.hs_skip = len - have;
      pos = s.hs.size();
      break;
    }
    if (have < len) break;
    ++counters_->handshake_messages;
    handshake_message(d, m[0], std::span<const uint8_t>(m + 4, len), ts_us);
    pos += 4 + len;
  }
  if (s.stopped) return;
  if (s.encrypted) {  // a TLS 1.3 ServerHello: what follows is not readable
    std::vector<uint8_t>().swap(s.hs);
    return;
  }
  s.hs.erase(s.hs.begin(), s.hs.begin() + static_cast<std::ptrdiff_t>(pos));
}

void TlsObserver::handshake_message(Direction d, uint8_t type, std::span<const uint8_t> body,
                                    int64_t ts_us) {
  Side& s = side(d);
  bool ok = true;
  switch (type) {
    case kClientHello:
      if (d != Direction::kToServer) return stop(d, &counters_->wrong_direction);
      s.hello_seen = true;
      ok = client_hello(body, ts_us);
      break;
    case kServerHello:
      if (d != Direction::kToClient) return stop(d, &counters_->wrong_direction);
      s.hello_seen = true;
      ok = server_hello(body, ts_us);
      break;
    case kCertificate:
      // Which party a certificate names follows from the direction; a
      // direction whose hello was not seen may be mislabelled.
      if (!s.hello_seen) return stop(d, &counters_->wrong_direction);
      ok = certificate(d, body, ts_us);
      break;
    default:
      break;  // not needed by a passive observer
  }
  if (!ok) stop(d, &counters_->bad_handshake);
}

bool TlsObserver::client_hello(std::span<const uint8_t> body, int64_t ts_us) {
  Reader r(body);
  uint16_t legacy = 0;
  std::span<const uint8_t> random, session, suites, compression, exts;
  if (!r.u16(&legacy) || !r.bytes(32, &random) || !r.vec(1, &session) || session.size() > 32 ||
      !r.vec(2, &suites) || suites.empty() || suites.size() % 2 != 0 || !r.vec(1, &compression) ||
      compression.empty())
    return false;
  if (!r.empty() && (!r.vec(2, &exts) || !r.empty())) return false;
  uint16_t offered = legacy;
  std::span<const uint8_t> host;
  Reader e(exts);
  while (!e.empty()) {
    uint16_t type = 0;
    std::span<const uint8_t> data;
    if (!e.u16(&type) || !e.vec(2, &data)) return false;
    Reader x(data);
    if (type == kExtServerName) {
      std::span<const uint8_t> list;
      if (!x.vec(2, &list) || !x.empty()) return false;
      Reader l(list);
      while (!l.empty()) {
        uint8_t name_type = 0;
        std::span<const uint8_t> name;
        if (!l.u8(&name_type) || !l.vec(2, &name)) return false;
        if (name_type == 0 && host.empty()) host = name;
      }
    } else if (type == kExtSupportedVersions) {
      std::span<const uint8_t> list;
      if (!x.vec(1, &list) || !x.empty() || list.size() % 2 != 0) return false;
      offered = 0;
      for (size_t i = 0; i + 1 < list.size(); i += 2) {
        const uint16_t v = static_cast<uint16_t>((list[i] << 8) | list[i + 1]);
        if (!is_grease(v)) offered = std::max(offered, v);
      }
    }
  }
  const bool first = !client_hello_seen_;
  client_hello_seen_ = true;
  offered_version_ = offered;
  if (first && !host.empty()) {
    if (!valid_host(host)) {
      ++counters_->bad_sni;
    } else {
      sni_.assign(host.begin(), host.end());
      listener_->on_sni(sni_, ts_us);
    }
  }
  return true;
}

bool TlsObserver::server_hello(std::span<const uint8_t> body, int64_t ts_us) {
  Reader r(body);
  uint16_t legacy = 0, suite = 0;
  uint8_t compression = 0;
  std::span<const uint8_t> random, session, exts;
  if (!r.u16(&legacy) || !r.bytes(32, &random) || !r.vec(1, &session) || session.size() > 32 ||
      !r.u16(&suite) || !r.u8(&compression))
    return false;
  if (!r.empty() && (!r.vec(2, &exts) || !r.empty())) return false;
  uint16_t version = legacy;
  Reader e(exts);
  while (!e.empty()) {
    uint16_t type = 0;
    std::span<const uint8_t> data;
    if (!e.u16(&type) || !e.vec(2, &data)) return false;
    if (type == kExtSupportedVersions) {
      Reader x(data);
      if (!x.u16(&version) || !x.empty()) return false;
    }
  }
  if (version == kTls13 && std::equal(random.begin(), random.end(), kHelloRetryRandom))
    return true;  // a HelloRetryRequest: the real ServerHello follows in clear
  const bool first = version_ == 0;
  version_ = version;
  if (version == kTls13) {
    // Everything after the ServerHello is encrypted, in records typed as
    // application data. Sizes of what the client sends next (RFC 8446 5.2):
    // body = content + 1 type byte + AEAD tag.
    const size_t tag = suite == 0x1305 ? 8 : 16;    // TLS_AES_128_CCM_8_SHA256
    const size_t hash = suite == 0x1302 ? 48 : 32;  // TLS_AES_256_GCM_SHA384
    finished_record_len_ = 4 + hash + 1 + tag;
    alert_record_len_ = 2 + 1 + tag;
    client_hs_pending_ = true;
    side(Direction::kToClient).encrypted = true;
  }
  if (first) listener_->on_version(version, ts_us);
  return true;
}

bool TlsObserver::certificate(Direction d, std::span<const uint8_t> body, int64_t ts_us) {
  if (version_ == kTls13) return false;  // a TLS 1.3 Certificate is never in clear
  Reader r(body);
  std::span<const uint8_t> list;
  if (!r.vec(3, &list) || !r.empty()) return false;
  Reader l(list);
  std::span<const uint8_t> leaf;
  for (bool first = true; !l.empty(); first = false) {
    std::span<const uint8_t> cert;
    if (!l.vec(3, &cert) || cert.empty()) return false;
    if (first) leaf = cert;
  }
  if (leaf.empty()) return true;  // no certificate (a client without one)
  CertIdentity id;
  std::string why;
  if (!parse_x509_identity(leaf, &id, &why)) {
    ++counters_->bad_certificate;
    listener_->on_bad_certificate(d, why, ts_us);
    return true;
  }
  ++counters_->certificates;
  if (d == Direction::kToServer) {
    listener_->on_client_identity(id, ts_us);
  } else {
    listener_->on_server_identity(id, ts_us);
  }
  return true;
}

void TlsObserver::application_data(Direction d, size_t len, int64_t ts_us) {
  if (version_ == kTls13) {
    if (d == Direction::kToServer && client_hs_pending_) {
      // The client's encrypted flight: [Certificate, CertificateVerify,]
      // Finished, each in its own record as common stacks send them.
      client_hs_started_ = true;
      if (len == finished_record_len_) client_hs_pending_ = false;
      ++counters_->encrypted_records;
      return;
    }
    if (d == Direction::kToClient && client_hs_pending_ && client_hs_started_) {
      // The server speaks after the client's flight (a NewSessionTicket, a
      // reply): that flight is over even if no Finished-sized record was
      // seen (padding).
      client_hs_pending_ = false;
    }
    if (len == alert_record_len_) {  // most likely an encrypted alert (close_notify)
      ++counters_->encrypted_records;
      return;
    }
  }
  if (d == Direction::kToServer) {
    if (!in_burst_) {
      in_burst_ = true;
      burst_ = TlsExchange();
      burst_.start_us = ts_us;
    }
    burst_.client_bytes += len;
    ++burst_.client_records;
  } else if (in_burst_) {
    flush_exchange(ts_us);
  }
}

void TlsObserver::flush_exchange(int64_t reply_us) {
  in_burst_ = false;
  burst_.reply_us = reply_us;
  ++counters_->exchanges;
  listener_->on_exchange(burst_);
}

void TlsObserver::on_gap(Direction d, uint64_t missing, int64_t ts_us) {
  Side& s = side(d);
  if (s.stopped) return;
  // Bytes of a record body that is not buffered can be skipped exactly.
  const bool unbuffered = s.in_body && !(s.type == kHandshake && !s.encrypted);
  if (unbuffered && missing <= s.body_left) {
    s.body_left -= static_cast<size_t>(missing);
    if (s.body_left == 0) end_record(d, ts_us);
    return;
  }
  stop(d, &counters_->gaps);
}

void TlsObserver::on_close(CloseReason /*why*/, int64_t /*ts_us*/) {
  if (in_burst_) flush_exchange(0);
}

}  // namespace iotwall::dpi
