#include "node/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "common/encoding.h"
#include "common/files.h"
#include "federation/node_keys.h"

namespace hearth {
namespace {

Error SysError(const std::string& what) {
  return Error::Invalid("io_error", what + ": " + std::strerror(errno));
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return Ok();
  if (errno == EEXIST) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Ok();
    return Error::Invalid("io_error", path + " exists and is not a directory");
  }
  return SysError("cannot create " + path);
}

}  // namespace

bool DataDirExists(const DataDir& dir) {
  // Anything but "no such file" (say, no permission to look) counts as a
  // node, so that the caller reports the real problem instead of offering
  // to create a node over it.
  return ::access(dir.ConfigPath().c_str(), F_OK) == 0 || errno != ENOENT;
}

Status InitDataDir(const DataDir& dir, const std::string& server_name,
                   const HostPort& listen, const HostPort& admin_listen) {
  HEARTH_RETURN_IF_ERROR(MakeDir(dir.root));
  if (::access(dir.root.c_str(), W_OK) != 0)
    return SysError("cannot write to " + dir.root);
  if (DataDirExists(dir)) {
    return Error::Conflict(
        "node_exists", dir.root + " already holds a node (" + dir.ConfigPath() +
                           " exists); refusing to overwrite it");
  }
  HEARTH_RETURN_IF_ERROR(MakeDir(dir.StorePath()));
  HEARTH_RETURN_IF_ERROR(WriteFileAtomically(
      dir.AdminTokenPath(), Base64UrlEncode(RandomBytes(32)) + "\n"));
  HEARTH_RETURN_IF_ERROR(federation::CreateKeyFile(dir.NodeKeyPath()));
  // The config goes last: its presence marks a complete node.
  return WriteFileAtomically(
      dir.ConfigPath(), InitialConfigText(server_name, listen, admin_listen));
}

Result<std::string> ReadSecretFile(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.pop_back();
  if (text.empty()) return Error::Invalid("io_error", path + " is empty");
  return text;
}

Result<DataDirLock> DataDirLock::Acquire(const DataDir& dir) {
  int fd = ::open(dir.LockPath().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return SysError("cannot open " + dir.LockPath());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Error::Conflict("locked",
                             "another hearth process is using " + dir.root);
    }
    errno = err;
    return SysError("cannot lock " + dir.LockPath());
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace hearth
