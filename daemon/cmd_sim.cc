// iotwall sim: writes a labelled DS2OS-format trace of a simulated IoT site
// (model/site_sim.h, docs/simulator.md) and a summary on stderr.
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>

#include "daemon/commands.h"
#include "model/intern.h"
#include "model/site_sim.h"
#include "model/trace_writer.h"

namespace iotwall::cli {
namespace {

namespace po = boost::program_options;

bool parse_seed(const std::string& s, uint64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

int run_sim(int argc, char** argv) {
  SimOptions o;
  std::string out_path;
  std::string seed_text;
  po::options_description desc(
      "usage: iotwall sim [options]\n\n"
      "Generates a labelled trace (DS2OS traces format) of a simulated IoT site: light\n"
      "controllers, movement and temperature sensors, thermostats, batteries, washing machines,\n"
      "door locks and a smartphone app, with a light-controller update, a battery joining late,\n"
      "and the seven attack kinds of the DS2OS dataset. The same options give the same trace.\n"
      "See docs/simulator.md.\n\noptions");
  // clang-format off
  desc.add_options()
      ("help,h", "show this help")
      ("rooms", po::value(&o.rooms)->default_value(12), "rooms of the site, 1..1000")
      ("hours", po::value(&o.hours)->default_value(24), "trace time in hours, 0 < H <= 8760")
      ("seed", po::value(&seed_text)->default_value("1"), "random seed, 0..2^64-1")
      ("out", po::value(&out_path)->default_value("-"), "output file, '-' = standard output")
      ("no-attacks", po::bool_switch(), "no attacks: every row is normal")
      ("no-change", po::bool_switch(), "no light-controller update at 11/24 of the trace")
      ("no-new-device", po::bool_switch(), "no battery joining at 65 % of the trace");
  // clang-format on

  po::variables_map vm;
  try {
    const po::positional_options_description none;  // stray arguments are errors
    po::store(po::command_line_parser(argc, argv).options(desc).positional(none).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "iotwall sim: %s\n'iotwall sim --help' shows the options.\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  if (!parse_seed(seed_text, &o.seed)) {
    std::fprintf(stderr, "iotwall sim: --seed must be an integer from 0 to 2^64-1, not '%s'\n",
                 seed_text.c_str());
    return 2;
  }
  o.attacks = !vm["no-attacks"].as<bool>();
  o.behaviour_change = !vm["no-change"].as<bool>();
  o.new_device = !vm["no-new-device"].as<bool>();
  if (std::string err = validate(o); !err.empty()) {
    std::fprintf(stderr, "iotwall sim: %s\n", err.c_str());
    return 2;
  }

  const bool to_stdout = out_path == "-";
  std::FILE* f = to_stdout ? stdout : std::fopen(out_path.c_str(), "wb");
  if (f == nullptr) {
    std::fprintf(stderr, "iotwall sim: cannot write %s: %s\n", out_path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);

  Interner in;
  SiteSimulator sim(o, in);
  TraceWriter writer(f, in);
  writer.write_header();
  TraceRecord r;
  uint64_t rows = 0;
  int64_t first_ms = 0, last_ms = 0;
  std::vector<std::pair<Sym, uint64_t>> per_label;  // a handful of labels: a linear scan is fine
  while (sim.next(&r)) {
    writer.write(r);
    if (rows++ == 0) first_ms = r.access.time_ms;
    last_ms = r.access.time_ms;
    auto it = per_label.begin();
    while (it != per_label.end() && it->first != r.label) ++it;
    if (it == per_label.end()) {
      per_label.push_back({r.label, 1});
    } else {
      ++it->second;
    }
  }
  bool ok = writer.finish();
  const int saved_errno = errno;
  if (!to_stdout && std::fclose(f) != 0) ok = false;
  if (!ok) {
    std::fprintf(stderr, "iotwall sim: writing %s failed: %s\n",
                 to_stdout ? "standard output" : out_path.c_str(),
                 std::strerror(saved_errno != 0 ? saved_errno : errno));
    return 1;
  }

  std::map<std::string, uint64_t> sorted;
  for (const auto& [label, n] : per_label) sorted[std::string(in.str(label))] = n;
  std::fprintf(stderr,
               "iotwall sim: %llu rows, %d rooms, seed %llu, trace time %lld..%lld (%.2f h)\n",
               static_cast<unsigned long long>(rows), o.rooms,
               static_cast<unsigned long long>(o.seed), static_cast<long long>(first_ms),
               static_cast<long long>(last_ms), static_cast<double>(last_ms - first_ms) / 3.6e6);
  for (const auto& [label, n] : sorted) {
    std::fprintf(stderr, "  %-32s %10llu  %6.2f %%\n", label.c_str(),
                 static_cast<unsigned long long>(n),
                 rows ? 100.0 * static_cast<double>(n) / static_cast<double>(rows) : 0.0);
  }
  return 0;
}

}  // namespace iotwall::cli
