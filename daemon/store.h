// Store: the daemon's durable state in one SQLite database (docs/state.md).
//
// Per worker (one per NFQUEUE queue) it keeps the two newest snapshots of
// the detector's state (model/graph_file.h bytes: the newest, and the one
// before it in case the newest fails validation), a readable mirror of the
// worker's edges and questions (replaced with each snapshot), and one
// append-only decision log for all workers (who approved or denied what,
// when). A snapshot, its mirror and a decision row are written in ONE
// transaction, so a crash (kill -9, power loss) leaves either all of it or
// none of it, and a decision is durable (synchronous=FULL) when save()
// returns: only then may the daemon acknowledge it.
//
// The database runs in WAL mode, so readers (another Store on the same file,
// or the sqlite3 shell) never block the writer; a writer waits up to
// kBusyTimeoutMs for another writer. The file is created with mode 0600.
//
// Bounds: two snapshot rows per worker; the edges and questions mirrors hold
// what the worker's graph holds; the decision log grows by one row per human
// decision (a few hundred bytes each) and is never pruned (it is the audit).
//
// Thread-safety: every method may be called from any thread; an internal
// mutex runs them one at a time (the daemon writes from one store thread and
// reads at start-up). Several Stores on one file, in one process or in
// several, are safe too (SQLite locking).
// No exception escapes: errors come back as messages naming the file.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "model/comm_graph.h"
#include "model/intern.h"

struct sqlite3;

namespace iotwall {

// One worker's snapshot: save_state() bytes.
struct SnapshotRow {
  int worker = 0;
  int64_t saved_ms = 0;  // wall clock when serialised (ms since the epoch)
  std::string state;     // save_state() bytes; load() does not validate them
  // Set by load(), ignored by save():
  int64_t generation = 0;    // 1, 2, 3... per worker; the newest is the largest
  int64_t decision_seq = 0;  // the newest decision (DecisionRow::seq) of this
                             // worker the snapshot includes; 0: none
};

// One edge of a worker's graph, in words (see edge_rows()).
struct EdgeRow {
  int worker = 0;
  std::string src, dst;  // vertex names (service addresses)
  std::string op;        // operation_name(), "unknown" when not visible
  std::string state;     // edge_state_name(): learned, approved, pending, denied
  int64_t first_seen_ms = 0, last_seen_ms = 0;
  uint32_t count = 0;
};

// One question to the site manager (see question_rows()).
struct QuestionRow {
  int worker = 0;
  uint32_t id = 0;   // the graph's question id (unique per worker)
  std::string text;  // model/wording.h question_text()
  int64_t asked_ms = 0;
  bool open = true;
};

// One human decision, as the audit log keeps it.
struct DecisionRow {
  int64_t seq = 0;  // assigned by save() (1, 2, 3...: commit order); ignored on input
  int64_t time_ms = 0;
  int worker = 0;
  uint32_t question = 0;
  bool approve = false;
  std::string scope;   // "type" or "service"
  std::string source;  // the service id answered for (scope "service"); may be empty
  std::string text;    // the question in plain words
  std::string actor;   // who decided, e.g. "uid 0 (root)"
};

class Store {
 public:
  static constexpr int kSchemaVersion = 1;       // PRAGMA user_version
  static constexpr int32_t kApplicationId = 0x696f7477;  // "iotw", PRAGMA application_id
  static constexpr int kBusyTimeoutMs = 5000;

  // Opens (creating if needed) the database at `path`: WAL mode, foreign
  // keys, busy timeout, mode 0600, schema created or migrated. Refuses, with
  // a message naming the file: a missing parent directory, a file that is not
  // an SQLite database or not iotwall's, a schema newer than this build's, a
  // database that fails PRAGMA quick_check. Returns nullptr and sets *error.
  static std::unique_ptr<Store> open(const std::string& path, std::string* error);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // In one transaction: appends `decision` (if not null) to the log, adds `s`
  // as the worker's newest snapshot (dropping all but the previous one), and
  // replaces the worker's edges and questions mirrors. With a decision the
  // commit is synchronous=FULL (durable when this returns); without, NORMAL
  // (consistent after any crash; a power loss may undo the last periodic
  // snapshots, never a decision). On failure nothing is written.
  // REQUIRES: s.worker >= 0, and every row's worker == s.worker.
  bool save(const SnapshotRow& s, const std::vector<EdgeRow>& edges,
            const std::vector<QuestionRow>& questions, const DecisionRow* decision,
            std::string* error);

  // The worker's snapshots, newest first (at most 2; none for a new worker).
  // The caller validates each with load_state() and takes the first good one.
  bool load(int worker, std::vector<SnapshotRow>* out, std::string* error);

  // The decision log, newest first, at most `limit` rows.
  bool decisions(size_t limit, std::vector<DecisionRow>* out, std::string* error);
  // Rows in the decision log; nullopt (and *error) when it cannot be read.
  std::optional<uint64_t> decisions_count(std::string* error);
  // The worker's mirrors as last saved (for `iotwall graph`/`pending` and tests).
  bool edges(int worker, std::vector<EdgeRow>* out, std::string* error);
  bool questions(int worker, std::vector<QuestionRow>* out, std::string* error);

  const std::string& path() const { return path_; }

 private:
  Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // REQUIRES: mu_ held (or the Store not yet shared: open()).
  bool exec(const char* sql, std::string* error);
  std::string fail(const std::string& what) const;  // "PATH: what: sqlite message"

  std::mutex mu_;  // one method at a time on db_
  sqlite3* db_;    // owned; closed by the destructor
  const std::string path_;
};

// The readable rows of a worker's graph, so callers do not repeat it.
// Names come from `in`, the Interner the graph's Syms belong to.
std::vector<EdgeRow> edge_rows(int worker, const CommGraph& g, const Interner& in);
std::vector<QuestionRow> question_rows(int worker, const CommGraph& g, const Interner& in);
// The log row for a decision the graph has applied (g.decisions().back()
// right after CommGraph::answer()); `actor` says who decided.
DecisionRow decision_row(int worker, const CommGraph& g, const Decision& d, const Interner& in,
                         std::string actor);

}  // namespace iotwall
