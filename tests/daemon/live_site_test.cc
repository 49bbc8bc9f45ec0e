// The live test site: the KA server (daemon/live_ka.h) with raw sockets,
// its answers through the project's VSL decoder, the driver
// (daemon/live_driver.h) against it over loopback, the CLI, and
// tests/live/netns.sh with real traffic through a gateway namespace (root).
//
// Loopback without root: every 127.x.y.z is local, so a site map whose
// 10.a.b.c addresses become 127.a.b.c lets each service bind its own
// address and each KA have its own, as in the namespaces.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon/live_driver.h"
#include "daemon/live_ka.h"
#include "dpi/site_map.h"
#include "dpi/vsl_connection.h"
#include "dpi/vsl_writer.h"
#include "model/trace_reader.h"
#include "tests/cli_run.h"

using iotwall::Access;
using iotwall::Interner;
using iotwall::Operation;
using iotwall::TraceReader;
using iotwall::TraceRecord;
using iotwall::dpi::IpAddress;
using iotwall::dpi::SiteMap;
using iotwall::live::DriveOptions;
using iotwall::live::DriveReport;
using iotwall::live::KaServer;
using iotwall::live::KaServerOptions;
using iotwall::live::RowCounts;
using iotwall::testing::run;
using iotwall::testing::Run;
using iotwall::testing::slurp;
using iotwall::testing::temp_path;

namespace {

// A KaServer serving in its own thread until the end of the scope.
struct ServerThread {
  KaServer server;
  std::thread thread;
  std::atomic<bool> ok{true};

  explicit ServerThread(const KaServerOptions& o, const SiteMap* map = nullptr,
                        const std::string& trace = "")
      : server(o) {
    REQUIRE(KaServer::validate(o).empty());
    if (map != nullptr) server.set_site_map(*map);
    std::string error;
    if (!trace.empty()) REQUIRE(server.preload_trace(trace, &error));
    INFO(error);
    REQUIRE(server.start(&error));
    thread = std::thread([this] {
      std::string e;
      ok = server.run(120, &e);  // bounded even if a test forgets to stop it
    });
  }
  ~ServerThread() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  uint16_t port(size_t i = 0) const { return server.ports().at(i); }
};

KaServerOptions loopback(int n = 1) {
  KaServerOptions o;
  for (int i = 0; i < n; ++i) o.listen.push_back("127.0.0.1:0");
  return o;
}

// A blocking client socket with a 5 s receive timeout; -1 on failure.
int dial(uint16_t port, const char* from = nullptr, const char* to = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (from != nullptr) {
    inet_pton(AF_INET, from, &a.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return -1;
    }
  }
  a.sin_port = htons(port);
  inet_pton(AF_INET, to, &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

bool send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads one response (the server always sends Content-Length or 204).
// Returns "" on close or timeout. `buf` keeps bytes of the next response.
std::string read_response(int fd, std::string* buf) {
  for (int rounds = 0; rounds < 10000; ++rounds) {
    const size_t head_end = buf->find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::string head = buf->substr(0, head_end);
      std::transform(head.begin(), head.end(), head.begin(), ::tolower);
      size_t len = 0;
      const size_t cl = head.find("content-length:");
      if (cl != std::string::npos) len = std::stoul(head.substr(cl + 15));
      if (buf->size() >= head_end + 4 + len) {
        std::string r = buf->substr(0, head_end + 4 + len);
        buf->erase(0, head_end + 4 + len);
        return r;
      }
    }
    char tmp[65536];
    const ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return "";
    buf->append(tmp, static_cast<size_t>(n));
  }
  return "";
}

std::string roundtrip(int fd, std::string_view req) {
  std::string buf;
  if (!send_all(fd, req)) return "";
  return read_response(fd, &buf);
}

std::string body_of(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

// True when the peer closed (EOF or reset) within 5 s.
bool closed_by_peer(int fd) {
  char tmp[4096];
  for (int i = 0; i < 100; ++i) {
    const ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;  // timeout
  }
  return false;
}

std::string put(const std::string& node, const std::string& body) {
  return "PUT /vsl" + node +
         " HTTP/1.1\r\nHost: ka\r\nContent-Type: application/json; UTF-8\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string get(const std::string& node, const std::string& extra = "") {
  return "GET /vsl" + node + " HTTP/1.1\r\nHost: ka\r\n" + extra + "\r\n";
}

std::string post(const std::string& path, const std::string& body) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: ka\r\nContent-Type: application/json; UTF-8\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The site map with every 10.a.b.c as 127.a.b.c (loopback without root).
SiteMap on_loopback(SiteMap m) {
  for (auto& s : m.services) {
    if (s.ip && s.ip->family == 4 && s.ip->bytes[0] == 10) s.ip->bytes[0] = 127;
  }
  return m;
}

// A simulated site (trace and site map), removed at the end of the test.
struct SimSite {
  std::string csv, map_path, pcap;
  SiteMap map;
  SimSite(const std::string& tag, const std::string& args) {
    csv = temp_path(tag + ".csv");
    map_path = temp_path(tag + ".yaml");
    pcap = temp_path(tag + ".pcap");
    const Run r =
        run("sim " + args + " --out " + csv + " --pcap " + pcap + " --site-map " + map_path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    std::string error;
    REQUIRE(iotwall::dpi::load_site_map(map_path, &map, &error));
  }
  ~SimSite() {
    for (const std::string* p : {&csv, &map_path, &pcap}) std::remove(p->c_str());
  }
};

uint64_t sum_outcomes(const RowCounts& c) {
  return c.answered + c.reset + c.timeout + c.refused + c.error + c.skipped + c.skipped_backlog +
         c.unmapped + c.unfinished;
}

}  // namespace

TEST_CASE("live KA: a read returns the value written as JSON or CBOR", "[live][ka]") {
  ServerThread s(loopback());
  Fd c(dial(s.port()));
  REQUIRE(c.fd >= 0);
  // A write as the Jetty client sends it: chunked, in two chunks.
  const std::string chunked =
      "PUT /vsl/agent1/light1/isOn HTTP/1.1\r\nHost: ka\r\nContent-Type: application/json; "
      "UTF-8\r\n"
      "Transfer-Encoding: chunked\r\n\r\n6\r\n{\"valu\r\n8\r\ne\":\"42\"}\r\n0\r\n\r\n";
  CHECK(roundtrip(c.fd, chunked).starts_with("HTTP/1.1 204"));
  const std::string r = roundtrip(c.fd, get("/agent1/light1/isOn?depth=0&scope=VALUE"));
  REQUIRE(r.starts_with("HTTP/1.1 200"));
  const auto j = nlohmann::json::parse(body_of(r));
  CHECK(j["value"] == "42");
  CHECK(j["version"] == 1);
  CHECK(j.contains("timestamp"));
  // Never written: the default value.
  CHECK(nlohmann::json::parse(body_of(roundtrip(c.fd, get("/agent1/light1/other"))))["value"] ==
        "0");
  // CBOR when the client accepts it.
  const std::string rc =
      roundtrip(c.fd, get("/agent1/light1/isOn", "Accept: application/cbor\r\n"));
  CHECK_THAT(rc, Catch::Contains("Content-Type: application/cbor"));
  const std::string cb = body_of(rc);
  CHECK(nlohmann::json::from_cbor(std::vector<uint8_t>(cb.begin(), cb.end()))["value"] == "42");
  // Pipelined: two requests in one write, two answers in order.
  std::string buf;
  REQUIRE(
      send_all(c.fd, put("/agent1/light1/isOn", "{\"value\":\"7\"}") + get("/agent1/light1/isOn")));
  CHECK(read_response(c.fd, &buf).starts_with("HTTP/1.1 204"));
  CHECK(nlohmann::json::parse(body_of(read_response(c.fd, &buf)))["value"] == "7");
  s.server.stop();
  s.thread.join();
  const auto k = s.server.counters();
  CHECK(k.writes == 2);
  CHECK(k.reads == 4);
  CHECK(k.get == 4);
  CHECK(k.put == 2);
  CHECK(k.status_2xx == 6);
  CHECK(k.connections == 1);
  CHECK(s.ok);
}

TEST_CASE("live KA: operations and registration answered and callbacks refused", "[live][ka]") {
  SiteMap m;
  iotwall::dpi::SiteService svc;
  svc.id = "lightcontrol1";
  svc.address = "/agent1/lightcontrol1";
  svc.type = "/lightControler";
  svc.ip = iotwall::dpi::parse_ip("127.2.0.1");
  m.services.push_back(svc);
  ServerThread s(loopback(), &m);
  {
    // From the service's ip: the site map's address.
    Fd c(dial(s.port(), "127.2.0.1"));
    REQUIRE(c.fd >= 0);
    const std::string r =
        roundtrip(c.fd, post("/service/register", "{\"modelId\":\"/lightControler\"}"));
    REQUIRE(r.starts_with("HTTP/1.1 200"));
    CHECK(body_of(r) == "\"/agent1/lightcontrol1\"");
    // A read of the service's own node carries its type.
    const auto j = nlohmann::json::parse(body_of(roundtrip(c.fd, get("/agent1/lightcontrol1"))));
    CHECK(j["types"] == nlohmann::json::array({"/lightControler"}));
    CHECK(roundtrip(c.fd, post("/vsl/agent1/movement1/motion",
                               "{\"operation\":\"SUBSCRIBE\",\"callbackId\":\"45b0\"}"))
              .starts_with("HTTP/1.1 204"));
    CHECK(roundtrip(c.fd, post("/vsl/agent1/movement1/motion", "{\"operation\":\"EXPLODE\"}"))
              .starts_with("HTTP/1.1 400"));
    CHECK(roundtrip(c.fd, post("/service/unregister", "")).starts_with("HTTP/1.1 204"));
    // The callback WebSocket is refused; the connection goes on with HTTP.
    const std::string up =
        "GET /callbacks HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nHost: ka\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: v1.vsl.ds2os.org\r\n\r\n";
    CHECK(roundtrip(c.fd, up).starts_with("HTTP/1.1 501"));
    CHECK(roundtrip(c.fd, get("/agent1/lightcontrol1")).starts_with("HTTP/1.1 200"));
    CHECK(roundtrip(c.fd, "DELETE /vsl/agent1/x HTTP/1.1\r\nHost: ka\r\n\r\n")
              .starts_with("HTTP/1.1 405"));
    CHECK(roundtrip(c.fd, "GET /nothing/here HTTP/1.1\r\nHost: ka\r\n\r\n")
              .starts_with("HTTP/1.1 404"));
  }
  {
    // From elsewhere: an address made from the port's agent and the model.
    Fd c(dial(s.port(), "127.9.9.9"));
    REQUIRE(c.fd >= 0);
    const std::string r =
        roundtrip(c.fd, post("/service/register", "{\"modelId\":\"/tempSensor\"}"));
    CHECK(body_of(r) == "\"/agent1/tempsensor1\"");
    CHECK(roundtrip(c.fd, post("/service/register", "{}")).starts_with("HTTP/1.1 400"));
  }
  s.server.stop();
  s.thread.join();
  const auto k = s.server.counters();
  CHECK(k.registrations == 3);
  CHECK(k.upgrades_refused == 1);
  CHECK(k.bad_requests == 2);
  CHECK(k.operations == 2);
  CHECK(k.unregistrations == 1);
  CHECK(k.not_found == 1);
}

TEST_CASE("live KA: over a bound a clear answer and a count and never a crash", "[live][ka]") {
  KaServerOptions o = loopback();
  o.max_header_bytes = 512;
  o.max_body_bytes = 64;
  o.max_connections = 2;
  o.max_values = 1;
  ServerThread s(o);
  {
    Fd c(dial(s.port()));
    REQUIRE(c.fd >= 0);
    CHECK(roundtrip(c.fd, get("/a", "X-Big: " + std::string(1000, 'x') + "\r\n"))
              .starts_with("HTTP/1.1 431"));
    CHECK(closed_by_peer(c.fd));
  }
  {
    Fd c(dial(s.port()));
    REQUIRE(c.fd >= 0);
    CHECK(roundtrip(c.fd, put("/agent1/a/b", "{\"value\":\"" + std::string(100, '1') + "\"}"))
              .starts_with("HTTP/1.1 413"));
    CHECK(closed_by_peer(c.fd));
  }
  {
    Fd c(dial(s.port()));
    REQUIRE(c.fd >= 0);
    CHECK(roundtrip(c.fd, "NOT HTTP AT ALL\r\n\r\n").starts_with("HTTP/1.1 400"));
    CHECK(closed_by_peer(c.fd));
  }
  {
    // Bad bodies: 400, the connection stays.
    Fd c(dial(s.port()));
    REQUIRE(c.fd >= 0);
    CHECK(roundtrip(c.fd, put("/agent1/a/b", "{not json")).starts_with("HTTP/1.1 400"));
    CHECK(roundtrip(c.fd, put("/agent1/a/b", "[1,2]")).starts_with("HTTP/1.1 400"));
    // One value kept: the second node is answered but not stored.
    CHECK(roundtrip(c.fd, put("/agent1/a/b", "{\"value\":\"5\"}")).starts_with("HTTP/1.1 204"));
    CHECK(roundtrip(c.fd, put("/agent1/a/c", "{\"value\":\"6\"}")).starts_with("HTTP/1.1 204"));
    CHECK(nlohmann::json::parse(body_of(roundtrip(c.fd, get("/agent1/a/b"))))["value"] == "5");
    CHECK(nlohmann::json::parse(body_of(roundtrip(c.fd, get("/agent1/a/c"))))["value"] == "0");
    // Two connections open: a third gets 503.
    Fd c2(dial(s.port()));
    REQUIRE(c2.fd >= 0);
    CHECK(roundtrip(c2.fd, get("/agent1/a/b")).starts_with("HTTP/1.1 200"));
    Fd c3(dial(s.port()));
    REQUIRE(c3.fd >= 0);
    std::string buf;
    CHECK(read_response(c3.fd, &buf).starts_with("HTTP/1.1 503"));
  }
  s.server.stop();
  s.thread.join();
  const auto k = s.server.counters();
  CHECK(k.too_large == 2);
  CHECK(k.bad_requests == 3);
  CHECK(k.values_dropped == 1);
  CHECK(k.connections_refused == 1);
  CHECK(s.ok);
}

TEST_CASE("live KA: with a trace's nodes their types and 404 for the rest", "[live][ka]") {
  const std::string trace = temp_path("ka-nodes.csv");
  {
    std::ofstream f(trace);
    f << "sourceID,sourceAddress,sourceType,sourceLocation,destinationServiceAddress,"
         "destinationServiceType,"
         "destinationLocation,accessedNodeAddress,accessedNodeType,operation,value,timestamp,"
         "normality\n"
         "t1,/agent1/t1,/tempSensor,Kitchen,/agent1/t1,/tempSensor,Kitchen,/agent1/t1/temp,/basic/"
         "number,"
         "write,21.5,1000,normal\n";
  }
  ServerThread s(loopback(), nullptr, trace);
  std::remove(trace.c_str());
  Fd c(dial(s.port()));
  REQUIRE(c.fd >= 0);
  const auto j = nlohmann::json::parse(body_of(roundtrip(c.fd, get("/agent1/t1/temp"))));
  CHECK(j["value"] == "21.5");
  CHECK(j["types"] == nlohmann::json::array({"/basic/number"}));
  CHECK(nlohmann::json::parse(body_of(roundtrip(c.fd, get("/agent1/t1"))))["types"][0] ==
        "/tempSensor");
  const std::string r = roundtrip(c.fd, get("/agent9/ghost/x"));
  CHECK(r.starts_with("HTTP/1.1 404"));
  CHECK(nlohmann::json::parse(body_of(r))["code"] == 404);
  // Written since: known.
  CHECK(roundtrip(c.fd, put("/agent9/ghost/x", "{\"value\":\"1\"}")).starts_with("HTTP/1.1 204"));
  CHECK(roundtrip(c.fd, get("/agent9/ghost/x")).starts_with("HTTP/1.1 200"));
}

TEST_CASE("live KA: its answers decode through the VSL decoder as the trace's accesses",
          "[live][ka][dpi]") {
  SimSite site("dec", "--rooms 2 --hours 0.34 --seed 7");
  const SiteMap map = on_loopback(site.map);
  ServerThread s(loopback(), &map, site.csv);
  Interner in;
  std::string error;
  auto reader = TraceReader::open(site.csv, in, &error);
  REQUIRE(reader);
  iotwall::dpi::Directory dir(map, in);
  iotwall::dpi::DecodeCounters counters;
  struct Sink : iotwall::dpi::AccessSink {
    std::vector<Access> got;
    void on_access(const Access& a) override { got.push_back(a); }
  } sink;
  iotwall::dpi::VslWriter writer(in, 3);
  // One connection per service, from its (loopback) address, as the driver.
  struct Client {
    std::unique_ptr<Fd> fd;
    std::unique_ptr<iotwall::dpi::VslConnection> dec;
  };
  std::map<std::string, Client> clients;
  std::vector<Access> sent;
  TraceRecord rec;
  while (reader->next(&rec)) {
    const Access& a = rec.access;
    if (!iotwall::dpi::VslWriter::is_request(a.op)) continue;
    const std::string src(in.str(a.source_address));
    const auto svc = std::find_if(map.services.begin(), map.services.end(),
                                  [&](const auto& x) { return x.address == src && x.ip; });
    REQUIRE(svc != map.services.end());
    Client& cl = clients[src];
    if (!cl.fd) {
      cl.fd = std::make_unique<Fd>(dial(s.port(), svc->ip->to_string().c_str()));
      REQUIRE(cl.fd->fd >= 0);
      iotwall::dpi::ConnectionInfo info;
      info.id = clients.size();
      info.client.ip = *svc->ip;
      info.client.port = 40000;
      info.server.ip = *iotwall::dpi::parse_ip("127.0.0.1");
      info.server.port = s.port();
      cl.dec = std::make_unique<iotwall::dpi::VslConnection>(info, dir, in, sink, counters);
    }
    const std::string req =
        writer.exchange(a, "127.0.0.1:" + std::to_string(s.port()), "cb-1").request;
    const std::string resp = roundtrip(cl.fd->fd, req);
    REQUIRE(!resp.empty());
    const int64_t us = a.time_ms * 1000;
    cl.dec->on_data(iotwall::dpi::Direction::kToServer,
                    std::span(reinterpret_cast<const uint8_t*>(req.data()), req.size()), us);
    cl.dec->on_data(iotwall::dpi::Direction::kToClient,
                    std::span(reinterpret_cast<const uint8_t*>(resp.data()), resp.size()),
                    us + 500);
    sent.push_back(a);
  }
  REQUIRE(sent.size() > 100);
  REQUIRE(sink.got.size() == sent.size());
  CHECK(counters.get(iotwall::dpi::DecodeCounters::kRegisterFailed) == 0);
  CHECK(counters.get(iotwall::dpi::DecodeCounters::kReadFailed) == 0);
  CHECK(counters.get(iotwall::dpi::DecodeCounters::kBadJson) == 0);
  CHECK(counters.get(iotwall::dpi::DecodeCounters::kBadCbor) == 0);
  CHECK(counters.http_errors_total() == 0);
  // Each access decoded as sent (one request at a time per service, so in
  // order): source, destination, node, operation; written values; and the
  // node types of reads, which only the KA's answers carry.
  size_t reads_typed = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    const Access& w = sent[i];
    const Access& g = sink.got[i];
    INFO("row " << i << ": " << in.str(w.source_address) << " " << iotwall::operation_name(w.op)
                << " " << in.str(w.node_address));
    CHECK(g.source_id == w.source_id);
    CHECK(g.source_address == w.source_address);
    CHECK(g.dest_address == w.dest_address);
    CHECK(g.node_address == w.node_address);
    CHECK(g.op == w.op);
    CHECK(g.time_ms == w.time_ms);
    if (w.op == Operation::kWrite) CHECK(g.value == w.value);
    if (w.op == Operation::kRead && !w.node_type.empty()) {
      CHECK(g.node_type == w.node_type);
      ++reads_typed;
    }
  }
  CHECK(reads_typed > 10);
}

TEST_CASE("live drive: a simulated site over loopback with every row answered and counted",
          "[live][drive]") {
  SimSite site("drv", "--rooms 4 --hours 0.34 --seed 1");
  // Two rows with no wire form and one from a source without an address.
  {
    std::ofstream f(site.csv, std::ios::app);
    f << "app1,/agent1/app1,/app,Kitchen,/agent1/l1,/light,Kitchen,/agent1/l1/on,/basic/boolean,"
         "notifyCallback,true,1520032800000,normal\n"
         "app1,/agent1/app1,/app,Kitchen,/agent1/l1,/light,Kitchen,/agent1/l1/on,/basic/boolean,"
         "frobnicate,1,1520032800001,anomalous(scan)\n"
         "ghost,,,,/agent1/l1,/light,Kitchen,/agent1/l1/on,/basic/"
         "boolean,read,,1520032800002,anomalous(scan)\n";
  }
  const SiteMap map = on_loopback(site.map);
  // One KA per agent, each on its own loopback address and port.
  KaServerOptions ko;
  for (int n = 1; n <= 4; ++n) ko.listen.push_back("127.0.0." + std::to_string(n) + ":0");
  ServerThread s(ko, &map, site.csv);

  DriveOptions o;
  o.trace = site.csv;
  o.site_map = map;
  o.speed = 400;
  for (int n = 1; n <= 4; ++n) o.agent_ports[n] = s.port(static_cast<size_t>(n - 1));
  REQUIRE(iotwall::live::validate(o).empty());
  DriveReport r;
  std::string error;
  REQUIRE(iotwall::live::drive(o, &r, &error));
  INFO(iotwall::live::report_json(r));
  const RowCounts& t = r.total;
  CHECK(t.rows > 500);
  CHECK(t.skipped == 2);
  CHECK(t.unmapped == 1);
  CHECK(t.sent == t.rows - 3);
  CHECK(t.answered == t.sent);
  CHECK(t.non_2xx == 0);
  CHECK(t.blocked() == 0);
  CHECK(t.error == 0);
  CHECK(t.unfinished == 0);
  CHECK(r.bind_errors == 0);
  CHECK(sum_outcomes(t) == t.rows);
  uint64_t rows = 0;
  for (const auto& [label, c] : r.per_label) {
    INFO(label);
    CHECK(sum_outcomes(c) == c.rows);
    rows += c.rows;
  }
  CHECK(rows == t.rows);
  REQUIRE(r.per_label.count("normal"));
  CHECK(r.per_label["normal"].skipped == 1);
  CHECK(r.per_label["anomalous(scan)"].rows == 2);
  CHECK(r.latency.count == t.answered);
  CHECK(r.latency_normal.count == t.answered);
  CHECK(r.latency.p50_ms > 0);
  CHECK(r.latency.p50_ms <= r.latency.p99_ms);
  CHECK(r.latency.p99_ms <= r.latency.max_ms);
  // The run took about the trace's span / speed.
  CHECK(r.elapsed_s >= r.trace_span_s / o.speed * 0.9);
  CHECK(r.services == static_cast<uint64_t>(
                          std::count_if(map.services.begin(), map.services.end(),
                                        [](const auto& x) { return x.ip && !x.knowledge_agent; })));
  s.server.stop();
  s.thread.join();
  const auto k = s.server.counters();
  CHECK(k.requests == t.answered);
  CHECK(k.status_2xx == t.answered);
  CHECK(k.connections == r.connections);
  // The report as JSON.
  const auto j = nlohmann::json::parse(iotwall::live::report_json(r));
  CHECK(j["total"]["answered"] == t.answered);
  CHECK(j["per_label"]["normal"]["rows"] == r.per_label["normal"].rows);
  CHECK(j["latency_ms"]["all"]["count"] == t.answered);

  SECTION("connect_override: every service to one address, without bind()") {
    DriveOptions o2 = o;
    o2.site_map = site.map;  // 10.x addresses: never bound
    o2.connect_override = "127.0.0.1";
    KaServerOptions one;
    for (int n = 1; n <= 4; ++n) one.listen.push_back("127.0.0.1:0");
    ServerThread s2(one, &map);
    for (int n = 1; n <= 4; ++n) o2.agent_ports[n] = s2.port(static_cast<size_t>(n - 1));
    o2.max_rows = 300;
    DriveReport r2;
    REQUIRE(iotwall::live::drive(o2, &r2, &error));
    CHECK(r2.total.rows == 300);
    CHECK(r2.total.answered == 300);
    CHECK(r2.bind_errors == 0);
  }
}

TEST_CASE("live drive: refused, timeout and reset are told apart", "[live][drive]") {
  const std::string csv = temp_path("fail.csv");
  {
    std::ofstream f(csv);
    for (int i = 0; i < 3; ++i) {
      f << "t1,/agent1/t1,/tempSensor,Kitchen,/agent1/t1,/tempSensor,Kitchen,/agent1/t1/temp,/"
           "basic/number,"
           "write,"
        << i << "," << 1000 + i << ",normal\n";
    }
  }
  DriveOptions o;
  o.trace = csv;
  iotwall::dpi::SiteService svc;
  svc.id = "t1";
  svc.address = "/agent1/t1";
  svc.ip = iotwall::dpi::parse_ip("127.2.0.1");
  o.site_map.services.push_back(svc);
  o.speed = 1000;
  o.timeout_ms = 300;
  // A listening socket of the test's own; what it does decides the outcome.
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(lfd >= 0);
  Fd listener(lfd);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  REQUIRE(bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  o.connect_override = "127.0.0.1";
  o.agent_ports[1] = ntohs(a.sin_port);
  DriveReport r;
  std::string error;

  SECTION("nobody listens: refused") {
    REQUIRE(iotwall::live::drive(o, &r, &error));
    CHECK(r.total.refused == 3);
    CHECK(r.total.sent == 0);
  }
  SECTION("listening, never answering: timeout") {
    REQUIRE(listen(lfd, 16) == 0);
    REQUIRE(iotwall::live::drive(o, &r, &error));
    CHECK(r.total.timeout == 3);
    CHECK(r.total.sent == 3);
    CHECK(r.connections == 3);  // each timeout aborts the connection
    CHECK(r.elapsed_s >= 0.85);
  }
  SECTION("a reset after the request: reset") {
    REQUIRE(listen(lfd, 16) == 0);
    std::atomic<bool> done{false};
    std::thread resetter([&] {
      timeval tv{0, 100000};
      setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      for (int i = 0; i < 100 && !done; ++i) {
        const int c = accept(lfd, nullptr, nullptr);
        if (c < 0) continue;
        timeval ctv{2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &ctv, sizeof ctv);
        char buf[4096];
        [[maybe_unused]] const ssize_t n = recv(c, buf, sizeof buf, 0);
        const linger l{1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close(c);
      }
    });
    REQUIRE(iotwall::live::drive(o, &r, &error));
    done = true;
    resetter.join();
    CHECK(r.total.reset == 3);
    CHECK(r.total.sent == 3);
  }
  SECTION("a duration shorter than the run: unfinished") {
    REQUIRE(listen(lfd, 16) == 0);
    o.speed = 0.001;  // the second row is due after 1000 s
    o.duration_s = 0.5;
    REQUIRE(iotwall::live::drive(o, &r, &error));
    CHECK(r.total.timeout == 1);
    CHECK(r.total.unfinished == 2);
    CHECK(r.elapsed_s < 5);
  }
  CHECK(sum_outcomes(r.total) == 3);
  std::remove(csv.c_str());
}

TEST_CASE("live drive: flood mode sends requests back to back", "[live][drive]") {
  SiteMap m;
  for (int i = 1; i <= 3; ++i) {
    iotwall::dpi::SiteService svc;
    svc.id = "l" + std::to_string(i);
    svc.address = "/agent1/l" + std::to_string(i);
    svc.type = "/light";
    svc.ip = iotwall::dpi::parse_ip("127.2.0." + std::to_string(i));
    m.services.push_back(svc);
  }
  iotwall::dpi::SiteService ka;
  ka.id = "agent1";
  ka.address = "/agent1";
  ka.ip = iotwall::dpi::parse_ip("127.0.0.1");
  ka.knowledge_agent = true;
  m.services.push_back(ka);
  ServerThread s(loopback(), &m);
  DriveOptions o;
  o.flood = true;
  o.site_map = m;
  o.connections = 4;
  o.requests = 400;
  o.agent_ports[1] = s.port();
  for (bool write : {false, true}) {
    INFO((write ? "write" : "read"));
    o.flood_write = write;
    REQUIRE(iotwall::live::validate(o).empty());
    DriveReport r;
    std::string error;
    REQUIRE(iotwall::live::drive(o, &r, &error));
    CHECK(r.flood);
    CHECK(r.total.rows == 400);
    CHECK(r.total.answered == 400);
    CHECK(r.latency.count == 400);
    CHECK(r.connections == 4);
    CHECK(r.services == 4);
    CHECK(r.requests_per_s > 0);
    CHECK(r.statuses[write ? 204 : 200] == 400);
  }
  s.server.stop();
  s.thread.join();
  const auto k = s.server.counters();
  CHECK(k.reads == 400);
  CHECK(k.writes == 400);
  CHECK(k.connections == 8);
}

TEST_CASE("live drive: invalid options are refused", "[live][drive]") {
  DriveOptions o;
  CHECK(!iotwall::live::validate(o).empty());  // no trace
  o.trace = "x.csv";
  CHECK(iotwall::live::validate(o).empty());
  o.speed = 0;
  CHECK(!iotwall::live::validate(o).empty());
  o.speed = 1;
  o.connect_override = "not-an-ip";
  CHECK(!iotwall::live::validate(o).empty());
  o.connect_override.clear();
  o.timeout_ms = 0;
  CHECK(!iotwall::live::validate(o).empty());
  o.timeout_ms = 100;
  DriveReport r;
  std::string error;
  o.trace = "/nonexistent/trace.csv";
  CHECK(!iotwall::live::drive(o, &r, &error));
  CHECK_THAT(error, Catch::Contains("/nonexistent/trace.csv"));
  KaServerOptions k;
  CHECK(!KaServer::validate(k).empty());
  k.listen = {"127.0.0.1"};
  CHECK(!KaServer::validate(k).empty());
  k.listen = {"127.0.0.1:99999"};
  CHECK(!KaServer::validate(k).empty());
  k.listen = {"[::1]:0"};
  CHECK(KaServer::validate(k).empty());
  std::vector<double> v{5, 1, 4, 2, 3};
  const auto l = iotwall::live::summarize(&v);
  CHECK(l.count == 5);
  CHECK(l.p50_ms == 3);
  CHECK(l.max_ms == 5);
}

namespace {

// `iotwall serve-ka` in the background until the end of the scope.
struct ServeKa {
  std::string err = temp_path("serve-ka.err"), pidfile = temp_path("serve-ka.pid");
  std::string pid;
  bool ok = false;
  // Waits (bounded) for its "listening on" line; false if it failed.
  bool start(const std::string& prefix, const std::string& args) {
    std::remove(err.c_str());
    std::system((prefix + std::string(IOTWALL_BIN) + " serve-ka " + args + " 2>" + err +
                 " & echo $! >" + pidfile)
                    .c_str());
    pid = slurp(pidfile);
    while (!pid.empty() && pid.back() == '\n') pid.pop_back();
    for (int i = 0; i < 200; ++i) {
      const std::string e = slurp(err);
      if (e.find("listening on") != std::string::npos) return ok = true;
      if (e.find("serve-ka:") != std::string::npos && e.find("listening") == std::string::npos)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // SIGTERM, then waits (bounded) for it to exit; returns its stderr.
  std::string stop() {
    if (!pid.empty()) {
      std::system(("kill -TERM " + pid + " 2>/dev/null; for i in $(seq 50); do kill -0 " + pid +
                   " 2>/dev/null || break; sleep 0.1; done; kill -KILL " + pid + " 2>/dev/null")
                      .c_str());
      pid.clear();
    }
    return slurp(err);
  }
  ~ServeKa() {
    stop();
    std::remove(err.c_str());
    std::remove(pidfile.c_str());
  }
};

}  // namespace

TEST_CASE("live CLI: serve-ka and drive with a labelled trace report per attack kind",
          "[live][cli]") {
  // Attacks start after 2 h of trace time: send 2 h to 3 h.
  SimSite site("cli", "--rooms 4 --hours 3 --seed 2");
  Interner in;
  std::string error;
  auto reader = TraceReader::open(site.csv, in, &error);
  REQUIRE(reader);
  TraceRecord first;
  REQUIRE(reader->next(&first));
  const int64_t start = first.access.time_ms + 2 * 3600 * 1000 - 60'000;
  ServeKa ka;
  int base = 0;
  for (int attempt = 0; attempt < 5 && !ka.ok; ++attempt) {
    base = 20000 + static_cast<int>((getpid() * 13 + attempt * 997) % 30000);
    ka.start("", "--ports " + std::to_string(base + 1) + "-" + std::to_string(base + 4) +
                     " --address 127.0.0.1 --trace " + site.csv + " --duration 100");
  }
  REQUIRE(ka.ok);
  const std::string report = temp_path("cli-report.json");
  const Run d = run("drive --trace " + site.csv + " --site-map " + site.map_path +
                    " --speed 2000 --start-ms " + std::to_string(start) +
                    " --connect-override 127.0.0.1 --port-base " + std::to_string(base) +
                    " --report " + report);
  const std::string ka_err = ka.stop();
  INFO(d.err);
  INFO(ka_err);
  REQUIRE(d.status == 0);
  CHECK_THAT(d.out, Catch::Contains("latency, normal"));
  CHECK_THAT(d.out, Catch::Contains("anomalous("));
  CHECK_THAT(ka_err, Catch::Contains("requests (GET"));
  const auto j = nlohmann::json::parse(slurp(report));
  std::remove(report.c_str());
  CHECK(j["mode"] == "trace");
  CHECK(j["total"]["answered"] == j["total"]["sent"]);
  CHECK(j["total"]["unfinished"] == 0);
  int kinds = 0;
  uint64_t rows = 0;
  for (const auto& [label, c] : j["per_label"].items()) {
    rows += c["rows"].get<uint64_t>();
    kinds += label.starts_with("anomalous(");
    CHECK(c["answered"] == c["sent"]);
    CHECK(c["unfinished"] == 0);
  }
  CHECK(kinds >= 1);
  CHECK(rows == j["total"]["rows"].get<uint64_t>());
  CHECK(j["statuses"].contains("200"));
  // Scans read made-up services' nodes: the KA, which knows the trace's
  // nodes, answers 404 as a real one would.
  if (j["per_label"].contains("anomalous(scan)")) CHECK(j["statuses"].contains("404"));

  // Usage errors and bad input.
  CHECK(run("drive --trace " + site.csv).status == 2);  // no site map
  CHECK(run("drive --site-map " + site.map_path + " --flood --op delete").status == 2);
  CHECK(run("drive --site-map " + site.map_path + " --trace " + site.csv + " --speed -1").status ==
        2);
  CHECK(run("drive --site-map /nonexistent.yaml --trace " + site.csv).status == 1);
  CHECK(run("drive --site-map " + site.map_path + " --trace /nonexistent.csv").status == 1);
  CHECK(run("serve-ka --ports 9-3").status == 2);
  CHECK(run("serve-ka").status == 2);
  CHECK(run("serve-ka --listen 127.0.0.1:0 --site-map /nonexistent.yaml").status == 1);
  CHECK(run("serve-ka --listen 127.0.0.1:0 --duration 0.2").status == 0);
}

namespace {

// The three namespaces of tests/live/netns.sh, removed whatever happens.
struct LiveSite {
  std::string prefix = "lv" + std::to_string(getpid() % 100000000);
  std::string script = std::string(IOTWALL_SOURCE_DIR) + "/tests/live/netns.sh";
  Run up_run{};
  LiveSite(const std::string& map) { up_run = sh(script + " up " + prefix + " " + map); }
  ~LiveSite() { sh(script + " down " + prefix); }
  static Run sh(const std::string& cmd) {
    const std::string out = temp_path("sh.out");
    const int st = std::system((cmd + " >" + out + " 2>&1").c_str());
    Run r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out), ""};
    std::remove(out.c_str());
    return r;
  }
  std::string in(char which) const { return "ip netns exec " + prefix + "-" + which + " "; }
  bool exists(char which) const {
    return sh("ip netns list | awk '{print $1}' | grep -qx " + prefix + "-" + which).status == 0;
  }
};

}  // namespace

TEST_CASE("live netns: clients reach the KAs through the gateway and down removes everything",
          "[live][netns]") {
  if (geteuid() != 0 || std::system("command -v ip >/dev/null 2>&1") != 0) {
    std::printf("SKIP live netns: needs root and iproute2\n");
    WARN("skipped: needs root and iproute2 to make network namespaces");
    return;
  }
  if (std::system("ip netns add iotw-probe-$$ 2>/dev/null && ip netns del iotw-probe-$$") != 0) {
    std::printf("SKIP live netns: cannot create network namespaces here\n");
    WARN("skipped: cannot create network namespaces here");
    return;
  }
  SimSite site("ns", "--rooms 2 --hours 0.5 --seed 4");
  std::string prefix;
  {
    LiveSite live(site.map_path);
    prefix = live.prefix;
    INFO(live.up_run.out);
    REQUIRE(live.up_run.status == 0);
    CHECK_THAT(live.up_run.out, Catch::Contains(prefix + "-c") && Catch::Contains(prefix + "-g") &&
                                    Catch::Contains(prefix + "-k"));
    CHECK(live.exists('c'));
    CHECK(live.exists('g'));
    CHECK(live.exists('k'));
    // A second `up` of the same prefix is refused; nothing is changed.
    CHECK(LiveSite::sh(live.script + " up " + prefix + " " + site.map_path).status == 1);
    CHECK(live.exists('c'));
    // KAs in -k, the monitor on the gateway's KA-side veth, the driver in -c.
    ServeKa ka;
    REQUIRE(ka.start(live.in('k'), "--ports 8081-8090 --site-map " + site.map_path + " --trace " +
                                       site.csv + " --duration 100"));
    const std::string mon_out = temp_path("mon.out"), mon_err = temp_path("mon.err"),
                      mon_pid = temp_path("mon.pid");
    REQUIRE(
        std::system((live.in('g') + IOTWALL_BIN + " monitor --iface " + prefix + "-g1 --site-map " +
                     site.map_path + " >" + mon_out + " 2>" + mon_err + " & echo $! >" + mon_pid)
                        .c_str()) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the capture is open
    const std::string report = temp_path("ns-report.json");
    const Run d = LiveSite::sh(live.in('c') + IOTWALL_BIN + " drive --trace " + site.csv +
                               " --site-map " + site.map_path + " --speed 500 --report " + report);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::system(("p=$(cat " + mon_pid +
                 "); kill -TERM $p; for i in $(seq 50); do kill -0 $p 2>/dev/null || break;"
                 " sleep 0.1; done; kill -KILL $p 2>/dev/null")
                    .c_str());
    const std::string ka_err = ka.stop();
    const std::string me = slurp(mon_err);
    for (const std::string* p : {&mon_out, &mon_err, &mon_pid}) std::remove(p->c_str());
    INFO(d.out);
    INFO(ka_err);
    INFO(me);
    REQUIRE(d.status == 0);
    const auto j = nlohmann::json::parse(slurp(report));
    std::remove(report.c_str());
    const uint64_t sent = j["total"]["sent"];
    CHECK(sent > 300);
    CHECK(j["total"]["answered"] == sent);
    CHECK(j["bind_errors"] == 0);
    CHECK(j["services"].get<uint64_t>() > 5);
    // The gateway saw every request, and decoded each as the trace's access.
    CHECK_THAT(me, Catch::Contains(prefix + "-g1: " + std::to_string(sent) + " accesses"));
    Interner in;
    std::string error;
    auto reader = TraceReader::open(site.csv, in, &error);
    REQUIRE(reader);
    std::map<std::string, uint64_t> ops;
    TraceRecord rec;
    while (reader->next(&rec)) {
      if (iotwall::dpi::VslWriter::is_request(rec.access.op))
        ++ops[std::string(iotwall::operation_name(rec.access.op))];
    }
    REQUIRE(!ops.empty());
    for (const auto& [op, n] : ops)
      CHECK_THAT(me, Catch::Contains("access." + op + " " + std::to_string(n) + ","));
    CHECK_THAT(me, !Catch::Contains("register_failed") && !Catch::Contains("http.error"));
  }
  // Down removed the namespaces (and is idempotent).
  CHECK(LiveSite::sh("ip netns list | grep -q '^" + prefix + "-'").status != 0);
  CHECK(LiveSite::sh(std::string(IOTWALL_SOURCE_DIR) + "/tests/live/netns.sh down " + prefix)
            .status == 0);
}
