// The store's schema version and the migrations between versions.
//
// Table `meta`: ASCII key -> value
//   "schema_version" -> u64 BE   the layout version of every table
//   "server_name"    -> bytes    the node this store belongs to
// A store without "schema_version" is new and is stamped with the current
// version. Migrations run at start-up, each in one write transaction, and
// work on raw bytes so that they never depend on today's record types.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/env.h"
#include "storage/txn.h"

namespace hearth::storage {

constexpr std::uint64_t kSchemaVersion = 1;

struct Migration {
  std::uint64_t from;  // migrates `from` -> `from + 1`
  std::string description;
  std::function<Status(WriteTxn&)> apply;
};

// The migrations, in order.
const std::vector<Migration>& Migrations();

// The stored schema version, or nullopt for a new store.
Result<std::optional<std::uint64_t>> ReadSchemaVersion(Env& env);

// Brings the store to kSchemaVersion, stamping a new store. Fails with
// reason `store_too_new` for a store written by a newer Hearth.
// `applied` (optional) receives the descriptions of migrations run.
Status Migrate(Env& env, std::vector<std::string>* applied = nullptr);

// Binds the store to a server name on first use; fails with reason
// `wrong_node` if it belongs to another node.
Status ClaimServerName(Env& env, const std::string& server_name);

}  // namespace hearth::storage
