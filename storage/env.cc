#include "storage/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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
  // pool threads can each hold one without surprises.
  // MDB_NOMETASYNC: a commit syncs its data pages but only writes its meta
  // page; the next fdatasync (Sync) makes it durable. LMDB keeps the pages
  // of the last two snapshots, so a lost meta page rolls back to an intact
  // one. Nothing is acknowledged or shown before Sync (see BeginRead).
  rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600);
  if (rc != 0) return LmdbError("opening the store in " + dir, rc);
  // A commit of a process that died before its Sync is still only in the
  // page cache: put it on disk before anything reads it.
  if ((rc = mdb_env_sync(env, 1)) != 0) return LmdbError("mdb_env_sync", rc);
  // A store that was grown earlier opens at its larger size; keep it.
  MDB_envinfo info;
  mdb_env_info(env, &info);
  EnvOptions effective = options;
  effective.initial_map_bytes =
      std::max<std::uint64_t>(info.me_mapsize, options.initial_map_bytes);
  auto opened = std::unique_ptr<Env>(new Env(guard.release(), dir, effective));
  opened->committed_ = info.me_last_txnid;
  opened->durable_ = info.me_last_txnid;
  // Our own open file description of the data file, apart from LMDB's:
  // for the zeros written ahead and for Sync (see there).
  opened->data_fd_ = ::open((dir + "/data.mdb").c_str(), O_RDWR | O_CLOEXEC);
  if (opened->data_fd_ < 0)
    return Error::Internal("opening " + dir +
                           "/data.mdb: " + std::strerror(errno));
  MDB_stat stat;
  mdb_env_stat(opened->env_, &stat);
  opened->page_bytes_ = stat.ms_psize;
  struct stat st;
  if (::fstat(opened->data_fd_, &st) == 0)
    opened->written_end_ = std::uint64_t(st.st_size);
  return opened;
}

Env::~Env() {
  DropIdleReaders();
  mdb_env_close(env_);
  if (data_fd_ >= 0) ::close(data_fd_);
}

void Env::KeepAhead() {
  if (options_.write_ahead_bytes == 0) return;
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  // LMDB writes this transaction's new pages from `used` on, at its commit
  // (or when it spills), always after this call in this thread.
  const std::uint64_t used =
      (info.me_last_pgno + 1) * std::uint64_t(page_bytes_);
  const std::uint64_t ahead = options_.write_ahead_bytes;
  if (written_end_ >= used + ahead / 2) return;
  static const std::vector<char> zeros(64 << 10);
  std::uint64_t at = std::max(written_end_, used);
  const std::uint64_t end = std::min(used + ahead, options_.max_map_bytes);
  while (at < end) {
    size_t n = size_t(std::min<std::uint64_t>(zeros.size(), end - at));
    ssize_t w = ::pwrite(data_fd_, zeros.data(), n, off_t(at));
    if (w <= 0) break;  // a full disk: LMDB will say so itself if it must
    at += std::uint64_t(w);
  }
  written_end_ = std::max(written_end_, at);
}

namespace {
constexpr size_t kIdleReaders = 16;

// Raises `a` to `v` unless it is already higher (commits of two writers may
// record their ids out of order).
void RaiseTo(std::atomic<std::uint64_t>& a, std::uint64_t v) {
  std::uint64_t cur = a.load(std::memory_order_relaxed);
  while (cur < v &&
         !a.compare_exchange_weak(cur, v, std::memory_order_release)) {
  }
}
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

Result<ReadTxn> Env::BeginRead(View view) {
  HEARTH_ASSIGN_OR_RETURN(ReadTxn txn, BeginReadLatest());
  if (view == View::kDurable) {
    if (txn.id() > durable_id()) HEARTH_RETURN_IF_ERROR(Sync(txn.id()));
  }
  return txn;
}

Result<ReadTxn> Env::BeginReadLatest() {
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
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t id, UpdateUnsynced(fn));
  return Sync(id);
}

Result<std::uint64_t> Env::UpdateUnsynced(
    const std::function<Status(WriteTxn&)>& fn) {
  for (;;) {
    Status s;
    {
      HEARTH_ASSIGN_OR_RETURN(WriteTxn txn, BeginWrite());
      KeepAhead();
      s = fn(txn);
      if (s) {
        // Held across the commit and the flag, so that the next commit
        // (LMDB lets it begin as soon as this one returns) and any Sync
        // after it see a failure.
        std::lock_guard<std::mutex> lock(commit_mu_);
        s = txn.Commit();
        if (!s && !IsMapFull(s.error())) {
          // The commit's own fdatasync (of its data pages) may be what
          // failed (LMDB does not say which call did), and a later
          // fdatasync would not say that the kernel dropped pages, the
          // previous commit's meta page among them: nothing may be called
          // durable from here on.
          sync_failed_ = true;
          Error e = s.error();
          e.reason = "storage_sync_failed";
          return e;
        }
      }
    }  // aborted here unless committed
    if (s) {
      // The id LMDB gave the commit; a transaction that changed nothing
      // writes no meta page and leaves the previous one.
      MDB_envinfo info;
      mdb_env_info(env_, &info);
      std::uint64_t id = info.me_last_txnid;
      RaiseTo(committed_, id);
      return id;
    }
    if (!IsMapFull(s.error())) return s.error();
    HEARTH_RETURN_IF_ERROR(GrowMap());
  }
}

Status Env::Sync(std::uint64_t id) {
  if (durable_id() >= id) return Ok();
  std::lock_guard<std::mutex> lock(sync_mu_);
  if (sync_failed_)
    return Error{ErrorKind::kInternal, "storage_sync_failed",
                 "an earlier fdatasync of the store failed; restart the node"};
  if (durable_id() >= id) return Ok();  // a sync that ended meanwhile
  // Everything committed before the fdatasync starts is covered by it.
  std::uint64_t target = committed_.load(std::memory_order_acquire);
  // Through a file description of our own, not LMDB's: Linux reports a
  // write-back error once to each open file description. A commit's own
  // fdatasync (on LMDB's) may run at the same time as this one, for the
  // meta page this waits for; both must hear of an error, or this one
  // could call lost pages durable while only the commit fails.
  const int synced = options_.fdatasync_for_tests
                         ? options_.fdatasync_for_tests(data_fd_)
                         : ::fdatasync(data_fd_);
  int rc = synced == 0 ? 0 : errno;
  if (rc != 0) {
    sync_failed_ = true;
    Error e = LmdbError("fdatasync", rc);
    e.reason = "storage_sync_failed";
    return e;
  }
  RaiseTo(durable_, std::max(target, id));
  return Ok();
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
