// Record encoding inside LMDB: cereal's portable binary archive. Each record
// type declares its version with CEREAL_CLASS_VERSION and reads older
// versions in its serialize(archive, version); cereal stores the version
// with the record. Signatures never cover these bytes (see spec/).
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "common/result.h"

namespace hearth::storage {

template <typename Record>
std::string Encode(const Record& record) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(record);
  }
  return std::move(out).str();
}

template <typename Record>
Result<Record> Decode(std::string_view bytes) {
  try {
    std::istringstream in(std::string(bytes), std::ios::binary);
    cereal::PortableBinaryInputArchive archive(in);
    Record record;
    archive(record);
    return record;
  } catch (const std::exception& e) {
    return Error::Internal(std::string("corrupt record: ") + e.what());
  }
}

}  // namespace hearth::storage
