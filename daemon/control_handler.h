// The daemon's answers to the control CLI (docs/control.md): pending
// questions, approve/deny, status, graph, built from the workers' state.
// A decision is applied on its worker's thread (it takes effect on the next
// packet) and acknowledged only once the store has committed it.
//
// Thread-safety: handle() runs on the control server's thread and reaches
// the workers only through QueueWorker::call().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/config.h"
#include "daemon/control_socket.h"
#include "daemon/queue_worker.h"
#include "daemon/store_writer.h"

namespace iotwall {

struct DaemonInfo {
  std::string config_path, state_path, backend, version;
  std::atomic<Mode> mode{Mode::kEnforce};  // set by a reload on the main thread
  int64_t started_ms = 0;
};

class ControlHandler {
 public:
  ControlHandler(std::vector<std::unique_ptr<QueueWorker>>& workers, StoreWriter& store,
                 const DaemonInfo& info, Log& log)
      : workers_(workers), store_(store), info_(info), log_(log) {}
  nlohmann::json handle(const nlohmann::json& request, const Peer& peer);

 private:
  nlohmann::json pending();
  nlohmann::json answer(const nlohmann::json& request, bool approve, const Peer& peer);
  nlohmann::json status();
  nlohmann::json graph();
  // "3" (one queue) or "2:3" (queue 2): the worker and the question.
  bool parse_id(const std::string& id, QueueWorker** w, uint32_t* question, std::string* error);
  std::string id_of(const QueueWorker& w, uint32_t question) const;

  std::vector<std::unique_ptr<QueueWorker>>& workers_;
  StoreWriter& store_;
  const DaemonInfo& info_;
  Log& log_;
};

// "uid 0 (root)": who decided, for the decision log.
std::string actor_of(const Peer& p);

}  // namespace iotwall
