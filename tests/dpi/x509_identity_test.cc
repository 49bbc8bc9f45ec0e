#include "dpi/x509_identity.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <random>

#include "dpi/cert_factory.h"

namespace iotwall::dpi {
namespace {

std::unique_ptr<CertFactory> make_factory() {
  std::string error;
  auto f = CertFactory::create("site-ca", &error);
  INFO(error);
  REQUIRE(f);
  return f;
}

IssuedCert issue(CertFactory& f, const CertSpec& spec) {
  IssuedCert c;
  std::string error;
  INFO(error);
  REQUIRE(f.issue(spec, &c, &error));
  return c;
}

CertSpec lightcontrol() {
  CertSpec s;
  s.service_id = "lightcontrol1";
  s.access_ids = {"lightcontrol", "admin"};
  s.manifest_hash = "0123456789abcdef";
  return s;
}

TEST_CASE("x509 identity: factory certificates round-trip in every encoding") {
  auto f = make_factory();
  for (ExtensionEncoding enc : {ExtensionEncoding::kUtf8String, ExtensionEncoding::kIa5String,
                                ExtensionEncoding::kPrintableString, ExtensionEncoding::kRaw}) {
    for (bool ka : {false, true}) {
      CAPTURE(static_cast<int>(enc), ka);
      CertSpec spec = lightcontrol();
      spec.encoding = enc;
      spec.knowledge_agent = ka;
      const IssuedCert c = issue(*f, spec);
      CertIdentity id;
      std::string error;
      REQUIRE(parse_x509_identity(c.der, &id, &error));
      CHECK(error.empty());
      CHECK(id.service_id == "lightcontrol1");
      CHECK(id.access_ids == std::vector<std::string>{"lightcontrol", "admin"});
      CHECK(id.manifest_hash == "0123456789abcdef");
      CHECK(id.knowledge_agent == ka);
      CHECK(id.issuer_cn == "site-ca");
      CHECK(id.not_after_s - id.not_before_s == 365LL * 86400);
    }
  }
}

TEST_CASE("x509 identity: long values, explicit validity, no extensions") {
  auto f = make_factory();
  CertSpec spec;
  spec.service_id = "agent1";
  spec.not_before_s = 1500000000;
  spec.not_after_s = 1600000000;
  CertIdentity id;
  std::string error;
  REQUIRE(parse_x509_identity(issue(*f, spec).der, &id, &error));
  CHECK(id.service_id == "agent1");
  CHECK(id.access_ids.empty());
  CHECK(id.manifest_hash.empty());
  CHECK_FALSE(id.knowledge_agent);
  CHECK(id.not_before_s == 1500000000);
  CHECK(id.not_after_s == 1600000000);

  // Values needing 2-byte DER lengths; empty access ids dropped, spaces trimmed.
  spec.access_ids.clear();
  for (int i = 0; i < 100; ++i) spec.access_ids.push_back("group" + std::to_string(i));
  spec.access_ids.push_back("");
  spec.access_ids.push_back(" spaced ");
  spec.manifest_hash = std::string(200, 'a');
  for (ExtensionEncoding enc : {ExtensionEncoding::kUtf8String, ExtensionEncoding::kRaw}) {
    spec.encoding = enc;
    REQUIRE(parse_x509_identity(issue(*f, spec).der, &id, &error));
    REQUIRE(id.access_ids.size() == 101);
    CHECK(id.access_ids[99] == "group99");
    CHECK(id.access_ids[100] == "spaced");
    CHECK(id.manifest_hash == spec.manifest_hash);
  }

  // The CA's own certificate: self-issued.
  REQUIRE(parse_x509_identity(f->ca().der, &id, &error));
  CHECK(id.service_id == "site-ca");
  CHECK(id.issuer_cn == "site-ca");

  // A forger's self-signed certificate parses too (no verification here).
  spec = lightcontrol();
  spec.self_signed = true;
  REQUIRE(parse_x509_identity(issue(*f, spec).der, &id, &error));
  CHECK(id.service_id == "lightcontrol1");
  CHECK(id.issuer_cn == "lightcontrol1");
}

TEST_CASE("x509 identity: control characters are rejected") {
  auto f = make_factory();
  CertSpec spec = lightcontrol();
  spec.service_id = "evil\nname";
  CertIdentity id;
  std::string error;
  CHECK_FALSE(parse_x509_identity(issue(*f, spec).der, &id, &error));
  CHECK(error.find("control") != std::string::npos);

  spec = lightcontrol();
  spec.access_ids = {"a\x01", "b"};
  CHECK_FALSE(parse_x509_identity(issue(*f, spec).der, &id, &error));
  CHECK(error.find("control") != std::string::npos);
}

TEST_CASE("x509 identity: garbage, truncation and corruption never crash") {
  auto f = make_factory();
  const std::vector<uint8_t> der = issue(*f, lightcontrol()).der;
  CertIdentity id;
  std::string error;

  CHECK_FALSE(parse_x509_identity({}, &id, &error));
  CHECK(error == "empty certificate");

  for (size_t n = 1; n < der.size(); ++n) {
    CAPTURE(n);
    error.clear();
    REQUIRE_FALSE(parse_x509_identity(std::span(der).first(n), &id, &error));
    REQUIRE_FALSE(error.empty());
    REQUIRE(id.service_id.empty());
  }

  std::vector<uint8_t> trailing = der;
  trailing.push_back(0);
  CHECK_FALSE(parse_x509_identity(trailing, &id, &error));
  CHECK(error == "trailing bytes after the certificate");

  std::vector<uint8_t> huge(kMaxCertDer + 1, 0x30);
  CHECK_FALSE(parse_x509_identity(huge, &id, &error));

  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> junk(rng() % 600);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    if (!junk.empty() && i % 2 == 0) junk[0] = 0x30;  // a SEQUENCE, to get further
    CHECK_FALSE(parse_x509_identity(junk, &id, &error));
  }
  // Every single-byte corruption: parses or fails, never crashes.
  int parsed = 0;
  for (size_t i = 0; i < der.size(); ++i) {
    std::vector<uint8_t> bad = der;
    bad[i] ^= static_cast<uint8_t>(1 + rng() % 255);
    parsed += parse_x509_identity(bad, &id, &error);
  }
  CHECK(parsed < static_cast<int>(der.size()));
}

TEST_CASE("cert factory: fast enough for the simulator") {
  auto f = make_factory();
  const auto t0 = std::chrono::steady_clock::now();
  constexpr int kCerts = 200;
  for (int i = 0; i < kCerts; ++i) {
    CertSpec spec = lightcontrol();
    spec.service_id = "svc" + std::to_string(i);
    const IssuedCert c = issue(*f, spec);
    REQUIRE(!c.key_der.empty());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN(kCerts / s << " certificates per second");
  CHECK(kCerts / s > 50);  // a loose bound: sanitizers and a shared CPU
  std::string error;
  IssuedCert c;
  CHECK_FALSE(f->issue(CertSpec(), &c, &error));
  CHECK(error.find("empty service id") != std::string::npos);
}

}  // namespace
}  // namespace iotwall::dpi
