// RAII transactions and cursors over LMDB. A transaction aborts in its
// destructor unless committed. Keys and values are byte views that stay
// valid until the transaction ends or the next write to the same table.
#pragma once

#include <lmdb.h>

#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>

#include "common/result.h"
#include "storage/env.h"

namespace hearth::storage {

// The read half, shared by read and write transactions.
class Txn {
 public:
  Txn(Txn&& other) noexcept;
  Txn& operator=(Txn&&) = delete;
  virtual ~Txn();

  // The value at `key`, or nullopt if absent.
  Result<std::optional<std::string_view>> Get(Dbi dbi,
                                              std::string_view key) const;

  MDB_txn* raw() const { return txn_; }
  // The id of the snapshot (a read) or of the commit to be (a write).
  std::uint64_t id() const { return mdb_txn_id(txn_); }

 protected:
  Txn(Env* env, MDB_txn* txn) : env_(env), txn_(txn) {}
  void Abort();

  Env* env_;
  MDB_txn* txn_;
};

class ReadTxn : public Txn {
 public:
  ReadTxn(ReadTxn&&) noexcept = default;
  // Hands the LMDB handle back to the Env for the next reader.
  ~ReadTxn() override;

 private:
  friend class Env;
  ReadTxn(Env* env, MDB_txn* txn, std::shared_lock<std::shared_mutex> lock)
      : Txn(env, txn), lock_(std::move(lock)) {}
  std::shared_lock<std::shared_mutex> lock_;
};

class WriteTxn : public Txn {
 public:
  WriteTxn(WriteTxn&&) noexcept = default;

  Status Put(Dbi dbi, std::string_view key, std::string_view value);
  // Conflict (reason `exists`) if the key is present.
  Status Insert(Dbi dbi, std::string_view key, std::string_view value);
  // Returns whether the key existed.
  Result<bool> Delete(Dbi dbi, std::string_view key);

  // A child transaction: its writes join this one on Commit and vanish on
  // Abort. This is how a batch of independent changes shares one commit.
  Result<WriteTxn> BeginNested();

  // Opens a table inside this transaction (for migrations).
  Result<Dbi> OpenTable(const std::string& name);

  // Durable when it returns Ok (for a top-level transaction).
  Status Commit();

 private:
  friend class Env;
  WriteTxn(Env* env, MDB_txn* txn,
           std::optional<std::shared_lock<std::shared_mutex>> lock)
      : Txn(env, txn), lock_(std::move(lock)) {}
  std::optional<std::shared_lock<std::shared_mutex>> lock_;
};

// Iterates one table in key order.
class Cursor {
 public:
  static Result<Cursor> Open(const Txn& txn, Dbi dbi);
  Cursor(Cursor&& other) noexcept;
  Cursor& operator=(Cursor&&) = delete;
  ~Cursor();

  // Each positions the cursor and returns whether it is on an entry.
  Result<bool> First();
  Result<bool> Last();
  Result<bool> Next();
  Result<bool> Prev();
  // The first entry with key >= `key`.
  Result<bool> Seek(std::string_view key);

  std::string_view key() const;
  std::string_view value() const;

 private:
  explicit Cursor(MDB_cursor* c) : cursor_(c) {}
  Result<bool> Move(MDB_cursor_op op, std::string_view seek = {});

  MDB_cursor* cursor_;
  MDB_val key_{0, nullptr};
  MDB_val value_{0, nullptr};
};

}  // namespace hearth::storage
