// CborBody: the same BodyFields as JsonBody, from an application/cbor body
// (the KA's first preference). Not the hot path: nlohmann::json builds a
// tree per body. Never throws.
//
// Thread-safety: none. Lifetime: the views in BodyFields point into the
// decoder's last tree and are valid until its next parse() or destruction.
#pragma once

#include <nlohmann/json.hpp>

#include <span>
#include <string>

#include "dpi/json_body.h"

namespace iotwall::dpi {

class CborBody {
 public:
  // Returns false for a malformed CBOR item (then *out is unspecified).
  bool parse(std::span<const uint8_t> body, BodyFields* out);

 private:
  nlohmann::json doc_;
  std::string value_text_;  // a non-string value, as JSON text
};

}  // namespace iotwall::dpi
