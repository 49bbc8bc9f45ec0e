#include "dpi/tls_writer.h"

#include <algorithm>

#include "dpi/tls_wire.h"

namespace iotwall::dpi {
namespace {

using namespace tls;

constexpr size_t kTag = 16;       // AES-GCM tag
constexpr size_t kEcdsaSig = 72;  // a typical DER ECDSA P-256 signature

// Appends big-endian fields and length-prefixed blocks.
class Builder {
 public:
  explicit Builder(std::vector<uint8_t>* out) : out_(out) {}
  void u8(uint8_t v) { out_->push_back(v); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u24(size_t v) {
    u8(static_cast<uint8_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void bytes(std::span<const uint8_t> b) { out_->insert(out_->end(), b.begin(), b.end()); }
  void text(std::string_view s) { out_->insert(out_->end(), s.begin(), s.end()); }
  // Opens a block with a `prefix`-byte length; close() fills it in.
  size_t open(int prefix) {
    const size_t at = out_->size();
    for (int i = 0; i < prefix; ++i) out_->push_back(0);  // (insert(n, 0) trips GCC 12 -O3)
    return at | (size_t(prefix) << 56);
  }
  void close(size_t mark) {
    const int prefix = static_cast<int>(mark >> 56);
    const size_t at = mark & ((size_t(1) << 56) - 1);
    size_t len = out_->size() - at - static_cast<size_t>(prefix);
    for (int i = prefix - 1; i >= 0; --i, len >>= 8)
      (*out_)[at + static_cast<size_t>(i)] = static_cast<uint8_t>(len);
  }
  // A handshake message header; close() it after the body.
  size_t message(uint8_t type) {
    u8(type);
    return open(3);
  }

 private:
  std::vector<uint8_t>* out_;
};

void extension(Builder& b, uint16_t type, std::span<const uint8_t> data) {
  b.u16(type);
  b.u16(static_cast<uint16_t>(data.size()));
  b.bytes(data);
}

void server_name(Builder& b, std::string_view sni) {
  if (sni.empty()) return;
  b.u16(kExtServerName);
  const size_t ext = b.open(2);
  const size_t list = b.open(2);
  b.u8(0);  // host_name
  const size_t name = b.open(2);
  b.text(sni);
  b.close(name);
  b.close(list);
  b.close(ext);
}

constexpr uint8_t kGroups[] = {0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18};
constexpr uint8_t kSigAlgs[] = {0x00, 0x0c, 0x04, 0x03, 0x08, 0x04, 0x04,
                                0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01};
constexpr uint8_t kSuites12[] = {0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30,
                                 0xcc, 0xa9, 0xcc, 0xa8, 0x00, 0x9e, 0x00, 0xff};
constexpr uint8_t kSuites13[] = {0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f};

}  // namespace

TlsWriter::TlsWriter(TlsVersion version, uint64_t seed) : version_(version), state_(seed) {}

uint64_t TlsWriter::next() {  // splitmix64
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void TlsWriter::random(std::vector<uint8_t>* out, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t r = next();
    for (size_t k = 0; k < 8 && i + k < n; ++k) out->push_back(static_cast<uint8_t>(r >> (8 * k)));
  }
}

void TlsWriter::plain_records(uint8_t type, uint16_t version, std::span<const uint8_t> payload,
                              std::vector<uint8_t>* out) {
  Builder b(out);
  while (!payload.empty()) {
    const size_t n = std::min(payload.size(), kMaxFragment);
    b.u8(type);
    b.u16(version);
    b.u16(static_cast<uint16_t>(n));
    b.bytes(payload.first(n));
    payload = payload.subspan(n);
  }
}

void TlsWriter::opaque_record(uint8_t type, size_t body_len, std::vector<uint8_t>* out) {
  Builder b(out);
  b.u8(type);
  b.u16(kTls12);
  b.u16(static_cast<uint16_t>(body_len));
  random(out, body_len);
}

std::vector<uint8_t> TlsWriter::client_hello(std::string_view sni) {
  const bool v13 = version_ == TlsVersion::k13;
  std::vector<uint8_t> hs;
  Builder b(&hs);
  const size_t msg = b.message(kClientHello);
  b.u16(kTls12);
  random(&hs, 32);
  session_id_.clear();
  if (v13) random(&session_id_, 32);  // middlebox compatibility mode
  b.u8(static_cast<uint8_t>(session_id_.size()));
  b.bytes(session_id_);
  if (v13) {
    b.u16(sizeof kSuites13);
    b.bytes(kSuites13);
  } else {
    b.u16(sizeof kSuites12);
    b.bytes(kSuites12);
  }
  b.u8(1);
  b.u8(0);  // null compression
  const size_t exts = b.open(2);
  server_name(b, sni);
  extension(b, 10, kGroups);
  extension(b, 13, kSigAlgs);
  if (v13) {
    constexpr uint8_t versions[] = {0x04, 0x03, 0x04, 0x03, 0x03};
    extension(b, kExtSupportedVersions, versions);
    constexpr uint8_t modes[] = {0x01, 0x01};
    extension(b, 45, modes);
    b.u16(51);  // key_share: one x25519 share
    const size_t ks = b.open(2);
    const size_t list = b.open(2);
    b.u16(0x001d);
    b.u16(32);
    random(&hs, 32);
    b.close(list);
    b.close(ks);
  } else {
    constexpr uint8_t formats[] = {0x01, 0x00};
    extension(b, 11, formats);
    extension(b, 23, {});  // extended_master_secret
    constexpr uint8_t reneg[] = {0x00};
    extension(b, 0xff01, reneg);
  }
  b.close(exts);
  b.close(msg);
  std::vector<uint8_t> out;
  plain_records(kHandshake, kTls10, hs, &out);
  return out;
}

std::vector<uint8_t> TlsWriter::server_flight(std::span<const uint8_t> cert,
                                              bool request_client_cert) {
  std::vector<uint8_t> hs;
  Builder b(&hs);
  size_t msg = b.message(kServerHello);
  b.u16(kTls12);
  random(&hs, 32);
  if (version_ == TlsVersion::k13) {
    b.u8(static_cast<uint8_t>(session_id_.size()));
    b.bytes(session_id_);
    b.u16(0x1301);  // TLS_AES_128_GCM_SHA256
    b.u8(0);
    const size_t exts = b.open(2);
    constexpr uint8_t selected[] = {0x03, 0x04};
    extension(b, kExtSupportedVersions, selected);
    b.u16(51);
    const size_t ks = b.open(2);
    b.u16(0x001d);
    b.u16(32);
    random(&hs, 32);
    b.close(ks);
    b.close(exts);
    b.close(msg);
    std::vector<uint8_t> out;
    plain_records(kHandshake, kTls12, hs, &out);
    constexpr uint8_t ccs[] = {0x01};
    plain_records(kChangeCipherSpec, kTls12, ccs, &out);
    // Encrypted: EncryptedExtensions, [CertificateRequest,] Certificate,
    // CertificateVerify, Finished; body = message + type byte + tag.
    opaque_record(kApplicationData, 4 + 2 + 1 + kTag, &out);
    if (request_client_cert) opaque_record(kApplicationData, 4 + 1 + 2 + 18 + 1 + kTag, &out);
    opaque_record(kApplicationData, 4 + 1 + 3 + 3 + cert.size() + 2 + 1 + kTag, &out);
    opaque_record(kApplicationData, 4 + 2 + 2 + kEcdsaSig + 1 + kTag, &out);
    opaque_record(kApplicationData, 4 + 32 + 1 + kTag, &out);
    return out;
  }
  b.u8(32);
  random(&hs, 32);  // session id
  b.u16(0xc02b);    // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
  b.u8(0);
  size_t exts = b.open(2);
  constexpr uint8_t reneg[] = {0x00};
  extension(b, 0xff01, reneg);
  constexpr uint8_t formats[] = {0x01, 0x00};
  extension(b, 11, formats);
  extension(b, 23, {});
  b.close(exts);
  b.close(msg);

  msg = b.message(kCertificate);
  size_t list = b.open(3);
  size_t one = b.open(3);
  b.bytes(cert);
  b.close(one);
  b.close(list);
  b.close(msg);

  msg = b.message(kServerKeyExchange);
  b.u8(3);  // named_curve
  b.u16(0x0017);
  b.u8(65);
  b.u8(0x04);
  random(&hs, 64);
  b.u16(0x0403);  // ecdsa_secp256r1_sha256
  b.u16(kEcdsaSig);
  random(&hs, kEcdsaSig);
  b.close(msg);

  if (request_client_cert) {
    msg = b.message(kCertificateRequest);
    constexpr uint8_t types[] = {0x02, 0x01, 0x40};  // rsa_sign, ecdsa_sign
    b.bytes(types);
    b.bytes(kSigAlgs);
    b.u16(0);  // any CA
    b.close(msg);
  }
  msg = b.message(kServerHelloDone);
  b.close(msg);
  std::vector<uint8_t> out;
  plain_records(kHandshake, kTls12, hs, &out);
  return out;
}

std::vector<uint8_t> TlsWriter::client_flight(std::span<const uint8_t> cert) {
  std::vector<uint8_t> out;
  constexpr uint8_t ccs[] = {0x01};
  if (version_ == TlsVersion::k13) {
    plain_records(kChangeCipherSpec, kTls12, ccs, &out);
    if (!cert.empty()) {
      opaque_record(kApplicationData, 4 + 1 + 3 + 3 + cert.size() + 2 + 1 + kTag, &out);
      opaque_record(kApplicationData, 4 + 2 + 2 + kEcdsaSig + 1 + kTag, &out);
    }
    opaque_record(kApplicationData, 4 + 32 + 1 + kTag, &out);
    return out;
  }
  std::vector<uint8_t> hs;
  Builder b(&hs);
  size_t msg = b.message(kCertificate);
  const size_t list = b.open(3);
  if (!cert.empty()) {
    const size_t one = b.open(3);
    b.bytes(cert);
    b.close(one);
  }
  b.close(list);
  b.close(msg);
  msg = b.message(kClientKeyExchange);
  b.u8(65);
  b.u8(0x04);
  random(&hs, 64);
  b.close(msg);
  if (!cert.empty()) {
    msg = b.message(kCertificateVerify);
    b.u16(0x0403);
    b.u16(kEcdsaSig);
    random(&hs, kEcdsaSig);
    b.close(msg);
  }
  plain_records(kHandshake, kTls12, hs, &out);
  plain_records(kChangeCipherSpec, kTls12, ccs, &out);
  opaque_record(kHandshake, 8 + 16 + kTag, &out);  // Finished: nonce, 12+4 bytes, tag
  return out;
}

std::vector<uint8_t> TlsWriter::server_finish() {
  std::vector<uint8_t> out;
  if (version_ == TlsVersion::k13) {  // two NewSessionTickets, as OpenSSL sends
    for (int i = 0; i < 2; ++i)
      opaque_record(kApplicationData, 4 + 4 + 4 + 9 + 2 + 192 + 2 + 1 + kTag, &out);
    return out;
  }
  constexpr uint8_t ccs[] = {0x01};
  plain_records(kChangeCipherSpec, kTls12, ccs, &out);
  opaque_record(kHandshake, 8 + 16 + kTag, &out);
  return out;
}

std::vector<uint8_t> TlsWriter::application_data(size_t plaintext_len) {
  std::vector<uint8_t> out;
  while (plaintext_len > 0) {
    const size_t n = std::min(plaintext_len, kMaxFragment);
    opaque_record(kApplicationData, n + record_overhead(), &out);
    plaintext_len -= n;
  }
  return out;
}

std::vector<uint8_t> TlsWriter::close_notify() {
  std::vector<uint8_t> out;
  opaque_record(version_ == TlsVersion::k13 ? kApplicationData : kAlert, 2 + record_overhead(),
                &out);
  return out;
}

}  // namespace iotwall::dpi
