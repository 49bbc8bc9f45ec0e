#include "dpi/cbor_body.h"

#include <cbor.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

namespace iotwall::dpi {

namespace {

// What an item is to us: the field it fills, from its place in the body.
enum class Field : uint8_t {
  kNone,              // not read
  kRoot,              // the root item: a string is the whole-body string
  kValue,             // top-level `value`
  kTypes,             // top-level `types` (an array: its first element)
  kType,              // types[0]
  kOperation,
  kCallbackId,
  kModelId,
  kAddress,
  kInvoke,
  kClientId,          // top-level `clientId`
  kSerial,
  kIdentity,          // top-level `identity` (a map: its clientId)
  kIdentityClientId,  // identity.clientId
};

// A map's or array's role: which fields its items fill.
enum class Role : uint8_t { kOther, kRootMap, kIdentityMap, kTypesArray };

struct Frame {
  uint64_t remaining;  // definite: items left (a map counts keys and values)
  uint64_t index;      // items seen (a map: keys and values)
  bool indefinite;
  bool is_map;
  Role role;
  Field pending;  // a map: the field of the value after the current key
};

// An indefinite-length string being read chunk by chunk.
enum class Chunked : uint8_t { kNo, kText, kBytes };

constexpr size_t kKeyMax = 16;  // longer keys are none we read

Field key_field(Role role, std::string_view k) {
  if (role == Role::kRootMap) {
    if (k == "value") return Field::kValue;
    if (k == "types") return Field::kTypes;
    if (k == "operation") return Field::kOperation;
    if (k == "callbackId") return Field::kCallbackId;
    if (k == "modelId") return Field::kModelId;
    if (k == "address") return Field::kAddress;
    if (k == "invoke") return Field::kInvoke;
    if (k == "clientId") return Field::kClientId;
    if (k == "serial") return Field::kSerial;
    if (k == "identity") return Field::kIdentity;
  } else if (role == Role::kIdentityMap) {
    if (k == "clientId") return Field::kIdentityClientId;
  }
  return Field::kNone;
}

bool keeps_string(Field f) {
  switch (f) {
    case Field::kRoot:
    case Field::kValue:
    case Field::kType:
    case Field::kOperation:
    case Field::kCallbackId:
    case Field::kModelId:
    case Field::kAddress:
    case Field::kInvoke:
    case Field::kClientId:
    case Field::kIdentityClientId:
      return true;
    default:
      return false;
  }
}

}  // namespace

// The decoder's state during one parse(); libcbor's callbacks drive it.
struct CborWalker {
  CborWalker(CborBody* owner, std::span<const uint8_t> body, BodyFields* out)
      : self(owner), body(body), out(out) {}

  CborBody* self;
  std::span<const uint8_t> body;
  BodyFields* out;
  size_t pos = 0;  // where the current header starts

  Frame stack[CborBody::kMaxDepth];
  int depth = 0;
  bool error = false;
  bool done = false;        // the root item is complete
  bool tag_pending = false;  // a tag was read; its item comes next

  // The item being begun: is it a map key, and which field it fills.
  bool item_is_key = false;
  Field item_field = Field::kNone;

  // Indefinite-length string state.
  Chunked chunked = Chunked::kNo;
  bool chunk_is_key = false;
  Field chunk_field = Field::kNone;
  size_t chunk_start = 0;  // offset in self->chunks_
  bool reserved = false;   // chunks_ was sized for this body
  char key[kKeyMax];
  size_t key_len = 0;
  bool key_overflow = false;

  // identity.clientId wins over a top-level clientId, in any order.
  std::string_view top_client_id;
  std::string_view identity_client_id;
  bool has_identity_client_id = false;

  void fail() { error = true; }

  // Starts an item (any header but a tag, a break or a string chunk).
  // Returns false if no item may start here.
  bool begin_item() {
    if (error || done || chunked != Chunked::kNo) {
      fail();
      return false;
    }
    tag_pending = false;
    if (depth == 0) {
      item_is_key = false;
      item_field = Field::kRoot;
      return true;
    }
    Frame& f = stack[depth - 1];
    if (f.is_map) {
      item_is_key = (f.index % 2) == 0;
      item_field = item_is_key ? Field::kNone : f.pending;
    } else {
      item_is_key = false;
      item_field = (f.role == Role::kTypesArray && f.index == 0) ? Field::kType : Field::kNone;
    }
    if (!item_is_key) {
      // Every occurrence of a field replaces an earlier one.
      switch (item_field) {
        case Field::kValue:
          out->has_value = true;
          out->value = {};
          break;
        case Field::kTypes:
          out->type = {};
          break;
        case Field::kSerial:
          out->has_serial = false;
          out->serial = 0;
          break;
        case Field::kIdentityClientId:
          has_identity_client_id = false;
          identity_client_id = {};
          break;
        case Field::kRoot:
          break;
        default:
          assign(item_field, {});  // a non-string leaves the field empty
          break;
      }
    }
    return true;
  }

  // Ends the item begun last (a scalar, a string, or a popped container).
  void end_item() {
    while (true) {
      if (depth == 0) {
        done = true;
        return;
      }
      Frame& f = stack[depth - 1];
      ++f.index;
      if (f.indefinite) return;
      if (--f.remaining != 0) return;
      --depth;  // a definite container is complete: it ends in its parent
    }
  }

  // A non-string scalar. `text` is its value's text (for `value`).
  template <typename TextFn>
  void scalar(TextFn&& text) {
    if (!begin_item()) return;
    if (item_is_key) return fail();  // keys must be text strings
    if (item_field == Field::kValue) out->value = text();
    end_item();
  }

  std::string_view put_text(std::string_view s) {
    std::memcpy(self->value_text_, s.data(), s.size());
    return std::string_view(self->value_text_, s.size());
  }

  std::string_view uint_text(uint64_t v) {
    char* b = self->value_text_;
    auto r = std::to_chars(b, b + sizeof(self->value_text_), v);
    return std::string_view(b, static_cast<size_t>(r.ptr - b));
  }

  // The negative integer -1 - n.
  std::string_view negint_text(uint64_t n) {
    char* b = self->value_text_;
    char* const e = b + sizeof(self->value_text_);
    if (n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      auto r = std::to_chars(b, e, -1 - static_cast<int64_t>(n));
      return std::string_view(b, static_cast<size_t>(r.ptr - b));
    }
    if (n == std::numeric_limits<uint64_t>::max()) return put_text("-18446744073709551616");
    b[0] = '-';
    auto r = std::to_chars(b + 1, e, n + 1);
    return std::string_view(b, static_cast<size_t>(r.ptr - b));
  }

  // As nlohmann::json dumps a double: shortest round trip, ".0" for an
  // integral value, null for NaN and infinities.
  std::string_view double_text(double d) {
    if (!std::isfinite(d)) return put_text("null");
    char* b = self->value_text_;
    char* const e = b + sizeof(self->value_text_) - 2;  // room for ".0"
    auto r = std::to_chars(b, e, d);
    if (r.ec != std::errc()) return put_text("null");  // cannot happen: 24 chars at most
    size_t n = static_cast<size_t>(r.ptr - b);
    if (std::string_view(b, n).find_first_of(".e") == std::string_view::npos) {
      b[n++] = '.';
      b[n++] = '0';
    }
    return std::string_view(b, n);
  }

  void on_uint(uint64_t v) {
    if (!begin_item()) return;
    if (item_is_key) return fail();
    if (item_field == Field::kValue) out->value = uint_text(v);
    if (item_field == Field::kSerial &&
        v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      out->serial = static_cast<int64_t>(v);
      out->has_serial = true;
    }
    end_item();
  }

  void on_negint(uint64_t n) {
    if (!begin_item()) return;
    if (item_is_key) return fail();
    if (item_field == Field::kValue) out->value = negint_text(n);
    if (item_field == Field::kSerial &&
        n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      out->serial = -1 - static_cast<int64_t>(n);
      out->has_serial = true;
    }
    end_item();
  }

  void on_double(double d) {
    scalar([&] { return double_text(d); });
  }
  void on_bool(bool b) {
    scalar([&] { return put_text(b ? "true" : "false"); });
  }
  void on_null() {
    scalar([&] { return put_text("null"); });
  }

  // Assigns a complete string to the field it fills.
  void assign(Field field, std::string_view s) {
    switch (field) {
      case Field::kRoot:
        out->is_string = true;
        out->string = s;
        break;
      case Field::kValue:
        out->value = s;
        break;
      case Field::kType:
        out->type = s;
        break;
      case Field::kOperation:
        out->operation = s;
        break;
      case Field::kCallbackId:
        out->callback_id = s;
        break;
      case Field::kModelId:
        out->model_id = s;
        break;
      case Field::kAddress:
        out->address = s;
        break;
      case Field::kInvoke:
        out->invoke = s;
        break;
      case Field::kClientId:
        top_client_id = s;
        break;
      case Field::kIdentityClientId:
        identity_client_id = s;
        has_identity_client_id = true;
        break;
      default:
        break;
    }
  }

  // A complete map key: the field its value fills.
  void key_done(std::string_view k) {
    Frame& f = stack[depth - 1];
    f.pending = key_field(f.role, k);
  }

  // A definite-length text string: a whole item, or a chunk.
  void on_string(const uint8_t* data, size_t len) {
    if (error) return;
    const char* p = reinterpret_cast<const char*>(data);
    if (chunked == Chunked::kText) {
      if (chunk_is_key) {
        if (len > kKeyMax - key_len) {
          key_overflow = true;
        } else if (len != 0) {
          std::memcpy(key + key_len, p, len);
          key_len += len;
        }
      } else if (keeps_string(chunk_field) && len != 0) {
        std::string& c = self->chunks_;
        if (len > c.capacity() - c.size()) return fail();  // cannot happen: reserved
        c.append(p, len);
      }
      return;
    }
    if (chunked == Chunked::kBytes) return fail();  // a text chunk in a byte string
    if (!begin_item()) return;
    if (item_is_key) {
      key_done(std::string_view(p, len));
    } else {
      assign(item_field, std::string_view(p, len));
    }
    end_item();
  }

  void on_string_start() {
    if (!begin_item()) return;
    chunked = Chunked::kText;
    chunk_is_key = item_is_key;
    chunk_field = item_field;
    key_len = 0;
    key_overflow = false;
    if (!chunk_is_key && keeps_string(chunk_field)) {
      std::string& c = self->chunks_;
      if (!reserved) {
        // The chunks of one body are at most its size: one reserve, made
        // before any view into chunks_ exists, covers the whole parse.
        c.clear();
        if (c.capacity() < body.size()) c.reserve(std::max(body.size(), 2 * c.capacity()));
        reserved = true;
      }
      chunk_start = c.size();
    }
  }

  void on_bytes(const uint8_t*, size_t) {
    if (error) return;
    if (chunked == Chunked::kBytes) return;      // a chunk: ignored
    if (chunked == Chunked::kText) return fail();  // a byte chunk in a text string
    if (!begin_item()) return;
    if (item_is_key) return fail();
    end_item();  // ignored (a `value` byte string leaves value empty)
  }

  void on_bytes_start() {
    if (!begin_item()) return;
    if (item_is_key) return fail();
    chunked = Chunked::kBytes;
  }

  void start_container(bool is_map, bool indefinite, uint64_t count) {
    if (!begin_item()) return;
    if (item_is_key) return fail();
    if (depth == CborBody::kMaxDepth) return fail();
    // Each item takes a byte at least: a longer count cannot be complete
    // (and doubling a map's count cannot overflow).
    if (!indefinite && count > body.size() - pos) return fail();
    Role role = Role::kOther;
    if (is_map && item_field == Field::kRoot) role = Role::kRootMap;
    if (is_map && item_field == Field::kIdentity) {
      role = Role::kIdentityMap;
      has_identity_client_id = false;  // a later identity replaces an earlier one
      identity_client_id = {};
    }
    if (!is_map && item_field == Field::kTypes) role = Role::kTypesArray;
    if (!indefinite && count == 0) {
      end_item();
      return;
    }
    stack[depth++] = Frame{is_map ? 2 * count : count, 0, indefinite, is_map, role, Field::kNone};
  }

  void on_tag() {
    if (error) return;
    if (done || chunked != Chunked::kNo) return fail();  // no tags inside a chunked string
    tag_pending = true;
  }

  void on_break() {
    if (error) return;
    if (chunked != Chunked::kNo) {
      const Chunked kind = chunked;
      chunked = Chunked::kNo;
      if (kind == Chunked::kText) {
        if (chunk_is_key) {
          key_done(key_overflow ? std::string_view() : std::string_view(key, key_len));
        } else if (keeps_string(chunk_field)) {
          const std::string& c = self->chunks_;
          assign(chunk_field, std::string_view(c.data() + chunk_start, c.size() - chunk_start));
        }
      }
      end_item();
      return;
    }
    if (done || tag_pending || depth == 0) return fail();
    Frame& f = stack[depth - 1];
    if (!f.indefinite) return fail();
    if (f.is_map && f.index % 2 != 0) return fail();  // a key without its value
    --depth;
    end_item();
  }

  bool run() {
    static const cbor_callbacks kCallbacks = make_callbacks();
    const uint8_t* data = body.data();
    const size_t size = body.size();
    while (pos < size && !done) {
      const cbor_decoder_result r = cbor_stream_decode(data + pos, size - pos, &kCallbacks, this);
      if (r.status != CBOR_DECODER_FINISHED || error) return false;
      if (r.read == 0 || r.read > size - pos) return false;  // defensive
      pos += r.read;
    }
    if (!done || pos != size) return false;
    out->client_id = has_identity_client_id ? identity_client_id : top_client_id;
    return true;
  }

  static CborWalker* w(void* ctx) { return static_cast<CborWalker*>(ctx); }

  static cbor_callbacks make_callbacks() {
    cbor_callbacks c = cbor_empty_callbacks;
    c.uint8 = [](void* x, uint8_t v) { w(x)->on_uint(v); };
    c.uint16 = [](void* x, uint16_t v) { w(x)->on_uint(v); };
    c.uint32 = [](void* x, uint32_t v) { w(x)->on_uint(v); };
    c.uint64 = [](void* x, uint64_t v) { w(x)->on_uint(v); };
    c.negint8 = [](void* x, uint8_t v) { w(x)->on_negint(v); };
    c.negint16 = [](void* x, uint16_t v) { w(x)->on_negint(v); };
    c.negint32 = [](void* x, uint32_t v) { w(x)->on_negint(v); };
    c.negint64 = [](void* x, uint64_t v) { w(x)->on_negint(v); };
    c.byte_string = [](void* x, cbor_data d, size_t n) { w(x)->on_bytes(d, n); };
    c.byte_string_start = [](void* x) { w(x)->on_bytes_start(); };
    c.string = [](void* x, cbor_data d, size_t n) { w(x)->on_string(d, n); };
    c.string_start = [](void* x) { w(x)->on_string_start(); };
    c.array_start = [](void* x, size_t n) { w(x)->start_container(false, false, n); };
    c.indef_array_start = [](void* x) { w(x)->start_container(false, true, 0); };
    c.map_start = [](void* x, size_t n) { w(x)->start_container(true, false, n); };
    c.indef_map_start = [](void* x) { w(x)->start_container(true, true, 0); };
    c.tag = [](void* x, uint64_t) { w(x)->on_tag(); };
    c.float2 = [](void* x, float v) { w(x)->on_double(v); };
    c.float4 = [](void* x, float v) { w(x)->on_double(v); };
    c.float8 = [](void* x, double v) { w(x)->on_double(v); };
    c.undefined = [](void* x) { w(x)->on_null(); };
    c.null = [](void* x) { w(x)->on_null(); };
    c.boolean = [](void* x, bool b) { w(x)->on_bool(b); };
    c.indef_break = [](void* x) { w(x)->on_break(); };
    return c;
  }
};

bool CborBody::parse(std::span<const uint8_t> body, BodyFields* out) {
  *out = BodyFields();
  CborWalker walker(this, body, out);
  return walker.run();
}

}  // namespace iotwall::dpi
