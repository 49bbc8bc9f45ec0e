#include "daemon/eval_report.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

extern char** environ;

namespace iotwall::cli {
namespace {

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

File open_for_writing(const std::string& path, std::string* error) {
  File f(std::fopen(path.c_str(), "w"), std::fclose);
  if (!f) *error = "cannot write " + path + ": " + std::strerror(errno);
  return f;
}

bool finish(File f, const std::string& path, std::string* error) {
  const bool ok = std::ferror(f.get()) == 0;
  if (std::fclose(f.release()) != 0 || !ok) {
    *error = "writing " + path + " failed";
    return false;
  }
  return true;
}

bool write_errors_csv(const EvalReport& r, const std::string& path, std::string* error) {
  File f = open_for_writing(path, error);
  if (!f) return false;
  std::fprintf(f.get(), "hours,rows,false_positives,misses,detected\n");
  const int64_t t0 = r.series.empty() ? 0 : r.series.front().start_ms;
  for (const SeriesBucket& b : r.series) {
    std::fprintf(f.get(), "%.4f,%llu,%llu,%llu,%llu\n", static_cast<double>(b.start_ms - t0) / 3.6e6,
                 static_cast<unsigned long long>(b.rows), static_cast<unsigned long long>(b.fp),
                 static_cast<unsigned long long>(b.fn), static_cast<unsigned long long>(b.tp));
  }
  return finish(std::move(f), path, error);
}

bool write_plasticity_csv(const EvalReport& r, const std::string& path, std::string* error) {
  File f = open_for_writing(path, error);
  if (!f) return false;
  std::fprintf(f.get(),
               "question,asked_hours,answered_hours,flagged_while_open,flagged_after_answer,"
               "last_flagged_after_answer_s\n");
  const int64_t t0 = r.series.empty() ? 0 : r.series.front().start_ms;
  for (const Plasticity& p : r.plasticity) {
    std::fprintf(f.get(), "%u,%.4f,%.4f,%llu,%llu,", p.question, static_cast<double>(p.asked_ms - t0) / 3.6e6,
                 static_cast<double>(p.answered_ms - t0) / 3.6e6,
                 static_cast<unsigned long long>(p.flagged_before),
                 static_cast<unsigned long long>(p.flagged_after));
    if (p.last_flagged_ms >= 0) {
      std::fprintf(f.get(), "%.3f\n", static_cast<double>(p.last_flagged_ms - p.answered_ms) / 1000);
    } else {
      std::fprintf(f.get(), "\n");
    }
  }
  return finish(std::move(f), path, error);
}

// gnuplot reads the CSVs next to it; the script stays for re-rendering.
constexpr const char* kScript = R"(set datafile separator ','
set terminal pngcairo size 900,600 noenhanced
set key autotitle columnhead
set grid
set output 'roc.png'
set title 'ROC: threshold sweep (AV) on one run'
set xlabel 'false-positive rate'
set ylabel 'detection rate'
set logscale x
set xrange [1e-6:1]
set yrange [0:1.02]
plot 'roc.csv' using ($3 > 0 ? $3 : 1e-6):2 with linespoints pointsize 0.4 title 'iotwall'
unset logscale x
set xrange [*:*]
set yrange [*:*]
set output 'errors.png'
set title 'Errors over time'
set xlabel 'hours of trace'
set ylabel 'rows per bucket'
plot 'errors.csv' using 1:3 with steps title 'false positives', \
     'errors.csv' using 1:4 with steps title 'misses'
)";

bool render(const std::string& dir, std::string* error) {
  // gnuplot runs in DIR so the script's relative names resolve there.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
  char prog[] = "gnuplot";
  char script[] = "report.gp";
  char* argv[] = {prog, script, nullptr};
  pid_t pid;
  const int rc = posix_spawnp(&pid, "gnuplot", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    *error = std::string("cannot run gnuplot (") + std::strerror(rc) +
             "); the CSV files are written; install gnuplot-nox (make deps) to render the charts";
    return false;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = "gnuplot failed on " + dir + "/report.gp";
    return false;
  }
  return true;
}

}  // namespace

bool write_roc_csv(const EvalReport& r, const std::string& path, std::string* error) {
  File f = open_for_writing(path, error);
  if (!f) return false;
  std::fprintf(f.get(), "threshold,detection_rate,false_positive_rate\n");
  for (const RocPoint& p : roc_curve(r.scores)) {
    if (std::isinf(p.threshold)) {
      std::fprintf(f.get(), "inf,%.6f,%.6f\n", p.detection_rate, p.false_positive_rate);
    } else {
      std::fprintf(f.get(), "%.6g,%.6f,%.6f\n", p.threshold, p.detection_rate, p.false_positive_rate);
    }
  }
  return finish(std::move(f), path, error);
}

bool write_report(const EvalReport& r, const std::string& dir, std::string* error) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    *error = "cannot create " + dir + ": " + std::strerror(errno);
    return false;
  }
  if (!write_roc_csv(r, dir + "/roc.csv", error) || !write_errors_csv(r, dir + "/errors.csv", error) ||
      !write_plasticity_csv(r, dir + "/plasticity.csv", error)) {
    return false;
  }
  File f = open_for_writing(dir + "/report.gp", error);
  if (!f) return false;
  std::fputs(kScript, f.get());
  if (!finish(std::move(f), dir + "/report.gp", error)) return false;
  return render(dir, error);
}

}  // namespace iotwall::cli
