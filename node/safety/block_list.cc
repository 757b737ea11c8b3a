#include "node/safety/block_list.h"

#include "common/encoding.h"
#include "common/ids.h"

namespace hearth {
namespace {

std::string Key(const std::string& blocker, const std::string& blocked) {
  return blocker + std::string(1, '\0') + blocked;
}

Status CheckTarget(const Member& m, const std::string& target) {
  if (!MemberId::Parse(target))
    return Error::Invalid("invalid_member_id", "a member id is @handle@server");
  if (target == m.member_id)
    return Error::Invalid("cannot_block_self", "you cannot block yourself");
  return Ok();
}

}  // namespace

Result<BlockList> BlockList::Open(storage::Env& env,
                                  storage::Committer& committer,
                                  const Clock& clock) {
  HEARTH_ASSIGN_OR_RETURN(auto dbi, env.OpenTable("blockerblocked_block"));
  return BlockList(env, committer, clock, dbi);
}

Status BlockList::Block(const Member& m, const std::string& target) {
  HEARTH_RETURN_IF_ERROR(CheckTarget(m, target));
  std::string ts = EncodeU64BE(std::uint64_t(clock_->NowMs()));
  return committer_->Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto seen, txn.Get(dbi_, Key(m.member_id, target)));
    if (seen) return Ok();
    return txn.Put(dbi_, Key(m.member_id, target), ts);
  });
}

Status BlockList::Unblock(const Member& m, const std::string& target) {
  HEARTH_RETURN_IF_ERROR(CheckTarget(m, target));
  return committer_->Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(bool gone,
                            txn.Delete(dbi_, Key(m.member_id, target)));
    (void)gone;
    return Ok();
  });
}

Result<std::vector<BlockEntry>> BlockList::List(const Member& m) const {
  std::vector<BlockEntry> out;
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_->BeginRead());
  std::string prefix = m.member_id + std::string(1, '\0');
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, dbi_));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
  while (more && c.key().substr(0, prefix.size()) == prefix) {
    out.push_back(BlockEntry{std::string(c.key().substr(prefix.size())),
                             std::int64_t(DecodeU64BE(c.value()).value_or(0))});
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

Result<bool> BlockList::IsBlocked(const storage::Txn& txn,
                                  const std::string& blocker,
                                  const std::string& blocked) const {
  HEARTH_ASSIGN_OR_RETURN(auto seen, txn.Get(dbi_, Key(blocker, blocked)));
  return seen.has_value();
}

}  // namespace hearth
