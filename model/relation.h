// Relation: a communication relationship at the level of service TYPES, the
// level at which a person answers questions ("light controllers read
// movement sensors in their own room") and rules generalise over instances.
#pragma once

#include <cstdint>

#include "model/access.h"

namespace iotwall {

enum class Locality : uint8_t {
  kSameRoom,
  kOtherRoom,
  kUnknown,  // a location is missing
};

struct Relation {
  Sym src_type;
  Sym dst_type;
  Operation op = Operation::kUnknown;
  Locality where = Locality::kUnknown;

  // Both types are known: a person can answer for the type.
  bool typed() const { return !src_type.empty() && !dst_type.empty(); }

  friend bool operator==(const Relation&, const Relation&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Relation& r) {
    return H::combine(std::move(h), r.src_type, r.dst_type, r.op, r.where);
  }
};

inline Locality locality(Sym a, Sym b) {
  if (a.empty() || b.empty()) return Locality::kUnknown;
  return a == b ? Locality::kSameRoom : Locality::kOtherRoom;
}

}  // namespace iotwall
