// StoreWriter: the thread that owns the Store. Workers hand it snapshots
// (serialised on their own thread, so the packet path never waits for
// SQLite); writes happen in submission order, so a periodic snapshot taken
// after a decision always includes it. A decision's snapshot comes with a
// future that is ready when the transaction is durable: only then is the
// decision acknowledged to the site manager.
//
// Thread-safety: submit() from any thread. Lifetime: the Store is owned.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store.h"

namespace iotwall {

struct SnapshotJob {
  SnapshotRow snapshot;
  std::vector<EdgeRow> edges;
  std::vector<QuestionRow> questions;
  std::optional<DecisionRow> decision;
};

class StoreWriter {
 public:
  explicit StoreWriter(std::unique_ptr<Store> store);
  ~StoreWriter();  // writes what was submitted, then stops
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Queues a write. The future holds "" when committed, else the error.
  std::future<std::string> submit(SnapshotJob job);

  // Only before the thread has work, or after stop: the store itself (loads at start).
  Store& store() { return *store_; }
  uint64_t written() const;
  int64_t last_saved_ms() const;
  std::string last_error() const;

 private:
  void run();

  std::unique_ptr<Store> store_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<SnapshotJob, std::promise<std::string>>> jobs_;
  bool stopping_ = false;
  uint64_t written_ = 0;
  int64_t last_saved_ms_ = 0;
  std::string last_error_;
  std::thread thread_;  // last: started when everything above exists
};

}  // namespace iotwall
