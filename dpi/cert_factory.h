// CertFactory: a site CA that issues DS2OS-style certificates (EC P-256,
// ECDSA-SHA256) for the simulator's captures and for tests, including real
// TLS handshakes. The leaf's CN is the service id and it carries the DS2OS
// extensions that parse_x509_identity reads (x509_identity.h).
//
// Output is DER bytes: certificates, and private keys as PKCS#8 (load one
// with d2i_AutoPrivateKey). Serials and keys are random, so content is not
// deterministic; issuing takes well under a millisecond.
//
// Thread-safety: none per factory (use one per thread); OpenSSL itself is
// thread-safe. Not for production keys: they live in ordinary memory.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace iotwall::dpi {

// How a DS2OS extension value is put inside the extension's OCTET STRING.
enum class ExtensionEncoding : uint8_t {
  kUtf8String,       // DER UTF8String (tag 0x0c)
  kIa5String,        // DER IA5String (0x16)
  kPrintableString,  // DER PrintableString (0x13); charset not enforced
  kRaw,              // the bytes of the text, no ASN.1 wrapper
};

struct CertSpec {
  std::string service_id;               // the subject CN
  std::vector<std::string> access_ids;  // joined with ';'; no extension if empty
  std::string manifest_hash;            // no extension if empty
  bool knowledge_agent = false;         // adds 1.3.6.1.4.1.0 = "TRUE"
  ExtensionEncoding encoding = ExtensionEncoding::kUtf8String;
  int64_t not_before_s = 0;  // seconds since the epoch; 0: an hour ago
  int64_t not_after_s = 0;   // 0: not_before + 365 days
  bool self_signed = false;  // signed by its own key, issuer = subject (a forger)
};

struct IssuedCert {
  std::vector<uint8_t> der;      // the certificate
  std::vector<uint8_t> key_der;  // its private key, PKCS#8 DER
};

class CertFactory {
 public:
  // Makes a site CA (self-signed, CA:TRUE, CN = ca_name). Returns null and
  // sets *error (if non-null) on failure.
  static std::unique_ptr<CertFactory> create(std::string_view ca_name, std::string* error);
  ~CertFactory();
  CertFactory(const CertFactory&) = delete;
  CertFactory& operator=(const CertFactory&) = delete;

  const IssuedCert& ca() const { return ca_; }

  // Issues a leaf for `spec` with a new key. Returns false and sets *error
  // (if non-null) on failure (an empty service_id is one).
  bool issue(const CertSpec& spec, IssuedCert* out, std::string* error);

 private:
  CertFactory() = default;

  EVP_PKEY* ca_key_ = nullptr;  // owned
  X509* ca_cert_ = nullptr;     // owned
  IssuedCert ca_;
};

}  // namespace iotwall::dpi
