#include "dpi/tls_observer.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "dpi/cert_factory.h"
#include "dpi/tls_writer.h"

namespace iotwall::dpi {
namespace {

// One side's bytes as the wire carried them, in capture order.
struct Chunk {
  Direction d;
  std::vector<uint8_t> bytes;
};

// Logs every event as a line, so runs compare as vectors of strings.
struct Recorder : TlsListener {
  std::vector<std::string> log;
  std::vector<CertIdentity> clients, servers;
  std::vector<TlsExchange> exchanges;
  void on_sni(std::string_view host, int64_t ts) override {
    log.push_back("sni " + std::string(host) + " @" + std::to_string(ts));
  }
  void on_version(uint16_t v, int64_t ts) override {
    log.push_back("version " + std::to_string(v) + " @" + std::to_string(ts));
  }
  void on_client_identity(const CertIdentity& id, int64_t ts) override {
    clients.push_back(id);
    log.push_back("client " + id.service_id + " @" + std::to_string(ts));
  }
  void on_server_identity(const CertIdentity& id, int64_t ts) override {
    servers.push_back(id);
    log.push_back("server " + id.service_id + " @" + std::to_string(ts));
  }
  void on_bad_certificate(Direction d, std::string_view why, int64_t ts) override {
    log.push_back("bad cert " + std::to_string(static_cast<int>(d)) + " " + std::string(why) +
                  " @" + std::to_string(ts));
  }
  void on_exchange(const TlsExchange& x) override {
    exchanges.push_back(x);
    log.push_back("exchange @" + std::to_string(x.start_us) + " reply @" +
                  std::to_string(x.reply_us) + " " + std::to_string(x.client_bytes) + "B/" +
                  std::to_string(x.client_records));
  }
};

// Feeds chunk i at time 1000*(i+1), each in pieces of at most `piece`
// bytes (0: whole), then closes.
Recorder replay(const std::vector<Chunk>& chunks, size_t piece, TlsCounters* counters) {
  Recorder r;
  TlsObserver o(&r, counters);
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::span<const uint8_t> b = chunks[i].bytes;
    const int64_t ts = 1000 * static_cast<int64_t>(i + 1);
    while (!b.empty()) {
      const size_t n = piece == 0 ? b.size() : std::min(piece, b.size());
      o.on_data(chunks[i].d, b.first(n), ts);
      b = b.subspan(n);
    }
  }
  o.on_close(CloseReason::kFin, 1000 * static_cast<int64_t>(chunks.size() + 1));
  return r;
}

// Two OpenSSL endpoints over memory BIOs; every byte relayed is recorded.
class Pair {
 public:
  Pair(int max_version, const IssuedCert& server, const IssuedCert& client) {
    sctx_ = ctx(TLS_server_method(), max_version, server);
    cctx_ = ctx(TLS_client_method(), max_version, client);
    s_ = SSL_new(sctx_);
    c_ = SSL_new(cctx_);
    REQUIRE((s_ && c_));
    SSL_set_tlsext_host_name(c_, "agent1.site.example");
    SSL_set_bio(c_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_bio(s_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(c_);
    SSL_set_accept_state(s_);
  }
  ~Pair() {
    SSL_free(c_);
    SSL_free(s_);
    SSL_CTX_free(cctx_);
    SSL_CTX_free(sctx_);
  }

  void handshake() {
    for (int i = 0; i < 20; ++i) {
      const int rc = SSL_do_handshake(c_);
      relay();
      const int rs = SSL_do_handshake(s_);
      relay();
      if (rc == 1 && rs == 1) {
        relay();
        return;
      }
    }
    FAIL("handshake did not complete: " << ERR_error_string(ERR_get_error(), nullptr));
  }
  // One request and its reply, each read by the other side.
  void exchange(size_t request, size_t reply) {
    write(c_, request);
    read(s_, request);
    write(s_, reply);
    read(c_, reply);
  }
  void write(SSL* ssl, size_t n) {
    const std::string data(n, 'x');
    REQUIRE(SSL_write(ssl, data.data(), static_cast<int>(n)) == static_cast<int>(n));
    relay();
  }
  void read(SSL* ssl, size_t n) {
    std::string buf(n + 1, '\0');
    size_t got = 0;
    while (got < n) {
      const int r = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
      relay();
      REQUIRE(r > 0);
      got += static_cast<size_t>(r);
    }
  }
  void close() {
    SSL_shutdown(c_);
    relay();
  }
  SSL* client() { return c_; }
  SSL* server() { return s_; }
  const std::vector<Chunk>& chunks() const { return chunks_; }

 private:
  static int accept_any(int, X509_STORE_CTX*) { return 1; }

  static SSL_CTX* ctx(const SSL_METHOD* m, int max_version, const IssuedCert& id) {
    SSL_CTX* c = SSL_CTX_new(m);
    REQUIRE(c);
    REQUIRE(SSL_CTX_set_max_proto_version(c, max_version) == 1);
    const unsigned char* p = id.der.data();
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(id.der.size()));
    p = id.key_der.data();
    EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(id.key_der.size()));
    REQUIRE((x && k));
    REQUIRE(SSL_CTX_use_certificate(c, x) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(c, k) == 1);
    X509_free(x);
    EVP_PKEY_free(k);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
    return c;
  }

  void move(SSL* from, SSL* to, Direction d) {
    BIO* out = SSL_get_wbio(from);
    char buf[4096];
    std::vector<uint8_t> got;
    int n;
    while ((n = BIO_read(out, buf, sizeof buf)) > 0) got.insert(got.end(), buf, buf + n);
    if (got.empty()) return;
    BIO_write(SSL_get_rbio(to), got.data(), static_cast<int>(got.size()));
    chunks_.push_back({d, std::move(got)});
  }
  void relay() {
    move(c_, s_, Direction::kToServer);
    move(s_, c_, Direction::kToClient);
  }

  SSL_CTX* sctx_ = nullptr;
  SSL_CTX* cctx_ = nullptr;
  SSL* s_ = nullptr;
  SSL* c_ = nullptr;
  std::vector<Chunk> chunks_;
};

struct Site {
  std::unique_ptr<CertFactory> factory;
  IssuedCert ka, service;
  Site() {
    std::string error;
    factory = CertFactory::create("site-ca", &error);
    REQUIRE(factory);
    CertSpec ka_spec;
    ka_spec.service_id = "agent1";
    ka_spec.knowledge_agent = true;
    REQUIRE(factory->issue(ka_spec, &ka, &error));
    CertSpec svc;
    svc.service_id = "lightcontrol1";
    svc.access_ids = {"lightcontrol", "admin"};
    svc.manifest_hash = "0123456789abcdef";
    REQUIRE(factory->issue(svc, &service, &error));
  }
};

uint64_t total(const TlsCounters& c) {
  uint64_t n = 0;
  c.for_each([&](std::string_view, uint64_t v) { n += v; });
  return n;
}

TEST_CASE("tls observer: real TLS 1.2 handshake with client certificate") {
  Site site;
  Pair pair(TLS1_2_VERSION, site.ka, site.service);
  pair.handshake();
  REQUIRE(SSL_version(pair.client()) == TLS1_2_VERSION);
  const size_t handshake_chunks = pair.chunks().size();
  pair.exchange(200, 1500);
  pair.exchange(50, 20000);  // a reply of two records
  pair.exchange(30000, 10);  // a request of two records
  pair.close();

  TlsCounters counters;
  const Recorder r = replay(pair.chunks(), 0, &counters);
  REQUIRE(r.servers.size() == 1);
  CHECK(r.servers[0].service_id == "agent1");
  CHECK(r.servers[0].knowledge_agent);
  REQUIRE(r.clients.size() == 1);
  CHECK(r.clients[0].service_id == "lightcontrol1");
  CHECK(r.clients[0].access_ids == std::vector<std::string>{"lightcontrol", "admin"});
  CHECK(r.clients[0].manifest_hash == "0123456789abcdef");
  CHECK(r.clients[0].issuer_cn == "site-ca");
  CHECK(r.log[0] == "sni agent1.site.example @1000");
  CHECK(r.log[1] == "version 771 @2000");
  REQUIRE(r.exchanges.size() == 3);
  CHECK(r.exchanges[0].start_us == 1000 * static_cast<int64_t>(handshake_chunks + 1));
  CHECK(r.exchanges[0].reply_us > r.exchanges[0].start_us);
  CHECK(r.exchanges[0].client_records == 1);
  CHECK(r.exchanges[0].client_bytes == 200 + 24);  // AES-GCM: nonce + tag
  CHECK(r.exchanges[2].client_records == 2);
  CHECK(r.exchanges[2].client_bytes == 30000 + 2 * 24);
  CHECK(counters.exchanges == 3);
  CHECK(counters.certificates == 2);
  CHECK(counters.stopped == 0);
  CHECK(counters.bad_handshake == 0);
  CHECK(counters.encrypted_records >= 3);  // two Finished, a close_notify

  SECTION("any split gives the same events") {
    for (size_t piece : {1, 2, 3, 5, 7, 64, 1000}) {
      TlsCounters c2;
      CAPTURE(piece);
      CHECK(replay(pair.chunks(), piece, &c2).log == r.log);
      CHECK(c2.records == counters.records);
    }
    // Every split point of every handshake chunk.
    for (size_t i = 0; i < handshake_chunks; ++i) {
      for (size_t k = 1; k < pair.chunks()[i].bytes.size(); ++k) {
        // The halves of chunk i share its time.
        Recorder rr;
        TlsCounters c3;
        TlsObserver o(&rr, &c3);
        for (size_t j = 0; j < pair.chunks().size(); ++j) {
          const Chunk& c = pair.chunks()[j];
          const int64_t ts = 1000 * static_cast<int64_t>(j + 1);
          if (j == i) {
            o.on_data(c.d, std::span(c.bytes).first(k), ts);
            o.on_data(c.d, std::span(c.bytes).subspan(k), ts);
          } else {
            o.on_data(c.d, c.bytes, ts);
          }
        }
        o.on_close(CloseReason::kFin, 1000 * static_cast<int64_t>(pair.chunks().size() + 1));
        REQUIRE(rr.log == r.log);
      }
    }
  }

  SECTION("looks_like_tls on both first flights") {
    CHECK(TlsObserver::looks_like_tls(pair.chunks()[0].bytes));
    CHECK(TlsObserver::looks_like_tls(pair.chunks()[1].bytes));
    CHECK(TlsObserver::looks_like_tls(std::span(pair.chunks()[0].bytes).first(3)));
  }

  SECTION("truncated captures: no crash, never a wrong identity") {
    std::vector<uint8_t> flat;  // the client's handshake bytes
    for (size_t i = 0; i < handshake_chunks; ++i) {
      const Chunk& c = pair.chunks()[i];
      if (c.d == Direction::kToServer) flat.insert(flat.end(), c.bytes.begin(), c.bytes.end());
    }
    size_t identified = 0;
    for (size_t n = 0; n <= flat.size(); ++n) {
      Recorder rr;
      TlsCounters c4;
      TlsObserver o(&rr, &c4);
      o.on_data(Direction::kToServer, std::span(flat).first(n), 1);
      o.on_close(CloseReason::kReset, 2);
      for (const CertIdentity& id : rr.clients) REQUIRE(id.service_id == "lightcontrol1");
      identified += rr.clients.size();
      REQUIRE(rr.servers.empty());
      REQUIRE(c4.stopped == 0);  // a prefix is not malformed
    }
    CHECK(identified > 0);
    CHECK(identified < flat.size());
  }

  SECTION("corrupted captures never crash") {
    std::mt19937 rng(7);
    for (int round = 0; round < 300; ++round) {
      std::vector<Chunk> bad = pair.chunks();
      Chunk& c = bad[rng() % handshake_chunks];
      for (int k = 0; k < 3; ++k) c.bytes[rng() % c.bytes.size()] = static_cast<uint8_t>(rng());
      TlsCounters c5;
      replay(bad, 1 + rng() % 50, &c5);
    }
  }
}

TEST_CASE("tls observer: real TLS 1.3 shows only the SNI") {
  Site site;
  Pair pair(TLS1_3_VERSION, site.ka, site.service);
  pair.handshake();
  REQUIRE(SSL_version(pair.client()) == TLS1_3_VERSION);
  for (int i = 0; i < 4; ++i) pair.exchange(100 + static_cast<size_t>(i), 700);
  pair.exchange(3, 5);  // tiny, but not the size of an encrypted alert (2 + 17)
  pair.close();

  TlsCounters counters;
  const Recorder r = replay(pair.chunks(), 0, &counters);
  CHECK(r.clients.empty());
  CHECK(r.servers.empty());
  REQUIRE(r.log.size() >= 2);
  CHECK(r.log[0] == "sni agent1.site.example @1000");
  CHECK(r.log[1] == "version 772 @2000");
  REQUIRE(r.exchanges.size() == 5);
  for (int i = 0; i < 4; ++i) {
    CHECK(r.exchanges[static_cast<size_t>(i)].client_bytes == 100 + static_cast<size_t>(i) + 17);
    CHECK(r.exchanges[static_cast<size_t>(i)].client_records == 1);
  }
  CHECK(r.exchanges[4].client_bytes == 3 + 17);
  CHECK(counters.stopped == 0);
  for (size_t piece : {1, 3, 100}) CHECK(replay(pair.chunks(), piece, &counters).log == r.log);
}

TEST_CASE("tls observer: malformed input is counted and stops the direction") {
  Recorder r;
  TlsCounters c;
  SECTION("not TLS") {
    const std::string http = "GET /vsl/agent1 HTTP/1.1\r\n\r\n";
    const std::span<const uint8_t> b(reinterpret_cast<const uint8_t*>(http.data()), http.size());
    CHECK_FALSE(TlsObserver::looks_like_tls(b));
    TlsObserver o(&r, &c);
    o.on_data(Direction::kToServer, b, 1);
    CHECK(c.bad_record_type == 1);
    CHECK(o.stopped(Direction::kToServer));
    CHECK_FALSE(o.stopped(Direction::kToClient));
    o.on_data(Direction::kToServer, b, 2);  // ignored
    CHECK(c.stopped == 1);
  }
  SECTION("bad version, oversize and empty records") {
    const uint8_t version[] = {22, 2, 0, 0, 1, 1};
    const uint8_t oversize[] = {23, 3, 3, 0x48, 0x01};
    const uint8_t empty[] = {22, 3, 3, 0, 0};
    CHECK_FALSE(TlsObserver::looks_like_tls(version));
    CHECK_FALSE(TlsObserver::looks_like_tls(empty));
    TlsObserver o1(&r, &c), o2(&r, &c), o3(&r, &c);
    o1.on_data(Direction::kToServer, version, 1);
    o2.on_data(Direction::kToClient, oversize, 1);
    o3.on_data(Direction::kToClient, empty, 1);
    CHECK(c.bad_record_version == 1);
    CHECK(c.bad_record_length == 2);
  }
  SECTION("a handshake message that does not parse") {
    const uint8_t hello[] = {22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0};  // ClientHello cut short
    TlsObserver o(&r, &c);
    o.on_data(Direction::kToServer, hello, 1);
    CHECK(c.bad_handshake == 1);
  }
  SECTION("a ClientHello from the server side") {
    TlsWriter w(TlsVersion::k12, 1);
    TlsObserver o(&r, &c);
    o.on_data(Direction::kToClient, w.client_hello("x"), 1);
    CHECK(c.wrong_direction == 1);
    CHECK(r.log.empty());
  }
  SECTION("random garbage") {
    std::mt19937 rng(3);
    for (int i = 0; i < 2000; ++i) {
      std::vector<uint8_t> junk(1 + rng() % 300);
      for (auto& b : junk) b = static_cast<uint8_t>(rng());
      junk[0] = static_cast<uint8_t>(20 + rng() % 5);
      if (junk.size() > 2) junk[1] = 3, junk[2] = static_cast<uint8_t>(rng() % 5);
      TlsObserver o(&r, &c);
      o.on_data(static_cast<Direction>(rng() % 2), junk, 1);
      o.on_close(CloseReason::kFin, 2);
    }
    CHECK(total(c) > 0);
  }
}

TEST_CASE("tls observer: oversize handshake messages are skipped, gaps") {
  TlsWriter w(TlsVersion::k12, 9);
  Recorder r;
  TlsCounters c;
  TlsObserver o(&r, &c);
  // A 70000-byte handshake message (type 99) in 5 records, then a ClientHello.
  std::vector<uint8_t> big = {99, 0x01, 0x11, 0x70};
  big.resize(4 + 70000, 0xab);
  std::vector<uint8_t> stream;
  for (size_t at = 0; at < big.size(); at += 16384) {
    const size_t n = std::min<size_t>(16384, big.size() - at);
    stream.insert(stream.end(), {22, 3, 3, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
    stream.insert(stream.end(), big.begin() + static_cast<long>(at),
                  big.begin() + static_cast<long>(at + n));
  }
  const std::vector<uint8_t> hello = w.client_hello("agent1");
  stream.insert(stream.end(), hello.begin(), hello.end());
  o.on_data(Direction::kToServer, stream, 5);
  CHECK(c.skipped_handshake == 1);
  CHECK(o.sni() == "agent1");
  CHECK(o.offered_version() == 0x0303);

  // A gap inside an application-data record is skipped exactly.
  const std::vector<uint8_t> data = w.application_data(1000);
  o.on_data(Direction::kToServer, std::span(data).first(100), 6);
  o.on_gap(Direction::kToServer, 500, 6);
  o.on_data(Direction::kToServer, std::span(data).subspan(600), 7);
  o.on_data(Direction::kToServer, w.application_data(10), 8);
  o.on_close(CloseReason::kFin, 9);
  REQUIRE(r.exchanges.size() == 1);
  CHECK(r.exchanges[0].client_records == 2);
  CHECK(r.exchanges[0].client_bytes == 1000 + 10 + 2 * 24);
  CHECK(r.exchanges[0].reply_us == 0);
  CHECK(c.gaps == 0);
  // One that crosses a record boundary stops the direction.
  o.on_gap(Direction::kToServer, 10, 10);
  CHECK(c.gaps == 1);
  CHECK(o.stopped(Direction::kToServer));
}

}  // namespace
}  // namespace iotwall::dpi
