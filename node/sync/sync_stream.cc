#include "node/sync/sync_stream.h"

#include <algorithm>

#include "common/encoding.h"

namespace hearth {

Result<SyncStream> SyncStream::Open(storage::Env& env) {
  HEARTH_ASSIGN_OR_RETURN(auto items,
                          storage::Table<SyncItem>::Open(env, "pos_syncitem"));
  return SyncStream(items);
}

Result<std::uint64_t> SyncStream::Head(const storage::Txn& txn) const {
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, items_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool any, c.Last());
  return any ? DecodeU64BE(c.key()).value_or(0) : 0;
}

Result<std::uint64_t> SyncStream::Append(storage::WriteTxn& txn,
                                         const SyncItem& item) const {
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t head, Head(txn));
  std::uint64_t pos = head + 1;
  HEARTH_RETURN_IF_ERROR(items_.Insert(txn, EncodeU64BE(pos), item));
  return pos;
}

Result<SyncPage> SyncStream::Read(const storage::Txn& txn,
                                  const std::string& member,
                                  const std::set<std::string>& groups,
                                  std::uint64_t since, size_t limit,
                                  size_t max_scan) const {
  SyncPage page;
  page.next = since;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, items_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(EncodeU64BE(since + 1)));
  size_t scanned = 0;
  while (more && page.events.size() < limit) {
    if (scanned == max_scan) {
      page.more = true;
      break;
    }
    ++scanned;
    page.next = DecodeU64BE(c.key()).value_or(page.next);
    HEARTH_ASSIGN_OR_RETURN(auto item, storage::Decode<SyncItem>(c.value()));
    bool mine = item.members.empty()
                    ? groups.count(item.group) > 0
                    : std::find(item.members.begin(), item.members.end(),
                                member) != item.members.end();
    if (mine) page.events.push_back(std::move(item.json));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  if (page.events.size() == limit && more) page.more = true;
  return page;
}

Result<size_t> SyncStream::Prune(storage::WriteTxn& txn, std::int64_t cutoff_ts,
                                 size_t max_items) const {
  std::vector<std::string> old;
  {
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, items_.dbi()));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    // The newest item always stays: positions continue from it, so a
    // cursor a client holds is never reused.
    HEARTH_ASSIGN_OR_RETURN(std::uint64_t head, Head(txn));
    while (more && old.size() < max_items &&
           DecodeU64BE(c.key()).value_or(0) < head) {
      HEARTH_ASSIGN_OR_RETURN(auto item, storage::Decode<SyncItem>(c.value()));
      if (item.ts >= cutoff_ts) break;
      old.emplace_back(c.key());
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  for (const auto& k : old) {
    HEARTH_ASSIGN_OR_RETURN(bool gone, items_.Delete(txn, k));
    (void)gone;
  }
  return old.size();
}

SyncHub::Waiter::Waiter(SyncHub& hub, std::string member)
    : hub_(hub), member_(std::move(member)) {}

SyncHub::Waiter::~Waiter() {
  std::lock_guard<std::mutex> lock(hub_.mu_);
  auto it = hub_.slots_.find(member_);
  if (it != hub_.slots_.end() && --it->second.waiters == 0)
    hub_.slots_.erase(it);
  --hub_.waiting_;
}

bool SyncHub::Waiter::Wait(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(hub_.mu_);
  Slot& slot = hub_.slots_[member_];  // exists while this waiter does
  bool woke = slot.cv.wait_until(lock, deadline, [&] {
    return hub_.stopped_ || slot.generation != seen_;
  });
  seen_ = slot.generation;
  return woke && !hub_.stopped_;
}

std::unique_ptr<SyncHub::Waiter> SyncHub::Register(const std::string& member) {
  std::unique_ptr<Waiter> w(new Waiter(*this, member));
  std::lock_guard<std::mutex> lock(mu_);
  Slot& slot = slots_[member];
  ++slot.waiters;
  ++waiting_;
  w->seen_ = slot.generation;
  return w;
}

void SyncHub::Notify(const std::vector<std::string>& members) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& m : members) {
    auto it = slots_.find(m);
    if (it == slots_.end()) continue;
    ++it->second.generation;
    it->second.cv.notify_all();
  }
}

void SyncHub::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  for (auto& [m, slot] : slots_) slot.cv.notify_all();
}

size_t SyncHub::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

}  // namespace hearth
