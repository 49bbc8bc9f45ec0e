// BodyFields and JsonBody: the few fields of a VSL body the decoder needs,
// read with simdjson's on-demand API (one pass, no DOM, no exception).
//
// Fields read: top-level `value` (a node's value, or a set body), `types[0]`
// (a GET response's node type; for a composed node its service type),
// `operation`, `callbackId`, `modelId` (registerService), and the callback
// frames' `serial`, `address`, `invoke` and `identity.clientId`; a
// top-level `clientId` (the Authorization: VSL JSON) lands in client_id
// too. A body that is a JSON string (the registerService answer) sets
// is_string.
//
// Thread-safety: none. Lifetime: the views in BodyFields point into the
// decoder's buffers and are valid until its next parse() or destruction.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string_view>

namespace iotwall::dpi {

struct BodyFields {
  bool is_string = false;  // the whole body is a string: `string`
  std::string_view string;
  bool has_value = false;  // `value` present (a non-string value is kept as its JSON text)
  std::string_view value;
  std::string_view type;  // types[0]
  std::string_view operation;
  std::string_view callback_id;
  std::string_view model_id;
  std::string_view address;
  std::string_view invoke;
  std::string_view client_id;  // identity.clientId, or a top-level clientId
  bool has_serial = false;
  int64_t serial = 0;
};

class JsonBody {
 public:
  JsonBody() = default;
  JsonBody(const JsonBody&) = delete;
  JsonBody& operator=(const JsonBody&) = delete;

  // Parses `body`. Returns false for malformed JSON (then *out is
  // unspecified). The padded copy and the parser's buffers grow to the
  // largest body seen, then are reused.
  bool parse(std::string_view body, BodyFields* out);

 private:
  bool parse_object(simdjson::ondemand::object obj, BodyFields* out);

  simdjson::ondemand::parser parser_;
  std::unique_ptr<char[]> buf_;  // the padded copy of the body
  size_t cap_ = 0;               // bytes in buf_, padding included
};

}  // namespace iotwall::dpi
