#include "dpi/cbor_body.h"

namespace iotwall::dpi {
namespace {

using nlohmann::json;

std::string_view str(const json& j) {
  return j.is_string() ? std::string_view(j.get_ref<const std::string&>()) : std::string_view();
}

std::string_view member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? std::string_view() : str(*it);
}

}  // namespace

bool CborBody::parse(std::span<const uint8_t> body, BodyFields* out) {
  *out = BodyFields();
  try {
    doc_ = json::from_cbor(body.begin(), body.end(), /*strict=*/true, /*allow_exceptions=*/false);
    if (doc_.is_discarded()) return false;
    if (doc_.is_string()) {
      out->is_string = true;
      out->string = str(doc_);
      return true;
    }
    if (!doc_.is_object()) return true;
    if (auto it = doc_.find("value"); it != doc_.end()) {
      out->has_value = true;
      if (it->is_string()) {
        out->value = str(*it);
      } else if (it->is_primitive()) {
        value_text_ = it->dump();
        out->value = value_text_;
      }
    }
    if (auto it = doc_.find("types"); it != doc_.end() && it->is_array() && !it->empty()) {
      out->type = str(it->front());
    }
    out->operation = member(doc_, "operation");
    out->callback_id = member(doc_, "callbackId");
    out->model_id = member(doc_, "modelId");
    out->address = member(doc_, "address");
    out->invoke = member(doc_, "invoke");
    out->client_id = member(doc_, "clientId");
    if (auto it = doc_.find("serial"); it != doc_.end() && it->is_number_integer()) {
      out->serial = it->get<int64_t>();
      out->has_serial = true;
    }
    if (auto it = doc_.find("identity"); it != doc_.end() && it->is_object()) {
      out->client_id = member(*it, "clientId");
    }
    return true;
  } catch (const std::exception&) {
    doc_ = nullptr;
    return false;
  }
}

}  // namespace iotwall::dpi
