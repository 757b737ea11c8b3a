// The append-only audit log of admin actions. Entries are appended in the
// same write transaction as the action they record, so the log and the
// state never disagree. Nothing updates or deletes an entry.
//
// Table `audit_seq_entry`: seq (u64 BE, from 1) -> AuditEntry
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/env.h"
#include "storage/table.h"
#include "storage/txn.h"

namespace hearth::storage {

struct AuditEntry {
  std::uint64_t seq = 0;  // assigned by Append
  std::int64_t ts = 0;    // ms since epoch
  std::string actor;      // "admin" (token holder) or a member id
  std::string action;     // e.g. "invite.create"
  std::string target;     // what it acted on, may be empty
  std::string detail;     // JSON object text with non-secret parameters

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(seq, ts, actor, action, target, detail);
  }
};

class AuditLog {
 public:
  static Result<AuditLog> Open(Env& env);

  // Appends `entry` (its seq is assigned) inside `txn`.
  Result<std::uint64_t> Append(WriteTxn& txn, AuditEntry entry) const;

  // Up to `limit` entries with seq > `after`, oldest first.
  Result<std::vector<AuditEntry>> List(const Txn& txn, std::uint64_t after,
                                       size_t limit) const;

 private:
  explicit AuditLog(Table<AuditEntry> table) : table_(table) {}
  Table<AuditEntry> table_;
};

}  // namespace hearth::storage

CEREAL_CLASS_VERSION(hearth::storage::AuditEntry, 1);
