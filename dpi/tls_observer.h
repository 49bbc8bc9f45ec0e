// TlsObserver: what a passive monitor learns from one TLS connection
// without keys: the SNI, the negotiated version, the certificates that
// cross in clear (TLS <= 1.2) and the rhythm of application data.
//
// Fed in-order bytes per direction (the ConnectionHandler contract,
// stream.h), it parses TLS records across any byte boundaries and the
// plaintext handshake messages across records:
//   ClientHello (kToServer)  -> on_sni, offered versions
//   ServerHello (kToClient)  -> on_version (supported_versions for TLS 1.3)
//   Certificate (TLS <= 1.2) -> the leaf (first) certificate identifies the
//       server in kToClient, the client (the calling service) in kToServer.
// From a direction's ChangeCipherSpec on (TLS 1.3: from the ServerHello on)
// its handshake is encrypted and only counted.
//
// Exchanges: a client application-data burst that starts after the server
// last sent application data (or the first burst) is one request-like
// exchange. It is reported when it is complete: when the server's next
// application data arrives (its reply) or when the connection closes.
// TLS 1.3 hides handshake records among application data; the observer
// skips the client's encrypted handshake flight (up to the record the size
// of an encrypted Finished, or until the server speaks again) and records
// the size of an encrypted alert. See tls_observer.cc for the heuristics.
//
// Malformed input (bad record header, oversize record, a handshake message
// that does not parse, a hello in the wrong direction) is counted by reason
// in TlsCounters and ends parsing of that direction; nothing is thrown.
// Bounds: a record body is at most kMaxRecord bytes; a handshake message at
// most kMaxHandshakeMessage (larger ones are skipped and counted). Only
// plaintext handshake bytes are buffered; the buffer is reused and freed
// when the direction turns encrypted.
//
// Thread-safety: none. Lifetimes: the listener and the counters are owned
// by the caller and must outlive the observer; the CertIdentity and string
// views passed to the listener are valid only during the call.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dpi/stream.h"
#include "dpi/x509_identity.h"

namespace iotwall::dpi {

// One request-like exchange of an encrypted connection.
struct TlsExchange {
  int64_t start_us = 0;       // time of the burst's first client record
  int64_t reply_us = 0;       // time of the server's reply; 0: none seen (closed)
  uint64_t client_bytes = 0;  // application-data record bodies (ciphertext) in the burst
  uint32_t client_records = 0;
};

// What the observer reports. Each method has an empty default; override
// what you need. Calls are made from on_data/on_gap/on_close, in order.
class TlsListener {
 public:
  virtual ~TlsListener() = default;
  // The server_name of the (first) ClientHello.
  virtual void on_sni(std::string_view /*host*/, int64_t /*ts_us*/) {}
  // The version the ServerHello selected: 0x0303 TLS 1.2, 0x0304 TLS 1.3.
  virtual void on_version(uint16_t /*version*/, int64_t /*ts_us*/) {}
  // The leaf certificate of the client (the source service; its CN is the
  // service id) and of the server. Unverified: see x509_identity.h.
  virtual void on_client_identity(const CertIdentity& /*id*/, int64_t /*ts_us*/) {}
  virtual void on_server_identity(const CertIdentity& /*id*/, int64_t /*ts_us*/) {}
  // A certificate crossed in clear but did not parse as a DS2OS identity.
  virtual void on_bad_certificate(Direction /*d*/, std::string_view /*why*/, int64_t /*ts_us*/) {}
  virtual void on_exchange(const TlsExchange& /*x*/) {}
};

// Counts, usually one set per worker shared by its observers.
struct TlsCounters {
  uint64_t records = 0;             // records parsed (both directions)
  uint64_t handshake_messages = 0;  // plaintext handshake messages parsed
  uint64_t encrypted_records = 0;   // handshake/alert records after ChangeCipherSpec
  uint64_t certificates = 0;        // leaf certificates parsed into identities
  uint64_t exchanges = 0;
  uint64_t skipped_handshake = 0;  // handshake messages over kMaxHandshakeMessage
  // Malformed input, by reason (each stops parsing that direction).
  uint64_t bad_record_type = 0;
  uint64_t bad_record_version = 0;
  uint64_t bad_record_length = 0;  // over kMaxRecord, or empty non-data record
  uint64_t bad_handshake = 0;      // a message that does not parse, or cut by a record
  uint64_t wrong_direction = 0;    // a hello or certificate from the wrong side
  uint64_t gaps = 0;               // on_gap that could not be skipped
  // Not fatal.
  uint64_t bad_certificate = 0;  // a certificate parse_x509_identity rejected
  uint64_t bad_sni = 0;          // a server_name that is not a printable host name
  uint64_t stopped = 0;          // directions that stopped parsing

  template <typename Fn>
  void for_each(Fn&& fn) const {
    fn("tls_records", records);
    fn("tls_handshake_messages", handshake_messages);
    fn("tls_encrypted_records", encrypted_records);
    fn("tls_certificates", certificates);
    fn("tls_exchanges", exchanges);
    fn("tls_skipped_handshake", skipped_handshake);
    fn("tls_bad_record_type", bad_record_type);
    fn("tls_bad_record_version", bad_record_version);
    fn("tls_bad_record_length", bad_record_length);
    fn("tls_bad_handshake", bad_handshake);
    fn("tls_wrong_direction", wrong_direction);
    fn("tls_gaps", gaps);
    fn("tls_bad_certificate", bad_certificate);
    fn("tls_bad_sni", bad_sni);
    fn("tls_stopped", stopped);
  }
};

class TlsObserver : public ConnectionHandler {
 public:
  static constexpr size_t kMaxRecord = (1 << 14) + 2048;  // ciphertext bound, RFC 5246 6.2.3
  static constexpr size_t kMaxHandshakeMessage = 64 * 1024;
  static constexpr size_t kMaxSni = 255;

  // REQUIRES: listener and counters non-null and outliving the observer.
  TlsObserver(TlsListener* listener, TlsCounters* counters);

  // Whether a direction's first bytes look like a TLS handshake record:
  // type 0x16, version 0x03 0x00..0x04, and where present a length in
  // 1..kMaxRecord and a ClientHello/ServerHello message type. Needs 3 bytes
  // to say true (fewer: false; ask again with more).
  static bool looks_like_tls(std::span<const uint8_t> first_bytes);

  void on_data(Direction d, std::span<const uint8_t> bytes, int64_t ts_us) override;
  // Skips the missing bytes if they fall inside an application-data record
  // body; otherwise that direction stops parsing.
  void on_gap(Direction d, uint64_t missing, int64_t ts_us) override;
  // Reports a pending exchange (with reply_us = 0).
  void on_close(CloseReason why, int64_t ts_us) override;

  // What was seen so far (for the integrator and tests).
  uint16_t version() const { return version_; }  // selected; 0 until a ServerHello
  // The highest version the ClientHello offered (supported_versions, else
  // its legacy version); 0 until a ClientHello.
  uint16_t offered_version() const { return offered_version_; }
  const std::string& sni() const { return sni_; }
  bool stopped(Direction d) const { return side(d).stopped; }

 private:
  struct Side {
    uint8_t header[5] = {};
    uint8_t header_len = 0;
    uint8_t type = 0;      // current record's content type
    size_t body_left = 0;  // bytes of the current record body still to come
    size_t body_len = 0;   // the current record body's length
    bool in_body = false;
    bool encrypted = false;  // handshake contents no longer readable
    bool stopped = false;
    bool hello_seen = false;  // this side's Client/ServerHello
    std::vector<uint8_t> hs;  // plaintext handshake bytes not yet parsed
    size_t hs_skip = 0;       // bytes of an oversize handshake message to drop
  };

  Side& side(Direction d) { return sides_[static_cast<int>(d)]; }
  const Side& side(Direction d) const { return sides_[static_cast<int>(d)]; }

  void stop(Direction d, uint64_t* reason);
  bool begin_record(Direction d, int64_t ts_us);
  void end_record(Direction d, int64_t ts_us);
  void handshake_bytes(Direction d, std::span<const uint8_t> bytes, int64_t ts_us);
  void handshake_message(Direction d, uint8_t type, std::span<const uint8_t> body, int64_t ts_us);
  bool client_hello(std::span<const uint8_t> body, int64_t ts_us);
  bool server_hello(std::span<const uint8_t> body, int64_t ts_us);
  bool certificate(Direction d, std::span<const uint8_t> body, int64_t ts_us);
  void application_data(Direction d, size_t len, int64_t ts_us);
  void flush_exchange(int64_t reply_us);

  TlsListener* listener_;
  TlsCounters* counters_;
  Side sides_[2];
  std::string sni_;
  bool client_hello_seen_ = false;
  uint16_t offered_version_ = 0;
  uint16_t version_ = 0;
  // TLS 1.3 only.
  size_t finished_record_len_ = 0;  // expected size of the client's encrypted Finished
  size_t alert_record_len_ = 0;     // size of an encrypted 2-byte alert
  bool client_hs_pending_ = false;  // the client's encrypted handshake flight not over
  bool client_hs_started_ = false;  // the client sent an encrypted record of it
  // The exchange being built.
  bool in_burst_ = false;
  TlsExchange burst_;
};

}  // namespace iotwall::dpi
