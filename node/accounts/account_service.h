// Accounts: registration, sessions, invites. The only code that reads or
// writes the account tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "node/accounts/account_store.h"
#include "node/accounts/login_throttle.h"
#include "node/accounts/password.h"
#include "node/accounts/session_cache.h"
#include "node/config.h"
#include "storage/audit_log.h"
#include "storage/committer.h"
#include "storage/env.h"

namespace hearth {

struct AccountsOptions {
  std::string server_name;
  Registration registration = Registration::kInvite;
  std::int64_t session_ttl_ms = 30ll * 24 * 3600 * 1000;
};

struct RegisterRequest {
  std::string handle;
  std::string password;
  std::string display_name;
  std::optional<std::string> invite;
};

struct SessionGrant {
  std::string member_id;
  std::string token;
  std::int64_t expires_ts = 0;
};

// An authenticated member.
struct Member {
  std::string handle;
  std::string member_id;
};

struct Profile {
  std::string member_id;
  std::string handle;
  std::string display_name;
  std::int64_t created_ts = 0;
};

struct InviteGrant {
  std::string code;
  std::uint32_t uses = 1;
  std::int64_t expires_ts = 0;
};

class AccountService {
 public:
  AccountService(storage::Env& env, storage::Committer& committer,
                 AccountStore store, storage::AuditLog audit,
                 PasswordHasher& hasher, LoginThrottle& throttle,
                 const Clock& clock, AccountsOptions options);

  // Creates an account and its first session. Errors: invalid_handle,
  // weak_password, invalid_display_name (400); registration_closed,
  // invite_required, invalid_invite (403); handle_taken (409).
  Result<SessionGrant> Register(const RegisterRequest& req);

  // Errors: invalid_credentials (401), suspended (403), rate_limited (429).
  Result<SessionGrant> Login(std::string_view handle, std::string_view password,
                             std::string_view client_address);

  // Ends the session of `token`; Unauthenticated if it is not a session.
  Status Logout(std::string_view token);

  // The member a bearer token belongs to. Unauthenticated (reason
  // `invalid_token`) for unknown or expired tokens; Forbidden (`suspended`).
  Result<Member> Authenticate(std::string_view token) const;

  Result<Profile> GetProfile(const Member& member) const;

  // Whether `member_id` is an account of this node (suspended included).
  Result<bool> IsLocalMember(const storage::Txn& txn,
                             const std::string& member_id) const;

  // Admin: an invite code usable `uses` times within `ttl_ms`.
  Result<InviteGrant> CreateInvite(const std::string& actor, std::uint32_t uses,
                                   std::int64_t ttl_ms);

  // Deletes expired sessions; returns how many.
  Result<size_t> SweepExpiredSessions();

  Registration registration() const { return options_.registration; }

 private:
  std::string MemberIdOf(const std::string& handle) const {
    return "@" + handle + "@" + options_.server_name;
  }
  // Inserts a new session for `handle` inside `txn`.
  Result<SessionGrant> AddSession(storage::WriteTxn& txn,
                                  const std::string& handle,
                                  std::int64_t now) const;

  storage::Env& env_;
  storage::Committer& committer_;
  AccountStore store_;
  storage::AuditLog audit_;
  PasswordHasher& hasher_;
  LoginThrottle& throttle_;
  const Clock& clock_;
  AccountsOptions options_;
  // See session_cache.h: every write that ends a session, or changes
  // whether an account may act, must call sessions_cache_.Invalidate().
  mutable SessionCache sessions_cache_;
};

}  // namespace hearth
