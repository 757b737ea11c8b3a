#include "node/sync/sync_stream.h"

#include <algorithm>

#include "common/encoding.h"

namespace hearth {

namespace {

std::string GroupPrefix(const std::string& gid) {
  return std::string("g\0", 2) + gid + std::string(1, '\0');
}
std::string MemberPrefix(const std::string& member) {
  return std::string("m\0", 2) + member + std::string(1, '\0');
}

}  // namespace

Result<SyncStream> SyncStream::Open(storage::Env& env) {
  HEARTH_ASSIGN_OR_RETURN(auto items,
                          storage::Table<SyncItem>::Open(env, "pos_syncitem"));
  HEARTH_ASSIGN_OR_RETURN(auto audience, env.OpenTable("audience_syncpos"));
  return SyncStream(items, audience);
}

std::vector<std::string> SyncStream::AudienceKeys(const SyncItem& item,
                                                  std::uint64_t pos) {
  std::vector<std::string> keys;
  if (item.members.empty()) {
    keys.push_back(GroupPrefix(item.group) + EncodeU64BE(pos));
  } else {
    for (const auto& m : item.members)
      keys.push_back(MemberPrefix(m) + EncodeU64BE(pos));
  }
  return keys;
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
  for (const auto& key : AudienceKeys(item, pos))
    HEARTH_RETURN_IF_ERROR(txn.Put(audience_, key, ""));
  return pos;
}

Result<SyncPage> SyncStream::Read(const storage::Txn& txn,
                                  const std::string& member,
                                  const std::set<std::string>& groups,
                                  std::uint64_t since, size_t limit) const {
  // The first `limit` positions after `since` from each source; the
  // first `limit` of their union are the page.
  std::vector<std::string> prefixes{MemberPrefix(member)};
  for (const auto& g : groups) prefixes.push_back(GroupPrefix(g));
  std::vector<std::uint64_t> positions;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, audience_));
  for (const auto& prefix : prefixes) {
    HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix + EncodeU64BE(since + 1)));
    size_t n = 0;
    while (more && n < limit && c.key().size() == prefix.size() + 8 &&
           c.key().substr(0, prefix.size()) == prefix) {
      positions.push_back(
          DecodeU64BE(c.key().substr(prefix.size())).value_or(0));
      ++n;
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()),
                  positions.end());
  SyncPage page;
  if (positions.size() > limit) positions.resize(limit);
  for (std::uint64_t pos : positions) {
    HEARTH_ASSIGN_OR_RETURN(auto item, items_.Get(txn, EncodeU64BE(pos)));
    if (item) page.events.push_back(std::move(item->json));
  }
  if (positions.size() == limit) {
    page.next = positions.back();
  } else {
    // Everything for the member up to the head was returned.
    HEARTH_ASSIGN_OR_RETURN(std::uint64_t head, Head(txn));
    page.next = std::max(since, head);
  }
  return page;
}

Result<size_t> SyncStream::Prune(storage::WriteTxn& txn, std::int64_t cutoff_ts,
                                 size_t max_items) const {
  std::vector<std::pair<std::string, std::vector<std::string>>> old;
  {
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, items_.dbi()));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    // The newest item always stays: positions continue from it, so a
    // cursor a client holds is never reused.
    HEARTH_ASSIGN_OR_RETURN(std::uint64_t head, Head(txn));
    while (more && old.size() < max_items) {
      std::uint64_t pos = DecodeU64BE(c.key()).value_or(0);
      if (pos >= head) break;
      HEARTH_ASSIGN_OR_RETURN(auto item, storage::Decode<SyncItem>(c.value()));
      if (item.ts >= cutoff_ts) break;
      old.emplace_back(std::string(c.key()), AudienceKeys(item, pos));
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  for (const auto& [key, audience] : old) {
    HEARTH_ASSIGN_OR_RETURN(bool gone, items_.Delete(txn, key));
    (void)gone;
    for (const auto& a : audience) {
      HEARTH_ASSIGN_OR_RETURN(bool g, txn.Delete(audience_, a));
      (void)g;
    }
  }
  return old.size();
}

SyncHub::Waiter::Waiter(SyncHub& hub, std::string member,
                        std::shared_ptr<Slot> slot)
    : hub_(hub), member_(std::move(member)), slot_(std::move(slot)) {}

SyncHub::Waiter::~Waiter() {
  std::lock_guard<std::mutex> lock(hub_.mu_);
  slot_->listeners.erase(this);
  if (--slot_->waiters == 0) hub_.slots_.erase(member_);
  --hub_.waiting_;
}

void SyncHub::Waiter::Listen(std::function<void()> wake) {
  {
    std::lock_guard<std::mutex> lock(hub_.mu_);
    Slot& slot = *slot_;
    bool now = hub_.stopped_ || slot.generation != seen_;
    seen_ = slot.generation;
    if (!now) {
      slot.listeners[this] = std::move(wake);
      return;
    }
    slot.listeners.erase(this);
  }
  wake();
}

bool SyncHub::Waiter::stopped() const {
  std::lock_guard<std::mutex> lock(hub_.mu_);
  return hub_.stopped_;
}

std::unique_ptr<SyncHub::Waiter> SyncHub::Register(const std::string& member) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = slots_[member];
  if (!slot) slot = std::make_shared<Waiter::Slot>();
  ++slot->waiters;
  ++waiting_;
  std::unique_ptr<Waiter> w(new Waiter(*this, member, slot));
  w->seen_ = slot->generation;
  return w;
}

void SyncHub::Notify(const std::vector<std::string>& members) {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& m : members) {
      auto it = slots_.find(m);
      if (it == slots_.end()) continue;
      ++it->second->generation;
      for (auto& [w, wake] : it->second->listeners)
        wakes.push_back(std::move(wake));
      it->second->listeners.clear();
    }
  }
  // A waiter checks the generation under the lock when it listens, so a
  // notification sent before it does is not lost.
  for (const auto& wake : wakes) wake();
}

void SyncHub::Stop() {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    for (auto& [m, slot] : slots_) {
      for (auto& [w, wake] : slot->listeners) wakes.push_back(std::move(wake));
      slot->listeners.clear();
    }
  }
  for (const auto& wake : wakes) wake();
}

size_t SyncHub::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

}  // namespace hearth
