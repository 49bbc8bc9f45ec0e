// iotwall decode: turns a capture into a DS2OS-format trace (one row per
// decoded access, in request order) that anyone can replay, label and share.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <boost/program_options.hpp>

#include "daemon/access_input.h"
#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "model/trace_writer.h"

namespace iotwall::cli {

int run_decode(int argc, char** argv) {
  namespace po = boost::program_options;
  InputArgs ia;
  std::string out_path, label;
  po::options_description opts("iotwall decode --pcap FILE --out TRACE.csv [options]");
  opts.add_options()
      ("help,h", "show this help")
      ("pcap", po::value(&ia.pcap)->required(), "capture to decode")
      ("site-map", po::value(&ia.site_map), "the site's services (rooms, IP -> service), YAML")
      ("out", po::value(&out_path)->required(), "trace to write ('-' = stdout)")
      ("label", po::value(&label), "label column of every row (e.g. normal; default empty)")
      ("labels", po::value(&ia.labels), "or each row's label from a trace of the same accesses")
      ("counters", po::bool_switch(), "print every decoder counter on stderr");
  po::variables_map vm;
  if (const int rc = parse_command_line("decode", argc, argv, opts, &vm); rc >= 0) return rc;
  Interner in;
  AccessInput input;
  std::string error;
  bool usage = false;
  if (!input.open(ia, in, &error, &usage)) {
    std::fprintf(stderr, "iotwall decode: %s\n", error.c_str());
    return usage ? 2 : 1;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, std::fclose);
  std::FILE* out = stdout;
  if (out_path != "-") {
    file.reset(std::fopen(out_path.c_str(), "w"));
    if (!file) {
      std::fprintf(stderr, "iotwall decode: cannot write %s: %s\n", out_path.c_str(), std::strerror(errno));
      return 1;
    }
    out = file.get();
  }
  const Sym label_sym = in.intern(label);
  TraceWriter w(out, in);
  w.write_header();
  TraceRecord r;
  if (!ia.labels.empty() && !label.empty()) {
    std::fprintf(stderr, "iotwall decode: give --label or --labels, not both\n");
    return 2;
  }
  while (input.next(&r)) {
    if (ia.labels.empty()) r.label = label_sym;
    w.write(r);
  }
  if (!w.finish()) {
    std::fprintf(stderr, "iotwall decode: writing %s failed\n", out_path.c_str());
    return 1;
  }
  if (!input.io_error().empty()) {
    std::fprintf(stderr, "iotwall decode: %s: %s\n", input.name().c_str(), input.io_error().c_str());
    return 1;
  }
  std::string summary;
  const bool all = vm["counters"].as<bool>();
  input.capture()->for_each([&](std::string_view k, uint64_t v) {
    if (v == 0 && !all) return;
    summary.append(summary.empty() ? "" : all ? "\n" : ", ").append(k).append(all ? " " : " ").append(std::to_string(v));
  });
  std::fprintf(stderr, "%s: %llu accesses\n%s\n", input.name().c_str(),
               static_cast<unsigned long long>(input.stats().rows), summary.c_str());
  return 0;
}

}  // namespace iotwall::cli
