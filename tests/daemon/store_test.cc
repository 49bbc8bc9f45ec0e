// Tests of daemon/store: round trips through SQLite, the two snapshot
// generations, crash safety under SIGKILL, and refusal of bad files and
// bad input. Every test works in its own mkdtemp directory under /tmp.
#include "daemon/store.h"

#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/site_access.h"

#include "model/detector.h"
#include "model/graph_file.h"

using namespace iotwall;

namespace {

constexpr int64_t kMin = 60 * 1000;

// A temporary directory, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/iotwall-store-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// A raw SQLite handle on the store's file, to look at or damage it.
struct RawDb {
  sqlite3* db = nullptr;
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      db = nullptr;
    }
  }
  ~RawDb() { sqlite3_close(db); }
  // Runs `sql`; returns "" or the error message.
  std::string exec(const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) == SQLITE_OK) return "";
    std::string s = msg != nullptr ? msg : "error";
    sqlite3_free(msg);
    return s;
  }
  // The first column of the first row, as text ("" when none).
  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      if (const unsigned char* t = sqlite3_column_text(st, 0); t != nullptr) out = reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(st);
    return out;
  }
};

using iotwall::testing::Site;

const std::string L1 = "light1:/lightControler:Kitchen";
const std::string M1 = "move1:/movementSensor:Kitchen";
const std::string T1 = "temp1:/sensorService:Kitchen";
const std::string D1 = "door1:/doorLockService:Entrance";
const std::string W1 = "wash1:/washingService:Cellar";

std::unique_ptr<Store> must_open(const std::string& path) {
  std::string error;
  std::unique_ptr<Store> s = Store::open(path, &error);
  INFO(error);
  REQUIRE(s != nullptr);
  return s;
}

// The edge states of a graph by "src dst op", for comparisons across Interners.
std::map<std::string, std::string> states(const std::vector<EdgeRow>& rows) {
  std::map<std::string, std::string> m;
  for (const EdgeRow& e : rows) m[e.src + " " + e.dst + " " + e.op] = e.state;
  return m;
}

}  // namespace

TEST_CASE("a detector's state and a decision round-trip through the store", "[store]") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  const std::string db = dir.file("state.db");

  // A site learns, then asks two questions; the manager approves one.
  Site site;
  Detector det(DetectorOptions{}, site.in);
  for (int64_t t = 0; t < 30 * kMin; t += 10 * 1000) {
    det.observe(site.access(L1, M1, Operation::kRead, t));
    det.observe(site.access(T1, M1, Operation::kRead, t + 1));
    det.observe(site.access(W1, T1, Operation::kRead, t + 2));
  }
  det.observe(site.access(L1, D1, Operation::kWrite, 31 * kMin));
  det.observe(site.access(W1, D1, Operation::kWrite, 32 * kMin));
  CommGraph& g = det.graph();
  REQUIRE(g.questions().size() == 2);
  std::string error;
  REQUIRE(g.answer(1, true, Scope::kType, CommGraph::kNoVertex, &error));
  const DecisionRow d = decision_row(0, g, g.decisions().back(), site.in, "uid 0 (root)");
  CHECK(d.scope == "type");
  CHECK(d.text.find("light controllers") != std::string::npos);

  const std::string bytes = save_state(g, det.models(), site.in);
  const std::vector<EdgeRow> edges = edge_rows(0, g, site.in);
  const std::vector<QuestionRow> questions = question_rows(0, g, site.in);
  {
    auto store = must_open(db);
    REQUIRE(store->save(SnapshotRow{0, 1234, bytes}, edges, questions, &d, &error));
  }

  // A new process would do this: open, load, validate, restore.
  auto store = must_open(db);
  std::vector<SnapshotRow> rows;
  REQUIRE(store->load(0, &rows, &error));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].saved_ms == 1234);
  CHECK(rows[0].generation == 1);
  CHECK(rows[0].decision_seq == 1);
  CHECK(rows[0].state == bytes);

  Interner in2;
  CommGraph g2;
  absl::flat_hash_map<uint32_t, TypeModel> m2;
  REQUIRE(load_state(rows[0].state, in2, &g2, &m2, &error));
  CHECK(save_state(g2, m2, in2) == bytes);
  CHECK(states(edge_rows(0, g2, in2)) == states(edges));
  CHECK(states(edge_rows(0, g2, in2))["/agent1/light1 /agent1/door1 write"] == "approved");
  CHECK(states(edge_rows(0, g2, in2))["/agent1/wash1 /agent1/door1 write"] == "pending");
  REQUIRE(g2.decisions().size() == 1);
  CHECK(g2.decisions()[0].question == 1);
  CHECK(g2.decisions()[0].approve);

  // The readable mirror and the log.
  std::vector<EdgeRow> e2;
  REQUIRE(store->edges(0, &e2, &error));
  CHECK(states(e2) == states(edges));
  REQUIRE(e2.size() == edges.size());
  CHECK(e2[0].count == edges[0].count);
  CHECK(e2[0].first_seen_ms == edges[0].first_seen_ms);
  std::vector<QuestionRow> q2;
  REQUIRE(store->questions(0, &q2, &error));
  REQUIRE(q2.size() == 2);
  CHECK_FALSE(q2[0].open);
  CHECK(q2[1].open);
  CHECK(q2[1].text == questions[1].text);
  CHECK(q2[1].text.find("wash1") != std::string::npos);

  std::vector<DecisionRow> log;
  REQUIRE(store->decisions(10, &log, &error));
  REQUIRE(log.size() == 1);
  CHECK(log[0].seq == 1);
  CHECK(log[0].time_ms == d.time_ms);
  CHECK(log[0].question == 1);
  CHECK(log[0].approve);
  CHECK(log[0].scope == "type");
  CHECK(log[0].text == d.text);
  CHECK(log[0].actor == "uid 0 (root)");
  CHECK(store->decisions_count(&error) == 1u);

  // The pending view shows what is still open, for the sqlite3 shell.
  RawDb raw(db);
  CHECK(raw.text("SELECT count(*) FROM pending") == "1");
}

TEST_CASE("two generations: a corrupted newest snapshot leaves the one before it", "[store]") {
  TempDir dir;
  const std::string db = dir.file("state.db");
  Site site;
  CommGraph g(GraphOptions{.learning_phase_ms = 0});
  std::vector<std::string> saved;
  std::string error;
  {
    auto store = must_open(db);
    for (int i = 0; i < 3; ++i) {
      g.observe(site.access(L1, "dev" + std::to_string(i) + ":/dev:Hall", Operation::kWrite, i * kMin));
      saved.push_back(save_state(g, {}, site.in));
      REQUIRE(store->save(SnapshotRow{0, i, saved.back()}, edge_rows(0, g, site.in),
                          question_rows(0, g, site.in), nullptr, &error));
    }
    // Another worker's rows are its own.
    REQUIRE(store->save(SnapshotRow{1, 99, saved[0]}, {}, {}, nullptr, &error));
  }
  RawDb raw(db);
  CHECK(raw.text("SELECT count(*) FROM snapshots WHERE worker = 0") == "2");
  CHECK(raw.exec("UPDATE snapshots SET state = randomblob(200) WHERE worker = 0 AND generation = 3").empty());

  auto store = must_open(db);
  std::vector<SnapshotRow> rows;
  REQUIRE(store->load(0, &rows, &error));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].generation == 3);
  CHECK(rows[1].generation == 2);
  CHECK(rows[1].saved_ms == 1);
  Interner in2;
  CommGraph g2;
  absl::flat_hash_map<uint32_t, TypeModel> m2;
  CHECK_FALSE(load_state(rows[0].state, in2, &g2, &m2, &error));
  CHECK(!error.empty());
  REQUIRE(load_state(rows[1].state, in2, &g2, &m2, &error));
  CHECK(save_state(g2, m2, in2) == saved[1]);
  CHECK(g2.edges().size() == 2);

  REQUIRE(store->load(1, &rows, &error));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == saved[0]);
  REQUIRE(store->load(7, &rows, &error));
  CHECK(rows.empty());
}

namespace {

// The child of the crash test: restores the newest good snapshot, then
// answers new questions in a tight loop, saving snapshot + decision, and
// reports each decision's time on `fd` once save() has returned. Periodic
// snapshots without a decision come in between. Never returns.
[[noreturn]] void crash_child(const std::string& db, int fd) {
  std::string error;
  std::unique_ptr<Store> store = Store::open(db, &error);
  if (!store) _exit(3);
  const GraphOptions opt{.learning_phase_ms = 0};
  Site site;
  CommGraph g(opt);
  std::vector<SnapshotRow> rows;
  if (!store->load(0, &rows, &error)) _exit(4);
  for (const SnapshotRow& r : rows) {
    absl::flat_hash_map<uint32_t, TypeModel> models;
    if (load_state(r.state, site.in, &g, &models, &error)) break;
  }
  g.set_options(opt);
  int64_t t = std::max<int64_t>(g.now(), 0);
  const int64_t ready = -1;
  if (write(fd, &ready, sizeof ready) != sizeof ready) _exit(5);
  for (int i = 0; i < 100000; ++i) {
    t += 1000;
    if (i % 3 == 2) {  // a periodic snapshot
      g.observe(site.access(L1, "hub:/hub:Hall", Operation::kRead, t));
      if (!store->save(SnapshotRow{0, t, save_state(g, {}, site.in)}, edge_rows(0, g, site.in),
                       question_rows(0, g, site.in), nullptr, &error)) {
        _exit(6);
      }
      continue;
    }
    // A new device type: a new question, answered at once.
    const std::string dev = "dev" + std::to_string(t) + ":/dev" + std::to_string(t) + ":Hall";
    const Judgement j = g.observe(site.access(L1, dev, Operation::kWrite, t));
    if (!j.asked) _exit(7);
    if (!g.answer(j.question, (t / 1000) % 2 == 0, Scope::kType, CommGraph::kNoVertex, &error)) _exit(8);
    const DecisionRow d = decision_row(0, g, g.decisions().back(), site.in, "test");
    if (!store->save(SnapshotRow{0, t, save_state(g, {}, site.in)}, edge_rows(0, g, site.in),
                     question_rows(0, g, site.in), &d, &error)) {
      _exit(9);
    }
    if (write(fd, &t, sizeof t) != sizeof t) _exit(10);
  }
  _exit(0);
}

// Kills and reaps the child if a check fails half-way.
struct ChildGuard {
  pid_t pid = -1;
  ~ChildGuard() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

struct Fds {
  int fd[2] = {-1, -1};
  ~Fds() {
    for (int f : fd) {
      if (f >= 0) close(f);
    }
  }
};

}  // namespace

TEST_CASE("kill -9 at random moments never loses an acknowledged decision", "[store][crash]") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  const std::string db = dir.file("state.db");
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_us(1000, 20000);

  std::set<int64_t> acked;  // decision times the child reported as committed
  constexpr int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    Fds pipe_fds;
    REQUIRE(pipe(pipe_fds.fd) == 0);
    std::fflush(nullptr);
    ChildGuard child;
    child.pid = fork();
    REQUIRE(child.pid >= 0);
    if (child.pid == 0) {
      close(pipe_fds.fd[0]);
      crash_child(db, pipe_fds.fd[1]);
    }
    close(pipe_fds.fd[1]);
    pipe_fds.fd[1] = -1;

    // Wait for the child to have restored its state, then let it write for
    // a random while and kill it.
    std::vector<int64_t> got;
    auto read_some = [&](int timeout_ms) {
      pollfd p{pipe_fds.fd[0], POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) return false;
      int64_t buf[512];
      const ssize_t n = read(pipe_fds.fd[0], buf, sizeof buf);
      if (n <= 0) return false;
      got.insert(got.end(), buf, buf + n / sizeof(int64_t));  // writes of 8 bytes are atomic
      return true;
    };
    for (int i = 0; i < 100 && got.empty(); ++i) read_some(100);
    REQUIRE(!got.empty());
    REQUIRE(got[0] == -1);
    // Three rounds in four start the clock at the first acknowledged
    // decision (a kill in the steady loop), the fourth at once (a kill while
    // the child recovers the WAL or writes its first snapshot).
    if (round % 4 != 3) {
      const size_t n = got.size();
      for (int i = 0; i < 100 && got.size() == n; ++i) read_some(100);
      REQUIRE(got.size() > n);
    }
    usleep(static_cast<useconds_t>(delay_us(rng)));
    REQUIRE(kill(child.pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
    child.pid = -1;
    INFO("child status " << status);
    REQUIRE(WIFSIGNALED(status));  // an exit means it failed (see its codes)
    for (int i = 0; i < 1000 && read_some(0); ++i) {
    }
    acked.insert(got.begin() + 1, got.end());

    // What a restart finds.
    {
      RawDb raw(db);
      CHECK(raw.text("PRAGMA integrity_check") == "ok");
    }
    std::string error;
    auto store = must_open(db);
    std::vector<DecisionRow> log;
    REQUIRE(store->decisions(1000000, &log, &error));
    std::set<int64_t> logged;
    for (const DecisionRow& d : log) logged.insert(d.time_ms);
    for (int64_t t : acked) {
      INFO("decision at " << t);
      CHECK(logged.count(t) == 1);
    }
    if (acked.empty()) continue;
    std::vector<SnapshotRow> rows;
    REQUIRE(store->load(0, &rows, &error));
    REQUIRE(!rows.empty());
    CHECK(rows[0].decision_seq == log.front().seq);
    if (rows.size() == 2) CHECK(rows[1].generation == rows[0].generation - 1);
    Interner in;
    CommGraph g;
    absl::flat_hash_map<uint32_t, TypeModel> models;
    const bool newest_ok = load_state(rows[0].state, in, &g, &models, &error);
    INFO(error);
    CHECK(newest_ok);
    if (!newest_ok) {
      REQUIRE(rows.size() == 2);
      REQUIRE(load_state(rows[1].state, in, &g, &models, &error));
    }
    // The snapshot holds exactly the logged decisions (one transaction),
    // and so every acknowledged one, with its edge in the answered state.
    std::set<int64_t> in_graph;
    for (const Decision& d : g.decisions()) in_graph.insert(d.time_ms);
    if (newest_ok) CHECK(in_graph == logged);
    for (int64_t t : acked) {
      INFO("decision at " << t);
      REQUIRE(in_graph.count(t) == 1);
    }
    std::map<std::string, std::string> st = states(edge_rows(0, g, in));
    const int64_t last = *acked.rbegin();
    CHECK(st["/agent1/light1 /agent1/dev" + std::to_string(last) + " write"] ==
          ((last / 1000) % 2 == 0 ? "approved" : "denied"));
  }
  std::printf("crash test: %zu acknowledged decisions in %d rounds (seed %u)\n", acked.size(), kRounds, seed);
  CHECK(acked.size() >= size_t{kRounds} / 2);
}

TEST_CASE("the store refuses files it must not use, with the file named", "[store]") {
  TempDir dir;
  std::string error;

  SECTION("a missing directory") {
    const std::string path = dir.file("nope/state.db");
    CHECK(Store::open(path, &error) == nullptr);
    CHECK(error.find(dir.file("nope")) != std::string::npos);
    CHECK(error.find("No such file") != std::string::npos);
  }
  SECTION("a directory or a symbolic link") {
    CHECK(Store::open(dir.path, &error) == nullptr);
    CHECK(error.find(dir.path) != std::string::npos);
    const std::string link = dir.file("link.db");
    REQUIRE(symlink(dir.file("target.db").c_str(), link.c_str()) == 0);
    CHECK(Store::open(link, &error) == nullptr);
    CHECK(error.find("symbolic link") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("target.db")));
  }
  SECTION("an empty path") {
    CHECK(Store::open("", &error) == nullptr);
    CHECK(error.find("empty") != std::string::npos);
  }
  SECTION("a file that is not a database") {
    const std::string path = dir.file("text.db");
    std::ofstream(path) << std::string(4096, 'x');
    CHECK(Store::open(path, &error) == nullptr);
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("not an SQLite database") != std::string::npos);
  }
  SECTION("another program's database") {
    const std::string path = dir.file("other.db");
    {
      RawDb raw(path);
      REQUIRE(raw.exec("CREATE TABLE t (x)").empty());
    }
    CHECK(Store::open(path, &error) == nullptr);
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("not an iotwall state database") != std::string::npos);
  }
  SECTION("a newer schema version") {
    const std::string path = dir.file("state.db");
    must_open(path);
    {
      RawDb raw(path);
      REQUIRE(raw.exec("PRAGMA user_version = " + std::to_string(Store::kSchemaVersion + 1)).empty());
    }
    CHECK(Store::open(path, &error) == nullptr);
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("newer") != std::string::npos);
  }
  SECTION("an empty database is initialised whatever its user_version") {
    const std::string path = dir.file("empty.db");
    {
      RawDb raw(path);
      REQUIRE(raw.exec("PRAGMA user_version = 9").empty());
    }
    auto store = must_open(path);
    REQUIRE(store->save(SnapshotRow{0, 1, "x"}, {}, {}, nullptr, &error));
    RawDb raw(path);
    CHECK(raw.text("PRAGMA user_version") == std::to_string(Store::kSchemaVersion));
  }
  SECTION("a corrupted file") {
    const std::string path = dir.file("state.db");
    {
      auto store = must_open(path);
      const std::string blob(20000, 'b');
      std::vector<EdgeRow> edges;
      for (int i = 0; i < 300; ++i) edges.push_back(EdgeRow{0, "s" + std::to_string(i), "d", "read", "learned", 0, 0, 1});
      for (int w = 0; w < 4; ++w) {
        for (EdgeRow& e : edges) e.worker = w;
        REQUIRE(store->save(SnapshotRow{w, 0, blob}, edges, {}, nullptr, &error));
      }
    }
    REQUIRE_FALSE(std::filesystem::exists(path + "-wal"));  // checkpointed at close
    const auto size = std::filesystem::file_size(path);
    REQUIRE(size > 16 * 4096);
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      std::mt19937 rng(7);
      for (uint64_t off = 4096; off + 4096 <= size; off += 4096) {
        f.seekp(static_cast<std::streamoff>(off));
        std::string junk(64, '\0');
        for (char& c : junk) c = static_cast<char>(rng());
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
      }
    }
    CHECK(Store::open(path, &error) == nullptr);
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("corrupt") != std::string::npos);
  }
}

TEST_CASE("the database and its WAL are created with mode 0600", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  const mode_t old = umask(0);
  auto store = must_open(path);
  umask(old);
  std::string error;
  REQUIRE(store->save(SnapshotRow{0, 1, "x"}, {}, {}, nullptr, &error));
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat((path + "-wal").c_str(), &st) == 0);  // WAL mode
  CHECK((st.st_mode & 0777) == 0600);
  RawDb raw(path);
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  CHECK(raw.text("PRAGMA user_version") == std::to_string(Store::kSchemaVersion));

  // A looser mode is tightened at the next open.
  store.reset();
  REQUIRE(chmod(path.c_str(), 0644) == 0);
  store = must_open(path);
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("bad input is refused and writes nothing", "[store]") {
  TempDir dir;
  auto store = must_open(dir.file("state.db"));
  std::string error;
  REQUIRE(store->save(SnapshotRow{0, 1, "first"}, {EdgeRow{0, "a", "b", "read", "learned", 0, 0, 1}},
                      {QuestionRow{0, 1, "q?", 5, true}}, nullptr, &error));
  DecisionRow d;
  d.worker = 0;
  d.scope = "type";

  auto unchanged = [&] {
    std::vector<SnapshotRow> rows;
    REQUIRE(store->load(0, &rows, &error));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].state == "first");
    std::vector<EdgeRow> edges;
    REQUIRE(store->edges(0, &edges, &error));
    REQUIRE(edges.size() == 1);
    CHECK(edges[0].src == "a");
    std::vector<QuestionRow> qs;
    REQUIRE(store->questions(0, &qs, &error));
    CHECK(qs.size() == 1);
    CHECK(store->decisions_count(&error) == 0u);
  };

  CHECK_FALSE(store->save(SnapshotRow{-1, 1, "x"}, {}, {}, nullptr, &error));
  CHECK(error.find("negative") != std::string::npos);
  CHECK_FALSE(store->save(SnapshotRow{0, 1, "x"}, {EdgeRow{1, "a", "b", "read", "learned", 0, 0, 1}}, {}, nullptr, &error));
  CHECK(error.find("worker 1") != std::string::npos);
  d.scope = "everything";
  CHECK_FALSE(store->save(SnapshotRow{0, 1, "x"}, {}, {}, &d, &error));
  CHECK(error.find("scope") != std::string::npos);
  unchanged();

  // Failures inside the transaction roll all of it back: the decision row
  // and the snapshot written before the bad edge are gone too.
  d.scope = "service";
  CHECK_FALSE(store->save(SnapshotRow{0, 1, "x"}, {EdgeRow{0, "a", "b", "read", "maybe", 0, 0, 1}}, {}, &d, &error));
  CHECK(error.find("CHECK constraint") != std::string::npos);
  unchanged();
  CHECK_FALSE(store->save(SnapshotRow{0, 1, "x"}, {}, {QuestionRow{0, 3, "a", 0, true}, QuestionRow{0, 3, "b", 0, true}}, &d, &error));
  CHECK(error.find("UNIQUE") != std::string::npos);
  unchanged();
  std::vector<SnapshotRow> rows;
  CHECK_FALSE(store->load(-2, &rows, &error));

  // The store still works afterwards.
  REQUIRE(store->save(SnapshotRow{0, 2, "second"}, {}, {}, &d, &error));
  REQUIRE(store->load(0, &rows, &error));
  CHECK(rows.size() == 2);
  CHECK(rows[0].decision_seq == 1);
  CHECK(rows[1].decision_seq == 0);
}

TEST_CASE("the decision log is append-only, newest first, limited", "[store]") {
  TempDir dir;
  const std::string path = dir.file("state.db");
  auto store = must_open(path);
  std::string error;
  for (int i = 1; i <= 5; ++i) {
    DecisionRow d;
    d.time_ms = i * 100;
    d.worker = i % 2;
    d.question = static_cast<uint32_t>(i);
    d.approve = i % 2 == 0;
    d.scope = "service";
    d.source = "svc" + std::to_string(i);
    d.actor = "uid 0 (root)";
    REQUIRE(store->save(SnapshotRow{d.worker, i, "s"}, {}, {}, &d, &error));
  }
  std::vector<DecisionRow> log;
  REQUIRE(store->decisions(3, &log, &error));
  REQUIRE(log.size() == 3);
  CHECK(log[0].seq == 5);
  CHECK(log[0].time_ms == 500);
  CHECK(log[0].source == "svc5");
  CHECK(log[2].seq == 3);
  CHECK(store->decisions_count(&error) == 5u);
  std::vector<SnapshotRow> rows;
  REQUIRE(store->load(1, &rows, &error));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].decision_seq == 5);  // worker 1's newest decision
  CHECK(rows[1].decision_seq == 3);

  RawDb raw(path);
  CHECK(raw.exec("UPDATE decisions SET approve = 1").find("append-only") != std::string::npos);
  CHECK(raw.exec("DELETE FROM decisions").find("append-only") != std::string::npos);
  CHECK(store->decisions_count(&error) == 5u);

  // A second Store on the same file (another process, the CLI) reads while
  // the first one writes.
  auto reader = must_open(path);
  DecisionRow d;
  d.scope = "type";
  REQUIRE(store->save(SnapshotRow{0, 9, "s"}, {}, {}, &d, &error));
  CHECK(reader->decisions_count(&error) == 6u);
}

TEST_CASE("one Store serves several threads", "[store]") {
  TempDir dir;
  auto store = must_open(dir.file("state.db"));
  constexpr int kSaves = 40;
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 1; i <= kSaves && errors[w].empty(); ++i) {
        DecisionRow d;
        d.worker = w;
        d.question = static_cast<uint32_t>(i);
        d.scope = "type";
        const std::vector<EdgeRow> edges(3, EdgeRow{w, "a", "b", "read", "learned", 0, 0, 1});
        store->save(SnapshotRow{w, i, std::string(1000, static_cast<char>('a' + i % 26))}, edges, {},
                    i % 4 == 0 ? &d : nullptr, &errors[w]);
      }
    });
  }
  threads.emplace_back([&] {  // a reader, as at a worker's start
    std::vector<SnapshotRow> rows;
    for (int i = 0; i < kSaves && errors[2].empty(); ++i) store->load(i % 2, &rows, &errors[2]);
  });
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) CHECK(e.empty());
  std::string error;
  CHECK(store->decisions_count(&error) == 2u * kSaves / 4);
  for (int w = 0; w < 2; ++w) {
    std::vector<SnapshotRow> rows;
    REQUIRE(store->load(w, &rows, &error));
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].saved_ms == kSaves);
    CHECK(rows[0].generation == kSaves);
    std::vector<EdgeRow> edges;
    REQUIRE(store->edges(w, &edges, &error));
    CHECK(edges.size() == 3);
  }
}
