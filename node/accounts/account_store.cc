#include "node/accounts/account_store.h"

namespace hearth {

Result<AccountStore> AccountStore::Open(storage::Env& env) {
  AccountStore s;
  HEARTH_ASSIGN_OR_RETURN(
      s.accounts, storage::Table<AccountRecord>::Open(env, "handle_account"));
  HEARTH_ASSIGN_OR_RETURN(s.sessions, storage::Table<SessionRecord>::Open(
                                          env, "tokenhash_session"));
  HEARTH_ASSIGN_OR_RETURN(
      s.invites, storage::Table<InviteRecord>::Open(env, "codehash_invite"));
  return s;
}

}  // namespace hearth
