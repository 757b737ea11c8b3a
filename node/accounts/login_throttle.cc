#include "node/accounts/login_throttle.h"

#include <algorithm>

namespace hearth {

Status LoginThrottle::Check(std::string_view handle, std::string_view address) {
  std::int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  std::int64_t wait = 0;
  for (const std::string& key :
       {"h:" + std::string(handle), "a:" + std::string(address)}) {
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.blocked_until_ms > now)
      wait = std::max(wait, it->second.blocked_until_ms - now);
  }
  if (wait > 0) {
    return Error::RateLimited("too many failed logins; try again in " +
                                  std::to_string((wait + 999) / 1000) + " s",
                              wait);
  }
  return Ok();
}

void LoginThrottle::Fail(const std::string& key, int free_failures,
                         std::int64_t now) {
  Entry& e = entries_[key];
  if (now - e.last_failure_ms > options_.forget_after_ms) e = Entry{};
  e.failures++;
  e.last_failure_ms = now;
  int over = e.failures - free_failures;
  if (over > 0) {
    std::int64_t delay = options_.base_delay_ms;
    for (int i = 1; i < over && delay < options_.max_delay_ms; ++i) delay *= 2;
    e.blocked_until_ms = now + std::min(delay, options_.max_delay_ms);
  }
}

void LoginThrottle::RecordFailure(std::string_view handle,
                                  std::string_view address) {
  std::int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= options_.max_entries) PruneLocked(now);
  Fail("h:" + std::string(handle), options_.free_failures_per_handle, now);
  Fail("a:" + std::string(address), options_.free_failures_per_address, now);
}

void LoginThrottle::RecordSuccess(std::string_view handle) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase("h:" + std::string(handle));
}

void LoginThrottle::PruneLocked(std::int64_t now) {
  std::erase_if(entries_, [&](const auto& kv) {
    return now - kv.second.last_failure_ms > options_.forget_after_ms &&
           kv.second.blocked_until_ms <= now;
  });
  // Still full (an attack from many keys): drop entries that are not
  // blocking anything right now.
  if (entries_.size() >= options_.max_entries) {
    std::erase_if(entries_, [&](const auto& kv) {
      return kv.second.blocked_until_ms <= now;
    });
  }
}

size_t LoginThrottle::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace hearth
