// The LMDB environment: the only owner of MDB_env, and (with txn.h) the only
// code in Hearth that calls the LMDB C API.
//
// Threads: an Env is shared by all threads. Each transaction belongs to the
// thread that began it and must be short: the map can only grow while no
// transaction is open, so a long read blocks growth.
#pragma once

#include <lmdb.h>

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
  unsigned max_tables = 64;
  // One reader slot per concurrent read transaction.
  unsigned max_readers = 4096;
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

  Result<ReadTxn> BeginRead();
  // Blocks while another write transaction is open.
  Result<WriteTxn> BeginWrite();

  // Runs `fn` in a write transaction and commits it durably if `fn`
  // succeeds. A full map is grown and `fn` run again, so `fn` must only
  // touch the transaction (or state it resets). REQUIRES: the calling thread
  // holds no transaction.
  Status Update(const std::function<Status(WriteTxn&)>& fn);

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
  // Reset read transactions, renewed by BeginRead: beginning one afresh
  // allocates and searches the reader table, a few percent of a request.
  // Each keeps its reader slot, so the pool is small (kIdleReaders).
  void DropIdleReaders();
  std::mutex idle_mu_;
  std::vector<MDB_txn*> idle_readers_;
};

// An error from an LMDB call, with the call's name for the log.
Error LmdbError(std::string_view what, int rc);

}  // namespace hearth::storage
