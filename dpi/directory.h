// Directory: what the VSL decoder knows about the site's services. Built
// from a SiteMap (id, address, type, room, IP, knowledge agent), then
// completed from the wire: address -> service type (registerService's
// modelId, GET responses' types) and node address -> node type.
//
// Everything is keyed by interned Syms. Learned facts are bounded: past
// max_learned entries a new fact is dropped (learn_* returns false; the
// caller counts DecodeCounters::kDirectoryFull). Configured facts win over
// learned ones.
//
// Thread-safety: none; one per worker, shared by its connections.
// Lifetime: the Interner must outlive the directory.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstddef>
#include <vector>

#include "dpi/site_map.h"
#include "dpi/stream.h"
#include "model/intern.h"

namespace iotwall::dpi {

class Directory {
 public:
  struct Service {
    Sym id, address, type, room;
    bool knowledge_agent = false;
  };

  static constexpr size_t kDefaultMaxLearned = 1 << 20;

  Directory(const SiteMap& map, Interner& in, size_t max_learned = kDefaultMaxLearned);
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  // Configured services; null when not configured. Pointers are valid for
  // the directory's life.
  const Service* by_ip(const IpAddress& ip) const;
  const Service* by_id(Sym id) const;
  const Service* by_address(Sym address) const;

  // The type of the service at `address`: configured, else learned.
  Sym service_type(Sym address) const;
  // The room of the service at `address` (configuration only).
  Sym room(Sym address) const;
  Sym node_type(Sym node) const;
  // The address of service `id`: configured, else learned from registration.
  Sym address_of(Sym id) const;
  // Whether the service with this id or address is a configured KA.
  bool is_knowledge_agent(Sym id, Sym address) const;

  // Learning; each returns false when the fact was dropped at the bound.
  bool learn_service_type(Sym address, Sym type);
  bool learn_node_type(Sym node, Sym type);
  bool learn_service_id(Sym id, Sym address);

  size_t learned() const { return learned_; }
  Interner& interner() const { return in_; }

 private:
  bool learn(absl::flat_hash_map<Sym, Sym>& m, Sym key, Sym value);

  Interner& in_;
  const size_t max_learned_;
  size_t learned_ = 0;
  std::vector<Service> services_;
  absl::flat_hash_map<IpAddress, size_t> by_ip_;
  absl::flat_hash_map<Sym, size_t> by_id_;
  absl::flat_hash_map<Sym, size_t> by_address_;
  absl::flat_hash_map<Sym, Sym> service_types_;  // learned
  absl::flat_hash_map<Sym, Sym> node_types_;     // learned
  absl::flat_hash_map<Sym, Sym> addresses_;      // learned: id -> address
};

}  // namespace iotwall::dpi
