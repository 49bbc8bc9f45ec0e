#include "dpi/flow_table.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace iotwall::dpi;

namespace {

// What one connection's handler saw; outlives the handler.
struct Record {
  ConnectionInfo info;
  std::string data[2];
  std::vector<uint64_t> gaps[2];
  bool closed = false;
  CloseReason why = CloseReason::kShutdown;
  int64_t close_us = 0;
  bool destroyed = false;
  bool event_after_close = false;
};

class RecordingHandler : public ConnectionHandler {
 public:
  explicit RecordingHandler(std::shared_ptr<Record> r) : r_(std::move(r)) {}
  ~RecordingHandler() override { r_->destroyed = true; }
  void on_data(Direction d, std::span<const uint8_t> b, int64_t) override {
    r_->event_after_close |= r_->closed;
    r_->data[static_cast<int>(d)].append(b.begin(), b.end());
  }
  void on_gap(Direction d, uint64_t missing, int64_t) override {
    r_->event_after_close |= r_->closed;
    r_->gaps[static_cast<int>(d)].push_back(missing);
  }
  void on_close(CloseReason why, int64_t ts_us) override {
    r_->event_after_close |= r_->closed;
    r_->closed = true;
    r_->why = why;
    r_->close_us = ts_us;
  }

 private:
  std::shared_ptr<Record> r_;
};

class RecordingFactory : public ConnectionFactory {
 public:
  std::unique_ptr<ConnectionHandler> open(const ConnectionInfo& c) override {
    auto r = std::make_shared<Record>();
    r->info = c;
    records.push_back(r);
    return std::make_unique<RecordingHandler>(r);
  }
  std::vector<std::shared_ptr<Record>> records;
};

Endpoint v4(uint32_t host, uint16_t port) {
  Endpoint e;
  e.ip.family = 4;
  e.ip.bytes[0] = 10;
  e.ip.bytes[1] = static_cast<uint8_t>(host >> 16);
  e.ip.bytes[2] = static_cast<uint8_t>(host >> 8);
  e.ip.bytes[3] = static_cast<uint8_t>(host);
  e.port = port;
  return e;
}

Endpoint v6(uint8_t host, uint16_t port) {
  Endpoint e;
  e.ip.family = 6;
  e.ip.bytes[0] = 0xfe;
  e.ip.bytes[1] = 0x80;
  e.ip.bytes[15] = host;
  e.port = port;
  return e;
}

// Payload strings must outlive the packet: keep them in a test-owned store.
struct Wire {
  Packet tcp(Endpoint src, Endpoint dst, uint8_t flags, uint32_t seq, uint32_t ack,
             const std::string& payload = "") {
    store.push_back(std::make_unique<std::string>(payload));
    Packet p;
    p.src = src;
    p.dst = dst;
    p.protocol = kIpProtoTcp;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.payload = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(store.back()->data()),
                                         store.back()->size());
    return p;
  }
  std::vector<std::unique_ptr<std::string>> store;
};

constexpr uint8_t kSynAck = kTcpSyn | kTcpAck;
constexpr uint8_t kPshAck = kTcpPsh | kTcpAck;
constexpr uint8_t kFinAck = kTcpFin | kTcpAck;

}  // namespace

TEST_CASE("handshake, data both ways and FIN teardown", "[flow_table]") {
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);
  Wire w;
  const Endpoint c = v4(1, 40000), s = v4(2, 8081);
  table.packet(w.tcp(c, s, kTcpSyn, 1000, 0), 10);
  REQUIRE(factory.records.size() == 1);
  const Record& r = *factory.records[0];
  CHECK(r.info.client == c);
  CHECK(r.info.server == s);
  CHECK(r.info.id == 1);
  CHECK(r.info.start_us == 10);
  table.packet(w.tcp(s, c, kSynAck, 5000, 1001), 11);
  table.packet(w.tcp(c, s, kTcpAck, 1001, 5001), 12);
  table.packet(w.tcp(c, s, kPshAck, 1001, 5001, "GET /x"), 13);
  table.packet(w.tcp(s, c, kPshAck, 5001, 1007, "200 OK"), 14);
  table.packet(w.tcp(c, s, kPshAck, 1007, 5007, " more"), 15);
  CHECK(r.data[0] == "GET /x more");
  CHECK(r.data[1] == "200 OK");
  table.packet(w.tcp(c, s, kFinAck, 1012, 5007), 16);
  CHECK_FALSE(r.closed);
  table.packet(w.tcp(s, c, kFinAck, 5007, 1013), 17);
  CHECK(r.closed);
  CHECK(r.why == CloseReason::kFin);
  CHECK(r.destroyed);
  CHECK_FALSE(r.event_after_close);
  CHECK(table.size() == 0);
  table.packet(w.tcp(c, s, kTcpAck, 1013, 5008), 18);  // the last ACK opens nothing
  CHECK(factory.records.size() == 1);
  const FlowTableCounters& k = table.counters();
  CHECK(k.flows_opened == 1);
  CHECK(k.flows_closed_fin == 1);
  CHECK(k.flows_current == 0);
  CHECK(k.flows_peak == 1);
  CHECK(k.tcp_without_flow == 1);
  CHECK(k.reassembly.bytes_delivered == 17);
}

TEST_CASE("a FIN arriving before the last data waits for it", "[flow_table]") {
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);
  Wire w;
  const Endpoint c = v4(1, 40000), s = v4(2, 80);
  table.packet(w.tcp(c, s, kTcpSyn, 0, 0), 1);
  table.packet(w.tcp(s, c, kSynAck, 0, 1), 2);
  table.packet(w.tcp(c, s, kFinAck, 4, 1, "d"), 3);  // FIN carries the last byte
  table.packet(w.tcp(s, c, kFinAck, 1, 6), 4);
  const Record& r = *factory.records[0];
  CHECK_FALSE(r.closed);  // bytes 1..3 are missing
  table.packet(w.tcp(c, s, kPshAck, 1, 1, "abc"), 5);
  CHECK(r.closed);
  CHECK(r.why == CloseReason::kFin);
  CHECK(r.data[0] == "abcd");
}

TEST_CASE("RST closes at once, after pending data", "[flow_table]") {
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);
  Wire w;
  const Endpoint c = v4(1, 40000), s = v4(2, 80);
  table.packet(w.tcp(c, s, kTcpSyn, 0, 0), 1);
  table.packet(w.tcp(s, c, kSynAck, 0, 1), 2);
  table.packet(w.tcp(c, s, kPshAck, 4, 1, "late"), 3);  // bytes 1..3 lost
  table.packet(w.tcp(s, c, kTcpRst, 1, 0), 4);
  const Record& r = *factory.records[0];
  CHECK(r.closed);
  CHECK(r.why == CloseReason::kReset);
  CHECK(r.gaps[0] == std::vector<uint64_t>{3});
  CHECK(r.data[0] == "late");
  CHECK(table.counters().flows_closed_reset == 1);
  CHECK(table.counters().reassembly.buffered_bytes == 0);
  CHECK(table.size() == 0);
}

TEST_CASE("idle flows expire: short timeout for half-open, long for established", "[flow_table]") {
  RecordingFactory factory;
  FlowTableOptions o;
  o.idle_timeout_us = 300'000'000;
  o.short_timeout_us = 30'000'000;
  FlowTable table(o, factory);
  Wire w;
  const Endpoint c = v4(1, 40000), s = v4(2, 80), c2 = v4(3, 40001);
  table.packet(w.tcp(c, s, kTcpSyn, 0, 0), 0);
  table.packet(w.tcp(s, c, kSynAck, 0, 1), 0);
  table.packet(w.tcp(c2, s, kTcpSyn, 0, 0), 0);  // stays half-open
  table.expire(30'000'000);
  CHECK(table.size() == 2);
  table.expire(30'000'001);
  CHECK(table.size() == 1);
  CHECK(factory.records[1]->closed);
  CHECK(factory.records[1]->why == CloseReason::kIdle);
  table.expire(300'000'000);
  CHECK(table.size() == 1);
  table.packet(w.tcp(c, s, kPshAck, 1, 1, "x"), 200'000'000);  // activity resets the clock
  table.expire(400'000'000);
  CHECK(table.size() == 1);
  table.expire(500'000'001);
  CHECK(table.size() == 0);
  CHECK(factory.records[0]->why == CloseReason::kIdle);
  CHECK(factory.records[0]->data[0] == "x");
  CHECK(table.counters().flows_closed_idle == 2);
}

TEST_CASE("packets expire idle flows on their own", "[flow_table]") {
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);
  Wire w;
  for (uint16_t i = 0; i < 10; ++i)
    table.packet(w.tcp(v4(1, 1000 + i), v4(2, 80), kTcpSyn, 0, 0), 0);
  CHECK(table.size() == 10);
  for (uint16_t i = 0; i < 10; ++i) {
    table.packet(w.tcp(v4(5, 5), v4(6, 6), kTcpAck, 0, 0), 31'000'000);  // no flow
  }
  CHECK(table.size() == 0);
}

TEST_CASE("midstream pickup: a server port decides the roles", "[flow_table]") {
  RecordingFactory factory;
  FlowTableOptions o;
  o.server_ports = {8081};
  FlowTable table(o, factory);
  Wire w;
  const Endpoint agent = v4(1, 8081), peer = v4(2, 3000);  // server port above the client's
  table.packet(w.tcp(agent, peer, kPshAck, 7000, 9000, "resp"), 1);
  REQUIRE(factory.records.size() == 1);
  const Record& r = *factory.records[0];
  CHECK(r.info.server == agent);
  CHECK(r.info.client == peer);
  CHECK(r.data[1] == "resp");
  table.packet(w.tcp(peer, agent, kPshAck, 9000, 7004, "req"), 2);  // started from the ACK
  CHECK(r.data[0] == "req");
  CHECK(table.counters().flows_midstream == 1);

  // Without a configured port, the lower port is the server.
  table.packet(w.tcp(v4(3, 50000), v4(4, 60000), kPshAck, 1, 1, "a"), 3);
  REQUIRE(factory.records.size() == 2);
  CHECK(factory.records[1]->info.server.port == 50000);
  CHECK(factory.records[1]->data[1] == "a");
  table.close_all(4);
  CHECK(r.why == CloseReason::kShutdown);
  CHECK(table.counters().flows_closed_shutdown == 2);
}

TEST_CASE("IPv6 connections", "[flow_table]") {
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);
  Wire w;
  const Endpoint c = v6(1, 50000), s = v6(2, 443);
  table.packet(w.tcp(c, s, kTcpSyn, 10, 0), 1);
  table.packet(w.tcp(s, c, kSynAck, 20, 11), 2);
  table.packet(w.tcp(c, s, kPshAck, 11, 21, "hello6"), 3);
  table.packet(w.tcp(v4(1, 50000), v4(2, 443), kPshAck, 11, 21, "v4"), 3);  // another flow
  REQUIRE(factory.records.size() == 2);
  CHECK(factory.records[0]->info.client.to_string() == "[fe80::1]:50000");
  CHECK(factory.records[0]->data[0] == "hello6");
}

TEST_CASE("UDP and other protocols are counted, never connections", "[flow_table]") {
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);
  Packet p;
  p.src = v4(1, 1234);
  p.dst = v4(255, 1234);
  p.protocol = kIpProtoUdp;
  table.packet(p, 1);
  p.protocol = kIpProtoIcmp;
  table.packet(p, 2);
  p.protocol = 47;  // GRE
  table.packet(p, 3);
  CHECK(factory.records.empty());
  CHECK(table.counters().udp_datagrams == 1);
  CHECK(table.counters().icmp_packets == 1);
  CHECK(table.counters().other_packets == 1);
  CHECK(table.counters().tcp_packets == 0);
  CHECK(table.counters().packets == 3);
}

TEST_CASE("a SYN with a new ISN replaces the old connection", "[flow_table]") {
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);
  Wire w;
  const Endpoint c = v4(1, 40000), s = v4(2, 80);
  table.packet(w.tcp(c, s, kTcpSyn, 100, 0), 1);
  table.packet(w.tcp(c, s, kTcpSyn, 100, 0), 2);  // retransmitted SYN
  CHECK(factory.records.size() == 1);
  table.packet(w.tcp(c, s, kTcpSyn, 9999, 0), 3);
  REQUIRE(factory.records.size() == 2);
  CHECK(factory.records[0]->why == CloseReason::kReset);
  CHECK_FALSE(factory.records[1]->closed);
}

TEST_CASE("a flood of half-open connections stays within max_flows", "[flow_table]") {
  RecordingFactory factory;
  FlowTableOptions o;
  o.max_flows = 1000;
  o.max_buffered_bytes = 256 * 1024;
  o.max_direction_bytes = 16 * 1024;
  FlowTable table(o, factory);
  Wire w;
  const Endpoint server = v4(2, 8081);
  // A real connection first, active throughout, so eviction prefers the flood.
  const Endpoint real = v4(1, 40000);
  table.packet(w.tcp(real, server, kTcpSyn, 0, 0), 0);
  table.packet(w.tcp(server, real, kSynAck, 0, 1), 0);
  const std::string junk(1000, 'j');
  constexpr int kFlood = 200'000;
  int64_t ts = 1;
  for (int i = 0; i < kFlood; ++i, ++ts) {
    const Endpoint src =
        v4(100 + static_cast<uint32_t>(i) / 50000, static_cast<uint16_t>(1024 + i % 50000));
    table.packet(w.tcp(src, server, kTcpSyn, 0, 0), ts);
    if (i % 10 == 0) table.packet(w.tcp(src, server, kPshAck, 5000, 0, junk), ts);  // buffered
    REQUIRE(table.size() <= 1000);
    REQUIRE(table.counters().reassembly.buffered_bytes <= o.max_buffered_bytes);
    if (i % 5000 == 0) {
      table.packet(w.tcp(real, server, kTcpAck, 1, 1), ts);
      w.store.clear();  // the payloads are no longer referenced
    }
  }
  const FlowTableCounters& k = table.counters();
  CHECK(k.flows_current <= 1000);
  CHECK(k.flows_peak == 1000);
  CHECK(k.flows_opened == kFlood + 1);
  CHECK(k.flows_evicted == kFlood + 1 - 1000);
  CHECK(k.reassembly.buffered_bytes_peak <= o.max_buffered_bytes);
  CHECK_FALSE(factory.records[0]->closed);  // the real connection survived
  for (size_t i = 1; i + 1000 < factory.records.size(); ++i) {
    REQUIRE(factory.records[i]->closed);
    REQUIRE(factory.records[i]->why == CloseReason::kEvicted);
    REQUIRE(factory.records[i]->destroyed);
  }
  // A connection opened after the flood works.
  const Endpoint c = v4(9, 40001);
  table.packet(w.tcp(c, server, kTcpSyn, 77, 0), ts);
  table.packet(w.tcp(server, c, kSynAck, 88, 78), ts);
  table.packet(w.tcp(c, server, kPshAck, 78, 89, "after the flood"), ts);
  CHECK(factory.records.back()->data[0] == "after the flood");
  CHECK(table.size() <= 1000);
  table.close_all(ts);
  CHECK(table.size() == 0);
  CHECK(table.counters().reassembly.buffered_bytes == 0);
}

TEST_CASE("connection churn reuses the index: it follows the flows in use, not max_flows", "[flow_table]") {
  // The index presized for max_flows (5.6 MiB at 65,536) had every new
  // connection hash to a random slot: churn touched all its pages in time.
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);  // max_flows 65,536
  Wire w;
  const Endpoint server = v4(2, 8081);
  size_t capacity_after_warmup = 0;
  for (int i = 0; i < 20'000; ++i) {
    // Four connections at a time, each opened and closed (FIN both ways).
    for (int k = 0; k < 4; ++k) {
      const Endpoint c = v4(1, static_cast<uint16_t>(1024 + (i * 4 + k) % 60000));
      table.packet(w.tcp(c, server, kTcpSyn, 100, 0), i);
      table.packet(w.tcp(server, c, kSynAck, 500, 101), i);
    }
    for (int k = 0; k < 4; ++k) {
      const Endpoint c = v4(1, static_cast<uint16_t>(1024 + (i * 4 + k) % 60000));
      table.packet(w.tcp(c, server, kFinAck, 101, 501), i);
      table.packet(w.tcp(server, c, kFinAck, 501, 102), i);
    }
    REQUIRE(table.size() == 0);
    if (i == 100) capacity_after_warmup = table.index_capacity();
    if (i % 1000 == 0) w.store.clear();
  }
  CHECK(table.counters().flows_closed_fin == 80'000);
  CHECK(table.counters().flows_peak == 4);
  CHECK(table.index_capacity() <= 64);  // a few simultaneous flows: a few slots
  CHECK(table.index_capacity() == capacity_after_warmup);  // no growth after the warm-up
}

TEST_CASE("counters are listed by name", "[flow_table]") {
  RecordingFactory factory;
  FlowTable table(FlowTableOptions{}, factory);
  std::map<std::string, uint64_t> seen;
  table.counters().for_each([&](std::string_view n, uint64_t v) { seen[std::string(n)] = v; });
  CHECK(seen.size() == 27);
  CHECK(seen.count("flows_evicted") == 1);
  CHECK(seen.count("reasm_gap_bytes") == 1);
}
