// Sessions that authenticated recently, so that a request (every post,
// every long-poll round trip) does not hash-look-up its token in the store
// and decode two records. Owned by AccountService, the only writer of the
// session and account tables.
//
// Correctness rests on one rule: every write that can end a session or
// change whether its account may act (logout, and any future suspension,
// deletion or revocation) calls Invalidate() after it commits and before
// it answers. Invalidate drops every entry; a fill that read the store
// before it (its generation is older) is not kept. Expiry is checked on
// every hit.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace hearth {

class SessionCache {
 public:
  struct Session {
    std::string handle;
    std::string member_id;
    std::int64_t expires_ts = 0;
  };

  explicit SessionCache(size_t capacity = 16384) : capacity_(capacity) {}

  // Read before reading the store, and pass to Put.
  std::uint64_t generation() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return generation_;
  }

  // The session of `token_hash` if cached and not expired at `now_ms`.
  std::optional<Session> Get(const std::string& token_hash,
                             std::int64_t now_ms) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = entries_.find(token_hash);
    if (it == entries_.end() || it->second.expires_ts <= now_ms)
      return std::nullopt;
    return it->second;
  }

  // Keeps `session` unless Invalidate ran since `generation` was read.
  void Put(const std::string& token_hash, Session session,
           std::uint64_t generation) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (generation != generation_) return;
    if (entries_.size() >= capacity_) entries_.clear();  // crude, bounded
    entries_[token_hash] = std::move(session);
  }

  void Invalidate() {
    std::unique_lock<std::shared_mutex> lock(mu_);
    ++generation_;
    entries_.clear();
  }

  size_t size() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return entries_.size();
  }

 private:
  mutable std::shared_mutex mu_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, Session> entries_;
  const size_t capacity_;
};

}  // namespace hearth
