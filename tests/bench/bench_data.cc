#include "tests/bench/bench_data.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "model/site_sim.h"
#include "model/trace_reader.h"
#include "model/trace_writer.h"

namespace iotwall::bench {
namespace {

struct TempTrace {
  std::string path;
  TempTrace() {
    char tmpl[] = "/tmp/iotwall-bench-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    path = tmpl;
    std::FILE* f = fdopen(fd, "w");
    Interner in;
    SiteSimulator sim(SimOptions{.rooms = 12, .hours = 24, .seed = 1}, in);
    TraceWriter w(f, in);
    w.write_header();
    TraceRecord r;
    while (sim.next(&r)) w.write(r);
    if (!w.finish()) throw std::runtime_error("cannot write " + path);
    std::fclose(f);
  }
  ~TempTrace() { std::remove(path.c_str()); }
};

}  // namespace

const std::string& trace_file() {
  static TempTrace t;
  return t.path;
}

Interner& interner() {
  static Interner in;
  return in;
}

const std::vector<TraceRecord>& records() {
  static const std::vector<TraceRecord> rows = [] {
    std::vector<TraceRecord> out;
    std::string error;
    auto r = TraceReader::open(trace_file(), interner(), &error);
    if (!r) throw std::runtime_error(error);
    TraceRecord rec;
    while (r->next(&rec)) out.push_back(rec);
    return out;
  }();
  return rows;
}

}  // namespace iotwall::bench
