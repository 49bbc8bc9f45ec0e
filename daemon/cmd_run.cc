// iotwall run: the inline firewall daemon (docs/operating.md).
//
//   config -> store (SQLite) -> one worker per NFQUEUE queue (restored from
//   its last snapshot) -> packet rules -> control socket -> READY=1
//
// The main thread only waits for signals (signalfd) and feeds the systemd
// watchdog while every worker shows signs of life. SIGHUP reloads the
// configuration (what can apply live does; the rest is named in the log as
// needing a restart); SIGTERM/SIGINT stop: rules removed, workers write a
// last snapshot, the queues are unbound.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "daemon/command_line.h"
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/control_handler.h"
#include "daemon/control_socket.h"
#include "daemon/log.h"
#include "daemon/packet_rules.h"
#include "daemon/queue_worker.h"
#include "daemon/store.h"
#include "daemon/store_writer.h"

namespace iotwall::cli {
namespace {

WorkerOptions worker_options(const Config& c, uint16_t queue) {
  WorkerOptions o;
  o.queue.queue = queue;
  o.queue.copy_bytes = c.copy_bytes;
  o.queue.max_len = c.queue_length;
  o.queue.fail_open = c.fail_open;
  o.engine = engine_options(c, queue);
  o.snapshot_interval_ms = c.snapshot_interval_ms;
  return o;
}

LogLevel log_level(const Config& c) {
  LogLevel l = LogLevel::kInfo;
  parse_log_level(c.log_level, &l);
  return l;
}

bool same_site(const dpi::SiteMap& a, const dpi::SiteMap& b) {
  if (a.services.size() != b.services.size()) return false;
  for (size_t i = 0; i < a.services.size(); ++i) {
    const dpi::SiteService &x = a.services[i], &y = b.services[i];
    if (x.id != y.id || x.address != y.address || x.type != y.type || x.room != y.room ||
        x.ip != y.ip || x.knowledge_agent != y.knowledge_agent) {
      return false;
    }
  }
  return true;
}

bool load(const std::string& path, Config* c, Log& log) {
  std::vector<std::string> errors;
  if (load_config(path, c, &errors)) return true;
  for (const std::string& e : errors) log.line(LogLevel::kError, "config", "error=" + log_value(e));
  return false;
}

// SIGHUP: a new configuration; what applies live is applied.
void reload(const std::string& path, Config* running, std::vector<std::unique_ptr<QueueWorker>>& workers,
            DaemonInfo* info, Log& log) {
  sd_notify(0, "RELOADING=1");
  Config next;
  if (!load(path, &next, log)) {
    log.line(LogLevel::kError, "reload", "result=refused reason=\"the file has errors; the running configuration stays\"");
    sd_notify(0, "READY=1");
    return;
  }
  std::string restart;
  for (const std::string& k : keys_needing_restart(*running, next)) restart += (restart.empty() ? "" : ",") + k;
  const bool site_changed = !same_site(next.site, running->site);
  for (auto& w : workers) {
    const EngineOptions eo = engine_options(next, w->queue());
    w->call([&](InlineEngine& e) {
      e.reconfigure(eo);
      if (site_changed) e.set_site(next.site);
      return 0;
    });
  }
  log.set_level(log_level(next));
  info->mode = next.mode;
  *running = keep_restart_keys(*running, next);
  std::string fields = "result=applied summary=" + log_value(config_summary(next));
  if (site_changed) fields += " site=reloaded";
  if (!restart.empty()) fields += " needs_restart=" + log_value(restart);
  log.line(restart.empty() ? LogLevel::kInfo : LogLevel::kWarning, "reload", fields);
  sd_notify(0, "READY=1");
}

}  // namespace

int run_run(int argc, char** argv) {
  namespace po = boost::program_options;
  std::string config_path = "/etc/iotwall/iotwall.yaml";
  po::options_description opts("iotwall run [--config FILE]");
  opts.add_options()
      ("help,h", "show this help")
      ("config,c", po::value(&config_path)->default_value(config_path), "the configuration (YAML, docs/configuration.md)");
  po::variables_map vm;
  if (const int rc = parse_command_line("run", argc, argv, opts, &vm); rc >= 0) return rc;

  Log log;
  Config config;
  if (!load(config_path, &config, log)) return 1;
  log.set_level(log_level(config));

  // Signals go to the signalfd only: blocked before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  sigaddset(&signals, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  sigdelset(&signals, SIGPIPE);
  const int sfd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (sfd < 0) {
    log.line(LogLevel::kError, "start", "error=" + log_value(std::string("signalfd: ") + std::strerror(errno)));
    return 1;
  }

  std::string error;
  {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(config.state).parent_path(), ec);
  }
  std::unique_ptr<Store> store = Store::open(config.state, &error);
  if (!store) {
    log.line(LogLevel::kError, "start", "error=" + log_value(error));
    return 1;
  }
  StoreWriter writer(std::move(store));

  std::vector<std::unique_ptr<QueueWorker>> workers;
  for (uint16_t q : config.queues) {
    std::unique_ptr<QueueWorker> w = QueueWorker::start(worker_options(config, q), config.site, writer, log, &error);
    if (!w) {
      log.line(LogLevel::kError, "start", "queue=" + std::to_string(q) + " error=" + log_value(error));
      return 1;
    }
    workers.push_back(std::move(w));
  }

  // Rules last: the queues are bound, so nothing queued waits for nobody.
  DaemonRules rules;
  if (!rules.install(config, log, &error)) {
    log.line(LogLevel::kError, "start", "error=" + log_value(error));
    return 1;
  }

  DaemonInfo info;
  info.config_path = config_path;
  info.state_path = config.state;
  info.backend = rules.backend_name();
  info.version = "0.1.0";
  info.mode = config.mode;
  info.started_ms = wall_us() / 1000;
  ControlHandler handler(workers, writer, info, log);
  std::unique_ptr<ControlServer> control = ControlServer::start(
      config.control_socket, config.control_group,
      [&](const nlohmann::json& r, const Peer& p) { return handler.handle(r, p); }, &error);
  if (!control) {
    log.line(LogLevel::kError, "start", "error=" + log_value(error));
    return 1;
  }

  log.line(LogLevel::kInfo, "started",
           "summary=" + log_value(config_summary(config)) + " backend=" + rules.backend_name() +
               " control=" + log_value(config.control_socket) + " state=" + log_value(config.state));
  sd_notify(0, "READY=1");
  uint64_t watchdog_us = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0;

  int rc = 0;
  for (;;) {
    pollfd p{sfd, POLLIN, 0};
    const int timeout = watchdog ? static_cast<int>(watchdog_us / 2000) : 1000;
    const int n = poll(&p, 1, timeout);
    if (n < 0 && errno != EINTR) {
      rc = 1;
      break;
    }
    bool dead = false;
    for (auto& w : workers) dead = dead || w->dead();
    if (dead) {  // a worker is gone: its queue has no reader; let systemd restart us
      log.line(LogLevel::kError, "stopping", "reason=\"a queue worker failed\"");
      rc = 1;
      break;
    }
    if (watchdog) {
      // Alive only if every worker went round its loop recently.
      bool alive = true;
      for (auto& w : workers) alive = alive && steady_ms() - w->heartbeat_ms() < 5000;
      if (alive) sd_notify(0, "WATCHDOG=1");
    }
    if (n <= 0) continue;
    signalfd_siginfo si{};
    if (read(sfd, &si, sizeof si) != sizeof si) continue;
    if (si.ssi_signo == SIGHUP) {
      reload(config_path, &config, workers, &info, log);
      continue;
    }
    log.line(LogLevel::kInfo, "stopping", std::string("signal=") + strsignal(static_cast<int>(si.ssi_signo)));
    break;
  }
  sd_notify(0, "STOPPING=1");
  control.reset();
  if (!rules.remove(log, &error)) {
    log.line(LogLevel::kError, "stop", "error=" + log_value(error));
    rc = 1;
  }
  workers.clear();  // last snapshots, held packets' fail verdicts, queues unbound
  close(sfd);
  log.line(LogLevel::kInfo, "stopped", "snapshots_written=" + std::to_string(writer.written()));
  return rc;
}

}  // namespace iotwall::cli
