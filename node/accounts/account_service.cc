#include "node/accounts/account_service.h"

#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/ids.h"
#include "node/accounts/tokens.h"

namespace hearth {
namespace {

Status ValidateDisplayName(std::string_view name) {
  if (name.size() > 256)
    return Error::Invalid("invalid_display_name",
                          "display_name must be at most 256 bytes");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f)
      return Error::Invalid("invalid_display_name",
                            "display_name must not contain control characters");
  }
  return Ok();
}

Error InvalidCredentials() {
  return Error::Unauthenticated("invalid_credentials",
                                "unknown handle or wrong password");
}

Error InvalidInvite() {
  return Error::Forbidden("invalid_invite",
                          "the invite code is unknown, used up or expired");
}

Error InvalidToken() {
  return Error::Unauthenticated("invalid_token",
                                "the access token is unknown or expired");
}

}  // namespace

AccountService::AccountService(storage::Env& env, storage::Committer& committer,
                               AccountStore store, storage::AuditLog audit,
                               PasswordHasher& hasher, LoginThrottle& throttle,
                               const Clock& clock, AccountsOptions options)
    : env_(env),
      committer_(committer),
      store_(store),
      audit_(audit),
      hasher_(hasher),
      throttle_(throttle),
      clock_(clock),
      options_(std::move(options)) {}

Result<SessionGrant> AccountService::AddSession(storage::WriteTxn& txn,
                                                const std::string& handle,
                                                std::int64_t now) const {
  NewSecret token = MakeSessionToken();
  SessionRecord session{handle, now, now + options_.session_ttl_ms};
  HEARTH_RETURN_IF_ERROR(store_.sessions.Insert(txn, token.hash, session));
  return SessionGrant{MemberIdOf(handle), token.text, session.expires_ts};
}

Result<SessionGrant> AccountService::Register(const RegisterRequest& req) {
  if (!IsValidHandle(req.handle)) {
    return Error::Invalid("invalid_handle",
                          "handle must be 1-32 characters of a-z, 0-9, '.', "
                          "'_' or '-'");
  }
  HEARTH_RETURN_IF_ERROR(ValidatePassword(req.password));
  HEARTH_RETURN_IF_ERROR(ValidateDisplayName(req.display_name));
  if (options_.registration == Registration::kClosed) {
    return Error::Forbidden("registration_closed",
                            "this node is not accepting new members");
  }
  std::optional<std::string> invite_hash;
  if (options_.registration == Registration::kInvite) {
    if (!req.invite || req.invite->empty()) {
      return Error::Forbidden("invite_required",
                              "this node needs an invite code to register");
    }
    invite_hash = HashSecret(*req.invite);
  }
  // Fail fast before paying for the hash; the write below checks both
  // again. The invite is checked first so that only invite holders learn
  // whether a handle is taken.
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
    if (invite_hash) {
      HEARTH_ASSIGN_OR_RETURN(auto invite,
                              store_.invites.Get(txn, *invite_hash));
      if (!invite || invite->expires_ts <= clock_.NowMs() ||
          invite->uses_left == 0) {
        return InvalidInvite();
      }
    }
    HEARTH_ASSIGN_OR_RETURN(auto existing,
                            store_.accounts.Get(txn, req.handle));
    if (existing)
      return Error::Conflict("handle_taken", "that handle is already taken");
  }
  HEARTH_ASSIGN_OR_RETURN(std::string hash, hasher_.Hash(req.password));

  SessionGrant grant;
  Status s = committer_.Run([&](storage::WriteTxn& txn) -> Status {
    std::int64_t now = clock_.NowMs();
    if (invite_hash) {
      HEARTH_ASSIGN_OR_RETURN(auto invite,
                              store_.invites.Get(txn, *invite_hash));
      if (!invite || invite->expires_ts <= now || invite->uses_left == 0) {
        return InvalidInvite();
      }
      if (--invite->uses_left == 0) {
        HEARTH_RETURN_IF_ERROR(store_.invites.Delete(txn, *invite_hash));
      } else {
        HEARTH_RETURN_IF_ERROR(store_.invites.Put(txn, *invite_hash, *invite));
      }
    }
    AccountRecord account{req.handle, req.display_name, hash, now, false};
    Status inserted = store_.accounts.Insert(txn, req.handle, account);
    if (!inserted && inserted.error().reason == "exists")
      return Error::Conflict("handle_taken", "that handle is already taken");
    HEARTH_RETURN_IF_ERROR(inserted);
    HEARTH_ASSIGN_OR_RETURN(grant, AddSession(txn, req.handle, now));
    return Ok();
  });
  HEARTH_RETURN_IF_ERROR(s);
  return grant;
}

Result<SessionGrant> AccountService::Login(std::string_view handle,
                                           std::string_view password,
                                           std::string_view client_address) {
  if (!IsValidHandle(handle) || password.size() > 1024)
    return InvalidCredentials();
  HEARTH_RETURN_IF_ERROR(throttle_.Check(handle, client_address));
  std::optional<AccountRecord> account;
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(account, store_.accounts.Get(txn, handle));
  }
  if (!account) {
    hasher_.BurnVerify(password);  // same cost as a wrong password
    throttle_.RecordFailure(handle, client_address);
    return InvalidCredentials();
  }
  if (!hasher_.Verify(account->password_hash, password)) {
    throttle_.RecordFailure(handle, client_address);
    return InvalidCredentials();
  }
  if (account->suspended)
    return Error::Forbidden("suspended", "this account is suspended");
  throttle_.RecordSuccess(handle);

  // Upgrade a hash made with older parameters while we know the password.
  std::optional<std::string> rehash;
  if (hasher_.NeedsRehash(account->password_hash)) {
    auto h = hasher_.Hash(password);
    if (h) rehash = std::move(h).value();
  }
  SessionGrant grant;
  std::string key(handle);
  HEARTH_RETURN_IF_ERROR(committer_.Run([&](storage::WriteTxn& txn) -> Status {
    std::int64_t now = clock_.NowMs();
    if (rehash) {
      HEARTH_ASSIGN_OR_RETURN(auto current, store_.accounts.Get(txn, key));
      if (!current) return InvalidCredentials();  // erased meanwhile
      current->password_hash = *rehash;
      HEARTH_RETURN_IF_ERROR(store_.accounts.Put(txn, key, *current));
    }
    HEARTH_ASSIGN_OR_RETURN(grant, AddSession(txn, key, now));
    return Ok();
  }));
  return grant;
}

Status AccountService::Logout(std::string_view token) {
  std::string hash = HashSecret(token);
  bool existed = false;
  HEARTH_RETURN_IF_ERROR(committer_.Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(existed, store_.sessions.Delete(txn, hash));
    return Ok();
  }));
  // Before the answer: a request after it must not find the session.
  sessions_cache_.Invalidate();
  if (!existed) return InvalidToken();
  return Ok();
}

Result<Member> AccountService::Authenticate(std::string_view token) const {
  if (token.empty() || token.size() > 256) return InvalidToken();
  std::string hash = HashSecret(token);
  const std::int64_t now = clock_.NowMs();
  if (auto cached = sessions_cache_.Get(hash, now))
    return Member{std::move(cached->handle), std::move(cached->member_id)};
  const std::uint64_t generation = sessions_cache_.generation();
  // The latest view, not only the durable one: a session or suspension
  // that is not on disk yet was not acknowledged yet either, and this
  // answer passes no stored data on.
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn,
                          env_.BeginRead(storage::Env::View::kLatest));
  HEARTH_ASSIGN_OR_RETURN(auto session, store_.sessions.Get(txn, hash));
  if (!session || session->expires_ts <= now) return InvalidToken();
  HEARTH_ASSIGN_OR_RETURN(auto account,
                          store_.accounts.Get(txn, session->handle));
  if (!account) return InvalidToken();
  if (account->suspended)
    return Error::Forbidden("suspended", "this account is suspended");
  Member member{account->handle, MemberIdOf(account->handle)};
  sessions_cache_.Put(
      hash, {member.handle, member.member_id, session->expires_ts}, generation);
  return member;
}

Result<bool> AccountService::IsLocalMember(const storage::Txn& txn,
                                           const std::string& member_id) const {
  auto id = MemberId::Parse(member_id);
  if (!id || id->server != options_.server_name) return false;
  HEARTH_ASSIGN_OR_RETURN(auto account, store_.accounts.Get(txn, id->handle));
  return account.has_value();
}

Result<Profile> AccountService::GetProfile(const Member& member) const {
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto account,
                          store_.accounts.Get(txn, member.handle));
  if (!account) return Error::NotFound("not_found", "no such member");
  return Profile{member.member_id, account->handle, account->display_name,
                 account->created_ts};
}

Result<InviteGrant> AccountService::CreateInvite(const std::string& actor,
                                                 std::uint32_t uses,
                                                 std::int64_t ttl_ms) {
  if (uses == 0 || uses > 10000)
    return Error::Invalid("invalid_uses", "uses must be between 1 and 10000");
  if (ttl_ms <= 0 || ttl_ms > 366ll * 24 * 3600 * 1000)
    return Error::Invalid("invalid_expiry",
                          "expires_in_hours must be between 1 and 8784");
  NewSecret code = MakeInviteCode();
  InviteGrant grant{code.text, uses, 0};
  HEARTH_RETURN_IF_ERROR(committer_.Run([&](storage::WriteTxn& txn) -> Status {
    std::int64_t now = clock_.NowMs();
    InviteRecord invite{now, now + ttl_ms, uses, actor};
    grant.expires_ts = invite.expires_ts;
    HEARTH_RETURN_IF_ERROR(store_.invites.Insert(txn, code.hash, invite));
    // The code itself is a secret and stays out of the audit log.
    nlohmann::json detail = {
        {"uses", uses},
        {"expires_ts", invite.expires_ts},
        {"code_hash_prefix", HexEncode(code.hash.substr(0, 4))}};
    storage::AuditEntry entry{0,  now,          actor, "invite.create",
                              "", detail.dump()};
    HEARTH_ASSIGN_OR_RETURN(auto seq, audit_.Append(txn, entry));
    (void)seq;
    return Ok();
  }));
  return grant;
}

Result<size_t> AccountService::SweepExpiredSessions() {
  std::vector<std::string> expired;
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto c,
                            storage::Cursor::Open(txn, store_.sessions.dbi()));
    std::int64_t now = clock_.NowMs();
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    while (more) {
      HEARTH_ASSIGN_OR_RETURN(auto s,
                              storage::Decode<SessionRecord>(c.value()));
      if (s.expires_ts <= now) expired.emplace_back(c.key());
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  if (expired.empty()) return size_t(0);
  HEARTH_RETURN_IF_ERROR(committer_.Run([&](storage::WriteTxn& txn) -> Status {
    for (const auto& key : expired) {
      HEARTH_RETURN_IF_ERROR(store_.sessions.Delete(txn, key));
    }
    return Ok();
  }));
  return expired.size();
}

}  // namespace hearth
