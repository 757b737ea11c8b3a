// Argon2id password hashing. Hashes are PHC strings
// ($argon2id$v=19$m=..,t=..,p=..$salt$hash, unpadded base64, as libargon2's
// own encoder writes them), so each records the parameters it was made with
// and old hashes verify after the parameters change.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "node/config.h"

namespace hearth {

class PasswordHasher {
 public:
  // At most `max_concurrent` hashes run at once: each takes `memory_kib` of
  // memory and a core, so unbounded concurrency would exhaust both. Each
  // slot keeps its buffer, so steady memory is max_concurrent × memory_kib.
  PasswordHasher(PasswordParams params, unsigned max_concurrent);

  Result<std::string> Hash(std::string_view password);
  // False for a wrong password or an unparseable hash.
  bool Verify(std::string_view encoded, std::string_view password);
  // True if `encoded` was made with parameters other than the current ones.
  bool NeedsRehash(std::string_view encoded) const;

  // Runs one verification against a fixed hash, so that a login for an
  // unknown handle costs what a real one does.
  void BurnVerify(std::string_view password);

 private:
  class Slot;
  // Argon2id of `password` with `params`, run in a slot.
  static std::string Encode(const PasswordParams& params, std::string_view salt,
                            std::string_view hash);
  Result<std::string> Compute(const PasswordParams& params,
                              std::string_view password, std::string_view salt,
                              size_t hash_len);

  PasswordParams params_;
  std::vector<std::string> arenas_;  // one reusable buffer per slot
  std::vector<size_t> free_;         // indexes of free slots
  std::mutex mu_;
  std::condition_variable cv_;
  std::string dummy_hash_;
};

// Passwords: 8 to 1024 bytes of UTF-8.
Status ValidatePassword(std::string_view password);

}  // namespace hearth
