#include "dpi/json_body.h"

#include <cstring>

namespace iotwall::dpi {
namespace {

namespace od = simdjson::ondemand;

// The text of a scalar: a string unescaped, anything else as its JSON token.
bool scalar_text(od::value v, std::string_view* out) {
  od::json_type t;
  if (v.type().get(t)) return false;
  if (t == od::json_type::string) return !v.get_string().get(*out);
  if (t == od::json_type::object || t == od::json_type::array) {
    *out = {};
    return true;  // left to the iterator to skip
  }
  std::string_view raw = v.raw_json_token();
  while (!raw.empty() &&
         (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
    raw.remove_suffix(1);
  }
  *out = raw;
  return true;
}

bool string_field(od::value v, std::string_view* out) {
  od::json_type t;
  if (v.type().get(t)) return false;
  if (t != od::json_type::string) return true;  // ignored
  return !v.get_string().get(*out);
}

}  // namespace

bool JsonBody::parse(std::string_view body, BodyFields* out) {
  *out = BodyFields();
  const size_t need = body.size() + simdjson::SIMDJSON_PADDING;
  if (need > cap_) {
    size_t cap = cap_ < 1024 ? 1024 : cap_;
    while (cap < need) cap *= 2;
    buf_ = std::make_unique<char[]>(cap);
    cap_ = cap;
  }
  if (!body.empty()) std::memcpy(buf_.get(), body.data(), body.size());
  std::memset(buf_.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  const simdjson::padded_string_view input(buf_.get(), body.size(), cap_);

  od::document doc;
  if (parser_.iterate(input).get(doc)) return false;
  od::json_type t;
  if (doc.type().get(t)) return false;
  if (t == od::json_type::string) {
    if (doc.get_string().get(out->string)) return false;
    out->is_string = true;
  } else if (t == od::json_type::object) {
    od::object obj;
    if (doc.get_object().get(obj)) return false;
    if (!parse_object(obj, out)) return false;
  } else if (t == od::json_type::array) {
    // Valid JSON without VSL fields; iterated to find errors.
    od::array a;
    if (doc.get_array().get(a)) return false;
    for (auto e : a) {
      if (e.error()) return false;
    }
  } else {
    // A root scalar: the getters also reject trailing content.
    double d;
    bool b;
    if (t == od::json_type::number) return !doc.get_double().get(d);
    if (t == od::json_type::boolean) return !doc.get_bool().get(b);
    return !doc.is_null().get(b) && b;
  }
  // Fully consumed: anything after the root value is an error.
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

bool JsonBody::parse_object(od::object obj, BodyFields* out) {
  for (auto f : obj) {
    od::field field;
    if (std::move(f).get(field)) return false;
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    od::value v = field.value();
    if (key == "value") {
      if (!scalar_text(v, &out->value)) return false;
      out->has_value = true;
    } else if (key == "types") {
      od::json_type t;
      if (v.type().get(t)) return false;
      if (t != od::json_type::array) continue;
      od::array a;
      if (v.get_array().get(a)) return false;
      bool first = true;
      for (auto e : a) {
        od::value ev;
        if (std::move(e).get(ev)) return false;
        if (first && !string_field(ev, &out->type)) return false;
        first = false;
      }
    } else if (key == "operation") {
      if (!string_field(v, &out->operation)) return false;
    } else if (key == "callbackId") {
      if (!string_field(v, &out->callback_id)) return false;
    } else if (key == "modelId") {
      if (!string_field(v, &out->model_id)) return false;
    } else if (key == "address") {
      if (!string_field(v, &out->address)) return false;
    } else if (key == "invoke") {
      if (!string_field(v, &out->invoke)) return false;
    } else if (key == "clientId") {
      if (!string_field(v, &out->client_id)) return false;
    } else if (key == "serial") {
      int64_t n;
      if (!v.get_int64().get(n)) {
        out->serial = n;
        out->has_serial = true;
      }
    } else if (key == "identity") {
      od::json_type t;
      if (v.type().get(t)) return false;
      if (t != od::json_type::object) continue;
      od::object id;
      if (v.get_object().get(id)) return false;
      for (auto g : id) {
        od::field idf;
        if (std::move(g).get(idf)) return false;
        std::string_view k;
        if (idf.unescaped_key().get(k)) return false;
        if (k == "clientId" && !string_field(idf.value(), &out->client_id)) return false;
      }
    }
  }
  return true;
}

}  // namespace iotwall::dpi
