// SiteMap files: YAML through yaml-cpp. Every yaml-cpp exception is caught
// here and turned into a message naming the line and the key.
#include "dpi/site_map.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace iotwall::dpi {
namespace {

constexpr const char* kServiceKeys[] = {"id", "address", "type", "room", "ip", "knowledge_agent"};

std::string at(const YAML::Node& n, const std::string& where) {
  const YAML::Mark m = n.Mark();
  std::string s = m.line >= 0 ? "line " + std::to_string(m.line + 1) + ": " : "";
  return s + where;
}

// Reads a scalar string; false (with *error) when `n` is not a scalar.
bool scalar(const YAML::Node& n, const std::string& where, std::string* out, std::string* error) {
  if (!n.IsScalar()) {
    *error = at(n, where) + ": expected a string";
    return false;
  }
  *out = n.Scalar();
  return true;
}

bool parse_service(const YAML::Node& n, size_t i, SiteService* s, std::string* error) {
  const std::string where = "services[" + std::to_string(i) + "]";
  if (!n.IsMap()) {
    *error = at(n, where) + ": expected a mapping with id, address, type, room, ip";
    return false;
  }
  bool have_id = false;
  for (const auto& kv : n) {
    std::string key;
    if (!scalar(kv.first, where + " key", &key, error)) return false;
    const std::string k = where + "." + key;
    const YAML::Node& v = kv.second;
    if (key == "id") {
      if (!scalar(v, k, &s->id, error)) return false;
      have_id = true;
    } else if (key == "address") {
      if (!scalar(v, k, &s->address, error)) return false;
    } else if (key == "type") {
      if (!scalar(v, k, &s->type, error)) return false;
    } else if (key == "room") {
      if (!scalar(v, k, &s->room, error)) return false;
    } else if (key == "ip") {
      std::string text;
      if (!scalar(v, k, &text, error)) return false;
      s->ip = parse_ip(text);
      if (!s->ip) {
        *error = at(v, k) + ": not an IPv4 or IPv6 address: '" + text + "'";
        return false;
      }
    } else if (key == "knowledge_agent") {
      std::string text;
      if (!scalar(v, k, &text, error)) return false;
      if (text == "true") {
        s->knowledge_agent = true;
      } else if (text == "false") {
        s->knowledge_agent = false;
      } else {
        *error = at(v, k) + ": expected true or false, not '" + text + "'";
        return false;
      }
    } else {
      std::string known;
      for (const char* name : kServiceKeys) known += std::string(known.empty() ? "" : ", ") + name;
      *error = at(kv.first, k) + ": unknown key (known: " + known + ")";
      return false;
    }
  }
  if (!have_id || s->id.empty()) {
    *error = at(n, where + ".id") + ": missing or empty";
    return false;
  }
  return true;
}

bool parse_root(const YAML::Node& root, SiteMap* out, std::string* error) {
  if (!root.IsDefined() || root.IsNull()) return true;  // an empty file: no services
  if (!root.IsMap()) {
    *error = at(root, "top level") + ": expected a mapping with 'services'";
    return false;
  }
  for (const auto& kv : root) {
    std::string key;
    if (!scalar(kv.first, "top-level key", &key, error)) return false;
    if (key != "services") {
      *error = at(kv.first, key) + ": unknown key (known: services)";
      return false;
    }
    const YAML::Node& list = kv.second;
    if (list.IsNull()) continue;
    if (!list.IsSequence()) {
      *error = at(list, "services") + ": expected a list";
      return false;
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < list.size(); ++i) {
      SiteService s;
      if (!parse_service(list[i], i, &s, error)) return false;
      if (!ids.insert(s.id).second) {
        *error = at(list[i], "services[" + std::to_string(i) + "].id") + ": duplicate id '" +
                 s.id + "'";
        return false;
      }
      out->services.push_back(std::move(s));
    }
  }
  return true;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view s) {
  const std::string text(s);
  IpAddress a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
    a.family = 4;
    return a;
  }
  if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
    a.family = 6;
    return a;
  }
  return std::nullopt;
}

bool parse_site_map(std::string_view yaml, SiteMap* out, std::string* error) {
  SiteMap m;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!parse_root(root, &m, error)) return false;
  } catch (const YAML::Exception& e) {
    // e.mark is 0-based; e.msg is the bare message.
    *error = (e.mark.line >= 0 ? "line " + std::to_string(e.mark.line + 1) + ": " : "") + e.msg;
    return false;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
  *out = std::move(m);
  return true;
}

bool load_site_map(const std::string& path, SiteMap* out, std::string* error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << f.rdbuf();
  if (f.bad()) {
    *error = path + ": read error";
    return false;
  }
  if (!parse_site_map(text.str(), out, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

bool save_site_map(const std::string& path, const SiteMap& m, std::string* error) {
  std::string text;
  try {
    YAML::Emitter e;
    e << YAML::BeginMap << YAML::Key << "services" << YAML::Value << YAML::BeginSeq;
    for (const SiteService& s : m.services) {
      e << YAML::BeginMap << YAML::Key << "id" << YAML::Value << YAML::DoubleQuoted << s.id;
      if (!s.address.empty()) e << YAML::Key << "address" << YAML::Value << YAML::DoubleQuoted << s.address;
      if (!s.type.empty()) e << YAML::Key << "type" << YAML::Value << YAML::DoubleQuoted << s.type;
      if (!s.room.empty()) e << YAML::Key << "room" << YAML::Value << YAML::DoubleQuoted << s.room;
      if (s.ip) e << YAML::Key << "ip" << YAML::Value << s.ip->to_string();
      if (s.knowledge_agent) e << YAML::Key << "knowledge_agent" << YAML::Value << "true";
      e << YAML::EndMap;
    }
    e << YAML::EndSeq << YAML::EndMap;
    if (!e.good()) {
      *error = "cannot emit the site map: " + e.GetLastError();
      return false;
    }
    text = "# iotwall site map (docs/site-map.md)\n" + std::string(e.c_str()) + "\n";
  } catch (const std::exception& ex) {
    *error = std::string("cannot emit the site map: ") + ex.what();
    return false;
  }
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    *error = tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  const int saved = errno;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    *error = tmp + ": " + std::strerror(saved != 0 ? saved : errno);
    std::remove(tmp.c_str());
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "rename " + tmp + " -> " + path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace iotwall::dpi
