// The directory service's exchange thread: publishing our changes with a
// notice to each peer, and pulling peers' documents (spec/directory.md §3).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/directory/directory_service.h"

namespace hearth {

using nlohmann::json;

Status DirectoryService::Start() {
  HEARTH_RETURN_IF_ERROR(
      d_.committer.Run([&](storage::WriteTxn& txn) -> Status {
        HEARTH_ASSIGN_OR_RETURN(bool rebuilt, index_.RebuildIfStale(txn));
        if (rebuilt) spdlog::info("directory: search index built");
        return Ok();
      }));
  HEARTH_ASSIGN_OR_RETURN(bool changed, Publish());
  (void)changed;
  std::lock_guard<std::mutex> lock(mu_);
  if (!stop_) return Ok();
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
  return Ok();
}

void DirectoryService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool DirectoryService::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

std::vector<std::string> DirectoryService::Peers() const {
  std::vector<std::string> out;
  auto peers = d_.trust.List();
  if (!peers) {
    spdlog::warn("directory: {}", peers.error().message);
    return out;
  }
  for (const auto& p : *peers) {
    if (p.record.state == federation::PeerState::kTrusted ||
        p.record.state == federation::PeerState::kLimited)
      out.push_back(p.record.server_name);
  }
  return out;
}

void DirectoryService::PublishIfDue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!dirty_ ||
        d_.clock.NowMs() - dirty_since_ < d_.options.publish_delay_ms)
      return;
    dirty_ = false;
  }
  auto changed = Publish();
  if (!changed) {
    spdlog::warn("directory: publishing failed: {}", changed.error().message);
    ListingChanged();  // try again
    return;
  }
  if (!*changed) return;
  std::uint64_t version;
  {
    std::lock_guard<std::mutex> doc_lock(doc_mu_);
    version = version_;
  }
  SendNotices(version);
}

bool DirectoryService::PullDue(const std::string& peer, bool woken,
                               std::int64_t now) {
  auto next = next_pull_.find(peer);
  if (next == next_pull_.end()) {
    // Never pulled since start, or its groups were purged (blocked or
    // removed, then trusted again): now.
    return true;
  }
  if (now >= next->second) return true;
  if (!woken) return false;
  // A notice pulls at once, but not more often than kNoticeSpacingMs.
  auto last = last_pull_.find(peer);
  if (last == last_pull_.end() || now - last->second >= kNoticeSpacingMs)
    return true;
  next->second = std::min(next->second, last->second + kNoticeSpacingMs);
  return false;
}

void DirectoryService::Loop() {
  // New peers are noticed within a tick; a notice or a change wakes us.
  const std::int64_t tick_ms =
      std::min<std::int64_t>(1000, d_.options.pull_interval_ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    std::set<std::string> woken = std::move(wake_);
    wake_.clear();
    lock.unlock();

    PublishIfDue();
    std::vector<std::string> peers = Peers();
    std::set<std::string> sourced;
    if (auto sources = Sources()) {
      for (const auto& [host, source] : *sources) sourced.insert(host);
    }
    // Forget the schedule of peers that are no longer trusted or limited,
    // or whose groups were purged: they are pulled at once when due again.
    for (auto it = next_pull_.begin(); it != next_pull_.end();) {
      bool keep =
          std::find(peers.begin(), peers.end(), it->first) != peers.end() &&
          sourced.count(it->first);
      it = keep ? std::next(it) : next_pull_.erase(it);
    }
    for (const std::string& peer : peers) {
      if (Stopping()) break;
      std::int64_t now = d_.clock.NowMs();
      if (!PullDue(peer, woken.count(peer) > 0, now)) continue;
      if (auto s = Pull(peer); !s)
        spdlog::debug("directory: pulling {}: {}", peer, s.error().message);
      last_pull_[peer] = now;
      next_pull_[peer] = d_.clock.NowMs() + d_.options.pull_interval_ms;
      PublishIfDue();  // our own changes do not wait for a slow round
    }

    lock.lock();
    if (stop_ || !wake_.empty()) continue;
    std::int64_t wait_ms = tick_ms;
    if (dirty_)
      wait_ms = std::max<std::int64_t>(
          0, std::min(wait_ms, dirty_since_ + d_.options.publish_delay_ms -
                                   d_.clock.NowMs()));
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] {
      return stop_ || !wake_.empty() ||
             (dirty_ &&
              d_.clock.NowMs() - dirty_since_ >= d_.options.publish_delay_ms);
    });
  }
}

Status DirectoryService::Pull(const std::string& peer) {
  std::string uri = kPath;
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto source, index_.Source(txn, peer));
    if (source && source->version > 0)
      uri += "?newer_than=" + std::to_string(source->version);
  }
  auto answer = d_.peers.Call(peer, "GET", uri, nullptr,
                              /*directory_only=*/true);
  if (!answer) {
    RecordFailure(peer, answer.error().message);
    return answer.error();
  }
  auto changed = answer->find("changed");
  if (changed != answer->end() && changed->is_boolean() && !*changed) {
    // Nothing new: the peer answered, so its groups are not stale.
    return d_.committer.Run([&](storage::WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(auto source, index_.Source(txn, peer));
      if (!source) return Ok();
      source->last_ok_ts = source->last_try_ts = d_.clock.NowMs();
      source->last_error.clear();
      return index_.PutSource(txn, peer, *source);
    });
  }
  auto stats = Merge(peer, *answer);
  if (!stats) {
    RecordFailure(peer, stats.error().message);
    spdlog::warn("directory: refused {}'s document: {}", peer,
                 stats.error().message);
    return stats.error();
  }
  if (stats->added + stats->changed + stats->removed > 0)
    spdlog::info("directory: {}: {} added, {} changed, {} removed", peer,
                 stats->added, stats->changed, stats->removed);
  return Ok();
}

void DirectoryService::RecordFailure(const std::string& peer,
                                     const std::string& error) {
  auto s = d_.committer.Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto record, d_.trust.Get(txn, peer));
    if (!record || record->state == federation::PeerState::kBlocked)
      return Ok();
    HEARTH_ASSIGN_OR_RETURN(auto source, index_.Source(txn, peer));
    directory::DirSource s = source.value_or(directory::DirSource{});
    s.last_try_ts = d_.clock.NowMs();
    s.last_error = error;
    return index_.PutSource(txn, peer, s);
  });
  if (!s) spdlog::warn("directory: {}", s.error().message);
}

void DirectoryService::SendNotices(std::uint64_t version) {
  json body = {{"version", version}};
  for (const std::string& peer : Peers()) {
    if (Stopping()) return;
    auto s = d_.peers.Call(peer, "POST", kNoticePath, &body,
                           /*directory_only=*/true);
    if (!s)
      spdlog::debug("directory: notice to {}: {}", peer, s.error().message);
  }
}

}  // namespace hearth
