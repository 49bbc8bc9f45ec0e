// X.509 identity: what a DS2OS certificate says about the service that
// presents it (VSL-WIRE.md, "Identity of the caller and the callee").
//
// The subject CN is the service id; DS2OS extensions hold the access ids
// (OID 1.3.6.1.4.1.2, ";"-separated), the manifest hash (1.3.6.1.4.1.1) and
// the knowledge-agent flag (1.3.6.1.4.1.0 = "TRUE"). An extension value is
// accepted both as a DER string (UTF8String, IA5String, PrintableString,
// VisibleString, OCTET STRING) inside the extension's OCTET STRING and as
// raw bytes.
//
// NOT A VERIFICATION: this is a passive monitor's reading of a certificate
// seen on the wire. Neither the signature nor the chain nor the validity
// period is checked here, so a self-signed certificate claiming any CN parses
// fine. Callers that grant trust from it must check the issuer (a site may
// pin its CA: compare issuer_cn, or verify against the CA certificate).
//
// Thread-safety: parse_x509_identity is reentrant (no shared state).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace iotwall::dpi {

// The DS2OS extension OIDs.
inline constexpr char kOidKnowledgeAgent[] = "1.3.6.1.4.1.0";
inline constexpr char kOidManifestHash[] = "1.3.6.1.4.1.1";
inline constexpr char kOidAccessIds[] = "1.3.6.1.4.1.2";

struct CertIdentity {
  std::string service_id;               // subject CN, e.g. lightcontrol1
  std::vector<std::string> access_ids;  // empty entries dropped
  std::string manifest_hash;            // empty if absent
  bool knowledge_agent = false;         // 1.3.6.1.4.1.0 is "TRUE" (any case)
  std::string issuer_cn;                // empty if the issuer has no CN
  int64_t not_before_s = 0;             // validity, seconds since the epoch (UTC)
  int64_t not_after_s = 0;
};

// Bounds on what is accepted (larger is an error, not truncated).
inline constexpr size_t kMaxCertDer = 64 * 1024;
inline constexpr size_t kMaxIdentityString = 1024;  // CN, hash, one access id
inline constexpr size_t kMaxAccessIds = 256;

// Parses one DER certificate. Returns false and sets *error (if non-null) to
// a short reason when `der` is not exactly one certificate, the subject has
// no CN or several, a DS2OS extension appears twice, or a string is too long
// or holds a NUL or control character. Never crashes on any input.
bool parse_x509_identity(std::span<const uint8_t> der, CertIdentity* out, std::string* error);

}  // namespace iotwall::dpi
