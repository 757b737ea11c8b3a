// What members' sync long-polls read: one ordered stream of items for the
// whole node, written in the same transaction as the change it reports,
// and a hub that wakes exactly the members an item concerns.
//
// Table `pos_syncitem`: position (u64 BE, from 1) -> SyncItem. An item is
// for the joined members of `group` (when `members` is empty) or for the
// listed local members. Its JSON is what the member receives. The
// position is the sync cursor (spec/api.md, Sync).
//
// Table `audience_syncpos`: "g" 0x00 group id 0x00 position, or
// "m" 0x00 member id 0x00 position -> "". A read seeks these for the
// member and each of its groups, so its cost follows the items meant for
// the member, not everything the node wrote since the cursor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/env.h"
#include "storage/table.h"
#include "storage/txn.h"

namespace hearth {

struct SyncItem {
  std::string group;                 // for every joined member of the group
  std::vector<std::string> members;  // or for these members only
  std::string json;                  // the event the member gets
  std::int64_t ts = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(group, members, json, ts);
  }
};

struct SyncPage {
  std::vector<std::string> events;  // JSON texts, oldest first
  std::uint64_t next = 0;           // the cursor after them
};

class SyncStream {
 public:
  static Result<SyncStream> Open(storage::Env& env);

  // Appends an item in the change's transaction; returns its position.
  Result<std::uint64_t> Append(storage::WriteTxn& txn,
                               const SyncItem& item) const;

  // Items after `since` for `member`, who is joined to `groups`, oldest
  // first, at most `limit`; `next` is where to go on (the stream's head
  // when everything was returned).
  Result<SyncPage> Read(const storage::Txn& txn, const std::string& member,
                        const std::set<std::string>& groups,
                        std::uint64_t since, size_t limit) const;

  // The position of the last item (0 when empty).
  Result<std::uint64_t> Head(const storage::Txn& txn) const;

  // Deletes items older than `cutoff_ts`; returns how many.
  Result<size_t> Prune(storage::WriteTxn& txn, std::int64_t cutoff_ts,
                       size_t max_items) const;

 private:
  SyncStream(storage::Table<SyncItem> items, storage::Dbi audience)
      : items_(items), audience_(audience) {}
  // The index keys of an item at `pos`.
  static std::vector<std::string> AudienceKeys(const SyncItem& item,
                                               std::uint64_t pos);
  storage::Table<SyncItem> items_;
  storage::Dbi audience_;
};

// Wakes members waiting in sync. A waiter registers before it reads the
// stream, so a notification between its read and its wait is not lost.
class SyncHub {
 public:
  class Waiter {
   public:
    struct Slot {
      std::uint64_t generation = 0;  // guarded by the hub's mutex
      int waiters = 0;               // likewise
      // The wake-ups set by Listen, by waiter; likewise guarded.
      std::map<const Waiter*, std::function<void()>> listeners;
    };

    ~Waiter();
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    // Calls `wake` once, on the notifying thread, at the first
    // notification after registration (or since the last Listen), or at
    // once if there was one already or the hub stopped. The caller waits
    // as it likes (node/api/sync_api.cc: parked, or on its thread). Replaces a
    // listener set before. Destroying the waiter drops it; a `wake` under way
    // may still run, so it must not reach the waiter itself.
    void Listen(std::function<void()> wake);
    // Whether the hub stopped (a resumed waiter then answers at once).
    bool stopped() const;

   private:
    friend class SyncHub;
    Waiter(SyncHub& hub, std::string member, std::shared_ptr<Slot> slot);
    SyncHub& hub_;
    std::string member_;
    std::shared_ptr<Slot> slot_;
    std::uint64_t seen_ = 0;
  };

  std::unique_ptr<Waiter> Register(const std::string& member);
  void Notify(const std::vector<std::string>& members);
  // Wakes every waiter for good (shutdown).
  void Stop();

  size_t waiting() const;

 private:
  // One per member with a waiter (so a post wakes its members' waiters
  // and no others); each waiter holds its own. Notify and Stop take the
  // wake-ups out under the lock and call them after letting go of it.
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Waiter::Slot>> slots_;
  size_t waiting_ = 0;
  bool stopped_ = false;
};

}  // namespace hearth

CEREAL_CLASS_VERSION(hearth::SyncItem, 1);
