// TlsWriter: the bytes of a TLS connection as a passive observer sees them,
// synthesised without cryptography for the simulator's captures and tests.
// Record framing and the plaintext handshake (hellos, TLS 1.2 certificates)
// are exact; everything encrypted is pseudo-random bytes of a realistic
// size (AES-128-GCM: TLS 1.2 adds an 8-byte explicit nonce and a 16-byte
// tag, TLS 1.3 one content-type byte and a 16-byte tag).
//
// A connection is written in this order, each call returning the bytes one
// side sends next (kToServer for client_*, kToClient for server_*):
//   client_hello, server_flight, client_flight, server_finish,
//   then application_data (either side) and close_notify.
// TLS 1.2 (DS2OS's service <-> KA transport): ServerHello, Certificate,
//   ServerKeyExchange, [CertificateRequest,] ServerHelloDone; then the
//   client's Certificate, ClientKeyExchange, [CertificateVerify,]
//   ChangeCipherSpec, Finished; then the server's ChangeCipherSpec, Finished.
// TLS 1.3: ClientHello with supported_versions and SNI; ServerHello
//   selecting 1.3, a compatibility ChangeCipherSpec, then the encrypted
//   flights (one record per message, as OpenSSL sends them) and two
//   NewSessionTickets as server_finish. The certificates are encrypted: only
//   their sizes show.
//
// Thread-safety: none. Output is a function of the seed and the calls.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace iotwall::dpi {

enum class TlsVersion : uint8_t { k12, k13 };

class TlsWriter {
 public:
  static constexpr size_t kMaxFragment = 1 << 14;  // plaintext bytes per record

  TlsWriter(TlsVersion version, uint64_t seed);

  // A ClientHello; no server_name extension if `sni` is empty.
  std::vector<uint8_t> client_hello(std::string_view sni);
  // The server's first flight, with its leaf certificate (DER).
  // REQUIRES: server_cert_der non-empty.
  std::vector<uint8_t> server_flight(std::span<const uint8_t> server_cert_der,
                                     bool request_client_cert = true);
  // The client's flight; an empty `client_cert_der` sends an empty
  // certificate list (TLS 1.2) or none (TLS 1.3).
  std::vector<uint8_t> client_flight(std::span<const uint8_t> client_cert_der);
  std::vector<uint8_t> server_finish();
  // Records carrying `plaintext_len` bytes (in fragments of kMaxFragment);
  // nothing for 0.
  std::vector<uint8_t> application_data(size_t plaintext_len);
  // An encrypted close_notify alert.
  std::vector<uint8_t> close_notify();

  // Bytes an encrypted application-data record adds to its content.
  size_t record_overhead() const { return version_ == TlsVersion::k12 ? 8 + 16 : 1 + 16; }

 private:
  uint64_t next();
  void random(std::vector<uint8_t>* out, size_t n);
  // Appends records of `type` carrying `payload` (fragmented) to `out`.
  void plain_records(uint8_t type, uint16_t version, std::span<const uint8_t> payload,
                     std::vector<uint8_t>* out);
  // Appends one record of `type` with `body_len` pseudo-random bytes.
  void opaque_record(uint8_t type, size_t body_len, std::vector<uint8_t>* out);

  TlsVersion version_;
  uint64_t state_;
  std::vector<uint8_t> session_id_;  // the client's, echoed by a TLS 1.3 server
};

}  // namespace iotwall::dpi
