#include "dpi/x509_identity.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>

namespace iotwall::dpi {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

bool fail(std::string* error, std::string_view why) {
  if (error) error->assign(why);
  return false;
}

// Printable: no NUL, no C0 control, no DEL (a CN becomes a log line and a
// map key; a control character there is an attack, not a name).
bool printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// The text of a name's single CN. 0 CNs: *out empty, true if `optional`.
bool name_cn(const X509_NAME* name, bool optional, std::string* out, std::string* error,
             std::string_view what) {
  out->clear();
  if (!name) return optional || fail(error, std::string(what) + ": no name");
  const int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return optional || fail(error, std::string(what) + ": no CN");
  if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
    return fail(error, std::string(what) + ": several CNs");
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  const int n = s ? ASN1_STRING_to_UTF8(&utf8, s) : -1;
  if (n < 0) return fail(error, std::string(what) + ": CN is not a string");
  out->assign(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  if (out->size() > kMaxIdentityString) return fail(error, std::string(what) + ": CN too long");
  if (!printable(*out)) return fail(error, std::string(what) + ": CN has a control character");
  return true;
}

bool to_epoch(const ASN1_TIME* t, int64_t* out) {
  struct tm tm;
  std::memset(&tm, 0, sizeof tm);
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return false;
  *out = static_cast<int64_t>(timegm(&tm));
  return true;
}

// An extension value: a DER string whose TLV spans the whole value, else the
// raw bytes.
std::string_view extension_text(std::span<const uint8_t> v) {
  if (v.size() >= 2) {
    const uint8_t tag = v[0];
    const bool string_tag = tag == 0x0c || tag == 0x16 || tag == 0x13 || tag == 0x1a || tag == 0x04;
    size_t len = 0, hdr = 0;
    if (v[1] < 0x80) {
      len = v[1], hdr = 2;
    } else if (v[1] == 0x81 && v.size() >= 3) {
      len = v[2], hdr = 3;
    } else if (v[1] == 0x82 && v.size() >= 4) {
      len = (size_t{v[2]} << 8) | v[3], hdr = 4;
    }
    if (string_tag && hdr != 0 && hdr + len == v.size())
      return {reinterpret_cast<const char*>(v.data() + hdr), len};
  }
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool parse_access_ids(std::string_view text, std::vector<std::string>* out, std::string* error) {
  out->clear();
  while (!text.empty()) {
    const size_t semi = text.find(';');
    const std::string_view id = trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (id.empty()) continue;
    if (id.size() > kMaxIdentityString) return fail(error, "access id too long");
    if (out->size() == kMaxAccessIds) return fail(error, "too many access ids");
    out->emplace_back(id);
  }
  return true;
}

}  // namespace

bool parse_x509_identity(std::span<const uint8_t> der, CertIdentity* out, std::string* error) {
  *out = CertIdentity();
  if (der.empty()) return fail(error, "empty certificate");
  if (der.size() > kMaxCertDer) return fail(error, "certificate too large");
  const unsigned char* p = der.data();
  std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return fail(error, "not a DER certificate");
  if (p != der.data() + der.size()) return fail(error, "trailing bytes after the certificate");

  if (!name_cn(X509_get_subject_name(cert.get()), false, &out->service_id, error, "subject"))
    return false;
  if (out->service_id.empty()) return fail(error, "subject: empty CN");
  if (!name_cn(X509_get_issuer_name(cert.get()), true, &out->issuer_cn, error, "issuer"))
    return false;
  if (!to_epoch(X509_get0_notBefore(cert.get()), &out->not_before_s) ||
      !to_epoch(X509_get0_notAfter(cert.get()), &out->not_after_s))
    return fail(error, "bad validity time");

  bool seen[3] = {false, false, false};  // KA flag, manifest hash, access ids
  const int n = X509_get_ext_count(cert.get());
  for (int i = 0; i < n; ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert.get(), i);
    char oid[80];
    const int len = OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1);
    if (len <= 0 || static_cast<size_t>(len) >= sizeof oid) continue;
    const std::string_view o(oid, static_cast<size_t>(len));
    int which = -1;
    if (o == kOidKnowledgeAgent) which = 0;
    if (o == kOidManifestHash) which = 1;
    if (o == kOidAccessIds) which = 2;
    if (which < 0) continue;
    if (seen[which]) return fail(error, "DS2OS extension " + std::string(o) + " appears twice");
    seen[which] = true;
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    const int dlen = data ? ASN1_STRING_length(data) : 0;
    const std::span<const uint8_t> value =
        dlen > 0 ? std::span<const uint8_t>(ASN1_STRING_get0_data(data), static_cast<size_t>(dlen))
                 : std::span<const uint8_t>();
    const std::string_view text = extension_text(value);
    if (!printable(text))
      return fail(error, "DS2OS extension " + std::string(o) + " has a control character");
    if (which == 0) {
      out->knowledge_agent = iequals_ascii(trim(text), "TRUE");
    } else if (which == 1) {
      if (text.size() > kMaxIdentityString) return fail(error, "manifest hash too long");
      out->manifest_hash.assign(trim(text));
    } else if (!parse_access_ids(text, &out->access_ids, error)) {
      return false;
    }
  }
  return true;
}

}  // namespace iotwall::dpi
