// Tests of the control socket (daemon/control_socket.h): transport, bounds,
// timeouts, the socket file's mode and group, the peer check; and of the
// control subcommands' output (daemon/cmd_control.cc), running the built
// binary against a test server that returns canned replies.
#include "daemon/control_socket.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/cli_run.h"

namespace iotwall {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A fresh directory in /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/iotwall-control-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ControlServer::Handler echo() {
  return [](const json& request, const Peer& peer) {
    return json{{"ok", true}, {"echo", request}, {"uid", peer.uid}, {"pid", peer.pid}};
  };
}

std::unique_ptr<ControlServer> start(const std::string& path, ControlServer::Handler h = echo(),
                                     const std::string& group = "root") {
  std::string error;
  std::unique_ptr<ControlServer> s = ControlServer::start(path, group, std::move(h), &error);
  INFO(error);
  REQUIRE(s != nullptr);
  return s;
}

// A raw client: connects, for tests that send what control_call would not.
int connect_raw(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Reads until EOF (or 4 s): the whole reply.
std::string read_all(int fd) {
  timeval tv{4, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Sends `bytes` on a fresh raw connection and returns the reply line.
std::string raw_exchange(const std::string& path, const std::string& bytes) {
  const int fd = connect_raw(path);
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading it all
    sent += static_cast<size_t>(n);
  }
  std::string reply = read_all(fd);
  close(fd);
  return reply;
}

TEST_CASE("control: a request and its reply round-trip") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  auto server = start(path);
  json reply;
  std::string error;
  const json request{{"cmd", "status"}, {"text", "caf\u00e9 \u00b7 ok"}};
  REQUIRE(control_call(path, request, &reply, &error));
  CHECK(reply["ok"] == true);
  CHECK(reply["echo"] == request);
  CHECK(reply["uid"] == geteuid());
  CHECK(reply["pid"] == getpid());
  CHECK(server->served() == 1);
  CHECK(server->rejected() == 0);

  // Several in a row, each its own connection.
  for (int i = 0; i < 20; ++i) {
    REQUIRE(control_call(path, json{{"cmd", "pending"}, {"i", i}}, &reply, &error));
    CHECK(reply["echo"]["i"] == i);
  }
  CHECK(server->served() == 21);
}

TEST_CASE("control: the handler's exceptions and non-objects become errors") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  auto server = start(path, [](const json& request, const Peer&) -> json {
    if (request.value("cmd", "") == "throw") return request.at("no such key");
    return json::array({1, 2});
  });
  json reply;
  std::string error;
  REQUIRE(control_call(path, json{{"cmd", "throw"}}, &reply, &error));
  CHECK(reply["ok"] == false);
  CHECK_THAT(reply["error"].get<std::string>(), Catch::StartsWith("internal error"));
  REQUIRE(control_call(path, json{{"cmd", "array"}}, &reply, &error));
  CHECK(reply["ok"] == false);
  CHECK_THAT(reply["error"].get<std::string>(), Catch::Contains("not an object"));
}

TEST_CASE("control: malformed requests get an error and are counted") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  auto server = start(path);
  json reply = json::parse(raw_exchange(path, "{nope\n"));
  CHECK(reply["ok"] == false);
  CHECK_THAT(reply["error"].get<std::string>(), Catch::StartsWith("malformed request"));
  reply = json::parse(raw_exchange(path, "[1,2,3]\n"));
  CHECK(reply["ok"] == false);
  CHECK_THAT(reply["error"].get<std::string>(), Catch::Contains("JSON object"));
  // No newline, then EOF: the request is what was sent.
  const int fd = connect_raw(path);
  REQUIRE(send(fd, "{\"cmd\":\"x\"}", 11, MSG_NOSIGNAL) == 11);
  shutdown(fd, SHUT_WR);
  reply = json::parse(read_all(fd));
  close(fd);
  CHECK(reply["echo"]["cmd"] == "x");
  CHECK(server->rejected() == 2);
  CHECK(server->served() == 1);
}

TEST_CASE("control: deeply nested JSON is parsed without recursion") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  auto server = start(path);
  const size_t depth = ControlServer::kMaxRequestBytes / 2 - 1;
  json reply = json::parse(raw_exchange(path, std::string(depth, '[') + std::string(depth, ']') + "\n"));
  CHECK(reply["ok"] == false);  // valid JSON, but not an object
  reply = json::parse(raw_exchange(path, "{\"a\":" + std::string(depth - 4, '[') + "\n"));
  CHECK_THAT(reply["error"].get<std::string>(), Catch::StartsWith("malformed request"));
  CHECK(server->rejected() == 2);
}

TEST_CASE("control: an oversize request is refused, by the server and the client") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  auto server = start(path);
  const std::string big(ControlServer::kMaxRequestBytes + 5000, 'a');
  const std::string raw = raw_exchange(path, big + "\n");
  REQUIRE(!raw.empty());
  const json reply = json::parse(raw);
  CHECK(reply["ok"] == false);
  CHECK_THAT(reply["error"].get<std::string>(), Catch::Contains("larger than 65536"));
  CHECK(server->rejected() == 1);

  // Exactly at the limit is fine.
  json at_limit{{"cmd", "x"}, {"pad", ""}};
  at_limit["pad"] = std::string(ControlServer::kMaxRequestBytes - at_limit.dump().size(), 'b');
  REQUIRE(at_limit.dump().size() == ControlServer::kMaxRequestBytes);
  json r;
  std::string error;
  REQUIRE(control_call(path, at_limit, &r, &error));
  CHECK(r["echo"] == at_limit);

  at_limit["pad"] = at_limit["pad"].get<std::string>() + "b";
  CHECK_FALSE(control_call(path, at_limit, &r, &error));
  CHECK_THAT(error, Catch::Contains("larger than the limit"));
}

TEST_CASE("control: a silent client is cut off and does not block the next one") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  auto server = start(path);
  const auto t0 = Clock::now();
  const int idle = connect_raw(path);  // connects and sends nothing

  json reply;
  std::string error;
  const auto t1 = Clock::now();
  REQUIRE(control_call(path, json{{"cmd", "status"}}, &reply, &error));
  CHECK(seconds_since(t1) < 0.5);
  CHECK(reply["ok"] == true);

  const std::string cut = read_all(idle);  // returns when the server closes
  close(idle);
  const double waited = seconds_since(t0);
  CHECK(waited >= ControlServer::kClientTimeoutMs / 1000.0 - 0.1);
  CHECK(waited < 4.0);
  CHECK_THAT(cut, Catch::Contains("no request within"));
  CHECK(server->rejected() == 1);
  CHECK(server->served() == 1);
}

TEST_CASE("control: the client reports a daemon that never answers") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  // A listening socket nobody accepts on: the connect succeeds, no reply comes.
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, 4) == 0);
  json reply;
  std::string error;
  const auto t0 = Clock::now();
  CHECK_FALSE(control_call(path, json{{"cmd", "status"}}, &reply, &error, 300));
  CHECK(seconds_since(t0) < 1.5);
  CHECK_THAT(error, Catch::Contains("no reply from " + path + " within 300 ms"));
  close(fd);
}

TEST_CASE("control: client errors name the socket and the likely cause") {
  TempDir dir;
  json reply;
  std::string error;
  CHECK_FALSE(control_call(dir.file("missing.sock"), json{{"cmd", "status"}}, &reply, &error));
  CHECK(error == "cannot connect to " + dir.file("missing.sock") + ": No such file or directory (is iotwall running?)");
  CHECK_FALSE(control_call(std::string(200, 'x'), json{{"cmd", "status"}}, &reply, &error));
  CHECK_THAT(error, Catch::Contains("longer than"));
}

TEST_CASE("control: a second server on a live socket is refused") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  auto first = start(path);
  std::string error;
  auto second = ControlServer::start(path, "root", echo(), &error);
  CHECK(second == nullptr);
  CHECK(error == "another iotwall is running on " + path);
  // The first one still works and still owns the file.
  json reply;
  REQUIRE(control_call(path, json{{"cmd", "status"}}, &reply, &error));
  CHECK(reply["ok"] == true);
}

TEST_CASE("control: a stale socket file is replaced, any other file is left alone") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  {
    // A socket file whose owner died: bound, then closed without unlink.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    close(fd);
  }
  struct stat st;
  REQUIRE(lstat(path.c_str(), &st) == 0);
  auto server = start(path);
  json reply;
  std::string error;
  REQUIRE(control_call(path, json{{"cmd", "status"}}, &reply, &error));
  CHECK(reply["ok"] == true);

  const std::string file = dir.file("not-a-socket");
  std::ofstream(file) << "keep me\n";
  CHECK(ControlServer::start(file, "root", echo(), &error) == nullptr);
  CHECK_THAT(error, Catch::Contains("is not a socket"));
  CHECK(testing::slurp(file) == "keep me\n");
}

TEST_CASE("control: the socket file's mode and group") {
  TempDir dir;
  struct stat st;
  {
    const std::string path = dir.file("root.sock");
    auto server = start(path, echo(), "root");
    REQUIRE(lstat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0660);
    CHECK(st.st_gid == 0);
  }
  {
    const std::string path = dir.file("nogroup.sock");
    auto server = start(path, echo(), "iotwall-no-such-group-for-tests");
    REQUIRE(lstat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
  }
  {
    const std::string path = dir.file("rootonly.sock");
    auto server = start(path, echo(), "");
    REQUIRE(lstat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
  }
  {
    // A missing parent directory is created.
    const std::string path = dir.file("run/iotwall/control.sock");
    std::filesystem::create_directories(dir.file("run"));
    auto server = start(path);
    CHECK(lstat(path.c_str(), &st) == 0);
  }
}

TEST_CASE("control: the destructor is fast and removes the socket file") {
  TempDir dir;
  const std::string path = dir.file("control.sock");
  auto server = start(path);
  const int idle = connect_raw(path);  // a client mid-request does not delay the stop
  json reply;
  std::string error;
  REQUIRE(control_call(path, json{{"cmd", "status"}}, &reply, &error));
  const auto t0 = Clock::now();
  server.reset();
  CHECK(seconds_since(t0) < 0.1);
  struct stat st;
  CHECK(lstat(path.c_str(), &st) != 0);
  CHECK(read_all(idle).empty());  // closed without a reply
  close(idle);
  CHECK_FALSE(control_call(path, json{{"cmd", "status"}}, &reply, &error));
  CHECK_THAT(error, Catch::Contains("is iotwall running?"));
}

// Runs control_call in a child process with other credentials; returns
// "ok <reply>" or "error <message>".
std::string call_as(const std::string& path, uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    std::string out;
    if (setgroups(groups.size(), groups.data()) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
      out = "error cannot drop privileges";
    } else {
      json reply;
      std::string error;
      out = control_call(path, json{{"cmd", "status"}}, &reply, &error) ? "ok " + reply.dump() : "error " + error;
    }
    const ssize_t n = write(p[1], out.data(), out.size());
    _exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
  }
  close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  return out;
}

TEST_CASE("control: only root and the socket's group may talk to the daemon") {
  if (geteuid() != 0) {
    std::printf("SKIP control permission test: needs root to switch to uid 65534\n");
    WARN("skipped: needs root to switch to uid 65534 (nobody)");
    return;
  }
  TempDir dir;
  REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
  const std::string path = dir.file("control.sock");
  auto server = start(path, echo(), "root");
  constexpr uid_t kNobody = 65534;

  // The file mode (0660, group root) already stops nobody at connect().
  std::string r = call_as(path, kNobody, kNobody, {});
  CHECK(r == "error permission denied on " + path + " (root or group iotwall)");

  // With the file open to all, the server's own check (SO_PEERCRED) refuses.
  REQUIRE(chmod(path.c_str(), 0666) == 0);
  const uint64_t before = server->rejected();
  r = call_as(path, kNobody, kNobody, {});
  CHECK(r == "ok {\"error\":\"permission denied\",\"ok\":false}");
  CHECK(server->rejected() == before + 1);
  CHECK(server->served() == 0);

  // Members of the group pass: by primary gid, and by a supplementary group.
  r = call_as(path, kNobody, 0, {});
  CHECK_THAT(r, Catch::StartsWith("ok {\"echo\""));
  r = call_as(path, kNobody, kNobody, {kNobody, 0});
  CHECK_THAT(r, Catch::StartsWith("ok {\"echo\""));
  CHECK_THAT(r, Catch::Contains("\"uid\":65534"));
  CHECK(server->served() == 2);
}

// ---- The CLI, run as a user runs it, against canned replies.

// A test daemon answering each "cmd" with a canned reply, recording requests.
class CannedDaemon {
 public:
  CannedDaemon(std::map<std::string, json> replies) : replies_(std::move(replies)) {
    server_ = start(dir_.file("control.sock"), [this](const json& request, const Peer&) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(request);
      const auto it = replies_.find(request.value("cmd", ""));
      return it != replies_.end() ? it->second : json{{"ok", false}, {"error", "unknown command"}};
    });
  }
  testing::Run run(const std::string& args) { return testing::run(args + " --socket " + dir_.file("control.sock")); }
  json last_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.empty() ? json() : requests_.back();
  }

 private:
  TempDir dir_;
  std::map<std::string, json> replies_;
  std::mutex mu_;
  std::vector<json> requests_;
  std::unique_ptr<ControlServer> server_;
};

const json kTwoQuestions = json::parse(R"J({"ok":true,"questions":[
  {"id":"3","text":"Should light controllers write door locks in another room?","asked_ms":1764489600000,
   "type_level":true,"sources":["lightcontrol2","lightcontrol5"],
   "exemplar":"lightcontrol2 (light controller, Kitchen) wants to write doorlock1/lock (door lock, Entrance)"},
  {"id":"1:12","text":"Should movementsensor4 read washingmachine1?","asked_ms":1764489723000,
   "type_level":false,"sources":["movementsensor4"],
   "exemplar":"movementsensor4 (movement sensor, Bathroom) wants to read washingmachine1/status (washing machine, Bathroom)"}]})J");

TEST_CASE("cli: iotwall pending lists questions in plain words") {
  CannedDaemon d({{"pending", kTwoQuestions}});
  const testing::Run r = d.run("pending");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out ==
        "     3  Should light controllers write door locks in another room?\n"
        "        lightcontrol2 (light controller, Kitchen) wants to write doorlock1/lock (door lock, Entrance)\n"
        "        waiting: lightcontrol2, lightcontrol5 \u00b7 asked 2025-11-30 08:00:00 UTC\n"
        "  1:12  Should movementsensor4 read washingmachine1?\n"
        "        movementsensor4 (movement sensor, Bathroom) wants to read washingmachine1/status (washing machine, "
        "Bathroom)\n"
        "        waiting: movementsensor4 \u00b7 asked 2025-11-30 08:02:03 UTC\n");
  CHECK(d.last_request() == json{{"cmd", "pending"}});

  const testing::Run j = d.run("pending --json");
  CHECK(j.status == 0);
  CHECK(json::parse(j.out) == kTwoQuestions);
}

TEST_CASE("cli: iotwall pending with nothing open, or a malformed reply") {
  CannedDaemon d({{"pending", json{{"ok", true}, {"questions", json::array()}}}});
  testing::Run r = d.run("pending");
  CHECK(r.status == 0);
  CHECK(r.out == "no pending questions\n");

  // Missing keys print what is there; a missing list is an error, not a crash.
  CannedDaemon bad({{"pending", json::parse(R"J({"ok":true,"questions":[{"id":7},{"text":"only text"},"junk",
      {"id":"8","text":"t","sources":"not a list","asked_ms":"soon"}]})J")}});
  r = bad.run("pending");
  CHECK(r.status == 0);
  CHECK(r.out == "  7  (no text)\n  ?  only text\n  ?  (no text)\n  8  t\n");
  CannedDaemon none({{"pending", json{{"ok", true}}}});
  r = none.run("pending");
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("no question list"));
}

TEST_CASE("cli: iotwall approve and deny") {
  CannedDaemon d({{"approve", json::parse(R"J({"ok":true,"id":"3","decision":"approved","scope":"service",
                      "service":"lightcontrol2","text":"Should light controllers write door locks in another room?"})J")},
                  {"deny", json::parse(R"J({"ok":true,"id":"3","decision":"denied","scope":"type",
                      "text":"Should light controllers write door locks in another room?"})J")}});
  testing::Run r = d.run("approve 3 --service lightcontrol2");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "approved 3: Should light controllers write door locks in another room? (for lightcontrol2 only)\n");
  CHECK(d.last_request() ==
        json{{"cmd", "approve"}, {"id", "3"}, {"scope", "service"}, {"service", "lightcontrol2"}});

  r = d.run("deny 3");
  CHECK(r.status == 0);
  CHECK(r.out == "denied 3: Should light controllers write door locks in another room? (for every service of its type)\n");
  CHECK(d.last_request() == json{{"cmd", "deny"}, {"id", "3"}});

  CHECK(d.run("approve").status == 2);
  CHECK(d.run("approve 3 4").status == 2);
  CHECK(d.run("deny --bogus 3").status == 2);
}

TEST_CASE("cli: the daemon's errors exit 1 with its message") {
  CannedDaemon d({{"approve", json{{"ok", false}, {"error", "no question 3"}}},
                  {"deny", json{{"ok", false}}},
                  {"status", json{{"ok", false}, {"error", "permission denied"}}}});
  testing::Run r = d.run("approve 3");
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "iotwall approve: no question 3\n");
  r = d.run("approve 3 --json");
  CHECK(r.status == 1);
  CHECK(json::parse(r.out) == json{{"ok", false}, {"error", "no question 3"}});
  r = d.run("deny 3");
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("the daemon refused"));
  r = d.run("status");
  CHECK(r.status == 1);
  CHECK(r.err == "iotwall status: permission denied (root or group iotwall)\n");

  TempDir dir;
  r = testing::run("status --socket " + dir.file("none.sock"));
  CHECK(r.status == 1);
  CHECK(r.err == "iotwall status: cannot connect to " + dir.file("none.sock") +
                     ": No such file or directory (is iotwall running?)\n");
  CHECK(testing::run("pending --socket " + dir.file("none.sock") + " extra").status == 2);
}

TEST_CASE("cli: iotwall status") {
  CannedDaemon d({{"status", json::parse(R"J({"ok":true,"version":"0.1.0","mode":"enforce","uptime_s":12.5,
      "backend":"iptables","config":"/etc/iotwall/iotwall.yaml","state":"/var/lib/iotwall/state.db",
      "last_snapshot_ms":1764489600000,"decisions":4,"queues":[
      {"queue":0,"packets":123456,"accepted":100,"dropped":20,"rejected":3,"held":2,"undecided":0,"accesses":50,
       "anomalies":5,"pending":2,"services":30,"edges":80},
      {"queue":1,"packets":"many","accepted":-1}]})J")}});
  const testing::Run r = d.run("status");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out ==
        "mode       enforce\n"
        "uptime     12.5 s\n"
        "version    0.1.0\n"
        "backend    iptables\n"
        "config     /etc/iotwall/iotwall.yaml\n"
        "state      /var/lib/iotwall/state.db\n"
        "snapshot   2025-11-30 08:00:00 UTC\n"
        "decisions  4\n"
        "\n"
        "  queue  packets  accepted  dropped  rejected  held  undecided  accesses  anomalies  pending  services  edges\n"
        "  0      123,456       100       20         3     2          0        50          5        2        30     80\n"
        "  1            -         -        -         -     -          -         -          -        -         -      -\n");

  CannedDaemon sparse({{"status", json{{"ok", true}, {"uptime_s", 93784}, {"queues", "none"}}}});
  const testing::Run s = sparse.run("status");
  CHECK(s.status == 0);
  CHECK(s.out == "uptime     1 d 02 h\n");
}

const json kGraph = json::parse(R"J({"ok":true,
  "vertices":[{"name":"/agent1/lightcontrol1","id":"lightcontrol1","type":"/lightControler","room":"Kitchen"},
              {"name":"/agent1/movement1","id":"movement1","type":"/movementSensor","room":"Kitchen"},
              {"name":"/agent2/doorlock1","id":"doorlock1","type":"/doorLock","room":"Entrance"}],
  "edges":[{"src":"/agent1/movement1","dst":"/agent2/doorlock1","op":"write","state":"pending","count":1,
            "first_seen_ms":1764489600000,"last_seen_ms":1764489600000},
           {"src":"/agent1/lightcontrol1","dst":"/agent1/movement1","op":"read","state":"learned","count":12,
            "first_seen_ms":1764489600000,"last_seen_ms":1764489700000},
           {"src":"/agent1/lightcontrol1","dst":"/agent2/doorlock1","op":"write","state":"denied","count":3},
           {"src":"/agent1/lightcontrol1","dst":"/agent2/doorlock1","op":"read","state":"approved","count":1234}]})J");

TEST_CASE("cli: iotwall graph as a table") {
  CannedDaemon d({{"graph", kGraph}});
  const testing::Run r = d.run("graph");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out ==
        "  source         op     destination  state     count\n"
        "  lightcontrol1  read   doorlock1    approved  1,234\n"
        "                 write  doorlock1    denied        3\n"
        "                 read   movement1    learned      12\n"
        "  movement1      write  doorlock1    pending       1\n"
        "\n"
        "3 services, 4 edges: 1 learned, 1 approved, 1 pending, 1 denied\n");

  CannedDaemon odd({{"graph", json::parse(R"J({"ok":true,"vertices":"x","edges":[{"src":5},"junk",{"dst":"/a"}]})J")}});
  const testing::Run o = odd.run("graph");
  CHECK(o.status == 0);
  CHECK_THAT(o.out, Catch::Contains("3 edges"));
  CannedDaemon empty({{"graph", json{{"ok", true}}}});
  CHECK(empty.run("graph").out == "no edges (0 services)\n");
}

TEST_CASE("cli: iotwall graph --dot") {
  CannedDaemon d({{"graph", kGraph}});
  const testing::Run r = d.run("graph --dot");
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::StartsWith("digraph iotwall {\n"));
  CHECK_THAT(r.out, Catch::EndsWith("}\n"));
  CHECK_THAT(r.out, Catch::Contains(
      "  \"/agent1/lightcontrol1\" [label=\"lightcontrol1\\n/lightControler\\nKitchen\"];\n"));
  CHECK_THAT(r.out, Catch::Contains(
      "  \"/agent1/lightcontrol1\" -> \"/agent1/movement1\" [label=\"read 12\", color=gray40];\n"));
  CHECK_THAT(r.out, Catch::Contains(
      "  \"/agent1/lightcontrol1\" -> \"/agent2/doorlock1\" [label=\"read 1,234\", color=darkgreen];\n"));
  CHECK_THAT(r.out, Catch::Contains(
      "  \"/agent1/lightcontrol1\" -> \"/agent2/doorlock1\" [label=\"write 3\", color=red];\n"));
  CHECK_THAT(r.out, Catch::Contains(
      "  \"/agent1/movement1\" -> \"/agent2/doorlock1\" [label=\"write 1\", color=orange, style=dashed];\n"));

  // Quotes in names are escaped.
  CannedDaemon q({{"graph", json::parse(R"J({"ok":true,"vertices":[{"name":"/a\"b","id":"x\\y"}],"edges":[]})J")}});
  CHECK_THAT(q.run("graph --dot").out, Catch::Contains("  \"/a\\\"b\" [label=\"x\\\\y\"];\n"));
}

}  // namespace
}  // namespace iotwall
