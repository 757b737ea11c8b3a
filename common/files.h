// Small file helpers shared by the layers that keep secrets on disk.
#pragma once

#include <string>

#include "common/result.h"

namespace hearth {

// Writes `contents` to `path` with mode 0600 via a temporary file, fsync
// and rename, so a reader sees the old file or the new one, never half.
Status WriteFileAtomically(const std::string& path,
                           const std::string& contents);

// Reads a whole file; Invalid (`io_error`) with the path and reason.
Result<std::string> ReadFile(const std::string& path);

}  // namespace hearth
