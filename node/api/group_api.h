// Member API for groups, conversations, blocks and sync (spec/api.md).
#pragma once

#include "node/accounts/account_service.h"
#include "node/conversations/conversation_service.h"
#include "node/groups/group_service.h"
#include "node/http/router.h"
#include "node/safety/block_list.h"
#include "node/sync/sync_stream.h"

namespace hearth {

void AddGroupApi(http::Router& router, AccountService& accounts,
                 GroupService& groups);

void AddConversationApi(http::Router& router, AccountService& accounts,
                        ConversationService& conversations, BlockList& blocks);

struct SyncDeps {
  storage::Env& env;
  AccountService& accounts;
  const GroupService& groups;
  const SyncStream& stream;
  SyncHub& hub;
};
void AddSyncApi(http::Router& router, SyncDeps deps);

}  // namespace hearth
