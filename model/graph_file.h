// The detector's state on disk: a versioned binary format
// (docs/model-format.md) holding everything CommGraph knows (vertices,
// edges and their states, learned relations, the manager's rules, the
// questions and the decision log) and, since version 2, the per-type models.
//
// Loading checks the magic, version, length, CRC-32, every index and every
// number before touching anything: a corrupted or truncated file fails with
// a message and the caller's graph and models are left as they were.
// Strings are added to the caller's Interner (append-only, so this changes
// no meaning). Version 1 files (graph only) still load, with no models.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

#include "model/comm_graph.h"
#include "model/intern.h"
#include "model/type_model.h"

namespace iotwall {

inline constexpr uint32_t kGraphFileVersion = 2;

// Serialises `g` and `models` (keyed by type key, as Detector::models()),
// whose Syms belong to `in`. The same state always gives the same bytes.
std::string save_state(const CommGraph& g, const absl::flat_hash_map<uint32_t, TypeModel>& models,
                       const Interner& in);

// Replaces *g and *models with the state in `bytes` (a version 1 file gives
// no models). On failure returns false, sets *error, and leaves *g and
// *models untouched.
bool load_state(std::string_view bytes, Interner& in, CommGraph* g,
                absl::flat_hash_map<uint32_t, TypeModel>* models, std::string* error);

// The graph alone: save_state with no models; load_state ignoring them.
std::string save_graph(const CommGraph& g, const Interner& in);
bool load_graph(std::string_view bytes, Interner& in, CommGraph* g, std::string* error);

}  // namespace iotwall
