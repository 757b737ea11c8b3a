// The groups each local member has joined, for sync. Every long-poll
// round trip reads them twice (once on arrival, once on waking), and
// reading them from the store (a cursor over the member's index and a
// membership row per group) was a tenth of a paced sync round trip's CPU.
// Owned by GroupService, the only writer of memberships.
//
// Correctness rests on LMDB's transaction ids. A read's snapshot has the
// id of the last write it sees; a write has the id it will commit with,
// one above. Every write that puts or deletes a membership calls
// NoteWrite(its id) inside the transaction, before it commits. So for a
// reader whose transaction has begun, `last_write_` (loaded after begin)
// is at least the id of every membership write it can see. (LMDB publishes
// a commit and readers find it with plain stores and loads; the fences
// below keep ours on the right side of them on weakly ordered machines.) An
// entry read at snapshot `at` is still true at snapshot `s >= at` when no
// membership write has an id in (at, s]; `last_write_ <= at` proves it (a write
// that aborted, or is not yet visible, only causes a needless reread).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

namespace hearth {

class JoinedCache {
 public:
  using Groups = std::shared_ptr<const std::set<std::string>>;

  explicit JoinedCache(size_t capacity = 16384) : capacity_(capacity) {}

  // Inside a write transaction that changes a membership, before it
  // commits: `write_id` is that transaction's id.
  void NoteWrite(std::uint64_t write_id) {
    std::uint64_t seen = last_write_.load();
    while (seen < write_id &&
           !last_write_.compare_exchange_weak(seen, write_id)) {
    }
    // Before the commit's stores that publish it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

  // `member`'s groups as of `snapshot` (the id of a read transaction that
  // has already begun), or null when they must be read from the store.
  Groups Find(const std::string& member, std::uint64_t snapshot) const {
    // After the loads that began the caller's transaction.
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t last_write = last_write_.load();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(member);
    if (it == entries_.end()) return nullptr;
    const Entry& e = it->second;
    // Read at a later snapshot than ours: it may lack a group we still
    // have (a leave after our snapshot), so it is not ours to use.
    if (e.at > snapshot || last_write > e.at) return nullptr;
    return e.groups;
  }

  // Keeps `groups`, read at `snapshot`, unless a later read is kept.
  void Keep(const std::string& member, std::uint64_t snapshot, Groups groups) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(member);
    if (it != entries_.end()) {
      if (it->second.at <= snapshot) it->second = Entry{snapshot, groups};
      return;
    }
    // Bounded: one entry makes room (an arbitrary one: members that sync
    // come back within their long-poll timeout and are read again).
    if (entries_.size() >= capacity_) entries_.erase(entries_.begin());
    entries_.emplace(member, Entry{snapshot, std::move(groups)});
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    std::uint64_t at = 0;
    Groups groups;
  };
  std::atomic<std::uint64_t> last_write_{0};
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  const size_t capacity_;
};

}  // namespace hearth
