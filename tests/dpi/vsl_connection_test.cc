#include "dpi/vsl_connection.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using iotwall::Access;
using iotwall::Interner;
using iotwall::Operation;
using iotwall::Sym;
using iotwall::Value;
using iotwall::dpi::AccessSink;
using iotwall::dpi::CloseReason;
using iotwall::dpi::ConnectionInfo;
using iotwall::dpi::DecodeCounters;
using iotwall::dpi::Direction;
using iotwall::dpi::Directory;
using iotwall::dpi::IpAddress;
using iotwall::dpi::SiteMap;
using iotwall::dpi::SiteService;
using iotwall::dpi::VslConnection;

namespace {

IpAddress ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.family = 4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

// An access in words, for readable comparisons.
struct Row {
  std::string src_id, src_addr, src_type, src_room;
  std::string dest, dest_type, dest_room, node, node_type;
  std::string op, value;
  int64_t time_ms = 0;
};

class RecordingSink : public AccessSink {
 public:
  explicit RecordingSink(const Interner& in) : in_(in) {}
  std::vector<Access> accesses;
  std::vector<Row> rows;

  void on_access(const Access& a) override {
    accesses.push_back(a);
    Row r;
    r.src_id = in_.str(a.source_id);
    r.src_addr = in_.str(a.source_address);
    r.src_type = in_.str(a.source_type);
    r.src_room = in_.str(a.source_location);
    r.dest = in_.str(a.dest_address);
    r.dest_type = in_.str(a.dest_type);
    r.dest_room = in_.str(a.dest_location);
    r.node = in_.str(a.node_address);
    r.node_type = in_.str(a.node_type);
    r.op = iotwall::operation_name(a.op);
    r.value = value_text(a.value);
    r.time_ms = a.time_ms;
    rows.push_back(r);
  }

  std::string value_text(const Value& v) const {
    switch (v.kind) {
      case Value::Kind::kEmpty:
        return "";
      case Value::Kind::kNone:
        return "none";
      case Value::Kind::kBool:
        return v.boolean ? "true" : "false";
      case Value::Kind::kNumber: {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v.number);
        return buf;
      }
      case Value::Kind::kText:
        return "text:" + std::string(in_.str(v.text));
    }
    return "?";
  }

 private:
  const Interner& in_;
};

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string chunked(std::string_view body) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", body.size());
  return std::string(size) + std::string(body) + "\r\n0\r\n\r\n";
}

std::string response(int status, std::string_view body,
                     std::string_view type = "application/json") {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  if (!body.empty()) r += "Content-Type: " + std::string(type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  return r + std::string(body);
}

std::string base64(std::string_view s) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8) | uint8_t(s[i + 2]);
    for (int j = 3; j >= 0; --j) out.push_back(k[(v >> (6 * j)) & 63]);
  }
  if (i + 1 == s.size()) {
    const uint32_t v = uint8_t(s[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    const uint32_t v = (uint8_t(s[i]) << 16) | (uint8_t(s[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

std::string ws_frame(uint8_t opcode, std::string_view payload, bool mask) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  const uint8_t m = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(m | payload.size()));
  } else {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size()));
  }
  const char key[4] = {0x11, 0x22, 0x33, 0x44};
  if (mask) f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    f.push_back(mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  }
  return f;
}

// The captured register request of VSL-WIRE.md, byte for byte.
const std::string kRegisterBody =
    R"({"modelId":"/lightControler","modelHash":"0123456789abcdef","binaryHash":"fedcba9876543210"})";
const std::string kCapturedRegister =
    "POST /service/register HTTP/1.1\r\n"
    "Accept-Encoding: gzip\r\n"
    "User-Agent: Jetty/9.2.z-SNAPSHOT\r\n"
    "Accept: application/json\r\n"
    "Content-Type: application/json; UTF-8\r\n"
    "Host: 127.0.0.1:8081\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n" +
    chunked(kRegisterBody);

struct Site {
  SiteMap map;
  Interner in;
  DecodeCounters counters;
  Directory dir;
  RecordingSink sink;

  static SiteMap make_map() {
    SiteMap m;
    SiteService lc;
    lc.id = "lightcontroler1";
    lc.address = "/agent1/lightcontroler1";
    lc.room = "Kitchen";
    m.services.push_back(lc);
    SiteService lc2;
    lc2.id = "lightcontrol2";
    lc2.address = "/agent1/lightcontrol2";
    lc2.type = "/lightControler";
    lc2.room = "BedroomParents";
    lc2.ip = ip4(10, 0, 0, 2);
    m.services.push_back(lc2);
    SiteService motion;
    motion.id = "movementsensor1";
    motion.address = "/agent1/movementsensor1";
    motion.type = "/movementSensor";
    motion.room = "Kitchen";
    motion.ip = ip4(10, 0, 0, 3);
    m.services.push_back(motion);
    SiteService ka;
    ka.id = "agent2";
    ka.address = "/agent2";
    ka.ip = ip4(10, 0, 0, 9);
    ka.knowledge_agent = true;
    m.services.push_back(ka);
    return m;
  }

  Site() : map(make_map()), dir(map, in), sink(in) {}

  std::unique_ptr<VslConnection> open(IpAddress client_ip, uint16_t port = 40000) {
    ConnectionInfo info;
    info.id = 1;
    info.client.ip = client_ip;
    info.client.port = port;
    info.server.ip = ip4(10, 0, 0, 1);
    info.server.port = 8081;
    return std::make_unique<VslConnection>(info, dir, in, sink, counters);
  }
};

void req(VslConnection& c, std::string_view s, int64_t ts_us = 1'000'000) {
  c.on_data(Direction::kToServer, bytes(s), ts_us);
}
void resp(VslConnection& c, std::string_view s, int64_t ts_us = 2'000'000) {
  c.on_data(Direction::kToClient, bytes(s), ts_us);
}

const IpAddress kUnknownIp = ip4(10, 0, 0, 7);

}  // namespace

TEST_CASE("registerService: the captured request, its answer, then requests carry the source",
          "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  req(*c, kCapturedRegister, 1'520'031'600'000'123);
  CHECK(s.sink.rows.empty());  // emitted on the answer
  resp(*c, response(200, "\"/agent1/lightcontroler1\""));
  REQUIRE(s.sink.rows.size() == 1);
  const Row& r = s.sink.rows[0];
  CHECK(r.src_id == "lightcontroler1");
  CHECK(r.src_addr == "/agent1/lightcontroler1");
  CHECK(r.src_type == "/lightControler");
  CHECK(r.src_room == "Kitchen");
  CHECK(r.dest == "/agent1/lightcontroler1");
  CHECK(r.dest_type == "/lightControler");
  CHECK(r.dest_room == "Kitchen");
  CHECK(r.node == "/agent1/lightcontroler1");
  CHECK(r.node_type == "/lightControler");
  CHECK(r.op == "registerService");
  CHECK(r.value == "none");
  CHECK(r.time_ms == 1'520'031'600'000);
  CHECK(s.in.str(c->client_address()) == "/agent1/lightcontroler1");

  // The captured PUT: Jetty's chunked body with "application/json; UTF-8".
  req(*c,
      "PUT /vsl/agent1/movementsensor1/motion HTTP/1.1\r\n"
      "Content-Type: application/json; UTF-8\r\n"
      "Transfer-Encoding: chunked\r\n\r\n" +
          chunked(R"({"value":"0"})"),
      3'000'000);
  REQUIRE(s.sink.rows.size() == 2);
  const Row& w = s.sink.rows[1];
  CHECK(w.src_id == "lightcontroler1");
  CHECK(w.src_addr == "/agent1/lightcontroler1");
  CHECK(w.src_type == "/lightControler");
  CHECK(w.src_room == "Kitchen");
  CHECK(w.dest == "/agent1/movementsensor1");
  CHECK(w.dest_type == "/movementSensor");
  CHECK(w.dest_room == "Kitchen");
  CHECK(w.node == "/agent1/movementsensor1/motion");
  CHECK(w.op == "write");
  CHECK(w.value == "0");
  CHECK(w.time_ms == 3000);
  CHECK(s.counters.accesses(Operation::kRegisterService) == 1);
  CHECK(s.counters.accesses(Operation::kWrite) == 1);
}

TEST_CASE("the captured GET with a query: read emitted with its response, types learned", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  req(*c,
      "GET /vsl/agent1/lightcontroler1?depth=-1&scope=COMPLETE&version=3 HTTP/1.1\r\n"
      "Accept: application/json\r\n\r\n",
      5'000'000);
  CHECK(s.sink.rows.empty());
  resp(*c,
       response(
           200,
           R"({"types":["/lightControler","/basic/composed"],"timestamp":1500000000000,"version":5,
"children":{"isOn":{"types":["/basic/boolean"],"value":"1","timestamp":1500000000000,"version":3}}})"),
       6'000'000);
  REQUIRE(s.sink.rows.size() == 1);
  const Row& r = s.sink.rows[0];
  CHECK(r.op == "read");
  CHECK(r.src_id == "10.0.0.7");  // nobody known: the peer's address
  CHECK(r.src_addr.empty());
  CHECK(r.dest == "/agent1/lightcontroler1");
  CHECK(r.node == "/agent1/lightcontroler1");
  CHECK(r.node_type == "/lightControler");
  CHECK(r.dest_type == "/lightControler");  // learned: the service's own node
  CHECK(r.dest_room == "Kitchen");
  CHECK(r.value == "none");  // a composed node has no value, as the traces say
  CHECK(r.time_ms == 5000);  // the request's first byte

  // A node read: its type and value; then a write to it carries the type.
  req(*c, "GET /vsl/agent1/lightcontroler1/isOn HTTP/1.1\r\n\r\n");
  resp(*c, response(200, R"({"types":["/basic/boolean"],"value":"1","version":3})"));
  req(*c,
      "PUT /vsl/agent1/lightcontroler1/isOn HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 17\r\n\r\n{\"value\":\"false\"}");
  REQUIRE(s.sink.rows.size() == 3);
  CHECK(s.sink.rows[1].node_type == "/basic/boolean");
  CHECK(s.sink.rows[1].value == "1");
  CHECK(s.sink.rows[2].op == "write");
  CHECK(s.sink.rows[2].node_type == "/basic/boolean");
  CHECK(s.sink.rows[2].dest_type == "/lightControler");
  CHECK(s.sink.rows[2].value == "false");

  // The directory knows it for other connections too.
  CHECK(s.in.str(s.dir.node_type(s.in.find("/agent1/lightcontroler1/isOn"))) == "/basic/boolean");
}

TEST_CASE("every operation of the table", "[vsl]") {
  struct Case {
    std::string op_json;
    Operation op;
  };
  const std::vector<Case> cases = {
      {"NOTIFY", Operation::kNotifyCallback},
      {"SUBSCRIBE", Operation::kSubscribe},
      {"UNSUBSCRIBE", Operation::kUnsubscribe},
      {"LOCK_SUBTREE", Operation::kLockSubtree},
      {"COMMIT_SUBTREE", Operation::kCommitSubtree},
      {"ROLLBACK_SUBTREE", Operation::kRollbackSubtree},
      {"REGISTER_VIRTUAL_NODE", Operation::kRegisterVirtualNode},
      {"UNREGISTER_VIRTUAL_NODE", Operation::kUnregisterVirtualNode},
      {"FROBNICATE", Operation::kOther},
  };
  Site s;
  auto c = s.open(ip4(10, 0, 0, 2));  // lightcontrol2 by the site map
  for (const Case& k : cases) {
    const std::string body = R"({"operation":")" + k.op_json +
                             R"(","callbackId":"45b01d6b-49d5-44f0-9023-1537b0bc3de0"})";
    // The captured form: no Content-Type at all.
    req(*c, "POST /vsl/agent1/movementsensor1/motion HTTP/1.1\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  REQUIRE(s.sink.accesses.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].op_json);
    CHECK(s.sink.accesses[i].op == cases[i].op);
    const Row& r = s.sink.rows[i];
    CHECK(r.src_id == "lightcontrol2");
    CHECK(r.src_addr == "/agent1/lightcontrol2");
    CHECK(r.src_type == "/lightControler");
    CHECK(r.src_room == "BedroomParents");
    CHECK(r.dest == "/agent1/movementsensor1");
    CHECK(r.dest_type == "/movementSensor");
    CHECK(r.node == "/agent1/movementsensor1/motion");
    CHECK(r.value.empty());
  }
  CHECK(s.counters.get(DecodeCounters::kUnknownOperation) == 1);

  // The POSTs' answers, then get and set with theirs (204 for the set).
  for (size_t i = 0; i < cases.size(); ++i) resp(*c, response(204, ""));
  req(*c,
      "GET /vsl/agent1/movementsensor1/motion?scope=VALUE HTTP/1.1\r\n\r\n"
      "PUT /vsl/agent1/movementsensor1/motion HTTP/1.1\r\nContent-Length: "
      "13\r\n\r\n{\"value\":\"1\"}");
  resp(*c, response(200, R"({"value":"twenty","types":["/derived/boolean"]})") + response(204, ""));
  REQUIRE(s.sink.rows.size() == cases.size() + 2);
  // The write is emitted at once, the read with its answer.
  CHECK(s.sink.rows[cases.size()].op == "write");
  CHECK(s.sink.rows[cases.size()].value == "1");
  CHECK(s.sink.rows[cases.size() + 1].op == "read");
  CHECK(s.sink.rows[cases.size() + 1].value == "text:twenty");
  CHECK(s.sink.rows[cases.size() + 1].node_type == "/derived/boolean");
}

TEST_CASE("responses pair with pipelined requests in order", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  // A POST answered 204 and a HEAD answered without a body sit between the reads.
  req(*c,
      "POST /vsl/a1/s1/n HTTP/1.1\r\nContent-Length: 22\r\n\r\n{\"operation\":\"NOTIFY\"}"
      "GET /vsl/a1/s1/x HTTP/1.1\r\n\r\n"
      "HEAD /vsl/a1/s1/h HTTP/1.1\r\n\r\n"
      "GET /vsl/a1/s1/y HTTP/1.1\r\n\r\n");
  CHECK(s.sink.rows.size() == 2);  // the notify and the HEAD (other)
  resp(*c, response(204, "") + response(200, R"({"value":"10"})") +
               "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" +  // HEAD: no body follows
               response(200, R"({"value":"20"})"));
  REQUIRE(s.sink.rows.size() == 4);
  CHECK(s.sink.rows[0].op == "notifyCallback");
  CHECK(s.sink.rows[1].op == "other");
  CHECK(s.sink.rows[2].node == "/a1/s1/x");
  CHECK(s.sink.rows[2].value == "10");
  CHECK(s.sink.rows[3].node == "/a1/s1/y");
  CHECK(s.sink.rows[3].value == "20");
  CHECK(s.counters.get(DecodeCounters::kUnknownMethod) == 1);
  CHECK(s.counters.http_errors_total() == 0);
}

TEST_CASE("~ expands to the caller's home once known", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  req(*c, "GET /vsl/~/isOn HTTP/1.1\r\n\r\n");
  resp(*c, response(404, R"({"code":404,"message":"no","type":"x"})"));
  REQUIRE(s.sink.rows.size() == 1);
  CHECK(s.sink.rows[0].node == "/~/isOn");
  CHECK(s.sink.rows[0].dest.empty());
  CHECK(s.counters.get(DecodeCounters::kHomeUnknown) == 1);
  CHECK(s.counters.get(DecodeCounters::kReadFailed) == 1);

  req(*c, kCapturedRegister);
  resp(*c, response(200, "\"/agent1/lightcontroler1\""));
  req(*c, "PUT /vsl/~/isOn/ HTTP/1.1\r\nContent-Length: 14\r\n\r\n{\"value\":\"on\"}");
  req(*c, "POST /vsl/~ HTTP/1.1\r\nContent-Length: 22\r\n\r\n{\"operation\":\"NOTIFY\"}");
  REQUIRE(s.sink.rows.size() == 4);
  CHECK(s.sink.rows[2].node == "/agent1/lightcontroler1/isOn");
  CHECK(s.sink.rows[2].dest == "/agent1/lightcontroler1");
  CHECK(s.sink.rows[2].dest_type == "/lightControler");
  CHECK(s.sink.rows[2].value == "text:on");
  CHECK(s.sink.rows[3].node == "/agent1/lightcontroler1");
  CHECK(s.sink.rows[3].node_type == "/lightControler");
}

TEST_CASE("search paths go to /search", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  req(*c, "GET /vsl/search/type/basic/number HTTP/1.1\r\n\r\nGET /search/x HTTP/1.1\r\n\r\n");
  c->on_close(CloseReason::kFin, 3'000'000);
  REQUIRE(s.sink.rows.size() == 2);
  CHECK(s.sink.rows[0].dest == "/search");
  CHECK(s.sink.rows[0].node == "/search/type/basic/number");
  CHECK(s.sink.rows[1].dest == "/search");
}

TEST_CASE("unregisterService with the genuine client's empty chunked body", "[vsl]") {
  Site s;
  auto c = s.open(ip4(10, 0, 0, 2));
  req(*c,
      "POST /service/unregister HTTP/1.1\r\n"
      "Content-Type: application/json; UTF-8\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "0\r\n\r\n",
      9'000'000);
  req(*c, "POST /service/unregister HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 9'500'000);
  REQUIRE(s.sink.rows.size() == 2);
  for (const Row& r : s.sink.rows) {
    CHECK(r.op == "unregisterService");
    CHECK(r.src_id == "lightcontrol2");
    CHECK(r.src_addr == "/agent1/lightcontrol2");
    CHECK(r.dest == "/agent1/lightcontrol2");
    CHECK(r.node == "/agent1/lightcontrol2");
    CHECK(r.dest_type == "/lightControler");
    CHECK(r.value == "none");
  }
  CHECK(s.sink.rows[0].time_ms == 9000);
  resp(*c, response(204, "") + response(204, ""));
  CHECK(s.counters.get(DecodeCounters::kHttpUnpairedResponse) == 0);
}

TEST_CASE("WebSocket callbacks: NOTIFY to the subscriber, VGET with an identity", "[vsl]") {
  Site s;
  auto c = s.open(ip4(10, 0, 0, 2));  // lightcontrol2's callback connection
  req(*c,
      "GET /callbacks HTTP/1.1\r\n"
      "Host: 10.0.0.1:8081\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Protocol: v1.vsl.ds2os.org\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n");
  CHECK_FALSE(c->websocket());
  const std::string notify =
      R"({"callbackId":"45b0","serial":348,"address":"/agent1/movementsensor1/motion","invoke":"NOTIFY"})";
  const std::string vget =
      R"({"callbackId":"77","serial":349,"address":"/agent1/lightcontrol2/virt","invoke":"VGET",)"
      R"("identity":{"clientId":"movementsensor1","accessIDs":["x"],"ka":false}})";
  // The 101 and the first frame in one segment.
  resp(*c,
       "HTTP/1.1 101 Switching Protocols\r\n"
       "Upgrade: websocket\r\n"
       "Connection: Upgrade\r\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
       "Sec-WebSocket-Protocol: v1.vsl.ds2os.org\r\n\r\n" +
           ws_frame(1, notify, false),
       7'000'000);
  CHECK(c->websocket());
  // The client's answer (masked) is not an access.
  req(*c, ws_frame(1, R"({"callbackId":"45b0","serial":348})", true), 7'100'000);
  const std::string second = ws_frame(1, vget, false);
  resp(*c, second.substr(0, 5), 8'000'000);
  resp(*c, second.substr(5), 8'100'000);
  REQUIRE(s.sink.rows.size() == 2);
  const Row& n = s.sink.rows[0];
  CHECK(n.op == "notifyCallback");
  CHECK(n.src_id == "lightcontrol2");
  CHECK(n.src_addr == "/agent1/lightcontrol2");
  CHECK(n.dest == "/agent1/movementsensor1");
  CHECK(n.dest_type == "/movementSensor");
  CHECK(n.node == "/agent1/movementsensor1/motion");
  CHECK(n.time_ms == 7000);
  const Row& v = s.sink.rows[1];
  CHECK(v.op == "notifyCallback");
  CHECK(v.src_id == "movementsensor1");
  CHECK(v.src_addr == "/agent1/movementsensor1");
  CHECK(v.src_type == "/movementSensor");
  CHECK(v.dest == "/agent1/lightcontrol2");
  CHECK(v.node == "/agent1/lightcontrol2/virt");
  CHECK(v.time_ms == 8000);
  CHECK(s.counters.get(DecodeCounters::kWsProtocolError) == 0);
  CHECK(s.counters.http_errors_total() == 0);
}

TEST_CASE("a refused upgrade returns the client to HTTP", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  req(*c,
      "GET /callbacks HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
      "PUT /vsl/a/b/c HTTP/1.1\r\nContent-Length: 13\r\n\r\n{\"value\":\"5\"}");
  CHECK(s.sink.rows.empty());  // held until the answer
  resp(*c, response(403, R"({"code":403})"));
  CHECK_FALSE(c->websocket());
  REQUIRE(s.sink.rows.size() == 1);
  CHECK(s.sink.rows[0].op == "write");
  CHECK(s.sink.rows[0].value == "5");
}

TEST_CASE("Authorization: VSL is trusted from a KA and ignored otherwise", "[vsl]") {
  const std::string auth =
      "Authorization: VSL " +
      base64(R"({"clientId":"lightcontrol2","accessIDs":["lightcontrol2","readers"],"ka":false})") +
      "\r\n";
  const std::string put = "PUT /vsl/agent1/movementsensor1/motion HTTP/1.1\r\n" + auth +
                          "Content-Length: 13\r\n\r\n{\"value\":\"1\"}";
  Site s;
  auto from_ka = s.open(ip4(10, 0, 0, 9));
  req(*from_ka, put);
  auto from_service = s.open(ip4(10, 0, 0, 3));  // movementsensor1, not a KA
  req(*from_service, put);
  REQUIRE(s.sink.rows.size() == 2);
  CHECK(s.sink.rows[0].src_id == "lightcontrol2");
  CHECK(s.sink.rows[0].src_addr == "/agent1/lightcontrol2");
  CHECK(s.sink.rows[0].src_type == "/lightControler");
  CHECK(s.sink.rows[0].src_room == "BedroomParents");
  CHECK(s.sink.rows[1].src_id == "movementsensor1");
  CHECK(s.counters.get(DecodeCounters::kAuthUntrusted) == 1);

  // A KA's request without Authorization is the KA's own; a bad one is counted.
  req(*from_ka, "GET /vsl/agent1/x HTTP/1.1\r\nAuthorization: VSL !!!\r\n\r\n");
  from_ka->on_close(CloseReason::kFin, 5'000'000);
  REQUIRE(s.sink.rows.size() == 3);
  CHECK(s.sink.rows[2].src_id == "agent2");
  CHECK(s.counters.get(DecodeCounters::kAuthBad) == 1);
}

TEST_CASE("a connection closing with a read unanswered emits it with an empty value", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp, 51000);
  req(*c, "GET /vsl/agent1/movementsensor1/motion HTTP/1.1\r\n\r\n", 4'000'000);
  resp(*c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"val");  // cut short
  CHECK(s.sink.rows.empty());
  c->on_close(CloseReason::kReset, 5'000'000);
  REQUIRE(s.sink.rows.size() == 1);
  CHECK(s.sink.rows[0].op == "read");
  CHECK(s.sink.rows[0].value.empty());
  CHECK(s.sink.rows[0].src_id == "10.0.0.7");
  CHECK(s.sink.rows[0].time_ms == 4000);
  CHECK(s.counters.get(DecodeCounters::kReadUnanswered) == 1);
  // Nothing after the close.
  req(*c, "GET /vsl/a/b/c HTTP/1.1\r\n\r\n");
  c->on_close(CloseReason::kFin, 6'000'000);
  CHECK(s.sink.rows.size() == 1);
}

TEST_CASE("a gap in the responses settles the waiting reads; later reads go at once", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  req(*c, "GET /vsl/a/b/c HTTP/1.1\r\n\r\n");
  c->on_gap(Direction::kToClient, 100, 2'000'000);
  REQUIRE(s.sink.rows.size() == 1);
  CHECK(s.counters.get(DecodeCounters::kGap) == 1);
  req(*c, "GET /vsl/a/b/d HTTP/1.1\r\n\r\n");
  REQUIRE(s.sink.rows.size() == 2);
  CHECK(s.sink.rows[1].node == "/a/b/d");
  CHECK(s.counters.get(DecodeCounters::kReadUnanswered) == 2);
  // A gap in the requests stops them.
  c->on_gap(Direction::kToServer, 100, 3'000'000);
  req(*c, "GET /vsl/a/b/e HTTP/1.1\r\n\r\n");
  CHECK(s.sink.rows.size() == 2);
}

TEST_CASE("bodies: CBOR decoded, protobuf undecoded, bad JSON counted", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  const std::vector<uint8_t> cbor = nlohmann::json::to_cbor(nlohmann::json{{"value", "21.5"}});
  req(*c, "PUT /vsl/a/b/t HTTP/1.1\r\nContent-Type: application/cbor\r\nContent-Length: " +
              std::to_string(cbor.size()) + "\r\n\r\n" + std::string(cbor.begin(), cbor.end()));
  req(*c,
      "PUT /vsl/a/b/t HTTP/1.1\r\nContent-Type: application/x-protobuf-vsl\r\n"
      "Content-Length: 3\r\n\r\n\x0a\x01\x31");
  req(*c,
      "PUT /vsl/a/b/t HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 5\r\n\r\n{\"val");
  req(*c,
      "POST /vsl/a/b/t HTTP/1.1\r\nContent-Type: application/xml\r\n"
      "Content-Length: 4\r\n\r\n<a/>");
  REQUIRE(s.sink.rows.size() == 4);
  CHECK(s.sink.rows[0].value == "21.5");
  CHECK(s.sink.rows[1].op == "write");
  CHECK(s.sink.rows[1].node == "/a/b/t");
  CHECK(s.sink.rows[1].value.empty());
  CHECK(s.sink.rows[2].value.empty());
  CHECK(s.sink.rows[3].op == "other");
  CHECK(s.counters.get(DecodeCounters::kUndecodedContentType) == 2);
  CHECK(s.counters.get(DecodeCounters::kBadJson) == 1);
}

TEST_CASE("a certificate identity wins over the site map and registration", "[vsl]") {
  Site s;
  auto c = s.open(ip4(10, 0, 0, 2));
  c->set_client_identity("movementsensor1", "");
  req(*c, kCapturedRegister);
  resp(*c, response(200, "\"/agent1/lightcontroler1\""));
  req(*c,
      "POST /vsl/agent1/lightcontroler1/isOn HTTP/1.1\r\nContent-Length: 25\r\n\r\n"
      "{\"operation\":\"SUBSCRIBE\"}");
  REQUIRE(s.sink.rows.size() == 2);
  CHECK(s.sink.rows[0].op == "registerService");  // as the traces show it
  CHECK(s.sink.rows[1].src_id == "movementsensor1");
  CHECK(s.sink.rows[1].src_addr == "/agent1/movementsensor1");
  CHECK(s.sink.rows[1].src_type == "/movementSensor");
  CHECK(s.sink.rows[1].dest_type == "/lightControler");  // learned from the registration
}

TEST_CASE("unknown paths, KA paths and garbage are counted, never crash", "[vsl]") {
  Site s;
  auto c = s.open(kUnknownIp);
  req(*c,
      "POST /ka/handshake HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
      "GET /favicon.ico HTTP/1.1\r\n\r\n"
      "GET /callback-stream/12 HTTP/1.1\r\n\r\n");
  CHECK(s.sink.rows.empty());
  CHECK(s.counters.get(DecodeCounters::kKaInternal) == 1);
  CHECK(s.counters.get(DecodeCounters::kUnknownPath) == 1);
  CHECK(s.counters.get(DecodeCounters::kCallbackStream) == 1);
  resp(*c, response(200, "") + response(404, "") + response(404, "") + response(200, ""));
  CHECK(s.counters.get(DecodeCounters::kHttpUnpairedResponse) == 1);

  // Random bytes after a valid prefix, cut anywhere, both directions.
  uint32_t x = 99;
  for (int round = 0; round < 100; ++round) {
    auto g = s.open(kUnknownIp);
    std::string junk =
        "GET /callbacks HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    std::string back = "HTTP/1.1 101 OK\r\n\r\n";
    for (int i = 0; i < 200; ++i) {
      x = x * 1664525 + 1013904223;
      junk.push_back(static_cast<char>(x >> 24));
      back.push_back(static_cast<char>(x >> 16));
    }
    const size_t cut = x % junk.size();
    req(*g, std::string_view(junk).substr(0, cut));
    resp(*g, back);
    req(*g, std::string_view(junk).substr(cut));
    g->on_close(CloseReason::kFin, 1);
  }
}
