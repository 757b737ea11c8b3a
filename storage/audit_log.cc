#include "storage/audit_log.h"

#include "common/encoding.h"

namespace hearth::storage {

Result<AuditLog> AuditLog::Open(Env& env) {
  HEARTH_ASSIGN_OR_RETURN(auto table,
                          Table<AuditEntry>::Open(env, "audit_seq_entry"));
  return AuditLog(table);
}

Result<std::uint64_t> AuditLog::Append(WriteTxn& txn, AuditEntry entry) const {
  HEARTH_ASSIGN_OR_RETURN(Cursor c, Cursor::Open(txn, table_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool any, c.Last());
  std::uint64_t last = 0;
  if (any) {
    auto seq = DecodeU64BE(c.key());
    if (!seq) return Error::Internal("audit key is not a u64");
    last = *seq;
  }
  entry.seq = last + 1;
  HEARTH_RETURN_IF_ERROR(table_.Insert(txn, EncodeU64BE(entry.seq), entry));
  return entry.seq;
}

Result<std::vector<AuditEntry>> AuditLog::List(const Txn& txn,
                                               std::uint64_t after,
                                               size_t limit) const {
  std::vector<AuditEntry> out;
  HEARTH_ASSIGN_OR_RETURN(Cursor c, Cursor::Open(txn, table_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(EncodeU64BE(after + 1)));
  while (more && out.size() < limit) {
    HEARTH_ASSIGN_OR_RETURN(AuditEntry e, Decode<AuditEntry>(c.value()));
    out.push_back(std::move(e));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

}  // namespace hearth::storage
