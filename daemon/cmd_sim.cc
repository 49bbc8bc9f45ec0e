// iotwall sim: writes a labelled DS2OS-format trace of a simulated IoT site
// (model/site_sim.h, docs/simulator.md), and/or the same accesses as a
// packet capture with its site map (dpi/site_wire.h), and a summary on stderr.
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>

#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "dpi/site_map.h"
#include "dpi/site_wire.h"
#include "model/intern.h"
#include "model/site_sim.h"
#include "model/trace_writer.h"

namespace iotwall::cli {
namespace {

namespace po = boost::program_options;

// "/x/site.pcap" -> "/x/site.site.yaml": the site map beside the capture.
std::string default_site_map(const std::string& pcap) {
  std::string base = pcap;
  if (base.size() > 5 && base.compare(base.size() - 5, 5, ".pcap") == 0) base.resize(base.size() - 5);
  return base + ".site.yaml";
}

bool parse_seed(const std::string& s, uint64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

int run_sim(int argc, char** argv) {
  SimOptions o;
  std::string out_path;
  std::string seed_text;
  std::string pcap_path, site_map_path;
  dpi::SiteWireOptions wire_options;
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
      ("out", po::value(&out_path)->default_value("-"),
       "trace file, '-' = standard output (not written when only --pcap is given)")
      ("pcap", po::value(&pcap_path), "also or instead: the accesses as a packet capture (pcap)")
      ("site-map", po::value(&site_map_path),
       "with --pcap: where to write its site map (default: FILE.site.yaml beside the capture)")
      ("tls-share", po::value(&wire_options.tls_share)->default_value(0),
       "with --pcap: the share of services speaking TLS 1.2, 0..1")
      ("no-attacks", po::bool_switch(), "no attacks: every row is normal")
      ("no-change", po::bool_switch(), "no light-controller update at 11/24 of the trace")
      ("no-new-device", po::bool_switch(), "no battery joining at 65 % of the trace");
  // clang-format on

  po::variables_map vm;
  if (const int rc = parse_command_line("sim", argc, argv, desc, &vm); rc >= 0) return rc;
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
  const bool pcap = vm.count("pcap") > 0;
  if (!pcap && (vm.count("site-map") || !vm["tls-share"].defaulted())) {
    std::fprintf(stderr, "iotwall sim: --site-map and --tls-share need --pcap\n");
    return 2;
  }
  if (pcap && (pcap_path.empty() || pcap_path == "-")) {
    std::fprintf(stderr, "iotwall sim: --pcap needs a file name ('-' is not supported)\n");
    return 2;
  }
  if (vm.count("site-map") && site_map_path.empty()) {
    std::fprintf(stderr, "iotwall sim: --site-map needs a file name\n");
    return 2;
  }
  if (std::string err = dpi::SiteWire::validate(wire_options); !err.empty()) {
    std::fprintf(stderr, "iotwall sim: --tls-share: %s\n", err.c_str());
    return 2;
  }
  if (pcap && site_map_path.empty()) site_map_path = default_site_map(pcap_path);
  const bool trace = !pcap || !vm["out"].defaulted();
  if (trace && pcap && (out_path == pcap_path || out_path == site_map_path)) {
    std::fprintf(stderr, "iotwall sim: --out, --pcap and --site-map must be different files\n");
    return 2;
  }
  if (pcap && pcap_path == site_map_path) {
    std::fprintf(stderr, "iotwall sim: --pcap and --site-map must be different files\n");
    return 2;
  }

  const bool to_stdout = trace && out_path == "-";
  std::FILE* f = nullptr;
  if (trace) {
    f = to_stdout ? stdout : std::fopen(out_path.c_str(), "wb");
    if (f == nullptr) {
      std::fprintf(stderr, "iotwall sim: cannot write %s: %s\n", out_path.c_str(),
                   std::strerror(errno));
      return 1;
    }
    std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  }

  Interner in;
  SiteSimulator sim(o, in);
  std::unique_ptr<dpi::SiteWire> wire;
  std::string wire_error;
  if (pcap) {
    wire_options.seed = o.seed;
    wire = std::make_unique<dpi::SiteWire>(in, wire_options);
    if (!wire->open(pcap_path, &wire_error)) {
      std::fprintf(stderr, "iotwall sim: cannot write %s\n", wire_error.c_str());
      if (f != nullptr && !to_stdout) std::fclose(f);
      return 1;
    }
  }
  std::optional<TraceWriter> writer;
  if (trace) {
    writer.emplace(f, in);
    writer->write_header();
  }
  bool wire_ok = true;
  TraceRecord r;
  uint64_t rows = 0;
  int64_t first_ms = 0, last_ms = 0;
  std::vector<std::pair<Sym, uint64_t>> per_label;  // a handful of labels: a linear scan is fine
  while (sim.next(&r)) {
    if (writer) writer->write(r);
    if (wire && wire_ok && !wire->add(r, &wire_error)) wire_ok = false;
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
  if (wire) {
    if (wire_ok) wire_ok = wire->finish(&wire_error);
    std::string map_error;
    if (!wire_ok) {
      std::fprintf(stderr, "iotwall sim: writing %s failed: %s\n", pcap_path.c_str(),
                   wire_error.c_str());
    } else if (!dpi::save_site_map(site_map_path, wire->site_map(), &map_error)) {
      std::fprintf(stderr, "iotwall sim: cannot write the site map: %s\n", map_error.c_str());
      wire_ok = false;
    }
  }
  bool ok = true;
  int saved_errno = 0;
  if (writer) {
    ok = writer->finish();
    saved_errno = errno;
    if (!to_stdout && std::fclose(f) != 0) ok = false;
  }
  if (!ok) {
    std::fprintf(stderr, "iotwall sim: writing %s failed: %s\n",
                 to_stdout ? "standard output" : out_path.c_str(),
                 std::strerror(saved_errno != 0 ? saved_errno : errno));
    return 1;
  }
  if (!wire_ok) return 1;

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
  if (wire) {
    const dpi::SiteWireStats& w = wire->stats();
    std::fprintf(stderr,
                 "iotwall sim: %s: %llu packets, %llu bytes, %llu connections (%llu callback),\n"
                 "  %llu plain and %llu TLS requests, %llu callbacks, %llu skipped, %llu late;"
                 " site map %s (%zu entries)\n",
                 pcap_path.c_str(), static_cast<unsigned long long>(w.packets),
                 static_cast<unsigned long long>(w.bytes),
                 static_cast<unsigned long long>(w.connections),
                 static_cast<unsigned long long>(w.callback_connections),
                 static_cast<unsigned long long>(w.plain_requests),
                 static_cast<unsigned long long>(w.tls_requests),
                 static_cast<unsigned long long>(w.callbacks),
                 static_cast<unsigned long long>(w.skipped), static_cast<unsigned long long>(w.late),
                 site_map_path.c_str(), wire->site_map().services.size());
  }
  return 0;
}

}  // namespace iotwall::cli
