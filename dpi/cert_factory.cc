#include "dpi/cert_factory.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "dpi/x509_identity.h"

namespace iotwall::dpi {
namespace {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Free<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, Free<ASN1_OBJECT, ASN1_OBJECT_free>>;
using OctetPtr =
    std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;

bool fail(std::string* error, std::string_view what) {
  if (error) {
    std::string msg(what);
    const unsigned long e = ERR_get_error();
    if (e != 0) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      msg += ": ";
      msg += buf;
    }
    *error = std::move(msg);
  }
  ERR_clear_error();
  return false;
}

KeyPtr new_key() { return KeyPtr(EVP_EC_gen("P-256")); }

bool set_serial(X509* x) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;  // positive
  bytes[0] |= 0x01;  // and 16 bytes long
  BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) != nullptr;
}

bool set_cn(X509_NAME* name, std::string_view cn) {
  return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(cn.data()),
                                    static_cast<int>(cn.size()), -1, 0) == 1;
}

bool add_conf_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  return ext && X509_add_ext(x, ext.get(), -1) == 1;
}

// DER TLV for the text, or the raw text.
std::vector<uint8_t> encode_value(std::string_view text, ExtensionEncoding enc) {
  std::vector<uint8_t> v;
  if (enc != ExtensionEncoding::kRaw) {
    v.push_back(enc == ExtensionEncoding::kUtf8String  ? 0x0c
                : enc == ExtensionEncoding::kIa5String ? 0x16
                                                       : 0x13);
    const size_t n = text.size();
    if (n < 0x80) {
      v.push_back(static_cast<uint8_t>(n));
    } else if (n < 0x100) {
      v.push_back(0x81);
      v.push_back(static_cast<uint8_t>(n));
    } else {
      v.push_back(0x82);
      v.push_back(static_cast<uint8_t>(n >> 8));
      v.push_back(static_cast<uint8_t>(n));
    }
  }
  v.insert(v.end(), text.begin(), text.end());
  return v;
}

bool add_ds2os_ext(X509* x, const char* oid, std::string_view text, ExtensionEncoding enc) {
  if (text.size() > 0xffff) return false;
  const std::vector<uint8_t> value = encode_value(text, enc);
  ObjPtr obj(OBJ_txt2obj(oid, 1));
  OctetPtr os(ASN1_OCTET_STRING_new());
  if (!obj || !os ||
      ASN1_OCTET_STRING_set(os.get(), value.data(), static_cast<int>(value.size())) != 1)
    return false;
  ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, os.get()));
  return ext && X509_add_ext(x, ext.get(), -1) == 1;
}

bool to_der(X509* x, std::vector<uint8_t>* out) {
  const int n = i2d_X509(x, nullptr);
  if (n <= 0) return false;
  out->resize(static_cast<size_t>(n));
  unsigned char* p = out->data();
  return i2d_X509(x, &p) == n;
}

bool key_to_der(EVP_PKEY* k, std::vector<uint8_t>* out) {
  const int n = i2d_PrivateKey(k, nullptr);
  if (n <= 0) return false;
  out->resize(static_cast<size_t>(n));
  unsigned char* p = out->data();
  return i2d_PrivateKey(k, &p) == n;
}

bool set_validity(X509* x, int64_t not_before, int64_t not_after) {
  const time_t now = time(nullptr);
  if (not_before == 0) not_before = static_cast<int64_t>(now) - 3600;
  if (not_after == 0) not_after = not_before + 365LL * 86400;
  return ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(not_before)) != nullptr &&
         ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(not_after)) != nullptr;
}

}  // namespace

std::unique_ptr<CertFactory> CertFactory::create(std::string_view ca_name, std::string* error) {
  std::unique_ptr<CertFactory> f(new CertFactory());
  KeyPtr key = new_key();
  CertPtr cert(X509_new());
  if (!key || !cert) return fail(error, "CA key"), nullptr;
  X509* x = cert.get();
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  if (X509_set_version(x, X509_VERSION_3) != 1 || !set_serial(x) || !set_validity(x, 0, 0) ||
      !set_cn(X509_get_subject_name(x), ca_name) ||
      X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
      X509_set_pubkey(x, key.get()) != 1 ||
      !add_conf_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
      !add_conf_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_conf_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
      X509_sign(x, key.get(), EVP_sha256()) <= 0 || !to_der(x, &f->ca_.der) ||
      !key_to_der(key.get(), &f->ca_.key_der))
    return fail(error, "CA certificate"), nullptr;
  f->ca_key_ = key.release();
  f->ca_cert_ = cert.release();
  return f;
}

CertFactory::~CertFactory() {
  X509_free(ca_cert_);
  EVP_PKEY_free(ca_key_);
}

bool CertFactory::issue(const CertSpec& spec, IssuedCert* out, std::string* error) {
  if (spec.service_id.empty()) return fail(error, "empty service id");
  KeyPtr key = new_key();
  CertPtr cert(X509_new());
  if (!key || !cert) return fail(error, "leaf key");
  X509* x = cert.get();
  X509* issuer = spec.self_signed ? x : ca_cert_;
  EVP_PKEY* signer = spec.self_signed ? key.get() : ca_key_;
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  std::string ids;
  for (const std::string& id : spec.access_ids) {
    if (!ids.empty()) ids += ';';
    ids += id;
  }
  const bool ok =
      X509_set_version(x, X509_VERSION_3) == 1 && set_serial(x) &&
      set_validity(x, spec.not_before_s, spec.not_after_s) &&
      set_cn(X509_get_subject_name(x), spec.service_id) &&
      X509_set_issuer_name(x, X509_get_subject_name(issuer)) == 1 &&
      X509_set_pubkey(x, key.get()) == 1 &&
      add_conf_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
      add_conf_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyAgreement") &&
      add_conf_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") &&
      (spec.self_signed || add_conf_ext(x, &ctx, NID_authority_key_identifier, "keyid")) &&
      (!spec.knowledge_agent || add_ds2os_ext(x, kOidKnowledgeAgent, "TRUE", spec.encoding)) &&
      (spec.manifest_hash.empty() ||
       add_ds2os_ext(x, kOidManifestHash, spec.manifest_hash, spec.encoding)) &&
      (ids.empty() || add_ds2os_ext(x, kOidAccessIds, ids, spec.encoding)) &&
      X509_sign(x, signer, EVP_sha256()) > 0 && to_der(x, &out->der) &&
      key_to_der(key.get(), &out->key_der);
  if (!ok) return fail(error, "leaf certificate for " + spec.service_id);
  return true;
}

}  // namespace iotwall::dpi
