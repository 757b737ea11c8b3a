// Slows down password guessing. Failed logins are counted per handle and per
// client address; past a number of free failures, each further failure
// doubles a waiting time (from 1 s up to 15 min) during which logins for
// that key are refused with 429 before any password is checked. A success
// clears the handle's count. Memory is bounded: entries are forgotten an
// hour after their last failure, and the table is capped.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/result.h"

namespace hearth {

struct ThrottleOptions {
  int free_failures_per_handle = 5;
  int free_failures_per_address = 20;  // many people may share an address
  std::int64_t base_delay_ms = 1000;
  std::int64_t max_delay_ms = 15 * 60 * 1000;
  std::int64_t forget_after_ms = 60 * 60 * 1000;
  size_t max_entries = 100000;
};

class LoginThrottle {
 public:
  LoginThrottle(const Clock& clock, ThrottleOptions options)
      : clock_(clock), options_(options) {}

  // RateLimited (with retry_after_ms) if either key is waiting.
  Status Check(std::string_view handle, std::string_view address);
  void RecordFailure(std::string_view handle, std::string_view address);
  void RecordSuccess(std::string_view handle);

  size_t size() const;

 private:
  struct Entry {
    int failures = 0;
    std::int64_t last_failure_ms = 0;
    std::int64_t blocked_until_ms = 0;
  };
  void Fail(const std::string& key, int free_failures, std::int64_t now);
  void PruneLocked(std::int64_t now);

  const Clock& clock_;
  ThrottleOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace hearth
