#include "dpi/tls_writer.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "dpi/cert_factory.h"
#include "dpi/tls_observer.h"

namespace iotwall::dpi {
namespace {

struct Recorder : TlsListener {
  std::string sni;
  uint16_t version = 0;
  std::vector<CertIdentity> clients, servers;
  std::vector<TlsExchange> exchanges;
  int bad_certs = 0;
  void on_sni(std::string_view host, int64_t) override { sni = host; }
  void on_version(uint16_t v, int64_t) override { version = v; }
  void on_client_identity(const CertIdentity& id, int64_t) override { clients.push_back(id); }
  void on_server_identity(const CertIdentity& id, int64_t) override { servers.push_back(id); }
  void on_bad_certificate(Direction, std::string_view, int64_t) override { ++bad_certs; }
  void on_exchange(const TlsExchange& x) override { exchanges.push_back(x); }
};

// An independent check of record framing: returns the records' types, or
// fails the test.
std::vector<uint8_t> record_types(std::span<const uint8_t> b) {
  std::vector<uint8_t> types;
  while (!b.empty()) {
    REQUIRE(b.size() >= 5);
    REQUIRE(b[0] >= 20);
    REQUIRE(b[0] <= 23);
    REQUIRE(b[1] == 3);
    REQUIRE((b[2] == 1 || b[2] == 3));
    const size_t len = (size_t{b[3]} << 8) | b[4];
    REQUIRE(len >= 1);
    REQUIRE(len <= (1 << 14) + 256);
    REQUIRE(b.size() >= 5 + len);
    types.push_back(b[0]);
    b = b.subspan(5 + len);
  }
  return types;
}

struct Conn {
  std::vector<std::pair<Direction, std::vector<uint8_t>>> chunks;
  void add(Direction d, std::vector<uint8_t> b) {
    record_types(b);
    chunks.emplace_back(d, std::move(b));
  }
  Recorder replay(size_t piece = 0) const {
    Recorder r;
    TlsCounters c;
    TlsObserver o(&r, &c);
    int64_t ts = 0;
    for (const auto& [d, bytes] : chunks) {
      ts += 1000;
      std::span<const uint8_t> b = bytes;
      while (!b.empty()) {
        const size_t n = piece == 0 ? b.size() : std::min(piece, b.size());
        o.on_data(d, b.first(n), ts);
        b = b.subspan(n);
      }
    }
    o.on_close(CloseReason::kFin, ts + 1000);
    CHECK(c.stopped == 0);
    CHECK(c.bad_handshake == 0);
    return r;
  }
};

constexpr Direction kC = Direction::kToServer;
constexpr Direction kS = Direction::kToClient;

struct Certs {
  IssuedCert ka, service;
  Certs(std::vector<std::string> access_ids = {"lightcontrol", "admin"}) {
    std::string error;
    auto f = CertFactory::create("site-ca", &error);
    REQUIRE(f);
    CertSpec spec;
    spec.service_id = "agent1";
    spec.knowledge_agent = true;
    REQUIRE(f->issue(spec, &ka, &error));
    spec = CertSpec();
    spec.service_id = "lightcontrol1";
    spec.access_ids = std::move(access_ids);
    spec.manifest_hash = "cafe";
    REQUIRE(f->issue(spec, &service, &error));
  }
};

// The handshake, then request/reply pairs.
Conn connection(TlsVersion v, const Certs& certs, bool client_cert,
                const std::vector<std::pair<size_t, size_t>>& exchanges, uint64_t seed = 1) {
  TlsWriter w(v, seed);
  Conn c;
  c.add(kC, w.client_hello("agent1.site"));
  c.add(kS, w.server_flight(certs.ka.der, client_cert));
  c.add(kC, w.client_flight(client_cert ? std::span<const uint8_t>(certs.service.der)
                                        : std::span<const uint8_t>()));
  c.add(kS, w.server_finish());
  for (const auto& [request, reply] : exchanges) {
    c.add(kC, w.application_data(request));
    c.add(kS, w.application_data(reply));
  }
  c.add(kC, w.close_notify());
  return c;
}

TEST_CASE("tls writer: TLS 1.2 flights give the intended identities and exchanges") {
  const Certs certs;
  const Conn c = connection(TlsVersion::k12, certs, true, {{200, 1500}, {40000, 10}, {1, 1}});
  CHECK(record_types(c.chunks[0].second) == std::vector<uint8_t>{22});
  CHECK(record_types(c.chunks[2].second) == std::vector<uint8_t>{22, 20, 22});
  CHECK(record_types(c.chunks.back().second) == std::vector<uint8_t>{21});
  CHECK(c.chunks[0].second[2] == 1);  // a ClientHello record says TLS 1.0
  for (size_t piece : {0, 1, 7, 333}) {
    CAPTURE(piece);
    const Recorder r = c.replay(piece);
    CHECK(r.sni == "agent1.site");
    CHECK(r.version == 0x0303);
    REQUIRE(r.servers.size() == 1);
    CHECK(r.servers[0].service_id == "agent1");
    CHECK(r.servers[0].knowledge_agent);
    REQUIRE(r.clients.size() == 1);
    CHECK(r.clients[0].service_id == "lightcontrol1");
    CHECK(r.clients[0].access_ids == std::vector<std::string>{"lightcontrol", "admin"});
    CHECK(r.clients[0].manifest_hash == "cafe");
    REQUIRE(r.exchanges.size() == 3);
    CHECK(r.exchanges[0].client_bytes == 200 + 24);
    CHECK(r.exchanges[0].start_us == 5000);
    CHECK(r.exchanges[0].reply_us == 6000);
    CHECK(r.exchanges[1].client_bytes == 40000 + 3 * 24);
    CHECK(r.exchanges[1].client_records == 3);
    CHECK(r.exchanges[2].client_bytes == 1 + 24);
  }
}

TEST_CASE("tls writer: TLS 1.2 without a client certificate, and a large one") {
  const Certs certs;
  Recorder r = connection(TlsVersion::k12, certs, false, {{10, 10}}).replay();
  CHECK(r.servers.size() == 1);
  CHECK(r.clients.empty());
  CHECK(r.exchanges.size() == 1);

  // A certificate over 16 KiB: the Certificate message spans records.
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i)
    ids.push_back("access-group-" + std::string(90, 'a') + std::to_string(i));
  const Certs big(ids);
  REQUIRE(big.service.der.size() > TlsWriter::kMaxFragment);
  const Conn c = connection(TlsVersion::k12, big, true, {{10, 10}});
  CHECK(record_types(c.chunks[2].second).size() == 4);
  r = c.replay(1000);
  REQUIRE(r.clients.size() == 1);
  CHECK(r.clients[0].access_ids == ids);
}

TEST_CASE("tls writer: TLS 1.3 shows the SNI and the exchanges only") {
  const Certs certs;
  for (bool client_cert : {true, false}) {
    CAPTURE(client_cert);
    const Conn c =
        connection(TlsVersion::k13, certs, client_cert, {{300, 2000}, {20000, 5}, {3, 3}});
    // ServerHello, compatibility CCS, EncryptedExtensions, [CertificateRequest,]
    // Certificate, CertificateVerify, Finished.
    CHECK(record_types(c.chunks[1].second).size() == (client_cert ? 7u : 6u));
    CHECK(record_types(c.chunks[2].second).size() == (client_cert ? 4u : 2u));
    for (size_t piece : {0, 1, 13}) {
      const Recorder r = c.replay(piece);
      CHECK(r.sni == "agent1.site");
      CHECK(r.version == 0x0304);
      CHECK(r.clients.empty());
      CHECK(r.servers.empty());
      REQUIRE(r.exchanges.size() == 3);
      CHECK(r.exchanges[0].client_bytes == 300 + 17);
      CHECK(r.exchanges[1].client_bytes == 20000 + 2 * 17);
      CHECK(r.exchanges[2].client_bytes == 3 + 17);
    }
  }
}

TEST_CASE("tls writer: deterministic per seed, and a garbage certificate is reported") {
  const Certs certs;
  CHECK(connection(TlsVersion::k12, certs, true, {{5, 5}}, 7).chunks ==
        connection(TlsVersion::k12, certs, true, {{5, 5}}, 7).chunks);
  CHECK(connection(TlsVersion::k12, certs, true, {{5, 5}}, 7).chunks !=
        connection(TlsVersion::k12, certs, true, {{5, 5}}, 8).chunks);

  TlsWriter w(TlsVersion::k12, 3);
  const std::vector<uint8_t> junk = {0x30, 0x03, 0x01, 0x02, 0x03};
  Recorder r;
  TlsCounters counters;
  TlsObserver o(&r, &counters);
  o.on_data(kC, w.client_hello(""), 1);
  o.on_data(kS, w.server_flight(junk), 2);
  o.on_data(kC, w.client_flight(certs.service.der), 3);
  CHECK(r.sni.empty());
  CHECK(r.bad_certs == 1);
  CHECK(counters.bad_certificate == 1);
  REQUIRE(r.clients.size() == 1);  // parsing went on
  CHECK(w.application_data(0).empty());
}

}  // namespace
}  // namespace iotwall::dpi
