// Store: SQLite through its C API. Every statement is prepared, bound and
// stepped through the small Stmt wrapper below; every failure becomes a
// message naming the database file. Schema: docs/state.md.
#include "daemon/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <utility>

#include "model/wording.h"

namespace iotwall {
namespace {

// Schema version 1. Snapshots are a rowid table (their blobs are large);
// the decision log refuses UPDATE and DELETE so the audit cannot be edited
// by accident (deliberately, it takes DROP TRIGGER).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE snapshots (
  worker       INTEGER NOT NULL CHECK (worker >= 0),
  generation   INTEGER NOT NULL CHECK (generation >= 1),
  saved_ms     INTEGER NOT NULL,
  decision_seq INTEGER NOT NULL DEFAULT 0,
  state        BLOB NOT NULL,
  UNIQUE (worker, generation)
);
CREATE TABLE edges (
  worker        INTEGER NOT NULL,
  src           TEXT NOT NULL,
  dst           TEXT NOT NULL,
  op            TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('learned', 'approved', 'pending', 'denied')),
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms  INTEGER NOT NULL,
  count         INTEGER NOT NULL CHECK (count >= 0)
);
CREATE INDEX edges_by_worker ON edges (worker);
CREATE TABLE questions (
  worker   INTEGER NOT NULL,
  id       INTEGER NOT NULL,
  text     TEXT NOT NULL,
  asked_ms INTEGER NOT NULL,
  open     INTEGER NOT NULL CHECK (open IN (0, 1)),
  PRIMARY KEY (worker, id)
);
CREATE TABLE decisions (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms  INTEGER NOT NULL,
  worker   INTEGER NOT NULL,
  question INTEGER NOT NULL,
  approve  INTEGER NOT NULL CHECK (approve IN (0, 1)),
  scope    TEXT NOT NULL CHECK (scope IN ('type', 'service')),
  source   TEXT NOT NULL,
  text     TEXT NOT NULL,
  actor    TEXT NOT NULL
);
CREATE INDEX decisions_by_worker ON decisions (worker, seq);
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
  BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
  BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE VIEW pending AS
  SELECT worker, id, asked_ms, text FROM questions WHERE open ORDER BY asked_ms;
)sql";

// kMigrations[v] takes schema version v to v + 1 (0: an empty database).
constexpr const char* kMigrations[] = {kSchemaV1};
static_assert(std::size(kMigrations) == Store::kSchemaVersion);

// A prepared statement. Text and blobs are bound without a copy
// (SQLITE_STATIC): the caller's strings outlive the statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
  Stmt& text(int i, const std::string& v) {
    return check(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  Stmt& blob(int i, const std::string& v) {
    return check(sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_STATIC));
  }
  // SQLITE_ROW, SQLITE_DONE, or the error of a failed bind or step.
  int step() { return ok() ? sqlite3_step(s_) : rc_; }
  // Steps a statement that returns no rows.
  bool run() { return step() == SQLITE_DONE; }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  std::string str(int c) const {
    const void* p = sqlite3_column_blob(s_, c);  // blob or text bytes, as stored
    const int n = sqlite3_column_bytes(s_, c);
    return p == nullptr || n <= 0 ? std::string() : std::string(static_cast<const char*>(p), n);
  }

 private:
  Stmt& check(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
    return *this;
  }
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

// Rolls back unless committed: an error anywhere leaves nothing written.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // BEGIN IMMEDIATE: takes the write lock now (waiting up to the busy
  // timeout), so the transaction cannot fail later on a lock upgrade.
  bool begin() { return open_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK; }
  bool commit() {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
    open_ = false;
    return true;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

std::string errno_text() { return std::strerror(errno); }

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Creates the file with mode 0600 (SQLite would use 0644 less the umask,
// and gives the -wal and -shm files the database file's mode), or tightens
// the mode of an existing one. Refuses symbolic links and non-files.
bool prepare_file(const std::string& path, std::string* error) {
  const std::string dir = parent_dir(path);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    *error = path + ": cannot use directory " + dir + ": " + errno_text();
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    *error = path + ": " + dir + " is not a directory";
    return false;
  }
  bool created = true;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) {
    *error = path + ": cannot open: " + (errno == ELOOP ? "it is a symbolic link" : errno_text());
    return false;
  }
  const char* problem = nullptr;
  if (fstat(fd, &st) != 0) {
    problem = "cannot stat";
  } else if (!S_ISREG(st.st_mode)) {
    problem = "not a regular file";
    errno = 0;
  } else if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0) {
    problem = "cannot set mode 0600";
  }
  if (problem != nullptr) *error = path + ": " + problem + (errno != 0 ? ": " + errno_text() : "");
  ::close(fd);
  if (problem != nullptr) return false;
  if (created) {
    // The new directory entry survives a power loss.
    if (int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
      fsync(d);
      ::close(d);
    }
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    if (lstat(side.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600 &&
        chmod(side.c_str(), 0600) != 0) {
      *error = side + ": cannot set mode 0600: " + errno_text();
      return false;
    }
  }
  return true;
}

// A single integer from a query (a PRAGMA or a count).
std::optional<int64_t> query_int(sqlite3* db, const char* sql) {
  Stmt q(db, sql);
  if (q.step() != SQLITE_ROW) return std::nullopt;
  return q.i64(0);
}

bool valid_worker(int worker, std::string* error) {
  if (worker >= 0) return true;
  *error = "worker " + std::to_string(worker) + " is negative";
  return false;
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& path, std::string* error) {
  if (path.empty()) {
    *error = "the state database path is empty";
    return nullptr;
  }
  if (!prepare_file(path, error)) return nullptr;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
  std::unique_ptr<Store> s(new Store(db, path));  // closes db on every return
  if (rc != SQLITE_OK) {
    *error = s->fail("cannot open");
    return nullptr;
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  // Integrity first: this is the first read, so it also tells a file that
  // is not a database, and it recovers a WAL left by a crash.
  {
    Stmt q(db, "PRAGMA quick_check(5)");
    std::string problems;
    int step;
    int rows = 0;
    while ((step = q.step()) == SQLITE_ROW && ++rows <= 5) {
      const std::string line = q.str(0);
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
      const int code = sqlite3_errcode(db);
      if (code == SQLITE_NOTADB) {
        *error = path + ": not an SQLite database (" + sqlite3_errmsg(db) + ")";
      } else if (code == SQLITE_CORRUPT) {
        *error = path + ": the database is corrupt (" + sqlite3_errmsg(db) +
                 "): restore a backup or move the file away (docs/state.md)";
      } else {
        *error = s->fail("cannot read");
      }
      return nullptr;
    }
    if (!problems.empty()) {
      *error = path + ": the database failed its integrity check (" + problems +
               "): restore a backup or move the file away (docs/state.md)";
      return nullptr;
    }
  }

  // Whose file, which schema.
  const std::optional<int64_t> app = query_int(db, "PRAGMA application_id");
  const std::optional<int64_t> version = query_int(db, "PRAGMA user_version");
  const std::optional<int64_t> objects = query_int(db, "SELECT count(*) FROM sqlite_schema");
  if (!app || !version || !objects) {
    *error = s->fail("cannot read the schema");
    return nullptr;
  }
  if (*app == kApplicationId && *version > kSchemaVersion) {
    *error = path + ": schema version " + std::to_string(*version) + " is newer than this iotwall's (" +
             std::to_string(kSchemaVersion) + "): it was written by a newer iotwall; run that, or restore a backup";
    return nullptr;
  }
  if (*app != kApplicationId && !(*app == 0 && *objects == 0)) {
    char id[16];
    std::snprintf(id, sizeof id, "0x%08" PRIx32, static_cast<uint32_t>(*app));
    *error = path + ": not an iotwall state database (application_id " + id + ", " +
             std::to_string(*objects) + " schema objects)";
    return nullptr;
  }

  // WAL: readers never block the writer, and a commit is one append.
  {
    Stmt q(db, "PRAGMA journal_mode=WAL");
    if (q.step() != SQLITE_ROW) {
      *error = s->fail("cannot switch to WAL mode");
      return nullptr;
    }
    if (q.str(0) != "wal") {
      *error = path + ": cannot switch to WAL mode (the journal mode stays " + q.str(0) + ")";
      return nullptr;
    }
  }
  // synchronous is set again per commit in save(). After a checkpoint the
  // WAL file is truncated to at most 16 MiB.
  if (!s->exec("PRAGMA synchronous=FULL", error) || !s->exec("PRAGMA foreign_keys=ON", error) ||
      !s->exec("PRAGMA journal_size_limit=16777216", error)) {
    return nullptr;
  }

  // Create or migrate. Another process may do the same at once: the write
  // lock serialises us, and the version is read again under it. An empty
  // file counts as version 0 whatever its user_version says.
  if (*app != kApplicationId || *version < kSchemaVersion) {
    Transaction tx(db);
    if (!tx.begin()) {
      *error = s->fail("cannot begin the schema update");
      return nullptr;
    }
    const std::optional<int64_t> app_now = query_int(db, "PRAGMA application_id");
    const std::optional<int64_t> version_now = query_int(db, "PRAGMA user_version");
    if (!app_now || !version_now) {
      *error = s->fail("cannot read the schema version");
      return nullptr;
    }
    const int64_t from = *app_now == kApplicationId ? *version_now : 0;
    if (from > kSchemaVersion) {
      *error = path + ": schema version " + std::to_string(from) + " is newer than this iotwall's";
      return nullptr;
    }
    for (int64_t v = from; v < kSchemaVersion; ++v) {
      if (!s->exec(kMigrations[v], error)) return nullptr;
    }
    const std::string stamp = "PRAGMA application_id=" + std::to_string(kApplicationId) +
                              "; PRAGMA user_version=" + std::to_string(kSchemaVersion);
    if (!s->exec(stamp.c_str(), error)) return nullptr;
    if (!tx.commit()) {
      *error = s->fail("cannot commit the schema");
      return nullptr;
    }
  }
  return s;
}

Store::~Store() { sqlite3_close_v2(db_); }

std::string Store::fail(const std::string& what) const {
  return path_ + ": " + what + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory");
}

bool Store::exec(const char* sql, std::string* error) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK) return true;
  *error = fail("SQL failed");
  return false;
}

bool Store::save(const SnapshotRow& s, const std::vector<EdgeRow>& edges,
                 const std::vector<QuestionRow>& questions, const DecisionRow* decision,
                 std::string* error) {
  if (!valid_worker(s.worker, error)) return false;
  const auto other = [&](int w, const char* what) {
    *error = std::string(what) + " of worker " + std::to_string(w) + " in a snapshot of worker " +
             std::to_string(s.worker);
    return false;
  };
  for (const EdgeRow& e : edges) {
    if (e.worker != s.worker) return other(e.worker, "an edge");
  }
  for (const QuestionRow& q : questions) {
    if (q.worker != s.worker) return other(q.worker, "a question");
  }
  if (decision != nullptr) {
    if (decision->worker != s.worker) return other(decision->worker, "a decision");
    if (decision->scope != "type" && decision->scope != "service") {
      *error = "decision scope \"" + decision->scope + "\" is neither \"type\" nor \"service\"";
      return false;
    }
  }

  std::lock_guard lock(mu_);
  // A decision is acknowledged once this returns: its commit waits for the
  // disk. Periodic snapshots need only stay consistent (docs/state.md).
  if (!exec(decision != nullptr ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", error)) return false;
  Transaction tx(db_);
  if (!tx.begin()) {
    *error = fail("cannot begin a transaction");
    return false;
  }
  if (decision != nullptr) {
    Stmt q(db_,
           "INSERT INTO decisions (time_ms, worker, question, approve, scope, source, text, actor) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    q.bind(1, decision->time_ms).bind(2, decision->worker).bind(3, decision->question);
    q.bind(4, decision->approve ? 1 : 0).text(5, decision->scope).text(6, decision->source);
    q.text(7, decision->text).text(8, decision->actor);
    if (!q.run()) {
      *error = fail("cannot log the decision");
      return false;
    }
  }
  {
    Stmt q(db_,
           "INSERT INTO snapshots (worker, generation, saved_ms, decision_seq, state) VALUES (?1, "
           "(SELECT coalesce(max(generation), 0) + 1 FROM snapshots WHERE worker = ?1), ?2, "
           "(SELECT coalesce(max(seq), 0) FROM decisions WHERE worker = ?1), ?3)");
    q.bind(1, s.worker).bind(2, s.saved_ms).blob(3, s.state);
    if (!q.run()) {
      *error = fail("cannot write the snapshot of worker " + std::to_string(s.worker));
      return false;
    }
    // Two generations: the new one and the one before it.
    Stmt prune(db_,
               "DELETE FROM snapshots WHERE worker = ?1 AND generation < "
               "(SELECT max(generation) FROM snapshots WHERE worker = ?1) - 1");
    prune.bind(1, s.worker);
    if (!prune.run()) {
      *error = fail("cannot drop old snapshots");
      return false;
    }
  }
  {
    Stmt del(db_, "DELETE FROM edges WHERE worker = ?1");
    del.bind(1, s.worker);
    Stmt q(db_,
           "INSERT INTO edges (worker, src, dst, op, state, first_seen_ms, last_seen_ms, count) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    bool ok = del.run();
    for (size_t i = 0; ok && i < edges.size(); ++i) {
      const EdgeRow& e = edges[i];
      q.reset();
      q.bind(1, e.worker).text(2, e.src).text(3, e.dst).text(4, e.op).text(5, e.state);
      q.bind(6, e.first_seen_ms).bind(7, e.last_seen_ms).bind(8, e.count);
      ok = q.run();
    }
    if (!ok) {
      *error = fail("cannot write the edges of worker " + std::to_string(s.worker));
      return false;
    }
  }
  {
    Stmt del(db_, "DELETE FROM questions WHERE worker = ?1");
    del.bind(1, s.worker);
    Stmt q(db_, "INSERT INTO questions (worker, id, text, asked_ms, open) VALUES (?1, ?2, ?3, ?4, ?5)");
    bool ok = del.run();
    for (size_t i = 0; ok && i < questions.size(); ++i) {
      const QuestionRow& r = questions[i];
      q.reset();
      q.bind(1, r.worker).bind(2, r.id).text(3, r.text).bind(4, r.asked_ms).bind(5, r.open ? 1 : 0);
      ok = q.run();
    }
    if (!ok) {
      *error = fail("cannot write the questions of worker " + std::to_string(s.worker));
      return false;
    }
  }
  if (!tx.commit()) {
    *error = fail("cannot commit");
    return false;
  }
  return true;
}

bool Store::load(int worker, std::vector<SnapshotRow>* out, std::string* error) {
  std::lock_guard lock(mu_);
  out->clear();
  if (!valid_worker(worker, error)) return false;
  Stmt q(db_,
         "SELECT generation, saved_ms, decision_seq, state FROM snapshots WHERE worker = ?1 "
         "ORDER BY generation DESC LIMIT 2");
  q.bind(1, worker);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    SnapshotRow r;
    r.worker = worker;
    r.generation = q.i64(0);
    r.saved_ms = q.i64(1);
    r.decision_seq = q.i64(2);
    r.state = q.str(3);
    out->push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) {
    out->clear();
    *error = fail("cannot read the snapshots of worker " + std::to_string(worker));
    return false;
  }
  return true;
}

bool Store::decisions(size_t limit, std::vector<DecisionRow>* out, std::string* error) {
  std::lock_guard lock(mu_);
  out->clear();
  Stmt q(db_,
         "SELECT seq, time_ms, worker, question, approve, scope, source, text, actor FROM decisions "
         "ORDER BY seq DESC LIMIT ?1");
  q.bind(1, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    DecisionRow d;
    d.seq = q.i64(0);
    d.time_ms = q.i64(1);
    d.worker = static_cast<int>(q.i64(2));
    d.question = static_cast<uint32_t>(q.i64(3));
    d.approve = q.i64(4) != 0;
    d.scope = q.str(5);
    d.source = q.str(6);
    d.text = q.str(7);
    d.actor = q.str(8);
    out->push_back(std::move(d));
  }
  if (rc != SQLITE_DONE) {
    out->clear();
    *error = fail("cannot read the decision log");
    return false;
  }
  return true;
}

std::optional<uint64_t> Store::decisions_count(std::string* error) {
  std::lock_guard lock(mu_);
  const std::optional<int64_t> n = query_int(db_, "SELECT count(*) FROM decisions");
  if (!n) {
    *error = fail("cannot count the decision log");
    return std::nullopt;
  }
  return static_cast<uint64_t>(*n);
}

bool Store::edges(int worker, std::vector<EdgeRow>* out, std::string* error) {
  std::lock_guard lock(mu_);
  out->clear();
  if (!valid_worker(worker, error)) return false;
  Stmt q(db_,
         "SELECT src, dst, op, state, first_seen_ms, last_seen_ms, count FROM edges WHERE worker = ?1 "
         "ORDER BY rowid");
  q.bind(1, worker);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    EdgeRow e;
    e.worker = worker;
    e.src = q.str(0);
    e.dst = q.str(1);
    e.op = q.str(2);
    e.state = q.str(3);
    e.first_seen_ms = q.i64(4);
    e.last_seen_ms = q.i64(5);
    e.count = static_cast<uint32_t>(q.i64(6));
    out->push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) {
    out->clear();
    *error = fail("cannot read the edges of worker " + std::to_string(worker));
    return false;
  }
  return true;
}

bool Store::questions(int worker, std::vector<QuestionRow>* out, std::string* error) {
  std::lock_guard lock(mu_);
  out->clear();
  if (!valid_worker(worker, error)) return false;
  Stmt q(db_, "SELECT id, text, asked_ms, open FROM questions WHERE worker = ?1 ORDER BY id");
  q.bind(1, worker);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    QuestionRow r;
    r.worker = worker;
    r.id = static_cast<uint32_t>(q.i64(0));
    r.text = q.str(1);
    r.asked_ms = q.i64(2);
    r.open = q.i64(3) != 0;
    out->push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) {
    out->clear();
    *error = fail("cannot read the questions of worker " + std::to_string(worker));
    return false;
  }
  return true;
}

std::vector<EdgeRow> edge_rows(int worker, const CommGraph& g, const Interner& in) {
  std::vector<EdgeRow> out;
  out.reserve(g.edges().size());
  for (const Edge& e : g.edges()) {
    EdgeRow r;
    r.worker = worker;
    r.src = in.str(g.vertices()[e.src].name);
    r.dst = in.str(g.vertices()[e.dst].name);
    r.op = e.op == Operation::kUnknown ? "unknown" : std::string(operation_name(e.op));
    r.state = edge_state_name(e.state);
    r.first_seen_ms = e.first_seen;
    r.last_seen_ms = e.last_seen;
    r.count = e.count;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<QuestionRow> question_rows(int worker, const CommGraph& g, const Interner& in) {
  std::vector<QuestionRow> out;
  out.reserve(g.questions().size());
  for (const Question& q : g.questions()) {
    out.push_back(QuestionRow{worker, q.id, question_text(g, q, in), q.asked_ms, q.open});
  }
  return out;
}

DecisionRow decision_row(int worker, const CommGraph& g, const Decision& d, const Interner& in,
                         std::string actor) {
  DecisionRow r;
  r.time_ms = d.time_ms;
  r.worker = worker;
  r.question = d.question;
  r.approve = d.approve;
  r.scope = d.scope == Scope::kType ? "type" : "service";
  if (d.scope == Scope::kService && d.source < g.vertices().size()) {
    const Vertex& v = g.vertices()[d.source];
    r.source = in.str(v.id.empty() ? v.name : v.id);
  }
  if (const Question* q = g.question(d.question); q != nullptr) r.text = question_text(g, *q, in);
  r.actor = std::move(actor);
  return r;
}

}  // namespace iotwall
