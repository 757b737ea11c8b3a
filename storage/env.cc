#include "storage/env.h"

#include <sys/stat.h>

#include <algorithm>

#include "storage/txn.h"

namespace hearth::storage {

Error LmdbError(std::string_view what, int rc) {
  Error e = Error::Internal(std::string(what) + ": " + mdb_strerror(rc));
  if (rc == MDB_MAP_FULL) e.reason = "storage_map_full";
  return e;
}

bool IsMapFull(const Error& error) {
  return error.reason == "storage_map_full";
}

Result<std::unique_ptr<Env>> Env::Open(const std::string& dir,
                                       const EnvOptions& options) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbError("mdb_env_create", rc);
  std::unique_ptr<MDB_env, decltype(&mdb_env_close)> guard(env, &mdb_env_close);
  if ((rc = mdb_env_set_maxdbs(env, options.max_tables)) != 0)
    return LmdbError("mdb_env_set_maxdbs", rc);
  if ((rc = mdb_env_set_maxreaders(env, options.max_readers)) != 0)
    return LmdbError("mdb_env_set_maxreaders", rc);
  if ((rc = mdb_env_set_mapsize(env, options.initial_map_bytes)) != 0)
    return LmdbError("mdb_env_set_mapsize", rc);
  // MDB_NOTLS: read transactions are not tied to a thread's reader slot, so
  // pool threads can each hold one without surprises. No NOSYNC/NOMETASYNC:
  // every commit is durable when it returns.
  rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) return LmdbError("opening the store in " + dir, rc);
  // A store that was grown earlier opens at its larger size; keep it.
  MDB_envinfo info;
  mdb_env_info(env, &info);
  EnvOptions effective = options;
  effective.initial_map_bytes =
      std::max<std::uint64_t>(info.me_mapsize, options.initial_map_bytes);
  return std::unique_ptr<Env>(new Env(guard.release(), dir, effective));
}

Env::~Env() {
  DropIdleReaders();
  mdb_env_close(env_);
}

namespace {
constexpr size_t kIdleReaders = 16;
}  // namespace

void Env::ReturnReader(MDB_txn* txn) {
  mdb_txn_reset(txn);
  {
    std::lock_guard<std::mutex> lock(idle_mu_);
    if (idle_readers_.size() < kIdleReaders) {
      idle_readers_.push_back(txn);
      return;
    }
  }
  mdb_txn_abort(txn);
}

void Env::DropIdleReaders() {
  std::vector<MDB_txn*> idle;
  {
    std::lock_guard<std::mutex> lock(idle_mu_);
    idle.swap(idle_readers_);
  }
  for (MDB_txn* txn : idle) mdb_txn_abort(txn);
}

Result<Dbi> Env::OpenTable(const std::string& name) {
  Dbi dbi;
  HEARTH_RETURN_IF_ERROR(Update([&](WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(dbi, txn.OpenTable(name));
    return Ok();
  }));
  return dbi;
}

Result<ReadTxn> Env::BeginRead() {
  std::shared_lock<std::shared_mutex> lock(resize_mu_);
  MDB_txn* txn = nullptr;
  {
    std::lock_guard<std::mutex> idle(idle_mu_);
    if (!idle_readers_.empty()) {
      txn = idle_readers_.back();
      idle_readers_.pop_back();
    }
  }
  if (txn != nullptr && mdb_txn_renew(txn) != 0) {
    mdb_txn_abort(txn);
    txn = nullptr;
  }
  if (txn == nullptr) {
    int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) return LmdbError("mdb_txn_begin(read)", rc);
  }
  return ReadTxn(this, txn, std::move(lock));
}

Result<WriteTxn> Env::BeginWrite() {
  std::shared_lock<std::shared_mutex> lock(resize_mu_);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return LmdbError("mdb_txn_begin(write)", rc);
  return WriteTxn(this, txn, std::move(lock));
}

Status Env::Update(const std::function<Status(WriteTxn&)>& fn) {
  for (;;) {
    Status s;
    {
      HEARTH_ASSIGN_OR_RETURN(WriteTxn txn, BeginWrite());
      s = fn(txn);
      if (s) s = txn.Commit();
    }  // aborted here unless committed
    if (s || !IsMapFull(s.error())) return s;
    HEARTH_RETURN_IF_ERROR(GrowMap());
  }
}

Status Env::GrowMap() {
  std::unique_lock<std::shared_mutex> lock(resize_mu_);
  // No transaction may be open across a resize, not even a reset one.
  DropIdleReaders();
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  std::uint64_t current = info.me_mapsize;
  if (current >= options_.max_map_bytes) {
    return Error{ErrorKind::kUnavailable, "storage_full",
                 "the store reached its maximum size of " +
                     std::to_string(options_.max_map_bytes) + " bytes"};
  }
  std::uint64_t next = std::min(current * 2, options_.max_map_bytes);
  int rc = mdb_env_set_mapsize(env_, next);
  if (rc != 0) return LmdbError("mdb_env_set_mapsize", rc);
  return Ok();
}

EnvStats Env::Stats() const {
  MDB_envinfo info;
  MDB_stat stat;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &stat);
  EnvStats s;
  s.map_bytes = info.me_mapsize;
  s.used_bytes = (info.me_last_pgno + 1) * std::uint64_t(stat.ms_psize);
  struct stat st;
  if (::stat((dir_ + "/data.mdb").c_str(), &st) == 0)
    s.file_bytes = std::uint64_t(st.st_size);
  return s;
}

}  // namespace hearth::storage
