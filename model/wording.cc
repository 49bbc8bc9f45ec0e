#include "model/wording.h"

#include <array>
#include <utility>

namespace iotwall {
namespace {

// The DS2OS types of the dataset, in words.
constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kNouns = {{
    {"/lightControler", "light controller"},
    {"/movementSensor", "movement sensor"},
    {"/sensorService", "temperature sensor"},
    {"/thermostat", "thermostat"},
    {"/batteryService", "battery"},
    {"/washingService", "washing machine"},
    {"/doorLockService", "door lock"},
    {"/smartPhone", "smartphone app"},
}};

bool lower(char c) { return c >= 'a' && c <= 'z'; }
bool upper(char c) { return c >= 'A' && c <= 'Z'; }

}  // namespace

std::string type_noun(std::string_view type) {
  for (const auto& [t, noun] : kNouns) {
    if (t == type) return std::string(noun);
  }
  // Last path segment, camel case split into words.
  if (size_t slash = type.rfind('/'); slash != std::string_view::npos) type.remove_prefix(slash + 1);
  if (type.empty()) return "service of unknown type";
  std::string out;
  for (size_t i = 0; i < type.size(); ++i) {
    char c = type[i];
    if (upper(c)) {
      if (i > 0 && lower(type[i - 1])) out.push_back(' ');
      c = static_cast<char>(c - 'A' + 'a');
    } else if (c == '_' || c == '-') {
      c = ' ';
    }
    out.push_back(c);
  }
  return out;
}

std::string type_plural(std::string_view type) {
  std::string n = type_noun(type);
  if (n.ends_with("y") && n.size() > 1 && std::string_view("aeiou").find(n[n.size() - 2]) == std::string_view::npos) {
    n.back() = 'i';
    return n + "es";
  }
  if (n.ends_with("s") || n.ends_with("sh") || n.ends_with("ch") || n.ends_with("x")) return n + "es";
  if (n == "service of unknown type") return "services of unknown type";
  return n + "s";
}

std::string vertex_text(const Vertex& v, const Interner& in) {
  std::string name(in.str(v.id.empty() ? v.name : v.id));
  if (v.type.empty() && v.location.empty()) return name;
  name += " (";
  if (!v.type.empty()) name += type_noun(in.str(v.type));
  if (!v.type.empty() && !v.location.empty()) name += ", ";
  if (!v.location.empty()) name += in.str(v.location);
  return name + ")";
}

std::string question_text(const CommGraph& g, const Question& q, const Interner& in) {
  const Edge& e = g.edges()[q.exemplar_edge];
  const Vertex& src = g.vertices()[e.src];
  const Vertex& dst = g.vertices()[e.dst];
  std::string verb(operation_verb(q.rel.op));
  if (!q.type_level) {
    std::string target = e.src == e.dst ? "itself" : vertex_text(dst, in);
    return "Should " + vertex_text(src, in) + " " + verb + " " + target + "?";
  }
  std::string s = "Should " + type_plural(in.str(q.rel.src_type)) + " " + verb + " ";
  const bool self = q.rel.src_type == q.rel.dst_type && q.rel.where == Locality::kSameRoom &&
                    e.src == e.dst;
  if (self) return s + "themselves?";
  s += type_plural(in.str(q.rel.dst_type));
  switch (q.rel.where) {
    case Locality::kSameRoom: s += " in their own room"; break;
    case Locality::kOtherRoom: s += " in other rooms"; break;
    case Locality::kUnknown: break;
  }
  s += "? (first seen: " + vertex_text(src, in) + " -> " + vertex_text(dst, in) + ")";
  return s;
}

}  // namespace iotwall
