// The communication graph on disk: a versioned binary format
// (docs/model-format.md) holding everything CommGraph knows: vertices,
// edges and their states, learned relations, the manager's rules, the
// questions and the decision log.
//
// Loading checks the magic, version, length, CRC-32 and every index before
// touching anything: a corrupted or truncated file fails with a message and
// the caller's graph is left as it was. Strings are added to the caller's
// Interner (append-only, so this changes no meaning).
#pragma once

#include <string>
#include <string_view>

#include "model/comm_graph.h"
#include "model/intern.h"

namespace iotwall {

inline constexpr uint32_t kGraphFileVersion = 1;

// Serialises `g`, whose Syms belong to `in`.
std::string save_graph(const CommGraph& g, const Interner& in);

// Replaces *g with the graph in `bytes`. On failure returns false, sets
// *error, and leaves *g untouched.
bool load_graph(std::string_view bytes, Interner& in, CommGraph* g, std::string* error);

}  // namespace iotwall
