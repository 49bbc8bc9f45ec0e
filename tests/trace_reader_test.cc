#include "model/trace_reader.h"

#include <cstdio>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "model/trace_writer.h"

using namespace iotwall;

namespace {

constexpr const char* kHeader =
    "sourceID,sourceAddress,sourceType,sourceLocation,destinationServiceAddress,"
    "destinationServiceType,destinationLocation,accessedNodeAddress,accessedNodeType,operation,"
    "value,timestamp,normality";
constexpr const char* kRow =
    "lightcontrol2,/agent2/lightcontrol2,/lightControler,BedroomParents,/agent2/movement2,"
    "/movementSensor,BedroomParents,/agent2/movement2/movement,/derived/boolean,read,1,"
    "1520031673379,normal";

// A temporary file removed when the test ends, pass or fail.
struct TempFile {
  std::string path;
  TempFile() {
    char tmpl[] = "/tmp/iotwall-trace-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    close(fd);
    path = tmpl;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

std::vector<TraceRecord> read_all(const std::string& text, Interner& in,
                                  std::unique_ptr<TraceReader>* keep = nullptr) {
  auto r = TraceReader::from_string(text, in);
  std::vector<TraceRecord> out;
  TraceRecord rec;
  while (r->next(&rec)) out.push_back(rec);
  if (keep) *keep = std::move(r);
  return out;
}

}  // namespace

TEST_CASE("reader parses a row of the dataset", "[trace]") {
  Interner in;
  auto rows = read_all(std::string(kHeader) + "\n" + kRow + "\n", in);
  REQUIRE(rows.size() == 1);
  const Access& a = rows[0].access;
  CHECK(in.str(a.source_id) == "lightcontrol2");
  CHECK(in.str(a.source_address) == "/agent2/lightcontrol2");
  CHECK(in.str(a.source_type) == "/lightControler");
  CHECK(in.str(a.source_location) == "BedroomParents");
  CHECK(in.str(a.dest_address) == "/agent2/movement2");
  CHECK(in.str(a.dest_type) == "/movementSensor");
  CHECK(in.str(a.node_address) == "/agent2/movement2/movement");
  CHECK(in.str(a.node_type) == "/derived/boolean");
  CHECK(a.op == Operation::kRead);
  CHECK(a.value.kind == Value::Kind::kNumber);
  CHECK(a.value.number == 1.0);
  CHECK(a.time_ms == 1520031673379);
  CHECK(rows[0].label_class == LabelClass::kNormal);
  CHECK(in.str(rows[0].label) == "normal");
  CHECK(rows[0].line == 2);
}

TEST_CASE("reader accepts no header, CRLF, a BOM and a missing final newline", "[trace]") {
  Interner in;
  std::unique_ptr<TraceReader> r;
  auto rows = read_all(std::string("\xEF\xBB\xBF") + kRow + "\r\n" + kRow, in, &r);
  REQUIRE(rows.size() == 2);
  CHECK(in.str(rows[0].label) == "normal");  // no '\r' left in the last field
  CHECK(rows[1].line == 2);
  CHECK_FALSE(r->stats().header);
  CHECK(r->stats().malformed == 0);
}

TEST_CASE("reader skips a junk first line and says so", "[trace]") {
  Interner in;
  std::unique_ptr<TraceReader> r;
  auto rows = read_all(std::string("exported by tool X on Monday\n") + kRow + "\n", in, &r);
  REQUIRE(rows.size() == 1);
  CHECK(r->stats().preamble);
  CHECK(r->stats().malformed == 0);
  CHECK(rows[0].line == 2);
}

TEST_CASE("reader maps columns by header name in any order", "[trace]") {
  Interner in;
  std::string text =
      "timestamp,normality,sourceID,sourceAddress,sourceType,sourceLocation,"
      "destinationServiceAddress,destinationServiceType,destinationLocation,accessedNodeAddress,"
      "accessedNodeType,operation,value\n"
      "1520031673379,anomalous(scan),a,/agent1/a,/t,Room,/agent1/b,/u,Room,/agent1/b/x,/basic/number,"
      "write,7.5\n";
  auto rows = read_all(text, in);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].access.time_ms == 1520031673379);
  CHECK(rows[0].label_class == LabelClass::kAnomalous);
  CHECK(in.str(rows[0].label) == "anomalous(scan)");
  CHECK(rows[0].access.op == Operation::kWrite);
  CHECK(rows[0].access.value.number == 7.5);
}

TEST_CASE("a header without a required column is a clear error", "[trace]") {
  Interner in;
  std::unique_ptr<TraceReader> r;
  auto rows = read_all(
      "sourceID,sourceAddress,sourceLocation,destinationServiceAddress,destinationServiceType,"
      "destinationLocation,accessedNodeAddress,operation,value,timestamp\na,b,c,d,e,f,g,read,1,5\n",
      in, &r);
  CHECK(rows.empty());
  CHECK_THAT(r->io_error(), Catch::Contains("no column 'sourceType'"));
}

TEST_CASE("values: numbers, booleans, none, text, empty", "[trace]") {
  Interner in;
  CHECK(Value::parse("20.0464", in).kind == Value::Kind::kNumber);
  CHECK(Value::parse("-3", in).number == -3);
  CHECK(Value::parse("+3", in).number == 3);
  CHECK(Value::parse("1521216755210", in).number == 1521216755210.0);
  CHECK(Value::parse("false", in).kind == Value::Kind::kBool);
  CHECK(Value::parse("TRUE", in).boolean);
  CHECK(Value::parse("none", in).kind == Value::Kind::kNone);
  CHECK(Value::parse("", in).kind == Value::Kind::kEmpty);
  for (const char* text : {"twenty", "nan", "inf", "-inf", "1.5.2", "0x10", "1e", "-",
                           "org.ds2os.vsl.core.utils.AddressParameters@463d9146"}) {
    Value v = Value::parse(text, in);
    INFO(text);
    CHECK(v.kind == Value::Kind::kText);
    CHECK(in.str(v.text) == text);
  }
}

TEST_CASE("operations: dataset names, aliases, unknown and empty", "[trace]") {
  CHECK(parse_operation("read") == Operation::kRead);
  CHECK(parse_operation("unlockSubtree") == Operation::kRollbackSubtree);
  CHECK(parse_operation("registerService") == Operation::kRegisterService);
  CHECK(parse_operation("GET") == Operation::kRead);
  CHECK(parse_operation("set") == Operation::kWrite);
  CHECK(parse_operation("frobnicate") == Operation::kOther);
  CHECK(parse_operation("") == Operation::kUnknown);
  for (int i = 1; i < kOperationCount - 1; ++i) {
    auto op = static_cast<Operation>(i);
    CHECK(parse_operation(operation_name(op)) == op);
  }
}

TEST_CASE("malformed rows are counted with their line numbers, never fatal", "[trace]") {
  Interner in;
  std::string text = std::string(kHeader) + "\n" + kRow + "\n" +
                     "a,b,c\n" +                                                   // line 3
                     "s,/a/s,/t,R,/a/d,/u,R,/a/d/n,/basic/number,read,1,yesterday,normal\n" +  // 4
                     "s,/a/s,/t,R,/a/d,/u,R,/a/d/n,/basic/number,read,1,12,weird\n" +          // 5
                     ",,/t,R,/a/d,/u,R,/a/d/n,/basic/number,read,1,12,normal\n" +              // 6
                     "s,/a/s,/t,R,,/u,R,,/basic/number,read,1,12,normal\n" +                   // 7
                     "s,/a/s,/t,R,\"/a/d,/u,R,/a/d/n,/basic/number,read,1,12,normal\n" +        // 8
                     "\n" + kRow + "\n";
  std::unique_ptr<TraceReader> r;
  auto rows = read_all(text, in, &r);
  CHECK(rows.size() == 2);
  CHECK(rows[1].line == 10);
  CHECK(r->stats().malformed == 6);
  CHECK(r->stats().blank == 1);
  REQUIRE(r->errors().size() == 6);
  CHECK(r->errors()[0].line == 3);
  CHECK_THAT(r->errors()[0].message, Catch::Contains("3 fields"));
  CHECK(r->errors()[1].line == 4);
  CHECK_THAT(r->errors()[1].message, Catch::Contains("timestamp 'yesterday'"));
  CHECK_THAT(r->errors()[2].message, Catch::Contains("label 'weird'"));
  CHECK_THAT(r->errors()[3].message, Catch::Contains("no source"));
  CHECK_THAT(r->errors()[4].message, Catch::Contains("no destination"));
  CHECK_THAT(r->errors()[5].message, Catch::Contains("unterminated"));
}

TEST_CASE("empty fields, quoted fields and a 12-column unlabeled row", "[trace]") {
  Interner in;
  std::string text =
      "scanner,/agent9/scanner,,,/agent1/x,,,/agent1/x/y,,read,,1520031700000,anomalous(scan)\n"
      "s,/a/s,/t,\"Room, big\",/a/d,/u,R,/a/d/n,/basic/text,write,\"say \"\"hi\"\"\",5,normal\n"
      "s,/a/s,/t,R,/a/d,/u,R,/a/d/n,/basic/text,write,x,6\n";
  auto rows = read_all(text, in);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].access.source_type.empty());
  CHECK(rows[0].access.node_type.empty());
  CHECK(rows[0].access.value.kind == Value::Kind::kEmpty);
  CHECK(in.str(rows[1].access.source_location) == "Room, big");
  CHECK(in.str(rows[1].access.value.text) == "say \"hi\"");
  CHECK(rows[2].label_class == LabelClass::kUnlabeled);
}

TEST_CASE("a line over the limit is rejected and the next one is read", "[trace]") {
  Interner in;
  std::string text = std::string(TraceReader::kMaxLineBytes + 10, 'x') + "\n" + kRow + "\n";
  std::unique_ptr<TraceReader> r;
  auto rows = read_all(text, in, &r);
  // Rejected as overlong even though the whole line is in memory.
  CHECK(rows.size() == 1);
}

TEST_CASE("files stream in chunks: rows across buffer boundaries, overlong lines", "[trace]") {
  TempFile tmp;
  const char* path = tmp.path.c_str();
  {
    std::ofstream f(path);
    f << kHeader << "\n";
    for (int i = 0; i < 30000; ++i) f << kRow << "\n";
    f << std::string(TraceReader::kMaxLineBytes * 3, 'y') << "\n";
    for (int i = 0; i < 10; ++i) f << kRow << "\n";
  }
  Interner in;
  std::string error;
  auto r = TraceReader::open(path, in, &error);
  REQUIRE(r);
  TraceRecord rec;
  uint64_t n = 0;
  while (r->next(&rec)) {
    ++n;
    REQUIRE(rec.access.time_ms == 1520031673379);
  }
  CHECK(n == 30010);
  CHECK(r->stats().malformed == 1);
  REQUIRE(r->errors().size() == 1);
  CHECK(r->errors()[0].line == 30002);
  CHECK_THAT(r->errors()[0].message, Catch::Contains("longer than"));
  CHECK(r->io_error().empty());
}

TEST_CASE("a missing file is a clear error", "[trace]") {
  Interner in;
  std::string error;
  CHECK_FALSE(TraceReader::open("/nonexistent/trace.csv", in, &error));
  CHECK_THAT(error, Catch::Contains("/nonexistent/trace.csv") && Catch::Contains("No such file"));
}

TEST_CASE("the real 929-row fragment reads without a single reject", "[trace]") {
  Interner in;
  std::string error;
  auto r = TraceReader::open(
      IOTWALL_SHARED_DIR "/datasets/ds2os/mainSimulationAccessTraces.PARTIAL-929rows.csv", in, &error);
  if (!r) {
    WARN("skipped: the dataset fragment is not beside the checkout: " << error);
    return;
  }
  TraceRecord rec;
  int n = 0;
  while (r->next(&rec)) ++n;
  CHECK(n == 929);
  CHECK(r->stats().header);
  CHECK(r->stats().malformed == 0);
}

TEST_CASE("writer output reads back as the same accesses", "[trace]") {
  Interner in;
  auto rows = read_all(std::string(kRow) + "\n" +
                           "s,/a/s,/t,\"Room, big\",/a/d,/u,R,/a/d/n,/basic/text,write,twenty,5,"
                           "anomalous(dataProbing)\n" +
                           "s,/a/s,/t,R,/a/d,/u,R,/a/d/n,,subscribe,none,6,normal\n",
                       in);
  REQUIRE(rows.size() == 3);
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  TraceWriter w(f, in);
  w.write_header();
  for (const auto& r : rows) w.write(r);
  CHECK(w.finish());
  std::fclose(f);
  std::string text(buf, len);
  std::free(buf);
  auto again = read_all(text, in);
  REQUIRE(again.size() == rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const Access& a = rows[i].access;
    const Access& b = again[i].access;
    CHECK(a.source_id == b.source_id);
    CHECK(a.source_location == b.source_location);
    CHECK(a.node_type == b.node_type);
    CHECK(a.op == b.op);
    CHECK(a.value == b.value);
    CHECK(a.time_ms == b.time_ms);
    CHECK(rows[i].label == again[i].label);
  }
}

TEST_CASE("a header after blank lines or a preamble still maps the columns", "[trace]") {
  Interner in;
  std::string reordered =
      "timestamp,normality,sourceID,sourceAddress,sourceType,sourceLocation,"
      "destinationServiceAddress,destinationServiceType,destinationLocation,accessedNodeAddress,"
      "accessedNodeType,operation,value\n"
      "5,normal,a,/agent1/a,/t,Room,/agent1/b,/u,Room,/agent1/b/x,/basic/number,write,7.5\n";
  for (std::string prefix : {"\n\n", "exported by tool X\n", "\nvalue\n"}) {
    std::unique_ptr<TraceReader> r;
    auto rows = read_all(prefix + reordered, in, &r);
    INFO(prefix);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].access.time_ms == 5);
    CHECK(r->stats().header);
    CHECK(r->io_error().empty());
  }
}

TEST_CASE("an overlong last line without a newline is reported", "[trace]") {
  TempFile tmp;
  const char* path = tmp.path.c_str();
  {
    std::ofstream f(path);
    f << kRow << "\n" << std::string(TraceReader::kMaxLineBytes + 500000, 'A');
  }
  Interner in;
  std::string error;
  auto r = TraceReader::open(path, in, &error);
  REQUIRE(r);
  TraceRecord rec;
  int n = 0;
  while (r->next(&rec)) ++n;
  CHECK(n == 1);
  CHECK(r->stats().malformed == 1);
  REQUIRE(r->errors().size() == 1);
  CHECK(r->errors()[0].line == 2);
}

TEST_CASE("timestamps beyond the year 33,000 are malformed", "[trace]") {
  Interner in;
  TraceRecord rec;
  std::string why;
  std::string row = kRow;
  row.replace(row.find("1520031673379"), 13, "9223372036854775807");
  CHECK_FALSE(TraceReader::parse_row(row, in, &rec, &why));
  CHECK_THAT(why, Catch::Contains("timestamp"));
}
