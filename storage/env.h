// The LMDB environment: the only owner of MDB_env, and (with txn.h) the only
// code in Hearth that calls the LMDB C API.
//
// Threads: an Env is shared by all threads. Each transaction belongs to the
// thread that began it and must be short: the map can only grow while no
// transaction is open, so a long read blocks growth.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace hearth::storage {

class ReadTxn;
class WriteTxn;

// A named LMDB database (what Hearth calls a table).
struct Dbi {
  MDB_dbi id = 0;
};

struct EnvOptions {
  // Starting map size. The map doubles whenever a write finds it full.
  std::uint64_t initial_map_bytes = 64ull << 20;
  // Growth stops here, and writes then fail with `storage_full`.
  std::uint64_t max_map_bytes = 1ull << 40;
  // Zeros kept written past the last used page. LMDB grows its file by
  // writing new pages at the end, and an fdatasync after a write that grows
  // the file also commits the file system's journal (the size changed):
  // 300 µs instead of 180 here. Overwriting written zeros does not. 0: off.
  std::uint64_t write_ahead_bytes = 1ull << 20;
  unsigned max_tables = 64;
  // One reader slot per concurrent read transaction.
  unsigned max_readers = 4096;
  // Stands in for ::fdatasync in Sync when set: the fault seam for tests
  // of a failed flush (there is no other way to make a disk fail here).
  std::function<int(int fd)> fdatasync_for_tests;
};

struct EnvStats {
  std::uint64_t map_bytes = 0;   // current map size
  std::uint64_t used_bytes = 0;  // pages in use (last page number × size)
  std::uint64_t file_bytes = 0;  // data.mdb on disk
};

// True for the error a write returns when the map is full; Env::Update and
// the Committer grow the map and retry on it.
bool IsMapFull(const Error& error);

class Env {
 public:
  // Opens (creating if needed) the environment in directory `dir`, which
  // must exist.
  static Result<std::unique_ptr<Env>> Open(const std::string& dir,
                                           const EnvOptions& options);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // Opens a table, creating it if missing. Call at start-up, before other
  // threads use the Env (LMDB does not allow concurrent dbi opens).
  Result<Dbi> OpenTable(const std::string& name);

  // What a read transaction may see. Commits become visible when LMDB
  // returns from them but durable only at the next fdatasync (see Sync).
  // kDurable, the default, waits for that sync when the snapshot is newer
  // than what is on disk, so nothing a reader passes on (to a member, to a
  // peer) can vanish in a power cut. kLatest does not wait: for decisions
  // that a write transaction checks again, and for authentication.
  enum class View { kDurable, kLatest };
  Result<ReadTxn> BeginRead(View view = View::kDurable);
  // Blocks while another write transaction is open.
  Result<WriteTxn> BeginWrite();

  // Runs `fn` in a write transaction and commits it durably if `fn`
  // succeeds. A full map is grown and `fn` run again, so `fn` must only
  // touch the transaction (or state it resets). REQUIRES: the calling thread
  // holds no transaction.
  Status Update(const std::function<Status(WriteTxn&)>& fn);

  // As Update, but returns as soon as the commit is visible, with its id,
  // before it is durable: the caller must Sync(id) before it tells anyone.
  // This lets the next write transaction run while this one syncs.
  Result<std::uint64_t> UpdateUnsynced(
      const std::function<Status(WriteTxn&)>& fn);

  // Returns once the commit `id` (and every earlier one) is on disk. One
  // fdatasync serves every commit made before it started, and concurrent
  // callers share it. After a failed fdatasync (ours, or the one inside a
  // commit that failed) every later Sync fails too: the kernel may have
  // dropped the pages, and a second fdatasync would not say so (the
  // "fsyncgate" lesson); the node must be restarted.
  Status Sync(std::uint64_t id);
  std::uint64_t durable_id() const {
    return durable_.load(std::memory_order_acquire);
  }

  // Doubles the map (up to max_map_bytes). REQUIRES: the calling thread
  // holds no transaction.
  Status GrowMap();

  EnvStats Stats() const;
  const std::string& dir() const { return dir_; }

  // For txn.cc.
  MDB_env* raw() const { return env_; }
  std::shared_mutex& resize_mutex() { return resize_mu_; }
  // Resets a finished read transaction and keeps it for the next reader.
  void ReturnReader(MDB_txn* txn);

 private:
  Env(MDB_env* env, std::string dir, EnvOptions options)
      : env_(env), dir_(std::move(dir)), options_(options) {}

  MDB_env* env_;
  std::string dir_;
  EnvOptions options_;
  // Shared by every open transaction, taken exclusively to resize the map.
  std::shared_mutex resize_mu_;
  // Keeps zeros written ahead of LMDB's last page (see env.cc).
  // REQUIRES: the calling thread holds the write transaction.
  void KeepAhead();
  int data_fd_ = -1;               // our own open file description of data.mdb
  std::uint64_t written_end_ = 0;  // its size; under the write transaction
  unsigned page_bytes_ = 4096;

  // Reset read transactions, renewed by BeginRead: beginning one afresh
  // allocates and searches the reader table, a few percent of a request.
  // Each keeps its reader slot, so the pool is small (kIdleReaders).
  void DropIdleReaders();
  Result<ReadTxn> BeginReadLatest();
  std::mutex idle_mu_;
  std::vector<MDB_txn*> idle_readers_;

  // The newest commit (set after it returns; writers are serialized) and
  // the newest known to be on disk. sync_mu_ serializes fdatasync calls so
  // that waiters for an earlier commit find it done and skip their own.
  std::atomic<std::uint64_t> committed_{0};
  std::atomic<std::uint64_t> durable_{0};
  std::mutex sync_mu_;
  std::atomic<bool> sync_failed_{false};
  std::mutex commit_mu_;  // see UpdateUnsynced
};

// An error from an LMDB call, with the call's name for the log.
Error LmdbError(std::string_view what, int rc);

}  // namespace hearth::storage
