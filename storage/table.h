// A typed table: byte keys, records encoded with storage/codec.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/codec.h"
#include "storage/env.h"
#include "storage/txn.h"

namespace hearth::storage {

template <typename Record>
class Table {
 public:
  Table() = default;
  explicit Table(Dbi dbi) : dbi_(dbi) {}

  static Result<Table> Open(Env& env, const std::string& name) {
    HEARTH_ASSIGN_OR_RETURN(Dbi dbi, env.OpenTable(name));
    return Table(dbi);
  }

  Result<std::optional<Record>> Get(const Txn& txn,
                                    std::string_view key) const {
    HEARTH_ASSIGN_OR_RETURN(auto bytes, txn.Get(dbi_, key));
    if (!bytes) return std::optional<Record>();
    HEARTH_ASSIGN_OR_RETURN(Record record, Decode<Record>(*bytes));
    return std::optional<Record>(std::move(record));
  }

  Status Put(WriteTxn& txn, std::string_view key, const Record& record) const {
    return txn.Put(dbi_, key, Encode(record));
  }

  // Conflict (reason `exists`) if the key is present.
  Status Insert(WriteTxn& txn, std::string_view key,
                const Record& record) const {
    return txn.Insert(dbi_, key, Encode(record));
  }

  Result<bool> Delete(WriteTxn& txn, std::string_view key) const {
    return txn.Delete(dbi_, key);
  }

  Dbi dbi() const { return dbi_; }

 private:
  Dbi dbi_;
};

}  // namespace hearth::storage
