#include "dpi/http_stream.h"

#include <boost/beast/http/error.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

using iotwall::dpi::DecodeCounters;
using iotwall::dpi::HttpMessage;
using iotwall::dpi::HttpMethod;
using iotwall::dpi::HttpStream;

namespace {

// A message copied out of the listener call.
struct Msg {
  HttpMethod method = HttpMethod::kOther;
  unsigned status = 0;
  std::string url, content_type, upgrade, connection, ws_protocol, auth, body;
  uint64_t body_bytes = 0;
  bool skipped = false, chunked = false, upgrades = false;
  int64_t first_us = 0;
  bool operator==(const Msg&) const = default;
};

class Recorder : public HttpStream::Listener {
 public:
  std::vector<Msg> msgs;
  int headers = 0;
  bool no_body = false;  // answer for responses (HEAD)

  bool response_without_body() override { return no_body; }
  void on_http_headers(const HttpMessage&) override { ++headers; }
  void on_http_message(const HttpMessage& m) override {
    Msg r;
    r.method = m.method;
    r.status = m.status;
    r.url = std::string(m.url);
    r.content_type = std::string(m.content_type);
    r.upgrade = std::string(m.upgrade);
    r.connection = std::string(m.connection);
    r.ws_protocol = std::string(m.websocket_protocol);
    r.auth = std::string(m.authorization);
    r.body = std::string(m.body);
    r.body_bytes = m.body_bytes;
    r.skipped = m.body_skipped;
    r.chunked = m.chunked;
    r.upgrades = m.upgrades;
    r.first_us = m.first_byte_us;
    msgs.push_back(r);
  }
};

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const std::string kPipelined =
    "GET /vsl/agent1/lightcontroler1?depth=-1&scope=COMPLETE&version=3 HTTP/1.1\r\n"
    "Accept: application/json\r\n"
    "\r\n"
    "PUT /vsl/agent1/lightcontroler1/isOn HTTP/1.1\r\n"
    "Content-Type: application/json; UTF-8\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "{\"value\":\"0\"}"
    "POST /vsl/agent1/movementsensor1/motion HTTP/1.1\r\n"
    "Content-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Authorization: VSL eyJjbGllbnRJZCI6ImEifQ==\r\n"
    "\r\n"
    "19\r\n{\"operation\":\"SUBSCRIBE\"}\r\n"
    "0\r\n\r\n";

void check_pipelined(const std::vector<Msg>& m) {
  REQUIRE(m.size() == 3);
  CHECK(m[0].method == HttpMethod::kGet);
  CHECK(m[0].url == "/vsl/agent1/lightcontroler1?depth=-1&scope=COMPLETE&version=3");
  CHECK(m[0].body.empty());
  CHECK(m[1].method == HttpMethod::kPut);
  CHECK(m[1].url == "/vsl/agent1/lightcontroler1/isOn");
  CHECK(m[1].content_type == "application/json; UTF-8");
  CHECK(m[1].body == "{\"value\":\"0\"}");
  CHECK_FALSE(m[1].chunked);
  CHECK(m[2].method == HttpMethod::kPost);
  CHECK(m[2].chunked);
  CHECK(m[2].auth == "VSL eyJjbGllbnRJZCI6ImEifQ==");
  CHECK(m[2].body == "{\"operation\":\"SUBSCRIBE\"}");
}

}  // namespace

TEST_CASE("pipelined requests in one buffer", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  CHECK(s.feed(bytes(kPipelined), 5000) == kPipelined.size());
  check_pipelined(r.msgs);
  CHECK(r.msgs[0].first_us == 5000);
  CHECK(s.state() == HttpStream::State::kHttp);
  CHECK(c.http_errors_total() == 0);
}

TEST_CASE("a request split at every byte boundary gives the same messages", "[http]") {
  for (size_t cut = 0; cut <= kPipelined.size(); ++cut) {
    DecodeCounters c;
    Recorder r;
    HttpStream s(HttpStream::Kind::kRequests, r, c);
    const std::string_view all = kPipelined;
    s.feed(bytes(all.substr(0, cut)), 1000);
    s.feed(bytes(all.substr(cut)), 2000);
    INFO("cut at " << cut);
    check_pipelined(r.msgs);
    // The first message's time is the capture time of its first byte.
    CHECK(r.msgs[0].first_us == (cut == 0 ? 2000 : 1000));
  }
  // And one byte at a time.
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  for (size_t i = 0; i < kPipelined.size(); ++i) {
    s.feed(bytes(std::string_view(kPipelined).substr(i, 1)), static_cast<int64_t>(i));
  }
  check_pipelined(r.msgs);
}

TEST_CASE("chunked bodies with extensions and trailers", "[http]") {
  const std::string req =
      "PUT /vsl/a/b/c HTTP/1.1\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "5;name=value\r\nhello\r\n"
      "6;x\r\n world\r\n"
      "0\r\n"
      "X-Trailer: yes\r\n"
      "\r\n"
      "GET /vsl/a/b HTTP/1.1\r\n\r\n";
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  CHECK(s.feed(bytes(req), 1) == req.size());
  REQUIRE(r.msgs.size() == 2);
  CHECK(r.msgs[0].body == "hello world");
  CHECK(r.msgs[0].body_bytes == 11);
  CHECK(r.msgs[1].url == "/vsl/a/b");
  CHECK(c.http_errors_total() == 0);
}

TEST_CASE("Content-Length bodies and keep-alive responses", "[http]") {
  const std::string resp =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n"
      "\"/agent1/lightcontroler1\""
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kResponses, r, c);
  CHECK(s.feed(bytes(resp), 1) == resp.size());
  REQUIRE(r.msgs.size() == 4);
  CHECK(r.msgs[0].status == 200);
  CHECK(r.msgs[0].body == "\"/agent1/lightcontroler1\"");
  CHECK(r.msgs[1].status == 204);
  CHECK(r.msgs[2].status == 100);
  CHECK(r.msgs[3].status == 404);
  CHECK(r.msgs[3].body == "{}");
}

TEST_CASE("a response to HEAD has no body; a close-delimited body ends at finish", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kResponses, r, c);
  r.no_body = true;
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  CHECK(s.feed(bytes(head), 1) == head.size());
  REQUIRE(r.msgs.size() == 1);
  CHECK(r.msgs[0].body_bytes == 0);
  r.no_body = false;
  const std::string eof = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"value\":\"1\"}";
  s.feed(bytes(eof), 2);
  CHECK(r.msgs.size() == 1);
  s.finish(3);
  REQUIRE(r.msgs.size() == 2);
  CHECK(r.msgs[1].body == "{\"value\":\"1\"}");
  CHECK(r.msgs[1].connection == "close");
  CHECK(c.http_errors_total() == 0);
}

TEST_CASE("a body over the limit is skipped and counted; the stream stays in sync", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c, /*body_limit=*/16);
  const std::string req =
      "PUT /vsl/a/b/c HTTP/1.1\r\nContent-Length: 40\r\n\r\n"
      "{\"value\":\"0123456789012345678901234\"}   "
      "PUT /vsl/a/b/d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n"
      "PUT /vsl/a/b/e HTTP/1.1\r\nContent-Length: 13\r\n\r\n{\"value\":\"1\"}";
  CHECK(s.feed(bytes(req), 1) == req.size());
  REQUIRE(r.msgs.size() == 3);
  CHECK(r.msgs[0].skipped);
  CHECK(r.msgs[0].body.empty());
  CHECK(r.msgs[0].body_bytes == 40);
  CHECK(r.msgs[1].skipped);
  CHECK(r.msgs[1].body_bytes == 20);
  CHECK_FALSE(r.msgs[2].skipped);
  CHECK(r.msgs[2].body == "{\"value\":\"1\"}");
  CHECK(c.get(DecodeCounters::kHttpBodyTooLarge) == 2);
}

TEST_CASE("headers of interest are kept, across pieces, and cut at their bound", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  const std::string long_type(300, 't');
  const std::string req =
      "GET /callbacks HTTP/1.1\r\n"
      "Host: ka\r\n"
      "UPGRADE: websocket\r\n"
      "connection: Upgrade\r\n"
      "Sec-WebSocket-Protocol: v1.vsl.ds2os.org\r\n"
      "Content-Type: " +
      long_type +
      "\r\n"
      "\r\n"
      "\x81\x05hello";
  const size_t n = s.feed(bytes(req), 1);
  CHECK(n == req.size() - 7);  // the frame is not HTTP
  CHECK(s.state() == HttpStream::State::kUpgraded);
  REQUIRE(r.msgs.size() == 1);
  CHECK(r.msgs[0].upgrades);
  CHECK(r.msgs[0].upgrade == "websocket");
  CHECK(r.msgs[0].connection == "Upgrade");
  CHECK(r.msgs[0].ws_protocol == "v1.vsl.ds2os.org");
  CHECK(r.msgs[0].content_type.size() == 128);
  CHECK(c.get(DecodeCounters::kHttpHeaderTruncated) == 1);
  // Nothing more is consumed until resume().
  CHECK(s.feed(bytes("GET / HTTP/1.1\r\n\r\n"), 2) == 0);
  s.resume();
  CHECK(s.feed(bytes("GET / HTTP/1.1\r\n\r\n"), 2) == 18);
  CHECK(r.msgs.size() == 2);
}

TEST_CASE("a 101 response upgrades even without the Upgrade headers", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kResponses, r, c);
  const std::string resp = "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x02hi";
  CHECK(s.feed(bytes(resp), 1) == resp.size() - 4);
  CHECK(s.state() == HttpStream::State::kUpgraded);
  REQUIRE(r.msgs.size() == 1);
  CHECK(r.msgs[0].status == 101);
}

TEST_CASE("garbage stops the direction with the parser's error counted", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  static const char kJunk[] = "\x16\x03\x01\x02\x00garbage\r\n\r\n";
  const std::string junk(kJunk, sizeof kJunk - 1);
  s.feed(bytes(junk), 1);
  CHECK(s.state() == HttpStream::State::kStopped);
  CHECK(c.http_errors_total() == 1);
  CHECK(c.http_errors(static_cast<int>(boost::beast::http::error::bad_method)) == 1);
  CHECK(s.feed(bytes("GET / HTTP/1.1\r\n\r\n"), 2) == 0);
  CHECK(r.msgs.empty());
  bool named = false;
  c.for_each([&](std::string_view name, uint64_t n) {
    if (name == "http.error.bad_method") named = n == 1;
  });
  CHECK(named);

  // Random bytes never crash or loop, whatever the cut.
  uint32_t x = 12345;
  for (int round = 0; round < 200; ++round) {
    std::string bytes_in = "POST /vsl/a/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 64; ++i) {
      x = x * 1103515245 + 12345;
      bytes_in.push_back(static_cast<char>(x >> 16));
    }
    DecodeCounters c2;
    Recorder r2;
    HttpStream s2(HttpStream::Kind::kRequests, r2, c2);
    s2.feed(bytes(bytes_in), 1);
    s2.finish(2);
    CHECK(s2.state() == HttpStream::State::kStopped);
  }
}

TEST_CASE("a gap stops the direction and is counted", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  s.feed(bytes("GET /vsl/a/b HTTP/1.1\r\n"), 1);
  s.on_gap();
  CHECK(s.state() == HttpStream::State::kStopped);
  CHECK(c.get(DecodeCounters::kGap) == 1);
  CHECK(s.feed(bytes("\r\n"), 2) == 0);
  CHECK(r.msgs.empty());
}

TEST_CASE("empty lines between requests are ignored", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  const std::string req = "\r\nGET /vsl/a HTTP/1.1\r\n\r\n\r\n\r\nGET /vsl/b HTTP/1.1\r\n\r\n";
  CHECK(s.feed(bytes(req), 1) == req.size());
  REQUIRE(r.msgs.size() == 2);
  CHECK(r.msgs[1].url == "/vsl/b");
  CHECK_FALSE(s.in_message());
  CHECK(c.http_errors_total() == 0);
}

TEST_CASE("a header that never ends is kept up to its bound, then stops the direction", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  s.feed(bytes("GET /vsl/a HTTP/1.1\r\n"), 1);
  CHECK(s.in_message());
  const std::string field = "X-Filler: " + std::string(1000, 'x') + "\r\n";
  size_t fed = 0;
  while (s.state() == HttpStream::State::kHttp && fed < 2 * HttpStream::kMaxHead) {
    s.feed(bytes(field), 2);
    fed += field.size();
  }
  CHECK(s.state() == HttpStream::State::kStopped);
  CHECK(fed <= HttpStream::kMaxHead + field.size());
  CHECK(c.http_errors(static_cast<int>(boost::beast::http::error::header_limit)) == 1);
  CHECK(r.msgs.empty());
}

TEST_CASE("a header cut by the end of the direction is counted", "[http]") {
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kResponses, r, c);
  s.feed(bytes("HTTP/1.1 200 OK\r\nContent-Le"), 1);
  s.finish(2);
  CHECK(s.state() == HttpStream::State::kStopped);
  CHECK(c.http_errors(static_cast<int>(boost::beast::http::error::partial_message)) == 1);
  CHECK(r.msgs.empty());
}

TEST_CASE("a line ended by a bare LF stops the direction instead of waiting for a CRLF", "[http]") {
  // A lenient server would run this request: the direction stops at once,
  // it does not wait for a CRLF that never comes.
  DecodeCounters c;
  Recorder r;
  HttpStream s(HttpStream::Kind::kRequests, r, c);
  s.feed(bytes("GET /vsl/a HTTP/1.1\nHost: ka\n\n"), 1);
  CHECK(s.state() == HttpStream::State::kStopped);  // Beast refuses this one itself
  CHECK(c.http_errors_total() == 1);
  // Cut in its first line (as the decoder's sniffing cuts it), Beast would
  // only look for the blank line that ends a header, and wait for it.
  DecodeCounters c2;
  Recorder r2;
  HttpStream s2(HttpStream::Kind::kRequests, r2, c2);
  s2.feed(bytes("GET /v"), 1);
  CHECK(s2.state() == HttpStream::State::kHttp);
  s2.feed(bytes("sl/a HTTP/1.1\nHost: ka\n\n"), 2);
  CHECK(s2.state() == HttpStream::State::kStopped);
  CHECK(c2.http_errors(static_cast<int>(boost::beast::http::error::bad_line_ending)) == 1);
  CHECK(r.msgs.empty());
  CHECK(r2.msgs.empty());
}
