#include "storage/txn.h"

namespace hearth::storage {
namespace {

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

Status CheckKey(std::string_view key) {
  // LMDB's default limit; longer keys are a bug in the caller's layout.
  if (key.empty() || key.size() > 511)
    return Error::Internal("key of " + std::to_string(key.size()) +
                           " bytes is outside LMDB's limits");
  return Ok();
}

}  // namespace

Txn::Txn(Txn&& other) noexcept : env_(other.env_), txn_(other.txn_) {
  other.txn_ = nullptr;
}

Txn::~Txn() { Abort(); }

ReadTxn::~ReadTxn() {
  // Still under the resize lock (lock_ goes after this body).
  if (txn_ != nullptr) env_->ReturnReader(txn_);
  txn_ = nullptr;
}

void Txn::Abort() {
  if (txn_ != nullptr) {
    mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
}

Result<std::optional<std::string_view>> Txn::Get(Dbi dbi,
                                                 std::string_view key) const {
  HEARTH_RETURN_IF_ERROR(CheckKey(key));
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn_, dbi.id, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return LmdbError("mdb_get", rc);
  return std::optional<std::string_view>(View(v));
}

Status WriteTxn::Put(Dbi dbi, std::string_view key, std::string_view value) {
  HEARTH_RETURN_IF_ERROR(CheckKey(key));
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn_, dbi.id, &k, &v, 0);
  if (rc != 0) return LmdbError("mdb_put", rc);
  return Ok();
}

Status WriteTxn::Insert(Dbi dbi, std::string_view key, std::string_view value) {
  HEARTH_RETURN_IF_ERROR(CheckKey(key));
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn_, dbi.id, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return Error::Conflict("exists", "key exists");
  if (rc != 0) return LmdbError("mdb_put", rc);
  return Ok();
}

Result<bool> WriteTxn::Delete(Dbi dbi, std::string_view key) {
  HEARTH_RETURN_IF_ERROR(CheckKey(key));
  MDB_val k = Val(key);
  int rc = mdb_del(txn_, dbi.id, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return LmdbError("mdb_del", rc);
  return true;
}

Result<WriteTxn> WriteTxn::BeginNested() {
  MDB_txn* child = nullptr;
  int rc = mdb_txn_begin(env_->raw(), txn_, 0, &child);
  if (rc != 0) return LmdbError("mdb_txn_begin(nested)", rc);
  return WriteTxn(env_, child, std::nullopt);
}

Result<Dbi> WriteTxn::OpenTable(const std::string& name) {
  Dbi dbi;
  int rc = mdb_dbi_open(txn_, name.c_str(), MDB_CREATE, &dbi.id);
  if (rc != 0) return LmdbError("mdb_dbi_open(" + name + ")", rc);
  return dbi;
}

Status WriteTxn::Commit() {
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;  // committed or, on failure, freed by LMDB
  if (rc != 0) return LmdbError("mdb_txn_commit", rc);
  return Ok();
}

Result<Cursor> Cursor::Open(const Txn& txn, Dbi dbi) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn.raw(), dbi.id, &c);
  if (rc != 0) return LmdbError("mdb_cursor_open", rc);
  return Cursor(c);
}

Cursor::Cursor(Cursor&& other) noexcept
    : cursor_(other.cursor_), key_(other.key_), value_(other.value_) {
  other.cursor_ = nullptr;
}

Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

Result<bool> Cursor::Move(MDB_cursor_op op, std::string_view seek) {
  if (op == MDB_SET_RANGE) key_ = Val(seek);
  int rc = mdb_cursor_get(cursor_, &key_, &value_, op);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return LmdbError("mdb_cursor_get", rc);
  return true;
}

Result<bool> Cursor::First() { return Move(MDB_FIRST); }
Result<bool> Cursor::Last() { return Move(MDB_LAST); }
Result<bool> Cursor::Next() { return Move(MDB_NEXT); }
Result<bool> Cursor::Prev() { return Move(MDB_PREV); }
Result<bool> Cursor::Seek(std::string_view key) {
  if (key.empty()) return First();
  return Move(MDB_SET_RANGE, key);
}

std::string_view Cursor::key() const { return View(key_); }
std::string_view Cursor::value() const { return View(value_); }

}  // namespace hearth::storage
