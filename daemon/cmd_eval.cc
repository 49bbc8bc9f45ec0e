// iotwall eval: replays a labelled DS2OS-format trace through the detector
// and prints the confusion matrix and rates (docs/EVALUATION.md).
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "daemon/eval_report.h"
#include "daemon/text_table.h"
#include "model/evaluator.h"
#include "model/graph_file.h"
#include "model/reorder_buffer.h"
#include "model/trace_reader.h"
#include "daemon/access_input.h"
#include "daemon/state_file.h"
#include "model/trace_writer.h"
#include "model/verdict_reason.h"
#include "model/wording.h"

namespace po = boost::program_options;

namespace iotwall::cli {
namespace {

// Rows held to restore timestamp order, whatever the window: bounds memory
// on dense traces (a fuller buffer releases its oldest row early).
constexpr size_t kMaxReorderRows = 65536;

struct EvalArgs {
  InputArgs in;
  bool json = false;
  double answer_after_s = -1;
  double learning_phase_s = 15 * 60;
  double edge_ttl_s = 3600;
  double reorder_window_s = 60;
  int show_questions = 0;
  bool progress = false;
  std::string verdicts;
  double threshold = DetectorOptions{}.threshold;
  std::string disable;
  std::string roc;
  std::string report;
  std::string load_state, load_models, save_state;
};

// A progress line on stderr: redrawn in place on a terminal, one line per
// tenth of the input otherwise (CI logs).
class Progress {
 public:
  Progress(bool on, const std::string& path) : on_(on), tty_(isatty(2) != 0) {
    struct stat st;
    if (on_ && path != "-" && ::stat(path.c_str(), &st) == 0) total_ = static_cast<uint64_t>(st.st_size);
  }
  void update(uint64_t bytes, const EvalReport& r, bool done = false) {
    if (!on_ || total_ == 0) return;
    const int pct = done ? 100 : static_cast<int>(bytes * 100 / total_);
    if (pct == last_ || (!tty_ && pct / 10 == last_ / 10 && !done)) return;
    last_ = pct;
    std::fprintf(stderr, "%s%3d %%  %s rows  %5.1f h of trace  %s flagged  %llu questions%s",
                 tty_ ? "\r" : "", pct, group(r.rows).c_str(), r.hours(),
                 group(r.tp + r.fp + r.unlabeled_flagged).c_str(),
                 static_cast<unsigned long long>(r.questions), tty_ && !done ? "" : "\n");
  }

 private:
  bool on_, tty_;
  uint64_t total_ = 0;
  int last_ = -1;
};

void print_errors(const TraceReader& reader, const std::string& path) {
  const TraceStats& st = reader.stats();
  if (st.preamble) std::fprintf(stderr, "%s:1: neither a header nor a row; skipped\n", path.c_str());
  for (const TraceError& e : reader.errors()) {
    std::fprintf(stderr, "%s:%llu: malformed row: %s\n", path.c_str(),
                 static_cast<unsigned long long>(e.line), e.message.c_str());
  }
  if (st.malformed > reader.errors().size()) {
    std::fprintf(stderr, "%s: ... and %llu more malformed rows\n", path.c_str(),
                 static_cast<unsigned long long>(st.malformed - reader.errors().size()));
  }
}

long peak_rss_kb() {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

nlohmann::json to_json(const EvalReport& r, const TraceStats& st, uint64_t late, double seconds,
                       const DetectorOptions& o) {
  nlohmann::json per_label = nlohmann::json::object();
  for (const auto& [label, c] : r.per_label) per_label[label] = {{"rows", c.rows}, {"flagged", c.flagged}};
  nlohmann::json flagged_by = nlohmann::json::object();
  for (int f = 1; f < kFeatureCount; ++f) flagged_by[std::string(feature_name(static_cast<Feature>(f)))] = r.flagged_by[static_cast<size_t>(f)];
  nlohmann::json disabled = nlohmann::json::array();
  for (int f = 1; f < kFeatureCount; ++f) {
    if (o.disabled & bit(static_cast<Feature>(f))) disabled.push_back(feature_name(static_cast<Feature>(f)));
  }
  nlohmann::json plasticity = nlohmann::json::array();
  for (const Plasticity& p : r.plasticity) {
    plasticity.push_back({{"question", p.question},
                          {"asked_ms", p.asked_ms},
                          {"answered_ms", p.answered_ms},
                          {"flagged_while_open", p.flagged_before},
                          {"flagged_after_answer", p.flagged_after},
                          {"last_flagged_after_answer_s",
                           p.last_flagged_ms >= 0 ? static_cast<double>(p.last_flagged_ms - p.answered_ms) / 1000 : 0.0}});
  }
  return {
      {"threshold", o.threshold},
      {"disabled", disabled},
      {"scored", r.scored},
      {"flagged_by", flagged_by},
      {"model_types", r.types},
      {"descriptors", r.descriptors},
      {"untracked_accesses", r.untracked_accesses},
      {"model_bytes", r.model_bytes},
      {"plasticity", plasticity},
      {"rows", r.rows},
      {"tp", r.tp},
      {"fp", r.fp},
      {"tn", r.tn},
      {"fn", r.fn},
      {"unlabeled", r.unlabeled},
      {"detection_rate", r.detection_rate()},
      {"false_positive_rate", r.false_positive_rate()},
      {"false_positive_rate_after_learning", r.false_positive_rate_after_learning()},
      {"normal_after_learning", r.normal_after_learning},
      {"accuracy", r.accuracy()},
      {"precision", r.precision()},
      {"per_label", per_label},
      {"hours", r.hours()},
      {"false_positives_per_hour", r.per_hour(r.fp)},
      {"misses_per_hour", r.per_hour(r.fn)},
      {"questions", r.questions},
      {"questions_approved", r.questions_approved},
      {"questions_denied", r.questions_denied},
      {"questions_open", r.questions_open},
      {"questions_per_day", r.questions_per_day()},
      {"vertices", r.vertices},
      {"edges", r.edges},
      {"live_edges", r.live_edges},
      {"malformed_rows", st.malformed},
      {"late_rows", late},
      {"seconds", seconds},
      {"accesses_per_second", seconds > 0 ? static_cast<double>(r.rows) / seconds : 0.0},
      {"peak_rss_kb", peak_rss_kb()},
  };
}

void print_text(const EvalReport& r, const TraceStats& st, const std::string& path, double seconds,
                const Evaluator& ev, const Interner& in, int show_questions) {
  std::printf("input       %s: %s rows, %s malformed, %.1f h of trace time\n", path.c_str(),
              group(r.rows).c_str(), group(st.malformed).c_str(), r.hours());
  std::printf("\n");
  TextTable cm({"", "flagged", "passed", "total"});
  cm.add({"anomalous", group(r.tp), group(r.fn), group(r.tp + r.fn)});
  cm.add({"normal", group(r.fp), group(r.tn), group(r.fp + r.tn)});
  if (r.unlabeled) cm.add({"unlabeled", group(r.unlabeled_flagged), group(r.unlabeled - r.unlabeled_flagged), group(r.unlabeled)});
  cm.print(stdout);
  std::printf("\n");
  std::printf("detection rate        %s\n", percent(r.detection_rate()).c_str());
  std::printf("false-positive rate   %s (%s after each service's learning phase)\n",
              percent(r.false_positive_rate()).c_str(), percent(r.false_positive_rate_after_learning()).c_str());
  std::printf("accuracy              %s\n", percent(r.accuracy()).c_str());
  std::printf("precision             %s\n", percent(r.precision()).c_str());
  std::printf("per hour              %.2f false positives, %.2f misses\n", r.per_hour(r.fp), r.per_hour(r.fn));
  std::printf("\n");
  TextTable pl({"label", "rows", "flagged", "rate"});
  for (const auto& [label, c] : r.per_label) {
    pl.add({label, group(c.rows), group(c.flagged),
            percent(c.rows ? static_cast<double>(c.flagged) / static_cast<double>(c.rows) : 0)});
  }
  pl.print(stdout);
  std::printf("\n");
  std::printf("questions             %llu asked (%.1f per day), %llu still open; answers: %llu approve, %llu deny%s\n",
              static_cast<unsigned long long>(r.questions), r.questions_per_day(),
              static_cast<unsigned long long>(r.questions_open),
              static_cast<unsigned long long>(r.questions_approved),
              static_cast<unsigned long long>(r.questions_denied),
              r.manager ? "" : " (no emulated manager: --answer-after)");
  std::printf("graph                 %llu services, %llu edges (%llu live)\n",
              static_cast<unsigned long long>(r.vertices), static_cast<unsigned long long>(r.edges),
              static_cast<unsigned long long>(r.live_edges));
  std::printf("model                 %llu types from %s descriptors, %s bytes; threshold %g\n",
              static_cast<unsigned long long>(r.types), group(r.descriptors).c_str(), group(r.model_bytes).c_str(),
              ev.detector().options().threshold);
  std::string by;
  for (int f = 1; f < kFeatureCount; ++f) {
    const uint64_t n = r.flagged_by[static_cast<size_t>(f)];
    if (n == 0) continue;
    if (!by.empty()) by += ", ";
    by += std::string(feature_name(static_cast<Feature>(f))) + " " + group(n);
  }
  std::printf("flagged by the model  %s\n", by.empty() ? "none" : by.c_str());
  std::printf("speed                 %s accesses/s (%.3f s, reading included)\n",
              group(static_cast<uint64_t>(seconds > 0 ? static_cast<double>(r.rows) / seconds : 0)).c_str(),
              seconds);
  const auto& qs = ev.graph().questions();
  for (int i = 0; i < show_questions && i < static_cast<int>(qs.size()); ++i) {
    if (i == 0) std::printf("\nfirst questions to the site manager:\n");
    const Question& q = qs[static_cast<size_t>(i)];
    std::string answers;
    for (const Decision& d : ev.graph().decisions()) {
      if (d.question != q.id) continue;
      answers += answers.empty() ? "  -> " : "; ";
      answers += d.approve ? "approved" : "denied";
      answers += d.scope == Scope::kType
                     ? " for the type"
                     : " for " + std::string(in.str(ev.graph().vertices()[d.source].id.empty()
                                                        ? ev.graph().vertices()[d.source].name
                                                        : ev.graph().vertices()[d.source].id));
    }
    if (q.open) answers += answers.empty() ? "  -> open" : "; still open";
    std::printf("  #%u %s%s\n", q.id, question_text(ev.graph(), q, in).c_str(), answers.c_str());
  }
}

// The decoder's counters that are not zero: what was decoded, and every
// reason something was not.
void print_capture(const CaptureReader& c) {
  std::string line;
  c.for_each([&](std::string_view k, uint64_t v) {
    if (v == 0) return;
    line += line.empty() ? "" : ", ";
    line.append(k).append(" ").append(std::to_string(v));
  });
  std::printf("\ncapture               %s\n", line.c_str());
}

}  // namespace

int run_eval(int argc, char** argv) {
  EvalArgs a;
  po::options_description opts("iotwall eval (--trace FILE | --pcap FILE) [options]");
  opts.add_options()
      ("help,h", "show this help")
      ("trace", po::value(&a.in.trace), "DS2OS-format trace to replay ('-' = stdin)")
      ("pcap", po::value(&a.in.pcap), "capture to decode (DPI) and replay")
      ("site-map", po::value(&a.in.site_map), "with --pcap: the site's services (rooms, IP -> service), YAML")
      ("labels", po::value(&a.in.labels), "with --pcap: a trace of the same accesses whose labels they take")
      ("json", po::bool_switch(&a.json), "print one JSON object on stdout")
      ("answer-after", po::value(&a.answer_after_s), "emulated site manager answers each question after SECONDS of trace time")
      ("learning-phase", po::value(&a.learning_phase_s)->default_value(a.learning_phase_s), "per-service learning phase, seconds of trace time")
      ("edge-ttl", po::value(&a.edge_ttl_s)->default_value(a.edge_ttl_s), "idle edges leave the live graph after SECONDS")
      ("reorder-window", po::value(&a.reorder_window_s)->default_value(a.reorder_window_s), "rows up to SECONDS out of order are put back in order")
      ("show-questions", po::value(&a.show_questions)->default_value(0), "print the first N questions asked")
      ("progress", po::bool_switch(&a.progress), "show progress on stderr")
      ("verdicts", po::value(&a.verdicts), "write every row's verdict and its reason to FILE (CSV)")
      ("threshold", po::value(&a.threshold)->default_value(a.threshold), "anomaly value AV at which an access is flagged")
      ("disable", po::value(&a.disable), "features left out of the score, comma list: value, period, location, operation, datatype, partners, frequency, flows, relationship")
      ("roc", po::value(&a.roc), "write the threshold sweep (threshold, detection rate, false-positive rate) to FILE (CSV)")
      ("report", po::value(&a.report), "write the ROC curve, errors over time and plasticity to DIR as CSV and PNG charts (gnuplot)")
      ("load-state", po::value(&a.load_state), "start from a saved state FILE (graph and models) instead of nothing")
      ("load-models", po::value(&a.load_models), "adopt the type models of a state FILE (from another node or site): their types skip the learning phase")
      ("save-state", po::value(&a.save_state), "save the graph and the models to FILE after the replay");
  po::variables_map vm;
  if (const int rc = parse_command_line("eval", argc, argv, opts, &vm); rc >= 0) return rc;
  auto bad = [](double v) { return !std::isfinite(v) || v < 0 || v > 1e9; };
  if (bad(a.learning_phase_s) || bad(a.edge_ttl_s) || bad(a.reorder_window_s) ||
      (vm.count("answer-after") && bad(a.answer_after_s)) || a.show_questions < 0) {
    std::fprintf(stderr, "iotwall eval: durations must be between 0 and 1e9 seconds\n");
    return 2;
  }

  if (!std::isfinite(a.threshold) || a.threshold <= 0) {
    std::fprintf(stderr, "iotwall eval: --threshold must be a positive number\n");
    return 2;
  }
  FeatureMask disabled = 0;
  std::string error;
  if (!parse_feature_list(a.disable, &disabled, &error)) {
    std::fprintf(stderr, "iotwall eval: --disable: %s\n", error.c_str());
    return 2;
  }

  Interner in;
  AccessInput input;
  bool usage = false;
  if (!input.open(a.in, in, &error, &usage)) {
    std::fprintf(stderr, "iotwall eval: %s\n", error.c_str());
    return usage ? 2 : 1;
  }
  AccessInput* reader = &input;
  EvalOptions eo;
  // Seconds to whole milliseconds, rounding up so a small value is not 0 (off).
  auto ms = [](double s) { return static_cast<int64_t>(std::ceil(s * 1000)); };
  eo.detector.graph.learning_phase_ms = ms(a.learning_phase_s);
  eo.detector.graph.edge_ttl_ms = ms(a.edge_ttl_s);
  if (vm.count("answer-after")) eo.answer_after_ms = ms(a.answer_after_s);
  eo.detector.threshold = a.threshold;
  eo.detector.disabled = disabled;
  Evaluator ev(eo, in);
  for (const std::string* path : {&a.load_state, &a.load_models}) {
    if (path->empty()) continue;
    std::string bytes;
    CommGraph g(eo.detector.graph);
    absl::flat_hash_map<uint32_t, TypeModel> models;
    if (!read_file(*path, &bytes, &error) || !load_state(bytes, in, &g, &models, &error)) {
      std::fprintf(stderr, "iotwall eval: cannot load %s: %s\n", path->c_str(), error.c_str());
      return 1;
    }
    if (path == &a.load_state) {
      ev.detector().restore(std::move(g), std::move(models));
    } else {
      for (const auto& [key, m] : models) ev.detector().adopt(key, m);
    }
  }
  ReorderBuffer reorder(ms(a.reorder_window_s), kMaxReorderRows);

  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> verdicts(nullptr, std::fclose);
  if (!a.verdicts.empty()) {
    verdicts.reset(std::fopen(a.verdicts.c_str(), "w"));
    if (!verdicts) {
      std::fprintf(stderr, "iotwall eval: cannot write %s: %s\n", a.verdicts.c_str(), std::strerror(errno));
      return 1;
    }
    std::fprintf(verdicts.get(), "line,timestamp,source,destination,operation,label,verdict,reason,question,av,som,sor,soa,feature,why\n");
  }
  std::string line;
  auto judge = [&](const TraceRecord& r) {
    const Verdict v = ev.add(r);
    const Judgement& j = v.graph;
    if (!verdicts) return;
    line = std::to_string(r.line);
    line.push_back(',');
    line.append(std::to_string(r.access.time_ms));
    line.push_back(',');
    for (std::string_view f : {in.str(r.access.source()), in.str(r.access.dest()),
                               operation_name(r.access.op), in.str(r.label)}) {
      append_csv_field(&line, f);
      line.push_back(',');
    }
    line += v.anomalous ? "flag," : "pass,";
    line += j.anomalous || !v.anomalous ? reason_name(j.reason) : feature_name(v.feature);
    line.push_back(',');
    line.append(std::to_string(j.question));
    char scores[160];
    std::snprintf(scores, sizeof scores, ",%.4g,%.4g,%.4g,%.4g,%s,", v.av, v.som, v.sor, v.soa,
                  v.scored ? std::string(feature_name(v.feature)).c_str() : "");
    line.append(scores);
    append_csv_field(&line, verdict_reason(v, r.access, ev.detector(), in));
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), verdicts.get());
  };
  Progress progress(a.progress, input.name());
  TraceRecord rec;
  uint64_t n = 0;
  while (reader->next(&rec)) {
    reorder.push(rec);
    while (reorder.pop_ready(&rec)) judge(rec);
    if (a.progress && (++n & 0x3fff) == 0) progress.update(reader->stats().bytes, ev.report());
  }
  while (reorder.pop(&rec)) judge(rec);
  progress.update(reader->stats().bytes, ev.report(), true);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (input.trace()) print_errors(*input.trace(), input.name());
  if (!reader->io_error().empty()) {
    std::fprintf(stderr, "iotwall eval: %s\n", reader->io_error().c_str());
    return 1;
  }
  const EvalReport r = ev.report();
  if (r.rows == 0) {
    std::fprintf(stderr, "iotwall eval: %s holds no valid rows\n", input.name().c_str());
    return 1;
  }
  if (reorder.late()) {
    std::fprintf(stderr, "iotwall eval: %llu rows were more than %.0f s out of order (judged late)\n",
                 static_cast<unsigned long long>(reorder.late()), a.reorder_window_s);
  }
  if (verdicts && (std::fflush(verdicts.get()) != 0 || std::ferror(verdicts.get()))) {
    std::fprintf(stderr, "iotwall eval: writing %s failed\n", a.verdicts.c_str());
    return 1;
  }
  if (!a.save_state.empty() &&
      !write_file(a.save_state, save_state(ev.graph(), ev.detector().models(), in), &error)) {
    std::fprintf(stderr, "iotwall eval: %s\n", error.c_str());
    return 1;
  }
  if (!a.roc.empty() && !write_roc_csv(r, a.roc, &error)) {
    std::fprintf(stderr, "iotwall eval: %s\n", error.c_str());
    return 1;
  }
  if (!a.report.empty() && !write_report(r, a.report, &error)) {
    std::fprintf(stderr, "iotwall eval: --report: %s\n", error.c_str());
    return 1;
  }
  if (a.json) {
    nlohmann::json j = to_json(r, reader->stats(), reorder.late(), seconds, ev.detector().options());
    if (input.capture()) {
      nlohmann::json c = nlohmann::json::object();
      input.capture()->for_each([&](std::string_view k, uint64_t v) { c[std::string(k)] = v; });
      j["capture"] = c;
    }
    std::cout << j.dump(2) << "\n";
  } else {
    print_text(r, reader->stats(), input.name(), seconds, ev, in, a.show_questions);
    if (input.capture()) print_capture(*input.capture());
  }
  std::cout.flush();
  if (!std::cout.good() || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "iotwall eval: writing the report failed\n");
    return 1;
  }
  return 0;
}

}  // namespace iotwall::cli
