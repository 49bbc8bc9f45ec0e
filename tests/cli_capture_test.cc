// The capture commands as a user runs them: `sim --pcap` writes a site as
// real packets, and `eval --pcap`, `decode`, `learn` and `monitor` read it
// back through the DPI. The acceptance test: the capture gives the same
// confusion matrix as the trace of the same simulation.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/cli_run.h"

using iotwall::testing::Run;
using iotwall::testing::run;
using iotwall::testing::slurp;
using iotwall::testing::temp_path;

namespace {

// One simulated site written both ways, removed at the end of the test.
struct Site {
  std::string csv, pcap, map;
  explicit Site(const std::string& tag, const std::string& sim_args) {
    csv = temp_path(tag + ".csv");
    pcap = temp_path(tag + ".pcap");
    map = temp_path(tag + ".yaml");
    const Run r = run("sim " + sim_args + " --out " + csv + " --pcap " + pcap + " --site-map " + map);
    INFO(r.err);
    REQUIRE(r.status == 0);
  }
  ~Site() {
    for (const std::string* p : {&csv, &pcap, &map}) std::remove(p->c_str());
  }
};

nlohmann::json eval_json(const std::string& args) {
  const Run r = run("eval --json --answer-after 300 " + args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  return nlohmann::json::parse(r.out);
}

std::vector<std::vector<std::string>> read_csv_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    std::vector<std::string> row;
    std::string field;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        row.push_back(field);
        field.clear();
      } else {
        field.push_back(c);
      }
    }
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("cli-capture: eval --pcap gives the confusion matrix of eval --trace on the same simulation",
          "[cli][capture]") {
  Site s("eq", "--rooms 4 --hours 8 --seed 3");
  const nlohmann::json t = eval_json("--trace " + s.csv);
  const nlohmann::json p = eval_json("--pcap " + s.pcap + " --site-map " + s.map + " --labels " + s.csv);
  for (const char* k : {"rows", "tp", "fp", "tn", "fn", "questions", "questions_approved"}) {
    INFO(k);
    CHECK(p[k] == t[k]);
  }
  CHECK(p["per_label"] == t["per_label"]);
  CHECK(p["tp"].get<uint64_t>() > 0);
  const nlohmann::json& c = p["capture"];
  CHECK(c["labels_missing"] == 0);
  CHECK(c["labels_matched"] == t["rows"]);
  CHECK(c["accesses"] == t["rows"]);
  CHECK(c["packets_parsed"] == c["capture_packets"]);
}

TEST_CASE("cli-capture: decode reproduces the simulated trace's accesses", "[cli][capture]") {
  Site s("dec", "--rooms 2 --hours 2 --seed 5");
  const std::string out = temp_path("dec-out.csv");
  const Run r = run("decode --pcap " + s.pcap + " --site-map " + s.map + " --out " + out + " --label normal");
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto want = read_csv_rows(s.csv);
  const auto got = read_csv_rows(out);
  std::remove(out.c_str());
  REQUIRE(got.size() == want.size());
  REQUIRE(want.size() > 100);
  CHECK(got[0] == want[0]);  // the header
  // Rows in the same (timestamp, source) order; a millisecond's ties may
  // swap, so compare as multisets keyed by what the wire carries.
  // Columns: 0 source id, 1 source address, 2 source type, 3 source room,
  // 4 destination, 5 destination type, 6 destination room, 7 node,
  // 9 operation, 11 timestamp. The node type (8) travels only in read
  // responses and values (10) of subscriptions and locks are not on the
  // wire at all, so they are left out.
  std::map<std::vector<std::string>, int> diff;
  for (size_t i = 1; i < want.size(); ++i) {
    std::vector<std::string> k;
    for (int c : {0, 1, 2, 3, 4, 5, 6, 7, 9, 11}) k.push_back(want[i][c]);
    ++diff[k];
  }
  for (size_t i = 1; i < got.size(); ++i) {
    REQUIRE(got[i].size() == 13);
    CHECK(got[i][12] == "normal");
    std::vector<std::string> k;
    for (int c : {0, 1, 2, 3, 4, 5, 6, 7, 9, 11}) k.push_back(got[i][c]);
    --diff[k];
  }
  int mismatched = 0;
  for (const auto& [k, n] : diff) mismatched += n != 0;
  CHECK(mismatched == 0);
  // Written values (the write's body) come back exactly.
  size_t writes = 0, same = 0;
  std::map<std::pair<std::string, std::string>, std::string> written;
  for (size_t i = 1; i < want.size(); ++i) {
    if (want[i][9] == "write") written[{want[i][11], want[i][7]}] = want[i][10];
  }
  for (size_t i = 1; i < got.size(); ++i) {
    if (got[i][9] != "write") continue;
    ++writes;
    same += written[{got[i][11], got[i][7]}] == got[i][10];
  }
  CHECK(writes > 0);
  CHECK(same == writes);
}

TEST_CASE("cli-capture: learn saves a state that eval starts from", "[cli][capture]") {
  Site s("learn", "--rooms 2 --hours 2 --seed 6 --no-attacks");
  const std::string state = temp_path("learn.iotw");
  Run r = run("learn --pcap " + s.pcap + " --site-map " + s.map + " --save " + state);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.err, Catch::Contains("type models"));
  // Everything learned: replaying the same capture from that state flags nothing.
  const nlohmann::json j = eval_json("--pcap " + s.pcap + " --site-map " + s.map + " --load-state " + state);
  CHECK(j["questions"] == 0);
  std::remove(state.c_str());
  // Bad input: exit codes and clear messages.
  CHECK(run("learn --pcap /nonexistent.pcap --save " + state).status == 1);
  CHECK(run("learn --save " + state).status == 2);
  CHECK(run("decode --pcap " + s.csv + " --out /dev/null").status == 1);
}

TEST_CASE("cli-capture: monitor reports anomalies of a capture replayed as live", "[cli][capture]") {
  Site s("mon", "--rooms 2 --hours 6 --seed 2");
  const Run r = run("monitor --pcap " + s.pcap + " --site-map " + s.map);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("->"));
  CHECK_THAT(r.err, Catch::Contains("flagged"));
  CHECK(run("monitor --iface no-such-interface0").status == 1);
}

TEST_CASE("cli-capture: TLS flows become edge-level accesses named by their certificates", "[cli][capture]") {
  const std::string csv = temp_path("tls.csv"), pcap = temp_path("tls.pcap"), map = temp_path("tls.yaml");
  const Run sim = run("sim --rooms 2 --hours 2 --seed 4 --tls-share 0.5 --out " + csv + " --pcap " + pcap +
                      " --site-map " + map);
  INFO(sim.err);
  REQUIRE(sim.status == 0);
  // "... N plain and M TLS requests ..."
  const size_t at = sim.err.find(" TLS requests");
  REQUIRE(at != std::string::npos);
  const size_t start = sim.err.rfind(' ', at - 1) + 1;
  const long tls_requests = std::stol(sim.err.substr(start, at - start));
  REQUIRE(tls_requests > 0);

  const std::string out = temp_path("tls-out.csv");
  const Run r = run("decode --pcap " + pcap + " --site-map " + map + " --out " + out);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto trace = read_csv_rows(csv);
  const auto rows = read_csv_rows(out);
  std::map<std::string, int> sources;  // the trace's source ids
  for (size_t i = 1; i < trace.size(); ++i) ++sources[trace[i][0]];
  long edge = 0, named = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (!rows[i][9].empty()) continue;  // operation known: plaintext
    ++edge;
    named += sources.count(rows[i][0]) > 0 && !rows[i][4].empty() && !rows[i][11].empty();
  }
  CHECK(edge == tls_requests);
  CHECK(named == edge);
  CHECK(rows.size() == trace.size());

  // The edge-level subset judged the same way from the capture and from its
  // decoded trace (labelled from the simulation's).
  const std::string labelled = temp_path("tls-labelled.csv");
  REQUIRE(run("decode --pcap " + pcap + " --site-map " + map + " --labels " + csv + " --out " + labelled).status ==
          0);
  const nlohmann::json t = eval_json("--trace " + labelled);
  const nlohmann::json p = eval_json("--pcap " + pcap + " --site-map " + map + " --labels " + csv);
  for (const char* k : {"rows", "tp", "fp", "tn", "fn", "questions"}) {
    INFO(k);
    CHECK(p[k] == t[k]);
  }
  CHECK(p["capture"]["labels_missing"] == 0);
  for (const std::string* f : {&csv, &pcap, &map, &out, &labelled}) std::remove(f->c_str());
}

namespace {

// A network namespace of the test's own, deleted whatever happens.
struct Netns {
  std::string name;
  bool ok = false;
  Netns() : name("iotw-mon-" + std::to_string(getpid())) {
    ok = std::system(("ip netns add " + name + " 2>/dev/null && ip -n " + name + " link set lo up").c_str()) == 0;
  }
  ~Netns() {
    std::system(("ip netns pids " + name + " 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del " + name +
                 " 2>/dev/null")
                    .c_str());
  }
  std::string exec(const std::string& cmd) const { return "ip netns exec " + name + " " + cmd; }
};

}  // namespace

TEST_CASE("cli-capture: monitor decodes real TCP traffic live on an interface", "[cli][capture][netns]") {
  if (geteuid() != 0 || std::system("command -v ip >/dev/null && command -v python3 >/dev/null") != 0) {
    WARN("skipped: needs root, ip and python3 to make a network namespace");
    return;
  }
  Netns ns;
  if (!ns.ok) {
    WARN("skipped: cannot create a network namespace here");
    return;
  }
  const std::string out = temp_path("live.out"), err = temp_path("live.err"), pid = temp_path("live.pid");
  // The monitor on the namespace's loopback, in the background.
  REQUIRE(std::system((ns.exec(std::string(IOTWALL_BIN) + " monitor --iface lo --learning-phase 0 >" + out +
                               " 2>" + err + " & echo $! >" + pid))
                          .c_str()) == 0);
  // A KA stand-in (any HTTP server will do: the requests are what is
  // decoded) and a service speaking VSL to it over one keep-alive connection.
  const std::string script = temp_path("live.py");
  {
    std::ofstream f(script);
    f << R"(import http.client, http.server, threading, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.reply(b'{"value":"21.5","types":["/basic/number"]}')
    def do_PUT(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 8081), H)
threading.Thread(target=s.serve_forever, daemon=True).start()
time.sleep(1.0)  # the monitor's capture is open by now
c = http.client.HTTPConnection("127.0.0.1", 8081)
for i in range(50):
    c.request("GET", "/vsl/agent1/tempsensor1/temperature")
    c.getresponse().read()
    c.request("PUT", "/vsl/agent1/light1/isOn", body='{"value":"%d"}' % (i % 2),
              headers={"Content-Type": "application/json; UTF-8"})
    c.getresponse().read()
c.close()
time.sleep(1.0)
)";
  }
  const int rc = std::system(ns.exec("timeout 30 python3 " + script).c_str());
  std::system(("kill -TERM $(cat " + pid + ") 2>/dev/null; for i in $(seq 50); do kill -0 $(cat " + pid +
               ") 2>/dev/null || break; sleep 0.1; done")
                  .c_str());
  const std::string e = slurp(err);
  for (const std::string* p : {&out, &err, &pid, &script}) std::remove(p->c_str());
  INFO(e);
  REQUIRE(rc == 0);
  // 100 requests from 127.0.0.1 to the KA port: every one decoded.
  CHECK_THAT(e, Catch::Contains("lo: 100 accesses"));
  CHECK_THAT(e, Catch::Contains("access.read 50"));
  CHECK_THAT(e, Catch::Contains("access.write 50"));
}
