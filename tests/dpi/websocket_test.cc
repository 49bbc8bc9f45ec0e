#include "dpi/websocket.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using iotwall::dpi::DecodeCounters;
using iotwall::dpi::WebSocketStream;

namespace {

struct Message {
  bool text;
  std::string payload;
  int64_t ts;
};

class Recorder : public WebSocketStream::Listener {
 public:
  std::vector<Message> msgs;
  void on_ws_message(const WebSocketStream&, bool text, std::string_view payload,
                     int64_t ts_us) override {
    msgs.push_back({text, std::string(payload), ts_us});
  }
};

// One frame as RFC 6455 section 5.2 lays it out.
std::string frame(bool fin, uint8_t opcode, std::string_view payload, bool mask, uint8_t rsv = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | opcode));
  const uint8_t m = mask ? 0x80 : 0;
  const uint64_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(m | n));
  } else if (n <= 0xffff) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>(n >> (8 * i)));
  }
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (mask) f.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    f.push_back(static_cast<char>(mask ? payload[i] ^ key[i % 4] : payload[i]));
  }
  return f;
}

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const std::string kNotify =
    R"({"callbackId":"45b0","serial":348,"address":"/agent1/movementsensor1/motion","invoke":"NOTIFY"})";

}  // namespace

TEST_CASE("unmasked and masked text frames", "[websocket]") {
  DecodeCounters c;
  Recorder r;
  WebSocketStream ws(r, c);
  ws.feed(bytes(frame(true, 1, kNotify, false) + frame(true, 1, "Hello", true)), 7000);
  REQUIRE(r.msgs.size() == 2);
  CHECK(r.msgs[0].text);
  CHECK(r.msgs[0].payload == kNotify);
  CHECK(r.msgs[0].ts == 7000);
  CHECK(r.msgs[1].payload == "Hello");
  // RFC 6455 section 5.7's own masked example.
  const uint8_t rfc[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  ws.feed(rfc, 1);
  REQUIRE(r.msgs.size() == 3);
  CHECK(r.msgs[2].payload == "Hello");
  CHECK(c.get(DecodeCounters::kWsProtocolError) == 0);
}

TEST_CASE("16-bit and 64-bit lengths", "[websocket]") {
  DecodeCounters c;
  Recorder r;
  WebSocketStream ws(r, c, 1 << 20);
  const std::string mid(300, 'm');
  const std::string big(70000, 'b');
  ws.feed(bytes(frame(true, 2, mid, true)), 1);
  ws.feed(bytes(frame(true, 1, big, false)), 2);
  REQUIRE(r.msgs.size() == 2);
  CHECK_FALSE(r.msgs[0].text);
  CHECK(r.msgs[0].payload == mid);
  CHECK(r.msgs[1].payload == big);
  // A 64-bit length with its top bit set is a protocol error.
  const uint8_t bad[] = {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1};
  ws.feed(bad, 3);
  CHECK(ws.state() == WebSocketStream::State::kStopped);
  CHECK(c.get(DecodeCounters::kWsProtocolError) == 1);
}

TEST_CASE("a fragmented message with an interleaved ping, split at every byte", "[websocket]") {
  const std::string stream =
      frame(false, 1, "{\"callbackId\":", true) + frame(true, 9, "ping!", true) +
      frame(false, 0, "\"a\",\"serial\":", true) + frame(true, 10, "", false) +
      frame(true, 0, "1}", true) + frame(true, 1, kNotify, false);
  auto check = [](const Recorder& r) {
    REQUIRE(r.msgs.size() == 2);
    CHECK(r.msgs[0].payload == R"({"callbackId":"a","serial":1})");
    CHECK(r.msgs[1].payload == kNotify);
  };
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    DecodeCounters c;
    Recorder r;
    WebSocketStream ws(r, c);
    const std::string_view all = stream;
    ws.feed(bytes(all.substr(0, cut)), 1);
    ws.feed(bytes(all.substr(cut)), 2);
    INFO("cut at " << cut);
    check(r);
    CHECK(r.msgs[0].ts == (cut == 0 ? 2 : 1));
    CHECK(c.get(DecodeCounters::kWsProtocolError) == 0);
  }
  DecodeCounters c;
  Recorder r;
  WebSocketStream ws(r, c);
  for (size_t i = 0; i < stream.size(); ++i)
    ws.feed(bytes(std::string_view(stream).substr(i, 1)), 1);
  check(r);
}

TEST_CASE("a message over the limit is skipped and counted; the stream stays in sync",
          "[websocket]") {
  DecodeCounters c;
  Recorder r;
  WebSocketStream ws(r, c, /*message_limit=*/64);
  ws.feed(bytes(frame(false, 1, std::string(40, 'a'), true) +
                frame(true, 0, std::string(40, 'b'), true) +
                frame(true, 1, std::string(100, 'c'), false) + frame(true, 1, "ok", true)),
          1);
  REQUIRE(r.msgs.size() == 1);
  CHECK(r.msgs[0].payload == "ok");
  CHECK(c.get(DecodeCounters::kWsMessageTooLarge) == 2);
}

TEST_CASE("protocol errors stop the direction", "[websocket]") {
  struct Case {
    const char* what;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"reserved bits", frame(true, 1, "x", false, 0x40)},
      {"unknown opcode", frame(true, 3, "x", false)},
      {"fragmented control frame", frame(false, 9, "x", false)},
      {"control frame over 125 bytes", frame(true, 9, std::string(126, 'p'), false)},
      {"continuation without a message", frame(true, 0, "x", false)},
      {"a new message inside a fragmented one",
       frame(false, 1, "x", false) + frame(true, 1, "y", false)},
  };
  for (const Case& k : cases) {
    DecodeCounters c;
    Recorder r;
    WebSocketStream ws(r, c);
    ws.feed(bytes(k.bytes + frame(true, 1, "after", false)), 1);
    INFO(k.what);
    CHECK(ws.state() == WebSocketStream::State::kStopped);
    CHECK(c.get(DecodeCounters::kWsProtocolError) == 1);
    CHECK(r.msgs.empty());
  }
}

TEST_CASE("a close frame ends the direction; a gap stops it", "[websocket]") {
  DecodeCounters c;
  Recorder r;
  WebSocketStream ws(r, c);
  ws.feed(bytes(frame(true, 8, "\x03\xe8", true) + frame(true, 1, "late", false)), 1);
  CHECK(ws.state() == WebSocketStream::State::kClosed);
  CHECK(r.msgs.empty());
  CHECK(c.get(DecodeCounters::kWsProtocolError) == 0);

  WebSocketStream ws2(r, c);
  ws2.feed(bytes(frame(true, 1, "half", false).substr(0, 3)), 1);
  ws2.on_gap();
  CHECK(ws2.state() == WebSocketStream::State::kStopped);
  CHECK(c.get(DecodeCounters::kGap) == 1);
}
