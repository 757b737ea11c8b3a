// The data directory: layout, creation by `hearth init`, and the lock that
// keeps a second process from opening it.
//
//   DIR/hearth.toml   configuration (0600)
//   DIR/admin.token   admin API bearer token (0600)
//   DIR/node.key      the node's Ed25519 signing key(s) (0600)
//   DIR/hearth.lock   flock()ed by the running node
//   DIR/store/        the LMDB environment (data.mdb, lock.mdb)
#pragma once

#include <string>

#include "common/result.h"
#include "node/config.h"

namespace hearth {

struct DataDir {
  std::string root;
  std::string ConfigPath() const { return root + "/hearth.toml"; }
  std::string AdminTokenPath() const { return root + "/admin.token"; }
  std::string LockPath() const { return root + "/hearth.lock"; }
  std::string StorePath() const { return root + "/store"; }
  std::string NodeKeyPath() const { return root + "/node.key"; }
};

// Creates the directory (0700) if needed and writes hearth.toml, the admin
// token, the node key and the store directory. Refuses (reason `node_exists`)
// if the directory already holds a node. Nothing is left half-written: files
// are written to temporaries and renamed.
Status InitDataDir(const DataDir& dir, const std::string& server_name,
                   const HostPort& listen, const HostPort& admin_listen);

// True if `dir` holds a node (a hearth.toml).
bool DataDirExists(const DataDir& dir);

// Reads the admin token (trailing whitespace trimmed).
Result<std::string> ReadSecretFile(const std::string& path);

// An exclusive lock on DIR/hearth.lock, released on destruction.
class DataDirLock {
 public:
  // Fails with reason `locked` if another process holds it.
  static Result<DataDirLock> Acquire(const DataDir& dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace hearth
