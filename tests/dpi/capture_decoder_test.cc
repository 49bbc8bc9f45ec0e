// CaptureDecoder: frames in, accesses out, on connections written with
// TcpWriter (real Ethernet/IPv4/TCP frames).
#include "dpi/capture_decoder.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "dpi/cert_factory.h"
#include "dpi/pcap_writer.h"
#include "dpi/tcp_writer.h"
#include "dpi/tls_writer.h"

using namespace iotwall;
using namespace iotwall::dpi;

namespace {

// Collects the frames of a connection.
struct Frames : SegmentSink {
  std::vector<std::pair<int64_t, std::vector<uint8_t>>> frames;
  int64_t ts = 0;
  void put(TcpSegment s) override {
    std::vector<uint8_t> f;
    build_frame(s, static_cast<uint16_t>(frames.size()), &f);
    frames.emplace_back(ts, std::move(f));
  }
};

Endpoint ep(const char* ip, uint16_t port) { return Endpoint{*parse_ip(ip), port}; }

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

struct Run {
  Interner in;
  SiteMap site;
  std::vector<Access> out;
  uint64_t mismatch = 0, edge = 0;

  void decode(const Frames& f) {
    CaptureDecoder d(CaptureOptions{}, site, in);
    int64_t t = 1'000'000;
    for (const auto& [ts, frame] : f.frames) d.packet(LinkType::kEthernet, frame, t += 100);
    d.finish(t);
    Access a;
    while (d.next(&a)) out.push_back(a);
    d.for_each([&](std::string_view k, uint64_t v) {
      if (k == "tls_identity_mismatch") mismatch = v;
      if (k == "accesses_edge_level") edge = v;
    });
  }
};

}  // namespace

TEST_CASE("capture decoder: a TLS handshake split into 1-byte segments is still TLS", "[capture]") {
  std::string error;
  auto certs = CertFactory::create("site-ca", &error);
  REQUIRE(certs);
  IssuedCert client, server;
  CertSpec cs;
  cs.service_id = "lightcontrol1";
  REQUIRE(certs->issue(cs, &client, &error));
  CertSpec ss;
  ss.service_id = "agent1";
  ss.knowledge_agent = true;
  REQUIRE(certs->issue(ss, &server, &error));

  Frames f;
  TcpWriter w(&f, ep("10.2.0.1", 40000), ep("10.0.0.1", 8081), 7);
  int64_t t = w.connect(1'000'000);
  TlsWriter tls(TlsVersion::k12, 3);
  const std::vector<uint8_t> hello = tls.client_hello("");
  // The ClientHello one byte at a time (an evasion: sniffing must wait).
  for (size_t i = 0; i < 6; ++i) t = w.send(Direction::kToServer, std::span(hello).subspan(i, 1), t + 10, false);
  t = w.send(Direction::kToServer, std::span(hello).subspan(6), t + 10, false);
  t = w.send(Direction::kToClient, tls.server_flight(server.der), t + 10, false);
  t = w.send(Direction::kToServer, tls.client_flight(client.der), t + 10, false);
  t = w.send(Direction::kToClient, tls.server_finish(), t + 10, false);
  for (int i = 0; i < 3; ++i) {
    t = w.send(Direction::kToServer, tls.application_data(120), t + 1000, false);
    t = w.send(Direction::kToClient, tls.application_data(200), t + 10, true);
  }
  w.close(t + 10);

  Run r;
  r.decode(f);
  REQUIRE(r.out.size() == 3);
  CHECK(r.edge == 3);
  for (const Access& a : r.out) {
    CHECK(r.in.str(a.source_id) == "lightcontrol1");
    CHECK(r.in.str(a.dest_address) == "agent1");
    CHECK(a.op == Operation::kUnknown);
  }
  CHECK(r.mismatch == 0);

  // The same connection from an IP the site map gives to another service:
  // the certificate still names the caller (certificate first), and the
  // disagreement is counted.
  Run other;
  other.site.services.push_back(SiteService{"doorlock1", "/agent1/doorlock1", "/doorLock", "Entrance",
                                            parse_ip("10.2.0.1"), false});
  other.decode(f);
  REQUIRE(other.out.size() == 3);
  CHECK(other.in.str(other.out[0].source_id) == "lightcontrol1");
  CHECK(other.mismatch == 3);
}

TEST_CASE("capture decoder: plaintext VSL with a first segment shorter than the sniff", "[capture]") {
  Frames f;
  TcpWriter w(&f, ep("10.2.0.1", 40000), ep("10.0.0.1", 8081), 9);
  int64_t t = w.connect(1'000'000);
  const auto req = bytes("GET /vsl/agent1/temp1/temperature HTTP/1.1\r\nHost: ka\r\n\r\n");
  t = w.send(Direction::kToServer, std::span(req).subspan(0, 2), t + 10, false);
  t = w.send(Direction::kToServer, std::span(req).subspan(2), t + 10, false);
  const auto resp = bytes(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n"
      "{\"value\":\"21.5\",\"types\":[\"/basic/number\"]}");
  t = w.send(Direction::kToClient, resp, t + 10, true);
  w.close(t + 10);
  Run r;
  r.decode(f);
  REQUIRE(r.out.size() == 1);
  const Access& a = r.out[0];
  CHECK(a.op == Operation::kRead);
  CHECK(r.in.str(a.node_address) == "/agent1/temp1/temperature");
  CHECK(r.in.str(a.node_type) == "/basic/number");
  CHECK(a.value.kind == Value::Kind::kNumber);
  CHECK(a.value.number == Approx(21.5));
  CHECK(r.in.str(a.source_id) == "10.2.0.1");
}

TEST_CASE("capture decoder inline: a request split over segments is complete only at its last", "[capture][inline]") {
  Frames f;
  TcpWriter w(&f, ep("10.2.0.1", 40000), ep("10.0.0.1", 8081), 7, /*mss=*/60);
  int64_t t = w.connect(1'000'000);
  const size_t handshake = f.frames.size();
  const std::string put =
      "PUT /vsl/agent1/lightcontrol1/state HTTP/1.1\r\nHost: 10.0.0.1:8081\r\n"
      "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"value\": \"true\"}";
  t = w.send(Direction::kToServer, bytes(put), t + 10, false);
  const size_t request_end = f.frames.size();
  t = w.send(Direction::kToClient, bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), t + 10, false);
  const std::string get = "GET /vsl/agent1/lightcontrol1/state HTTP/1.1\r\nHost: 10.0.0.1:8081\r\n\r\n";
  t = w.send(Direction::kToServer, bytes(get), t + 10, false);
  const size_t get_end = f.frames.size();
  t = w.send(Direction::kToClient,
             bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"
                   "{\"value\": \"true\"}"),
             t + 10, false);
  REQUIRE(request_end - handshake > 2);  // the request really is split

  Interner in;
  SiteMap site;
  CaptureOptions o;
  o.inline_mode = true;
  CaptureDecoder d(o, site, in);
  std::vector<int> accesses_at;
  uint8_t* first_mark = nullptr;
  for (size_t i = 0; i < f.frames.size(); ++i) {
    const auto& frame = f.frames[i].second;
    const auto ip = std::span<const uint8_t>(frame).subspan(14);  // NFQUEUE gives IP packets
    const InlinePacket& p = d.packet_inline(ip, 2'000'000 + static_cast<int64_t>(i) * 100);
    REQUIRE(p.status == ParseStatus::kOk);
    REQUIRE(p.info.id != 0);
    REQUIRE(p.mark != nullptr);
    if (first_mark == nullptr) {
      first_mark = p.mark;
      *p.mark = 7;  // the caller's byte sticks to the connection
    }
    CHECK(*p.mark == 7);
    if (i >= handshake && i + 1 < request_end && p.payload) {
      CHECK(p.incomplete);
      CHECK(p.accesses.empty());
    }
    for (const Access& a : p.accesses) {
      accesses_at.push_back(static_cast<int>(i));
      CHECK(in.str(a.source_id) == "10.2.0.1");
      CHECK(in.str(a.node_address) == "/agent1/lightcontrol1/state");
    }
    if (!p.accesses.empty() && p.accesses[0].op == Operation::kRead) {
      CHECK(p.accesses[0].value.kind == Value::Kind::kEmpty);  // decided before its answer
    }
    if (p.dir == Direction::kToClient) CHECK_FALSE(p.incomplete);
  }
  // The write at its last segment, the read at its request's last segment
  // (not at the response).
  REQUIRE(accesses_at.size() == 2);
  CHECK(accesses_at[0] == static_cast<int>(request_end) - 1);
  CHECK(accesses_at[1] <= static_cast<int>(get_end) - 1);
  CHECK(accesses_at[1] >= static_cast<int>(request_end));
  Access a;
  CHECK_FALSE(d.next(&a, true));  // nothing goes through the reorder buffer inline

  const Access edge = d.edge_access(d.packet_inline(std::span<const uint8_t>(f.frames[0].second).subspan(14), 3'000'000).info, 3'000'000);
  CHECK(edge.op == Operation::kUnknown);
  CHECK(in.str(edge.source_id) == "10.2.0.1");
  CHECK(in.str(edge.dest_address) == "10.0.0.1:8081");
}
