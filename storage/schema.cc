#include "storage/schema.h"

#include "common/encoding.h"

namespace hearth::storage {
namespace {

constexpr char kMeta[] = "meta";
constexpr char kVersionKey[] = "schema_version";
constexpr char kServerNameKey[] = "server_name";

// v0 -> v1: sessions were keyed by the hex of the token's SHA-256 (64 ASCII
// bytes); v1 keys them by the 32 raw bytes, halving the key and the index.
Status RekeySessions(WriteTxn& txn) {
  HEARTH_ASSIGN_OR_RETURN(Dbi sessions, txn.OpenTable("tokenhash_session"));
  std::vector<std::pair<std::string, std::string>> old;
  {
    HEARTH_ASSIGN_OR_RETURN(Cursor c, Cursor::Open(txn, sessions));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    for (; more;) {
      old.emplace_back(std::string(c.key()), std::string(c.value()));
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  for (auto& [key, value] : old) {
    if (key.size() != 64) continue;  // already raw
    auto raw = HexDecode(key);
    HEARTH_ASSIGN_OR_RETURN(bool existed, txn.Delete(sessions, key));
    (void)existed;
    if (!raw) continue;  // not a valid session key: drop it
    HEARTH_RETURN_IF_ERROR(txn.Put(sessions, *raw, value));
  }
  return Ok();
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {0, "sessions keyed by raw token hash", RekeySessions},
  };
  return kMigrations;
}

Result<std::optional<std::uint64_t>> ReadSchemaVersion(Env& env) {
  HEARTH_ASSIGN_OR_RETURN(Dbi meta, env.OpenTable(kMeta));
  HEARTH_ASSIGN_OR_RETURN(ReadTxn txn, env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto bytes, txn.Get(meta, kVersionKey));
  if (!bytes) return std::optional<std::uint64_t>();
  auto v = DecodeU64BE(*bytes);
  if (!v) return Error::Internal("meta.schema_version is not a u64");
  return std::optional<std::uint64_t>(*v);
}

Status Migrate(Env& env, std::vector<std::string>* applied) {
  HEARTH_ASSIGN_OR_RETURN(Dbi meta, env.OpenTable(kMeta));
  HEARTH_ASSIGN_OR_RETURN(auto stored, ReadSchemaVersion(env));
  if (!stored) {
    return env.Update([&](WriteTxn& txn) {
      return txn.Put(meta, kVersionKey, EncodeU64BE(kSchemaVersion));
    });
  }
  std::uint64_t version = *stored;
  if (version > kSchemaVersion) {
    return Error{ErrorKind::kInternal, "store_too_new",
                 "the store has schema version " + std::to_string(version) +
                     " but this hearth supports up to " +
                     std::to_string(kSchemaVersion) +
                     "; run a newer hearth or restore a backup"};
  }
  for (const Migration& m : Migrations()) {
    if (m.from != version) continue;
    HEARTH_RETURN_IF_ERROR(env.Update([&](WriteTxn& txn) -> Status {
      HEARTH_RETURN_IF_ERROR(m.apply(txn));
      return txn.Put(meta, kVersionKey, EncodeU64BE(m.from + 1));
    }));
    if (applied) applied->push_back(m.description);
    version = m.from + 1;
  }
  if (version != kSchemaVersion) {
    return Error::Internal("no migration from schema version " +
                           std::to_string(version));
  }
  return Ok();
}

Status ClaimServerName(Env& env, const std::string& server_name) {
  HEARTH_ASSIGN_OR_RETURN(Dbi meta, env.OpenTable(kMeta));
  return env.Update([&](WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto stored, txn.Get(meta, kServerNameKey));
    if (!stored) return txn.Put(meta, kServerNameKey, server_name);
    if (*stored != server_name) {
      return Error{ErrorKind::kInternal, "wrong_node",
                   "the data directory belongs to node '" +
                       std::string(*stored) + "', not '" + server_name + "'"};
    }
    return Ok();
  });
}

}  // namespace hearth::storage
