// Group commit. Concurrent writers hand their change to Run(); one of them
// (the leader, as in leveldb's write queue) runs a batch of waiting changes,
// each in its own nested transaction, and commits them all with one data
// fdatasync; it then hands the queue to the next leader and waits for the
// meta page's sync (Env::Sync) while that one runs. Every caller returns
// only after its change is durable, or with the error that stopped it. A
// change that fails is rolled back alone; the others in the batch still
// commit.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "common/result.h"
#include "storage/env.h"
#include "storage/txn.h"

namespace hearth::storage {

class Committer {
 public:
  explicit Committer(Env& env, size_t max_batch = 256)
      : env_(env), max_batch_(max_batch) {}

  using Change = std::function<Status(WriteTxn&)>;

  // Runs `change` in a write transaction and returns once it is durable.
  // A change that throws is rolled back alone and fails with Internal.
  // `change` may run more than once (when the map grows mid-batch), so it
  // must only touch the transaction or state it overwrites.
  // `queued`, if set, runs once the change has its place in the queue and
  // before it runs: changes queued in order commit in that order, so a
  // caller may hold a lock of its own until then (the group sequencer).
  // REQUIRES: the calling thread holds no transaction.
  Status Run(const Change& change,
             const std::function<void()>& queued = nullptr);

  // Durable commits, and changes that landed in them (metrics, benchmarks).
  std::uint64_t commits() const;
  std::uint64_t changes() const;

 private:
  struct Writer {
    const Change* change;
    Status result;
    bool done = false;
    std::condition_variable cv;
  };

  Env& env_;
  const size_t max_batch_;
  mutable std::mutex mu_;
  // Front is the leader. Shared so the leader can wake writers after it
  // lets go of the lock (woken under it, they would only block on it).
  std::deque<std::shared_ptr<Writer>> queue_;
  std::uint64_t commits_ = 0;
  std::uint64_t changes_ = 0;
};

}  // namespace hearth::storage
