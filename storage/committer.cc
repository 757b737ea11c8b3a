#include "storage/committer.h"

#include <vector>

namespace hearth::storage {

namespace {

Status RunChange(const Committer::Change& change, WriteTxn& txn) {
  try {
    return change(txn);
  } catch (const std::exception& e) {
    // A change must not take the batch (or the queue) down with it.
    return Error::Internal(std::string("change threw: ") + e.what());
  }
}

}  // namespace

Status Committer::Run(const Change& change,
                      const std::function<void()>& queued) {
  auto self = std::make_shared<Writer>();
  self->change = &change;
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(self);
  if (queued) queued();
  self->cv.wait(lock, [&] { return self->done || queue_.front() == self; });
  if (self->done) return self->result;

  // This thread leads: take a batch and commit it outside the lock, so more
  // writers can queue up for the next batch meanwhile.
  size_t n = std::min(queue_.size(), max_batch_);
  std::vector<std::shared_ptr<Writer>> batch(queue_.begin(),
                                             queue_.begin() + n);
  lock.unlock();

  // First every change straight in one transaction: the common case, all
  // succeed, pays for no nested transaction (LMDB allocates ~2.5 MiB of
  // page lists for each). If one fails, that run is thrown away and the
  // batch runs again with each change in its own nested transaction, so
  // the failed one is rolled back alone.
  bool failed = false;
  Result<std::uint64_t> commit =
      env_.UpdateUnsynced([&](WriteTxn& txn) -> Status {
        for (const auto& w : batch) {
          w->result = RunChange(*w->change, txn);
          if (!w->result) {
            if (IsMapFull(w->result.error())) return w->result.error();
            failed = true;
            return Error::Internal("batch rerun");  // aborts this run
          }
        }
        return Ok();
      });
  if (failed) {
    commit = env_.UpdateUnsynced([&](WriteTxn& txn) -> Status {
      for (const auto& w : batch) {
        HEARTH_ASSIGN_OR_RETURN(WriteTxn child, txn.BeginNested());
        w->result = RunChange(*w->change, child);
        if (w->result) {
          HEARTH_RETURN_IF_ERROR(child.Commit());
        } else if (IsMapFull(w->result.error())) {
          return w->result.error();  // grow and run the whole batch again
        }
        // Otherwise `child` aborts here and takes only this change with it.
      }
      return Ok();
    });
  }

  // Visible, not yet durable. The next leader may begin its transaction
  // while this one waits for the fdatasync: the two overlap, and one sync
  // may serve both batches.
  lock.lock();
  for (size_t i = 0; i < n; ++i) queue_.pop_front();
  std::shared_ptr<Writer> next = queue_.empty() ? nullptr : queue_.front();
  lock.unlock();
  if (next) next->cv.notify_one();

  Status durable = commit ? env_.Sync(*commit) : Status(commit.error());

  lock.lock();
  if (durable) ++commits_;
  for (const auto& w : batch) {
    if (!durable) w->result = durable;
    if (w->result) ++changes_;
    w->done = true;
  }
  lock.unlock();
  for (const auto& w : batch)
    if (w != self) w->cv.notify_one();
  return self->result;
}

std::uint64_t Committer::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commits_;
}

std::uint64_t Committer::changes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_;
}

}  // namespace hearth::storage
