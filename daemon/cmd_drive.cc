// iotwall drive: sends a trace's accesses as real HTTP from each service's
// address to its KA (daemon/live_driver.h), or floods a KA for benchmarks;
// prints a summary table, optionally writes the JSON report. SIGINT/SIGTERM
// end the run early; the report covers what was done.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include <boost/program_options.hpp>

#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "daemon/live_driver.h"
#include "daemon/state_file.h"
#include "daemon/text_table.h"
#include "dpi/site_map.h"

namespace iotwall::cli {
namespace {

std::atomic<bool> g_stop_drive{false};  // set by the signal handler only
static_assert(std::atomic<bool>::is_always_lock_free);
extern "C" void on_drive_signal(int) { g_stop_drive.store(true); }

std::string ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string latency_line(const char* what, const live::LatencySummary& l) {
  return std::string(what) + ": " + group(l.count) + " answers, p50 " + ms(l.p50_ms) + " ms, p90 " +
         ms(l.p90_ms) + " ms, p99 " + ms(l.p99_ms) + " ms, max " + ms(l.max_ms) + " ms";
}

void print_summary(const live::DriveReport& r, const live::DriveOptions& o) {
  TextTable t({"label", "rows", "sent", "answered", "non-2xx", "reset", "timeout", "refused", "error", "skipped",
               "backlog", "unmapped", "unfinished"});
  auto add = [&t](const std::string& label, const live::RowCounts& c) {
    t.add({label, group(c.rows), group(c.sent), group(c.answered), group(c.non_2xx), group(c.reset),
           group(c.timeout), group(c.refused), group(c.error), group(c.skipped), group(c.skipped_backlog),
           group(c.unmapped), group(c.unfinished)});
  };
  for (const auto& [label, c] : r.per_label) add(label, c);
  add(r.flood ? "flood" : "total", r.total);
  t.print(stdout);
  std::printf("%s\n", latency_line("latency, all", r.latency).c_str());
  if (!r.flood) {
    std::printf("%s\n", latency_line("latency, normal", r.latency_normal).c_str());
    std::printf("lag behind schedule: p50 %s ms, p99 %s ms, max %s ms\n", ms(r.lag.p50_ms).c_str(),
                ms(r.lag.p99_ms).c_str(), ms(r.lag.max_ms).c_str());
    std::printf("%.1f requests/s over %.2f s (trace span %.1f s at speed %g), %s services, %s connections\n",
                r.requests_per_s, r.elapsed_s, r.trace_span_s, o.speed, group(r.services).c_str(),
                group(r.connections).c_str());
  } else {
    std::printf("%.1f requests/s over %.2f s on %s connections (%s connects)\n", r.requests_per_s, r.elapsed_s,
                group(r.services).c_str(), group(r.connections).c_str());
  }
}

}  // namespace

int run_drive(int argc, char** argv) {
  namespace po = boost::program_options;
  live::DriveOptions o;
  std::string site_map_path, report_path, op = "read";
  int64_t start_ms = -1;
  po::options_description opts(
      "iotwall drive --trace FILE --site-map FILE [options]\n"
      "iotwall drive --flood --site-map FILE [--connections N --requests N --op read|write]");
  opts.add_options()
      ("help,h", "show this help")
      ("trace", po::value(&o.trace), "the DS2OS-format trace (CSV with labels) to send")
      ("site-map", po::value(&site_map_path), "the site's services: ip of each source, ip of each KA")
      ("speed", po::value(&o.speed)->default_value(o.speed), "trace time runs this many times faster")
      ("start-ms", po::value(&start_ms), "trace time of the start (earlier rows are left out)")
      ("rows", po::value(&o.max_rows), "send at most N rows")
      ("duration", po::value(&o.duration_s), "stop after SECONDS (0: when every row is done)")
      ("timeout-ms", po::value(&o.timeout_ms)->default_value(o.timeout_ms), "no answer after this: timeout")
      ("backlog", po::value(&o.max_backlog)->default_value(o.max_backlog), "rows waiting per service at most")
      ("report", po::value(&report_path), "write the JSON report to FILE")
      ("progress", po::bool_switch(&o.progress), "a status line on stderr every second")
      ("flood", po::bool_switch(&o.flood), "benchmark: requests back to back on --connections connections")
      ("connections", po::value(&o.connections)->default_value(o.connections), "flood: connections")
      ("requests", po::value(&o.requests)->default_value(o.requests), "flood: requests in all")
      ("op", po::value(&op)->default_value(op), "flood: read or write (of each service's own node)")
      ("connect-override", po::value(&o.connect_override), "connect every service to this ip, without bind() (tests)")
      ("port-base", po::value(&o.port_base)->default_value(o.port_base), "the KA of agent N listens at port base + N")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the request encodings");
  po::variables_map vm;
  if (const int rc = parse_command_line("drive", argc, argv, opts, &vm); rc >= 0) return rc;
  auto usage = [](const std::string& msg) {
    std::fprintf(stderr, "iotwall drive: %s\ntry 'iotwall drive --help'\n", msg.c_str());
    return 2;
  };
  if (site_map_path.empty()) return usage("--site-map is required");
  if (o.flood && !o.trace.empty()) return usage("--flood and --trace exclude each other");
  if (op != "read" && op != "write") return usage("--op must be read or write");
  o.flood_write = op == "write";
  if (vm.count("start-ms")) o.start_ms = start_ms;
  if (const std::string e = live::validate(o); !e.empty()) return usage(e);
  std::string error;
  if (!dpi::load_site_map(site_map_path, &o.site_map, &error)) {
    std::fprintf(stderr, "iotwall drive: %s: %s\n", site_map_path.c_str(), error.c_str());
    return 1;
  }
  g_stop_drive = false;
  o.stop = &g_stop_drive;
  std::signal(SIGINT, on_drive_signal);
  std::signal(SIGTERM, on_drive_signal);
  live::DriveReport r;
  const bool ok = live::drive(o, &r, &error);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!ok) {
    std::fprintf(stderr, "iotwall drive: %s\n", error.c_str());
    return 1;
  }
  print_summary(r, o);
  if (r.bind_errors > 0) {
    std::fprintf(stderr, "iotwall drive: %llu connects could not bind a service's ip (first: %s); "
                 "is this the clients' namespace?\n",
                 static_cast<unsigned long long>(r.bind_errors), r.first_bind_error.c_str());
  }
  if (!report_path.empty() && !write_file(report_path, live::report_json(r) + "\n", &error)) {
    std::fprintf(stderr, "iotwall drive: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace iotwall::cli
