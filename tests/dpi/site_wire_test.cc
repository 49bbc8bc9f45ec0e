#include "dpi/site_wire.h"

#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "dpi/pcap_writer.h"
#include "model/site_sim.h"

namespace {

using iotwall::Access;
using iotwall::Interner;
using iotwall::Operation;
using iotwall::SimOptions;
using iotwall::SiteSimulator;
using iotwall::TraceRecord;
using iotwall::Value;
using namespace iotwall::dpi;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/iotwall-site-wire-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t{get16(p)} << 16 | get16(p + 2); }

// The Internet checksum, written again here (not the writer's).
uint16_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i < n; ++i) sum += i % 2 == 0 ? uint32_t{p[i]} << 8 : p[i];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

struct Segment {
  uint32_t seq;
  std::string payload;
  int64_t ts_us;
};

// One direction of one connection: (src ip, src port, dst ip, dst port).
using FlowKey = std::tuple<uint32_t, uint16_t, uint32_t, uint16_t>;

struct Flow {
  uint32_t isn = 0;
  bool syn = false, fin = false;
  std::vector<Segment> segments;
  // The payload in sequence order, checked contiguous from isn + 1.
  std::string stream() const {
    std::vector<Segment> s = segments;
    std::stable_sort(s.begin(), s.end(), [&](const Segment& a, const Segment& b) {
      return a.seq - isn < b.seq - isn;
    });
    std::string out;
    for (const Segment& x : s) {
      REQUIRE(x.seq - isn - 1 == out.size());
      out += x.payload;
    }
    return out;
  }
};

struct Capture {
  std::map<FlowKey, Flow> flows;
  std::vector<int64_t> request_starts;  // ts of segments that begin a VSL request
  uint64_t frames = 0;
  int64_t last_ts = 0;
  bool ordered = true;
};

// Reads `path` with libpcap, checking every frame's checksums.
Capture read_capture(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err);
  REQUIRE(p != nullptr);
  CHECK(pcap_datalink(p) == DLT_EN10MB);
  Capture c;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    ++c.frames;
    const int64_t ts = int64_t{h->ts.tv_sec} * 1'000'000 + h->ts.tv_usec;
    if (ts < c.last_ts) c.ordered = false;
    c.last_ts = ts;
    REQUIRE(h->caplen == h->len);
    REQUIRE(h->caplen >= 54);
    REQUIRE(get16(d + 12) == 0x0800);
    const uint8_t* ip = d + 14;
    REQUIRE(ip[0] == 0x45);
    REQUIRE(ip[9] == 6);
    const size_t total = get16(ip + 2);
    REQUIRE(total + 14 == h->caplen);
    REQUIRE(sum16(ip, 20) == 0xffff);  // IPv4 header checksum
    const uint8_t* tcp = ip + 20;
    const size_t tcp_len = total - 20;
    uint32_t pseudo = sum16(ip + 12, 8);
    pseudo += 6 + static_cast<uint32_t>(tcp_len);
    REQUIRE(sum16(tcp, tcp_len, pseudo) == 0xffff);  // TCP checksum
    const FlowKey key{get32(ip + 12), get16(tcp), get32(ip + 16), get16(tcp + 2)};
    Flow& f = c.flows[key];
    const uint8_t flags = tcp[13];
    const size_t off = (tcp[12] >> 4) * 4u;
    if (flags & kTcpSyn) {
      REQUIRE_FALSE(f.syn);
      f.syn = true;
      f.isn = get32(tcp + 4);
    }
    if (flags & kTcpFin) f.fin = true;
    std::string payload(reinterpret_cast<const char*>(tcp + off), tcp_len - off);
    if (!payload.empty()) {
      REQUIRE(f.syn);
      for (const char* m : {"GET /vsl/", "PUT /vsl/", "POST /vsl/", "POST /service/"}) {
        if (payload.rfind(m, 0) == 0) c.request_starts.push_back(ts);
      }
      f.segments.push_back({get32(tcp + 4), std::move(payload), ts});
    }
  }
  pcap_close(p);
  return c;
}

// Request lines ("<METHOD> <target> HTTP/1.1\r\n") in a client stream, by
// method; /callbacks upgrades counted apart.
std::map<std::string, int> count_requests(const std::string& s) {
  std::map<std::string, int> n;
  const std::string tag = " HTTP/1.1\r\n";
  for (size_t at = s.find(tag); at != std::string::npos; at = s.find(tag, at + 1)) {
    size_t line = s.rfind("\r\n", at);
    line = line == std::string::npos ? 0 : line + 2;
    // A body without a line end (Content-Length, CBOR) runs into the next
    // request line: the method is the capitals before the target.
    const std::string text = s.substr(line, at - line);
    const size_t sp = text.rfind(' ');
    REQUIRE(sp != std::string::npos);
    size_t from = sp;
    while (from > 0 && text[from - 1] >= 'A' && text[from - 1] <= 'Z') --from;
    const std::string method = text.substr(from, sp - from);
    n[text.find(" /callbacks") != std::string::npos ? "UPGRADE" : method]++;
  }
  return n;
}

struct Run {
  Interner in;
  std::vector<TraceRecord> rows;
  SiteWireStats stats;
  SiteMap map;
};

void write_rows(Run* run, const SiteWireOptions& wo, const std::string& pcap) {
  SiteWire wire(run->in, wo);
  std::string error;
  REQUIRE(wire.open(pcap, &error));
  for (const TraceRecord& r : run->rows) REQUIRE(wire.add(r, &error));
  REQUIRE(wire.finish(&error));
  run->stats = wire.stats();
  run->map = wire.site_map();
}

void simulate(Run* run, int rooms, double hours) {
  SimOptions o;
  o.rooms = rooms;
  o.hours = hours;
  SiteSimulator sim(o, run->in);
  TraceRecord r;
  while (sim.next(&r)) run->rows.push_back(r);
  REQUIRE(run->rows.size() > 100);
}

}  // namespace

TEST_CASE("site wire: a simulated site as a plain-HTTP capture") {
  TempDir dir;
  Run run;
  simulate(&run, 2, 1);
  const std::string pcap = dir.path + "/site.pcap";
  SiteWireOptions wo;
  wo.reconnect_min = 20;  // a few reconnections within the hour
  wo.reconnect_max = 40;
  write_rows(&run, wo, pcap);

  std::map<std::string, int> expected;
  for (const TraceRecord& r : run.rows) {
    expected[r.access.op == Operation::kRead ? "GET" : r.access.op == Operation::kWrite ? "PUT" : "POST"]++;
  }
  const Capture cap = read_capture(pcap);
  CHECK(cap.ordered);
  CHECK(cap.frames == run.stats.packets);
  std::map<std::string, int> got;
  int connections = 0, finished = 0;
  for (const auto& [key, flow] : cap.flows) {
    if (std::get<3>(key) >= 40000) continue;  // server -> client
    ++connections;
    finished += flow.fin;
    for (const auto& [m, n] : count_requests(flow.stream())) got[m] += n;
    const FlowKey back{std::get<2>(key), std::get<3>(key), std::get<0>(key), std::get<1>(key)};
    REQUIRE(cap.flows.count(back));
    const std::string answers = cap.flows.at(back).stream();
    CHECK(answers.rfind("HTTP/1.1 ", 0) == 0);
  }
  const int upgrades = got["UPGRADE"];
  got.erase("UPGRADE");
  CHECK(got == expected);
  CHECK(upgrades == static_cast<int>(run.stats.callback_connections));
  CHECK(connections == static_cast<int>(run.stats.connections));
  CHECK(finished == connections);
  CHECK(connections > 12);  // reconnections happened
  CHECK(run.stats.plain_requests == run.rows.size());
  CHECK(run.stats.skipped == 0);

  // Each request starts at its access's millisecond, exactly unless late.
  REQUIRE(cap.request_starts.size() == run.rows.size());
  std::vector<int64_t> want;
  for (const TraceRecord& r : run.rows) want.push_back(r.access.time_ms);
  std::vector<int64_t> have;
  size_t exact = 0;
  for (int64_t ts : cap.request_starts) {
    have.push_back(ts / 1000);
    exact += ts % 1000 == 0;
  }
  std::sort(have.begin(), have.end());
  CHECK(have == want);
  CHECK(exact == run.rows.size() - run.stats.late);

  // The site map: every source with its address, and the KAs.
  int kas = 0, with_ip = 0;
  for (const SiteService& s : run.map.services) {
    CHECK_FALSE(s.id.empty());
    kas += s.knowledge_agent;
    with_ip += s.ip.has_value();
  }
  CHECK(kas == 2);
  CHECK(with_ip > 6);
  const std::string yaml = dir.path + "/site.yaml";
  std::string error;
  REQUIRE(save_site_map(yaml, run.map, &error));
  SiteMap back;
  REQUIRE(load_site_map(yaml, &back, &error));
  REQUIRE(back.services.size() == run.map.services.size());
  for (size_t i = 0; i < back.services.size(); ++i) {
    CHECK(back.services[i].id == run.map.services[i].id);
    CHECK(back.services[i].address == run.map.services[i].address);
    CHECK(back.services[i].type == run.map.services[i].type);
    CHECK(back.services[i].room == run.map.services[i].room);
    CHECK(back.services[i].ip == run.map.services[i].ip);
    CHECK(back.services[i].knowledge_agent == run.map.services[i].knowledge_agent);
  }
}

TEST_CASE("site wire: every operation, callbacks over a WebSocket") {
  TempDir dir;
  Run run;
  auto row = [&](const char* src, Operation op, const char* node, const Value& v, int64_t ms) {
    TraceRecord r;
    Access& a = r.access;
    a.source_id = run.in.intern(src);
    a.source_address = run.in.intern(std::string("/agent3/") + src);
    a.source_type = run.in.intern("/lightControler");
    a.dest_address = run.in.intern("/agent3/movement3");
    a.dest_type = run.in.intern("/movementSensor");
    a.node_address = run.in.intern(node);
    a.node_type = run.in.intern("/derived/boolean");
    a.op = op;
    a.value = v;
    a.time_ms = ms;
    run.rows.push_back(r);
  };
  const char* node = "/agent3/movement3/movement";
  const Value one = Value::Number(1);
  int64_t t = 1'520'000'000'000;
  for (Operation op : {Operation::kRegisterService, Operation::kRead, Operation::kWrite,
                       Operation::kSubscribe, Operation::kNotifyCallback, Operation::kNotifyCallback,
                       Operation::kUnsubscribe, Operation::kLockSubtree, Operation::kCommitSubtree,
                       Operation::kRollbackSubtree, Operation::kRegisterVirtualNode,
                       Operation::kUnregisterVirtualNode, Operation::kUnregisterService,
                       Operation::kUnknown}) {
    row("lightcontrol3", op, node, one, t);
    t += 5;
  }
  row("lightcontrol3", Operation::kRead, node, one, t);  // same millisecond: pipelined later
  row("lightcontrol3", Operation::kRead, node, Value::None(), t);
  row("phone", Operation::kNotifyCallback, node, one, t);  // lazily opens its WebSocket
  const std::string pcap = dir.path + "/ops.pcap";
  write_rows(&run, SiteWireOptions{}, pcap);

  CHECK(run.stats.skipped == 1);
  CHECK(run.stats.callbacks == 3);
  CHECK(run.stats.callback_connections == 2);
  CHECK(run.stats.plain_requests == run.rows.size() - 4);
  const Capture cap = read_capture(pcap);
  CHECK(cap.ordered);
  std::string client, server;
  for (const auto& [key, flow] : cap.flows) (std::get<3>(key) == 8083 ? client : server) += flow.stream();
  const auto n = count_requests(client);
  CHECK(n.at("UPGRADE") == 2);
  CHECK(n.at("GET") == 3);
  CHECK(n.at("PUT") == 1);
  CHECK(n.at("POST") == 9);
  for (const char* s : {"SUBSCRIBE", "UNSUBSCRIBE", "LOCK_SUBTREE", "COMMIT_SUBTREE",
                        "ROLLBACK_SUBTREE", "REGISTER_VIRTUAL_NODE", "UNREGISTER_VIRTUAL_NODE",
                        "Sec-WebSocket-Protocol: v1.vsl.ds2os.org", "/service/register",
                        "/service/unregister"}) {
    INFO(s);
    CHECK(client.find(s) != std::string::npos);
  }
  CHECK(server.find("HTTP/1.1 101 Switching Protocols") != std::string::npos);
  CHECK(server.find("\"invoke\":\"NOTIFY\"") != std::string::npos);
  CHECK(server.find("\"address\":\"/agent3/movement3/movement\"") != std::string::npos);
  CHECK(server.find("\"types\"") != std::string::npos);
  CHECK(server.find("\"/agent3/lightcontrol3\"") != std::string::npos);
}

TEST_CASE("site wire: out-of-order records are refused") {
  TempDir dir;
  Interner in;
  SiteWire wire(in, SiteWireOptions{});
  std::string error;
  REQUIRE(wire.open(dir.path + "/x.pcap", &error));
  TraceRecord r;
  r.access.source_id = in.intern("a");
  r.access.node_address = in.intern("/agent1/b/c");
  r.access.op = Operation::kRead;
  r.access.time_ms = 2'000'000;
  REQUIRE(wire.add(r, &error));
  r.access.time_ms = 1'000'000;
  CHECK_FALSE(wire.add(r, &error));
  CHECK(error.find("timestamp order") != std::string::npos);
  CHECK(wire.finish(&error));
  CHECK_FALSE(wire.open("/nonexistent/dir/x.pcap", &error));
  CHECK(error.find("/nonexistent/dir/x.pcap") != std::string::npos);
}

TEST_CASE("site wire: options are validated") {
  SiteWireOptions o;
  CHECK(SiteWire::validate(o).empty());
  o.tls_share = 1.5;
  CHECK_FALSE(SiteWire::validate(o).empty());
  o.tls_share = 0.5;
  o.reconnect_min = 10;
  o.reconnect_max = 5;
  CHECK_FALSE(SiteWire::validate(o).empty());
}

TEST_CASE("site wire: a share of the services on TLS 1.2") {
  TempDir dir;
  Run run;
  simulate(&run, 2, 0.5);
  const std::string pcap = dir.path + "/tls.pcap";
  SiteWireOptions wo;
  wo.tls_share = 0.5;
  write_rows(&run, wo, pcap);
  CHECK(run.stats.tls_requests > 0);
  CHECK(run.stats.plain_requests > 0);
  CHECK(run.stats.plain_requests + run.stats.tls_requests + run.stats.callbacks == run.rows.size());

  const Capture cap = read_capture(pcap);
  CHECK(cap.ordered);
  uint64_t plain = 0, tls_client_records = 0;
  int tls_connections = 0;
  for (const auto& [key, flow] : cap.flows) {
    if (std::get<3>(key) >= 40000) continue;  // server -> client
    const std::string s = flow.stream();
    REQUIRE(s.size() > 5);
    if (s[0] != 0x16) {
      for (const auto& [m, n] : count_requests(s)) plain += m == "UPGRADE" ? 0 : n;
      continue;
    }
    ++tls_connections;
    CHECK(s[1] == 0x03);
    // Walk the records: handshake, change cipher spec, then application data.
    size_t at = 0;
    while (at + 5 <= s.size()) {
      const uint8_t type = static_cast<uint8_t>(s[at]);
      const size_t len = get16(reinterpret_cast<const uint8_t*>(s.data()) + at + 3);
      CHECK((type >= 20 && type <= 23));
      tls_client_records += type == 23;
      at += 5 + len;
    }
    CHECK(at == s.size());
  }
  CHECK(tls_connections > 0);
  CHECK(plain == run.stats.plain_requests);
  CHECK(tls_client_records >= run.stats.tls_requests);
  for (const SiteService& s : run.map.services) CHECK_FALSE(s.id.empty());
}
