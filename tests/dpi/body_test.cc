#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dpi/cbor_body.h"
#include "dpi/json_body.h"

using iotwall::dpi::BodyFields;
using iotwall::dpi::CborBody;
using iotwall::dpi::JsonBody;

TEST_CASE("JSON bodies: the VSL fields", "[body]") {
  JsonBody j;
  BodyFields f;

  REQUIRE(j.parse(R"({"value":"0"})", &f));
  CHECK(f.has_value);
  CHECK(f.value == "0");

  REQUIRE(j.parse(
      R"({"operation":"SUBSCRIBE","callbackId":"45b01d6b-49d5-44f0-9023-1537b0bc3de0"})", &f));
  CHECK_FALSE(f.has_value);
  CHECK(f.operation == "SUBSCRIBE");
  CHECK(f.callback_id == "45b01d6b-49d5-44f0-9023-1537b0bc3de0");

  REQUIRE(j.parse(
      R"({"modelId":"/lightControler","modelHash":"0123456789abcdef","binaryHash":"fedcba9876543210"})",
      &f));
  CHECK(f.model_id == "/lightControler");

  // A GET response of a composed node: types[0] is the service's type.
  REQUIRE(j.parse(
      R"({"types":["/lightControler","/basic/composed"],"timestamp":1500000000000,"version":5,
"children":{"isOn":{"types":["/basic/boolean"],"value":"1","timestamp":1500000000000,"version":3}}})",
      &f));
  CHECK(f.type == "/lightControler");
  CHECK_FALSE(f.has_value);  // the child's value is not the node's

  REQUIRE(j.parse(R"( {"types":["/basic/number"],"value":"21.5","version":3} )", &f));
  CHECK(f.type == "/basic/number");
  CHECK(f.value == "21.5");

  // A callback frame with an identity.
  REQUIRE(j.parse(R"({"callbackId":"c1","serial":7,"address":"/agent1/vnode1/x","invoke":"VGET",
"identity":{"clientId":"lightcontrol2","accessIDs":["a","b"],"ka":false}})",
                  &f));
  CHECK(f.callback_id == "c1");
  CHECK(f.has_serial);
  CHECK(f.serial == 7);
  CHECK(f.address == "/agent1/vnode1/x");
  CHECK(f.invoke == "VGET");
  CHECK(f.client_id == "lightcontrol2");

  // The registerService answer is a JSON string.
  REQUIRE(j.parse(R"("/agent1/lightcontroler1")", &f));
  CHECK(f.is_string);
  CHECK(f.string == "/agent1/lightcontroler1");

  // Escapes are undone; a non-string value keeps its JSON text.
  REQUIRE(j.parse(R"({"value":"a\"b\u0041"})", &f));
  CHECK(f.value == "a\"bA");
  REQUIRE(j.parse(R"({"value": 42 , "x":[1,{"y":2}]})", &f));
  CHECK(f.value == "42");
  REQUIRE(j.parse("{}", &f));
  CHECK_FALSE(f.has_value);
  REQUIRE(j.parse("[1,2]", &f));
  REQUIRE(j.parse("17", &f));
}

TEST_CASE("JSON bodies: the buffers are reused across sizes", "[body]") {
  JsonBody j;
  BodyFields f;
  const std::string big = R"({"pad":")" + std::string(50000, 'p') + R"(","value":"big"})";
  REQUIRE(j.parse(big, &f));
  CHECK(f.value == "big");
  REQUIRE(j.parse(R"({"value":"small"})", &f));
  CHECK(f.value == "small");
  REQUIRE(j.parse(big, &f));
  CHECK(f.value == "big");
}

TEST_CASE("JSON bodies: malformed JSON is rejected without an exception", "[body]") {
  JsonBody j;
  BodyFields f;
  const std::vector<std::string> bad = {
      "",
      "{",
      R"({"value":"0")",
      R"({"value":"0"} trailing)",
      R"({"value":})",
      R"({"value" "0"})",
      R"({"value":"unterminated})",
      R"({"types":["/a",})",
      R"({"operation":"SUBSCRIBE",})",
      "\"abc",
      "nul",
      std::string("{\"value\":\"\xff\xfe\"}"),
  };
  for (const std::string& b : bad) {
    INFO(b);
    CHECK_FALSE(j.parse(b, &f));
  }
  // Still usable after errors.
  REQUIRE(j.parse(R"({"value":"ok"})", &f));
  CHECK(f.value == "ok");
}

TEST_CASE("CBOR bodies: the same fields", "[body]") {
  using nlohmann::json;
  CborBody c;
  BodyFields f;

  std::vector<uint8_t> b = json::to_cbor(json{{"value", "0"}});
  REQUIRE(c.parse(b, &f));
  CHECK(f.has_value);
  CHECK(f.value == "0");

  b = json::to_cbor(json{{"operation", "LOCK_SUBTREE"}, {"callbackId", "cb"}});
  REQUIRE(c.parse(b, &f));
  CHECK(f.operation == "LOCK_SUBTREE");
  CHECK(f.callback_id == "cb");

  b = json::to_cbor(json{{"types", {"/basic/boolean"}}, {"value", "1"}, {"version", 3}});
  REQUIRE(c.parse(b, &f));
  CHECK(f.type == "/basic/boolean");
  CHECK(f.value == "1");

  b = json::to_cbor(json{{"callbackId", "x"},
                         {"serial", 12},
                         {"address", "/a/b/c"},
                         {"invoke", "VSET"},
                         {"identity", {{"clientId", "door1"}}}});
  REQUIRE(c.parse(b, &f));
  CHECK(f.serial == 12);
  CHECK(f.address == "/a/b/c");
  CHECK(f.invoke == "VSET");
  CHECK(f.client_id == "door1");

  b = json::to_cbor(json("/agent1/lightcontroler1"));
  REQUIRE(c.parse(b, &f));
  CHECK(f.is_string);
  CHECK(f.string == "/agent1/lightcontroler1");

  b = json::to_cbor(json{{"value", 2.5}});
  REQUIRE(c.parse(b, &f));
  CHECK(f.value == "2.5");

  const std::vector<uint8_t> bad1 = {0xbf, 0x61};  // truncated map
  CHECK_FALSE(c.parse(bad1, &f));
  const std::vector<uint8_t> bad2 = {0xa1, 0x61, 0x61, 0x01, 0x00};  // trailing byte
  CHECK_FALSE(c.parse(bad2, &f));
  const std::vector<uint8_t> bad3 = {0x1c};  // reserved additional info
  CHECK_FALSE(c.parse(bad3, &f));
  CHECK_FALSE(c.parse({}, &f));
}
