// Blocks: a member's list of people they do not want to hear from. Blocks
// are private: the blocked person's node is never told. Enforced where the
// blocker lives (conversations check it on delivery).
//
// Table `blockerblocked_block`: blocker id 0x00 blocked id -> ts (u64 BE)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "node/accounts/account_service.h"
#include "storage/committer.h"
#include "storage/env.h"

namespace hearth {

struct BlockEntry {
  std::string member_id;
  std::int64_t ts = 0;
};

class BlockList {
 public:
  static Result<BlockList> Open(storage::Env& env,
                                storage::Committer& committer,
                                const Clock& clock);

  // Idempotent. Invalid (`invalid_member_id`, `cannot_block_self`).
  Status Block(const Member& m, const std::string& target);
  Status Unblock(const Member& m, const std::string& target);
  Result<std::vector<BlockEntry>> List(const Member& m) const;
  Result<bool> IsBlocked(const storage::Txn& txn, const std::string& blocker,
                         const std::string& blocked) const;

 private:
  BlockList(storage::Env& env, storage::Committer& committer,
            const Clock& clock, storage::Dbi dbi)
      : env_(&env), committer_(&committer), clock_(&clock), dbi_(dbi) {}
  storage::Env* env_;
  storage::Committer* committer_;
  const Clock* clock_;
  storage::Dbi dbi_;
};

}  // namespace hearth
