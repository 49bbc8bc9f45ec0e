// CborBody: the same BodyFields as JsonBody, from an application/cbor body
// (the KA's first preference). A one-pass walk over libcbor's streaming
// decoder (cbor_stream_decode): no tree, no allocation once warm. Never
// throws.
//
// The body must be exactly one well-formed CBOR item, nothing after it.
// Maps, arrays and strings of definite or indefinite length are accepted;
// tags are skipped; map keys must be text strings; nesting deeper than
// kMaxDepth maps/arrays is rejected. Only top-level map fields (and
// identity.clientId) are read; see BodyFields.
//
// Thread-safety: none. Lifetime: the views in BodyFields point into the
// body passed to parse() (definite-length strings) or into the decoder's
// own buffers (indefinite-length strings, a non-string `value`'s text);
// they are valid while the body lives and until the decoder's next parse()
// or destruction. A copied/moved decoder does not carry views over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dpi/json_body.h"

namespace iotwall::dpi {

class CborBody {
 public:
  // Maps/arrays nested deeper than this are rejected.
  static constexpr int kMaxDepth = 32;

  // Returns false for a malformed CBOR item (then *out is unspecified).
  bool parse(std::span<const uint8_t> body, BodyFields* out);

  // The chunk buffer's capacity (tests: parse() reuses it once warm).
  size_t buffer_capacity() const { return chunks_.capacity(); }

 private:
  friend struct CborWalker;

  // Indefinite-length strings of kept fields, concatenated. Reserved (lazily,
  // at the first such string of a parse, before any view into it exists) to
  // at least the body's size, so appends never reallocate and earlier views
  // stay valid; it then keeps the largest size needed so far.
  std::string chunks_;
  char value_text_[40] = {};  // a non-string `value`, as JSON-like text
};

}  // namespace iotwall::dpi
