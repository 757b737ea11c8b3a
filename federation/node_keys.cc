#include "federation/node_keys.h"

#include <unistd.h>

#include <sstream>

#include "common/encoding.h"
#include "common/files.h"

namespace hearth::federation {
namespace {

constexpr std::int64_t kDocumentValidityMs = 24ll * 3600 * 1000;

}  // namespace

Status CreateKeyFile(const std::string& path) {
  return SaveKeyFile(path, {SigningKey::Generate()});
}

Status SaveKeyFile(const std::string& path,
                   const std::vector<SigningKey>& keys) {
  std::string text;
  for (const auto& k : keys) text += KeyFileLine(k);
  return WriteFileAtomically(path, text);
}

Result<std::vector<SigningKey>> LoadKeyFile(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<SigningKey> keys;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto key = ParseKeyFileLine(line);
    if (!key)
      return Error::Invalid("bad_key", path + ": " + key.error().message);
    keys.push_back(std::move(key).value());
  }
  if (keys.empty()) return Error::Invalid("bad_key", path + ": no key");
  return keys;
}

Result<std::unique_ptr<NodeKeys>> NodeKeys::Open(storage::Env& env,
                                                 storage::Committer& committer,
                                                 const std::string& key_path,
                                                 std::string server_name,
                                                 const Clock& clock) {
  if (::access(key_path.c_str(), F_OK) != 0) {
    HEARTH_RETURN_IF_ERROR(CreateKeyFile(key_path));
  }
  HEARTH_ASSIGN_OR_RETURN(
      auto table, storage::Table<NodeKeyRecord>::Open(env, "keyid_nodekey"));
  std::unique_ptr<NodeKeys> keys(new NodeKeys(env, committer, table, key_path,
                                              std::move(server_name), clock));
  HEARTH_ASSIGN_OR_RETURN(keys->keys_, LoadKeyFile(key_path));
  HEARTH_RETURN_IF_ERROR(keys->Reconcile());
  return keys;
}

Status NodeKeys::Reconcile() {
  std::int64_t now = clock_.NowMs();
  SigningKey current = keys_.front();
  return committer_.Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, table_.dbi()));
    std::vector<std::pair<std::string, NodeKeyRecord>> stale;
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    while (more) {
      HEARTH_ASSIGN_OR_RETURN(auto rec,
                              storage::Decode<NodeKeyRecord>(c.value()));
      if (rec.expired_ts == 0 && c.key() != current.key_id())
        stale.emplace_back(std::string(c.key()), rec);
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
    for (auto& [id, rec] : stale) {
      rec.expired_ts = now;
      HEARTH_RETURN_IF_ERROR(table_.Put(txn, id, rec));
    }
    HEARTH_ASSIGN_OR_RETURN(auto existing, table_.Get(txn, current.key_id()));
    if (!existing) {
      HEARTH_RETURN_IF_ERROR(table_.Put(
          txn, current.key_id(), NodeKeyRecord{current.public_key(), now, 0}));
    }
    return Ok();
  });
}

SigningKey NodeKeys::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.front();
}

Result<std::optional<NodeKeyRecord>> NodeKeys::Find(
    const storage::Txn& txn, const std::string& key_id) const {
  return table_.Get(txn, key_id);
}

std::map<std::string, NodeKeyRecord> NodeKeys::History() const {
  std::map<std::string, NodeKeyRecord> out;
  auto txn = env_.BeginRead();
  if (!txn) return out;
  auto c = storage::Cursor::Open(*txn, table_.dbi());
  if (!c) return out;
  for (auto more = c->First(); more && *more; more = c->Next()) {
    auto rec = storage::Decode<NodeKeyRecord>(c->value());
    if (rec) out.emplace(std::string(c->key()), *rec);
  }
  return out;
}

Result<std::string> NodeKeys::KeyDocumentText() const {
  std::vector<SigningKey> signers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    signers = keys_;
  }
  std::map<std::string, PublicKey> old;
  for (const auto& [id, rec] : History()) {
    if (rec.expired_ts != 0)
      old.emplace(id, PublicKey{rec.public_key, rec.expired_ts});
  }
  return MakeKeyDocument(server_name_, signers, old,
                         clock_.NowMs() + kDocumentValidityMs);
}

Result<std::string> NodeKeys::Rotate(const storage::AuditLog& audit,
                                     const std::string& actor) {
  // One rotation at a time. `mu_` is held only to swap the keys, never
  // across the commit: changes running in a commit batch call current().
  std::lock_guard<std::mutex> rotating(rotate_mu_);
  SigningKey next = SigningKey::Generate();
  SigningKey previous = current();
  // The file first: if we stop before the store is updated, Open()
  // finishes the rotation from the file.
  if (Status s = SaveKeyFile(key_path_, {next, previous}); !s)
    return Error::Internal(s.error().message);
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys_ = {next, previous};
  }
  std::int64_t now = clock_.NowMs();
  HEARTH_RETURN_IF_ERROR(committer_.Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto prev, table_.Get(txn, previous.key_id()));
    NodeKeyRecord expired =
        prev.value_or(NodeKeyRecord{previous.public_key(), now, 0});
    expired.expired_ts = now;
    HEARTH_RETURN_IF_ERROR(table_.Put(txn, previous.key_id(), expired));
    HEARTH_RETURN_IF_ERROR(table_.Put(
        txn, next.key_id(), NodeKeyRecord{next.public_key(), now, 0}));
    nlohmann::json detail = {{"old_key", previous.key_id()},
                             {"new_key", next.key_id()},
                             {"fingerprint", Fingerprint(next.public_key())}};
    HEARTH_ASSIGN_OR_RETURN(
        auto seq,
        audit.Append(txn, storage::AuditEntry{0, now, actor, "keys.rotate",
                                              next.key_id(), detail.dump()}));
    (void)seq;
    return Ok();
  }));
  return next.key_id();
}

}  // namespace hearth::federation
