// CommGraph: the communication graph of seeds 000/001 (ALGORITHM.md section 2).
//
// Vertices are service instances; an edge is (source instance, destination
// instance, operation) with a state. A service's accesses are learned during
// its learning phase; after it, an unknown edge is anomalous, becomes
// pending, and raises a question for the site manager, asked at the level of
// service types and locations so one answer covers every instance. Answers
// (approve / deny, for the type or for one service) take effect on the next
// access and win over everything learned.
//
// Time comes only from the accesses. Thread-safety: none (one per worker).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include "model/access.h"
#include "model/relation.h"

namespace iotwall {

enum class EdgeState : uint8_t { kLearned, kApproved, kPending, kDenied };
std::string_view edge_state_name(EdgeState s);

struct GraphOptions {
  int64_t learning_phase_ms = 15 * 60 * 1000;
  int64_t edge_ttl_ms = 60 * 60 * 1000;
  // A new edge whose type relation (source type, destination type,
  // operation, same room or not) was learned from other instances is
  // learned too: the model is per type, so a new instance (a device that
  // joins, a service that starts late) needs no question for what its
  // peers already do. Off: every instance edge is judged on its own.
  bool generalise_types = true;
  // Bound on the edges an intruder can make: edges pending or denied, at
  // most this many (with an overflow name set, see set_overflow_name). Past
  // it, an access that would make a new pending or denied edge is judged on
  // its source's edge to the overflow vertex instead (one per source): denied, no new
  // question; counted in overflowed_edges(). Nothing is dropped (edges and
  // question ids stay valid for the manager, the store and the state
  // file); approving a pending edge frees room, denying does not.
  size_t max_anomalous_edges = 16384;
};

struct Vertex {
  Sym name;  // the address (or id), the vertex key
  Sym id;    // service id, e.g. lightcontrol2
  Sym type;
  Sym location;
  int64_t first_seen = -1;   // in any role
  // Start of the learning phase: its first access as a source, or the first
  // of its type's when the type was already known. -1: never spoke.
  int64_t first_spoke = -1;
};

struct Edge {
  uint32_t src = 0, dst = 0;  // vertex indices
  Operation op = Operation::kUnknown;
  EdgeState state = EdgeState::kLearned;
  bool live = true;        // seen within the TTL
  uint32_t question = 0;   // the open question while pending
  uint32_t count = 0;      // accesses (saturates)
  int64_t first_seen = 0, last_seen = 0;
};

// Why an access got its verdict.
enum class Reason : uint8_t {
  kLearning,         // the source is in its learning phase: learned
  kKnownRelation,    // a new edge of a type relation learned from other instances
  kKnown,            // a learned edge
  kApproved,         // an edge the manager approved
  kTypeApproved,     // a new edge of a relation approved for the type
  kServiceApproved,  // a new edge of a relation approved for this source
  kNewEdge,          // an unknown edge after the learning phase: now pending
  kPending,          // an edge awaiting an answer
  kDenied,           // an edge the manager denied
  kTypeDenied,       // a new edge of a relation denied for the type
  kServiceDenied,    // a new edge of a relation denied for this source
};
std::string_view reason_name(Reason r);

struct Judgement {
  bool anomalous = false;
  EdgeState state = EdgeState::kLearned;
  Reason reason = Reason::kKnown;
  bool source_learning = false;  // the source was in its learning phase
  uint32_t edge = 0;
  uint32_t question = 0;  // pending edges: their question
  bool asked = false;     // this access opened the question or joined it
};

struct Question {
  uint32_t id = 0;
  Relation rel;
  bool type_level = false;  // answerable for the type (both types known)
  uint32_t exemplar_edge = 0;    // the edge that raised it
  std::vector<uint32_t> sources;  // source vertices with edges waiting on it
  int64_t asked_ms = 0;
  bool open = true;
};

enum class Scope : uint8_t { kType, kService };

struct Decision {
  uint32_t question;
  bool approve;
  Scope scope;
  uint32_t source;  // vertex, for Scope::kService
  int64_t time_ms;
};

class CommGraph {
 public:
  friend struct GraphCodec;  // model/graph_file.cc reads and writes the state

  explicit CommGraph(GraphOptions o = {}) : opt_(o) {}

  // Judges one access and learns from it. Accesses should come in time
  // order; a late one is judged at the graph's current time.
  Judgement observe(const Access& a);

  // Applies the manager's answer to an open question. For Scope::kService,
  // `source` is the vertex answered for (kNoVertex: the exemplar's source).
  // Returns false and sets *error when the question is unknown or closed or
  // the source is not waiting on it.
  static constexpr uint32_t kNoVertex = UINT32_MAX;
  bool answer(uint32_t question, bool approve, Scope scope, uint32_t source, std::string* error);

  // The placeholder name of everything past the bounds (Interner::overflow();
  // empty: no bound on anomalous edges). Its vertex has no type or room;
  // its edges are denied when made (never learned, no question), and new
  // anomalous edges past max_anomalous_edges are folded into them: one
  // per source (operation kOther, whatever the access's).
  void set_overflow_name(Sym s) { overflow_ = s; }
  Sym overflow_name() const { return overflow_; }
  // Edges pending or denied now.
  size_t anomalous_edges() const { return anomalous_edges_; }
  // Accesses folded into an edge to the overflow vertex at the bound.
  uint64_t overflowed_edges() const { return overflowed_edges_; }

  // A portable model: services of `type` get no learning phase (the type
  // already has a model), and `rel` is a relation its instances may use
  // without a question. Rules the manager set still win.
  void adopt_type(Sym type) { adopted_types_.insert(type); }
  void adopt_relation(const Relation& rel) {
    if (rel.typed()) learned_relations_.insert(rel);
  }
  // The type relation of an edge.
  Relation relation(uint32_t edge) const { return relation_of(edges_[edge]); }

  // Moves edges idle longer than the TTL out of the live graph (their state
  // is kept). observe() calls it as time passes.
  void sweep();

  const std::vector<Vertex>& vertices() const { return vertices_; }
  const std::vector<Edge>& edges() const { return edges_; }
  const std::vector<Question>& questions() const { return questions_; }  // index = id - 1
  const Question* question(uint32_t id) const;
  const std::vector<Decision>& decisions() const { return decisions_; }
  size_t live_edges() const { return live_edges_; }
  size_t open_questions() const { return open_questions_; }
  int64_t now() const { return now_; }
  const GraphOptions& options() const { return opt_; }
  // Settings are configuration, not state: a loaded graph takes the
  // running configuration's.
  void set_options(const GraphOptions& o) { opt_ = o; next_sweep_ = INT64_MIN; }
  // Approximate bytes held (for memory reports).
  size_t bytes() const;

 private:
  uint32_t vertex(Sym name, Sym id, Sym type, Sym location);
  bool learning(const Vertex& v) const;
  Judgement judge_new_edge(uint32_t e, bool src_learning);
  uint32_t ask(uint32_t e, const Relation& rel);
  void set_state(uint32_t e, EdgeState s);
  Relation relation_of(const Edge& e) const;
  bool is_overflow(uint32_t v) const { return !overflow_.empty() && vertices_[v].name == overflow_; }
  // Whether a new edge s -> d would be pending or denied (judge_new_edge's
  // rules, without its effects).
  bool would_be_anomalous(uint32_t s, uint32_t d, Operation op, bool src_learning) const;
  static bool anomalous_state(EdgeState s) { return s == EdgeState::kPending || s == EdgeState::kDenied; }

  static uint64_t edge_key(uint32_t src, uint32_t dst, Operation op) {
    return (uint64_t{src} << 36) | (uint64_t{dst} << 8) | static_cast<uint8_t>(op);
  }

  GraphOptions opt_;
  int64_t now_ = INT64_MIN;
  int64_t next_sweep_ = INT64_MIN;
  std::vector<Vertex> vertices_;
  std::vector<uint32_t> vertex_of_sym_;  // Sym id -> vertex index + 1 (0: none)
  std::vector<Edge> edges_;
  absl::flat_hash_map<uint64_t, uint32_t> edge_index_;
  size_t live_edges_ = 0;
  Sym overflow_;
  size_t anomalous_edges_ = 0;  // pending or denied
  uint64_t overflowed_edges_ = 0;

  absl::flat_hash_set<Relation> learned_relations_;
  absl::flat_hash_map<Relation, bool> type_rules_;  // true: approved
  absl::flat_hash_map<std::pair<uint32_t, Relation>, bool> service_rules_;
  absl::flat_hash_map<Relation, uint32_t> open_by_relation_;  // typed questions
  absl::flat_hash_map<Sym, int64_t> type_first_spoke_;  // type -> start of its learning phase
  absl::flat_hash_set<Sym> adopted_types_;  // types with a portable model: no learning phase
  std::vector<Question> questions_;
  size_t open_questions_ = 0;
  std::vector<Decision> decisions_;
};

}  // namespace iotwall
