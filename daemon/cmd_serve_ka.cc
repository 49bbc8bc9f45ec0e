// iotwall serve-ka: a Knowledge Agent's VSL REST interface for test sites
// (daemon/live_ka.h). Listens on --listen addresses and/or a --ports range,
// serves until SIGINT/SIGTERM or --duration, then prints its counters.
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "daemon/live_ka.h"
#include "dpi/site_map.h"

namespace iotwall::cli {
namespace {

std::atomic<live::KaServer*> g_server{nullptr};  // for the signal handler only
static_assert(std::atomic<live::KaServer*>::is_always_lock_free);
extern "C" void on_serve_ka_signal(int) {
  if (live::KaServer* s = g_server.load(); s != nullptr) s->stop();
}

// "8081-8092" or "8081" -> [first, last]. False when malformed.
bool parse_port_range(const std::string& s, unsigned* first, unsigned* last) {
  const size_t dash = s.find('-');
  const std::string a = s.substr(0, dash), b = dash == std::string::npos ? a : s.substr(dash + 1);
  auto num = [](const std::string& t, unsigned* v) {
    const auto r = std::from_chars(t.data(), t.data() + t.size(), *v);
    return !t.empty() && r.ec == std::errc() && r.ptr == t.data() + t.size() && *v >= 1 && *v <= 65535;
  };
  return num(a, first) && num(b, last) && *first <= *last;
}

void print_counters(const live::KaCounters& c) {
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::fprintf(stderr,
               "iotwall serve-ka: %llu requests (GET %llu, PUT %llu, POST %llu, other %llu) on %llu connections\n"
               "  reads %llu, writes %llu, operations %llu, registrations %llu, unregistrations %llu\n"
               "  2xx %llu, 4xx %llu, 5xx %llu; not found %llu, bad requests %llu, too large %llu,\n"
               "  upgrades refused %llu, connections refused %llu, accept errors %llu, values dropped %llu\n"
               "  bytes in %llu, out %llu\n",
               u(c.requests), u(c.get), u(c.put), u(c.post), u(c.other_method), u(c.connections), u(c.reads),
               u(c.writes), u(c.operations), u(c.registrations), u(c.unregistrations), u(c.status_2xx),
               u(c.status_4xx), u(c.status_5xx), u(c.not_found), u(c.bad_requests), u(c.too_large),
               u(c.upgrades_refused), u(c.connections_refused), u(c.accept_errors), u(c.values_dropped),
               u(c.bytes_in), u(c.bytes_out));
}

}  // namespace

int run_serve_ka(int argc, char** argv) {
  namespace po = boost::program_options;
  live::KaServerOptions o;
  std::vector<std::string> listen;
  std::string ports, address = "0.0.0.0", site_map_path, trace_path;
  double duration_s = 0;
  po::options_description opts(
      "iotwall serve-ka (--listen ADDR:PORT ... | --ports FIRST-LAST [--address IP]) [options]");
  opts.add_options()
      ("help,h", "show this help")
      ("listen", po::value(&listen)->composing(), "an address:port to serve (repeatable; port 0: ephemeral)")
      ("ports", po::value(&ports), "a range of ports to serve, e.g. 8081-8092 (agent N on 8080+N)")
      ("address", po::value(&address)->default_value(address), "the address of --ports")
      ("site-map", po::value(&site_map_path), "the site's services: registerService answers the client's address")
      ("trace", po::value(&trace_path), "learn the nodes of a trace: their types; other nodes answer 404")
      ("max-connections", po::value(&o.max_connections)->default_value(o.max_connections), "open connections at most (then 503)")
      ("max-values", po::value(&o.max_values)->default_value(o.max_values), "node values kept at most")
      ("duration", po::value(&duration_s), "stop after SECONDS (0: until SIGINT/SIGTERM)");
  po::variables_map vm;
  if (const int rc = parse_command_line("serve-ka", argc, argv, opts, &vm); rc >= 0) return rc;
  o.listen = listen;
  if (!ports.empty()) {
    unsigned first = 0, last = 0;
    if (!parse_port_range(ports, &first, &last) || last - first >= 4096) {
      std::fprintf(stderr, "iotwall serve-ka: --ports: expected FIRST-LAST (1..65535, at most 4096 ports), not '%s'\n",
                   ports.c_str());
      return 2;
    }
    const std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
    for (unsigned p = first; p <= last; ++p) o.listen.push_back(host + ":" + std::to_string(p));
  }
  if (!(duration_s >= 0 && duration_s <= 1e9)) {
    std::fprintf(stderr, "iotwall serve-ka: --duration must be between 0 and 1e9 seconds\n");
    return 2;
  }
  if (const std::string e = live::KaServer::validate(o); !e.empty()) {
    std::fprintf(stderr, "iotwall serve-ka: %s\ntry 'iotwall serve-ka --help'\n", e.c_str());
    return 2;
  }
  live::KaServer server(o);
  std::string error;
  if (!site_map_path.empty()) {
    dpi::SiteMap m;
    if (!dpi::load_site_map(site_map_path, &m, &error)) {
      std::fprintf(stderr, "iotwall serve-ka: %s: %s\n", site_map_path.c_str(), error.c_str());
      return 1;
    }
    server.set_site_map(m);
  }
  if (!trace_path.empty() && !server.preload_trace(trace_path, &error)) {
    std::fprintf(stderr, "iotwall serve-ka: %s\n", error.c_str());
    return 1;
  }
  if (!server.start(&error)) {
    std::fprintf(stderr, "iotwall serve-ka: %s\n", error.c_str());
    return 1;
  }
  std::string where;
  const std::vector<uint16_t> bound = server.ports();
  for (size_t i = 0; i < bound.size(); ++i) {
    if (i == 8 && bound.size() > 10) {
      where += " ... (" + std::to_string(bound.size()) + " ports)";
      break;
    }
    const std::string& l = o.listen[i];
    where += (i ? " " : "") + l.substr(0, l.rfind(':') + 1) + std::to_string(bound[i]);
  }
  std::fprintf(stderr, "iotwall serve-ka: listening on %s\n", where.c_str());
  g_server = &server;
  std::signal(SIGINT, on_serve_ka_signal);
  std::signal(SIGTERM, on_serve_ka_signal);
  const bool ok = server.run(duration_s, &error);
  g_server = nullptr;
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  print_counters(server.counters());
  if (!ok) {
    std::fprintf(stderr, "iotwall serve-ka: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace iotwall::cli
