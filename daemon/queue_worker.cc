#include "daemon/queue_worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "model/graph_file.h"

namespace iotwall {

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

QueueWorker::QueueWorker(const WorkerOptions& o, Log& log, StoreWriter& store)
    : opt_(o), log_(log), store_(store) {}

std::unique_ptr<QueueWorker> QueueWorker::start(const WorkerOptions& o, const dpi::SiteMap& site,
                                                StoreWriter& store, Log& log, std::string* error) {
  std::unique_ptr<QueueWorker> w(new QueueWorker(o, log, store));
  w->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->wake_fd_ < 0) {
    *error = std::string("eventfd: ") + std::strerror(errno);
    return nullptr;
  }
  w->engine_ = std::make_unique<InlineEngine>(o.engine, site, log);

  // The newest snapshot that passes validation.
  const int worker = o.queue.queue;
  std::vector<SnapshotRow> rows;
  std::string err;
  if (!store.store().load(worker, &rows, &err)) {
    *error = err;
    return nullptr;
  }
  // A saved state loads whole, past the bounds on names if it must (one
  // saved by a version without them): losing it would be worse. New names
  // are bounded again after it.
  Interner& names = w->engine_->interner();
  names.set_limits(0, 0);
  for (const SnapshotRow& r : rows) {
    CommGraph g(o.engine.detector.graph);
    absl::flat_hash_map<uint32_t, TypeModel> models;
    if (load_state(r.state, w->engine_->interner(), &g, &models, &err)) {
      w->engine_->detector().restore(std::move(g), std::move(models));
      log.line(LogLevel::kInfo, "state_restored",
               "queue=" + std::to_string(worker) + " generation=" + std::to_string(r.generation) +
                   " saved_ms=" + std::to_string(r.saved_ms) +
                   " edges=" + std::to_string(w->engine_->detector().graph().edges().size()) +
                   " decisions=" + std::to_string(w->engine_->detector().graph().decisions().size()));
      break;
    }
    log.line(LogLevel::kError, "state_invalid",
             "queue=" + std::to_string(worker) + " generation=" + std::to_string(r.generation) +
                 " error=" + log_value(err));
  }
  names.set_limits(o.engine.max_names, o.engine.max_name_bytes);

  w->nfq_ = firewall::NfQueue::open(o.queue, error);
  if (!w->nfq_) return nullptr;
  w->heartbeat_ms_ = steady_ms();
  w->thread_ = std::thread([p = w.get()] { p->run(); });
  return w;
}

QueueWorker::~QueueWorker() {
  if (thread_.joinable()) {
    stop_ = true;
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  engine_.reset();  // held tickets: their fail verdict
  if (nfq_) {
    std::string error;
    if (!nfq_->flush(&error)) log_.line(LogLevel::kError, "verdict_flush", "error=" + log_value(error));
  }
  nfq_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void QueueWorker::post(std::function<void()> task) {
  {
    std::unique_lock lock(mu_);
    if (finished_) {  // nobody would run it: run it here (the thread is gone)
      lock.unlock();
      task();
      return;
    }
    tasks_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
}

void QueueWorker::run_tasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

SnapshotJob QueueWorker::snapshot_job(int64_t now_ms) const {
  const int worker = opt_.queue.queue;
  const Detector& d = engine_->detector();
  SnapshotJob j;
  j.snapshot.worker = worker;
  j.snapshot.saved_ms = now_ms;
  j.snapshot.state = save_state(d.graph(), d.models(), engine_->interner());
  j.edges = edge_rows(worker, d.graph(), engine_->interner());
  j.questions = question_rows(worker, d.graph(), engine_->interner());
  return j;
}

void QueueWorker::run() {
  std::vector<firewall::QueuedPacket> batch;
  batch.reserve(opt_.queue.max_batch);
  std::string error;
  int64_t next_snapshot = steady_ms() + opt_.snapshot_interval_ms;
  uint64_t errors_logged = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    const int64_t wait = std::clamp<int64_t>(engine_->next_deadline_ms() - steady_ms(), 0, 500);
    pollfd fds[2] = {{nfq_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = poll(fds, 2, static_cast<int>(wait));
    heartbeat_ms_.store(steady_ms(), std::memory_order_relaxed);
    if (n < 0 && errno != EINTR) {
      log_.line(LogLevel::kError, "poll", "queue=" + std::to_string(opt_.queue.queue) +
                                              " error=" + log_value(std::strerror(errno)));
      dead_ = true;
      break;
    }
    if (n > 0 && (fds[1].revents & POLLIN) != 0) {
      uint64_t v;
      [[maybe_unused]] const ssize_t r = read(wake_fd_, &v, sizeof v);
      run_tasks();
    }
    if (n > 0 && (fds[0].revents & (POLLIN | POLLERR)) != 0) {
      // Several batches while packets keep coming, then the rest of the loop.
      for (int round = 0; round < 8; ++round) {
        if (!nfq_->receive(&batch, &error)) {
          if (errors_logged++ < 100) log_.line(LogLevel::kError, "receive", "error=" + log_value(error));
          break;
        }
        if (batch.empty()) break;
        const int64_t now = wall_us(), steady = steady_ms();
        for (firewall::QueuedPacket& p : batch) {
          const auto* bytes = reinterpret_cast<const uint8_t*>(p.payload.data());
          engine_->packet(std::move(p.ticket), std::span<const uint8_t>(bytes, p.payload.size()), now, steady,
                          batch.size() == 1);
        }
        if (!nfq_->flush(&error) && errors_logged++ < 100) {
          log_.line(LogLevel::kError, "verdict_flush", "error=" + log_value(error));
        }
        if (batch.size() < opt_.queue.max_batch) break;
      }
    }
    engine_->tick(wall_us(), steady_ms());
    if (!nfq_->flush(&error) && errors_logged++ < 100) {
      log_.line(LogLevel::kError, "verdict_flush", "error=" + log_value(error));
    }
    if (steady_ms() >= next_snapshot) {
      next_snapshot = steady_ms() + opt_.snapshot_interval_ms;
      store_.submit(snapshot_job(wall_us() / 1000));  // not waited for
    }
  }
  {
    std::lock_guard lock(mu_);
    finished_ = true;  // later tasks run on their caller's thread
  }
  run_tasks();  // nobody waits forever on a task posted before
  // The last state, written before the process exits.
  std::future<std::string> last = store_.submit(snapshot_job(wall_us() / 1000));
  const std::string err = last.get();
  if (!err.empty()) log_.line(LogLevel::kError, "snapshot", "error=" + log_value(err));
}

}  // namespace iotwall
