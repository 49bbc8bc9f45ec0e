#include "daemon/store_writer.h"

namespace iotwall {

StoreWriter::StoreWriter(std::unique_ptr<Store> store)
    : store_(std::move(store)), thread_([this] { run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::future<std::string> StoreWriter::submit(SnapshotJob job) {
  std::promise<std::string> p;
  std::future<std::string> f = p.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      p.set_value("the store is closing");
      return f;
    }
    jobs_.emplace_back(std::move(job), std::move(p));
  }
  cv_.notify_one();
  return f;
}

void StoreWriter::run() {
  for (;;) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and everything written
    auto [job, done] = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    std::string error;
    const bool ok = store_->save(job.snapshot, job.edges, job.questions,
                                 job.decision ? &*job.decision : nullptr, &error);
    lock.lock();
    if (ok) {
      ++written_;
      last_saved_ms_ = job.snapshot.saved_ms;
    } else {
      last_error_ = error;
    }
    lock.unlock();
    done.set_value(ok ? std::string() : error);
  }
}

uint64_t StoreWriter::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

int64_t StoreWriter::last_saved_ms() const {
  std::lock_guard lock(mu_);
  return last_saved_ms_;
}

std::string StoreWriter::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace iotwall
