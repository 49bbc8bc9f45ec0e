#include "dpi/directory.h"

namespace iotwall::dpi {

Directory::Directory(const SiteMap& map, Interner& in, size_t max_learned)
    : in_(in), max_learned_(max_learned) {
  services_.reserve(map.services.size());
  for (const SiteService& s : map.services) {
    Service d;
    d.id = in.intern(s.id);
    d.address = in.intern(s.address);
    d.type = in.intern(s.type);
    d.room = in.intern(s.room);
    d.knowledge_agent = s.knowledge_agent;
    const size_t i = services_.size();
    services_.push_back(d);
    // The first entry wins on duplicates, as in the file's order.
    if (s.ip) by_ip_.emplace(*s.ip, i);
    if (!d.id.empty()) by_id_.emplace(d.id, i);
    if (!d.address.empty()) by_address_.emplace(d.address, i);
  }
}

const Directory::Service* Directory::by_ip(const IpAddress& ip) const {
  auto it = by_ip_.find(ip);
  return it == by_ip_.end() ? nullptr : &services_[it->second];
}

const Directory::Service* Directory::by_id(Sym id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &services_[it->second];
}

const Directory::Service* Directory::by_address(Sym address) const {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? nullptr : &services_[it->second];
}

Sym Directory::service_type(Sym address) const {
  if (address.empty()) return Sym();
  if (const Service* s = by_address(address); s && !s->type.empty()) return s->type;
  auto it = service_types_.find(address);
  return it == service_types_.end() ? Sym() : it->second;
}

Sym Directory::room(Sym address) const {
  const Service* s = address.empty() ? nullptr : by_address(address);
  return s ? s->room : Sym();
}

Sym Directory::node_type(Sym node) const {
  auto it = node_types_.find(node);
  return it == node_types_.end() ? Sym() : it->second;
}

Sym Directory::address_of(Sym id) const {
  if (id.empty()) return Sym();
  if (const Service* s = by_id(id); s && !s->address.empty()) return s->address;
  auto it = addresses_.find(id);
  return it == addresses_.end() ? Sym() : it->second;
}

bool Directory::is_knowledge_agent(Sym id, Sym address) const {
  const Service* s = id.empty() ? nullptr : by_id(id);
  if (!s && !address.empty()) s = by_address(address);
  return s && s->knowledge_agent;
}

bool Directory::learn(absl::flat_hash_map<Sym, Sym>& m, Sym key, Sym value) {
  if (key.empty() || value.empty()) return true;
  if (auto it = m.find(key); it != m.end()) {
    it->second = value;  // a newer fact replaces an older one: no new entry
    return true;
  }
  if (learned_ >= max_learned_) return false;
  m.emplace(key, value);
  ++learned_;
  return true;
}

bool Directory::learn_service_type(Sym address, Sym type) {
  return learn(service_types_, address, type);
}

bool Directory::learn_node_type(Sym node, Sym type) { return learn(node_types_, node, type); }

bool Directory::learn_service_id(Sym id, Sym address) { return learn(addresses_, id, address); }

}  // namespace iotwall::dpi
