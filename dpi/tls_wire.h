// TLS wire constants (RFC 5246, RFC 8446) shared by the observer, which
// reads handshakes, and the writer, which synthesises them.
#pragma once

#include <cstdint>

namespace iotwall::dpi::tls {

// Record content types.
enum : uint8_t {
  kChangeCipherSpec = 20,
  kAlert = 21,
  kHandshake = 22,
  kApplicationData = 23,
  kHeartbeat = 24,
};

// Handshake message types.
enum : uint8_t {
  kClientHello = 1,
  kServerHello = 2,
  kCertificate = 11,
  kServerKeyExchange = 12,
  kCertificateRequest = 13,
  kServerHelloDone = 14,
  kCertificateVerify = 15,
  kClientKeyExchange = 16,
};

// Extensions.
enum : uint16_t { kExtServerName = 0, kExtSupportedVersions = 43 };

// Protocol versions.
inline constexpr uint16_t kTls10 = 0x0301;
inline constexpr uint16_t kTls12 = 0x0303;
inline constexpr uint16_t kTls13 = 0x0304;

}  // namespace iotwall::dpi::tls
