// QueueWorker: one NFQUEUE queue, its thread, and the InlineEngine that
// decides its packets (ARCHITECTURE.md, "Threads": one packet thread per
// queue, no locks on the packet path).
//
// The thread polls the queue's socket and a wake-up eventfd: packets are
// received in batches, decided, and their verdicts sent batched; between
// batches it runs the tasks other threads posted (control commands: a
// decision takes effect on the next packet), passes time to the engine, and
// every snapshot interval hands a snapshot of its state to the StoreWriter.
//
// Thread-safety: call() and counters from any thread; the engine only on
// the worker's thread (inside call()).
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/inline_engine.h"
#include "daemon/log.h"
#include "daemon/store_writer.h"
#include "firewall/nfqueue.h"

namespace iotwall {

struct WorkerOptions {
  firewall::NfQueueOptions queue;
  EngineOptions engine;
  int64_t snapshot_interval_ms = 60'000;
};

class QueueWorker {
 public:
  // Binds the queue, restores the worker's newest valid snapshot from the
  // store (logging one that fails validation), starts the thread. Returns
  // null and sets *error when the queue cannot be bound.
  static std::unique_ptr<QueueWorker> start(const WorkerOptions& o, const dpi::SiteMap& site,
                                            StoreWriter& store, Log& log, std::string* error);
  // Stops the thread (within one poll round), writes a last snapshot, and
  // gives every held packet its fail verdict before the queue is closed.
  ~QueueWorker();
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  // Runs fn(engine) on the worker thread between two packets and returns
  // its result (blocks the caller, not the packets).
  template <class F>
  auto call(F fn) -> decltype(fn(std::declval<InlineEngine&>())) {
    using R = decltype(fn(std::declval<InlineEngine&>()));
    auto task = std::make_shared<std::packaged_task<R()>>([this, fn]() mutable { return fn(*engine_); });
    std::future<R> f = task->get_future();
    post([task] { (*task)(); });
    return f.get();
  }
  // The worker's state as a store job (call on the worker thread, inside call()).
  SnapshotJob snapshot_job(int64_t now_ms) const;

  uint16_t queue() const { return opt_.queue.queue; }
  const firewall::NfQueueCounters& queue_counters() const { return nfq_->counters(); }
  const EngineCounters& engine_counters() const { return engine_->counters(); }
  uint64_t undecided() const { return nfq_->undecided.get(); }
  // Last loop iteration (steady clock, ms): the watchdog's proof of life.
  int64_t heartbeat_ms() const { return heartbeat_ms_.load(std::memory_order_relaxed); }
  // The thread ended on a fatal error (the daemon must exit: systemd
  // restarts it). Tasks posted since then run on the caller's thread.
  bool dead() const { return dead_.load(std::memory_order_relaxed); }

 private:
  QueueWorker(const WorkerOptions& o, Log& log, StoreWriter& store);
  void post(std::function<void()> task);
  void run();
  void run_tasks();

  WorkerOptions opt_;
  Log& log_;
  StoreWriter& store_;
  std::unique_ptr<firewall::NfQueue> nfq_;
  std::unique_ptr<InlineEngine> engine_;  // after nfq_: its held tickets go first
  int wake_fd_ = -1;
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;
  bool finished_ = false;  // under mu_: the thread takes no more tasks
  std::atomic<bool> dead_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> heartbeat_ms_{0};
  std::thread thread_;
};

// Wall clock and steady clock helpers (us / ms).
int64_t wall_us();
int64_t steady_ms();

}  // namespace iotwall
