// Reader throughput (MB/s) beside its floor: reading the same file and
// finding its line ends without parsing.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>

#include "model/trace_reader.h"
#include "tests/bench/bench_data.h"

namespace iotwall::bench {
namespace {

void BM_Baseline_ReadAndSplitLines(benchmark::State& state) {
  const std::string& path = trace_file();
  std::vector<char> buf(1 << 20);
  int64_t bytes = 0;
  for (auto _ : state) {
    int fd = ::open(path.c_str(), O_RDONLY);
    size_t lines = 0;
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
      for (const char* p = buf.data(); (p = static_cast<const char*>(std::memchr(p, '\n', buf.data() + n - p))); ++p) ++lines;
      bytes += n;
    }
    ::close(fd);
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_Baseline_ReadAndSplitLines)->Unit(benchmark::kMillisecond);

void BM_TraceReader(benchmark::State& state) {
  const std::string& path = trace_file();
  int64_t bytes = 0, rows = 0;
  for (auto _ : state) {
    Interner in;  // fresh each pass: interning is part of the cost
    std::string error;
    auto r = TraceReader::open(path, in, &error);
    TraceRecord rec;
    while (r->next(&rec)) ++rows;
    bytes += static_cast<int64_t>(r->stats().bytes);
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(rows);
}
BENCHMARK(BM_TraceReader)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace iotwall::bench
