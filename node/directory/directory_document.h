// The directory document: the signed list of a node's public groups that
// it serves at GET /_hearth/v1/directory (spec/directory.md §2). Only the
// listed fields leave the node: no rules, owner or meeting links.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "federation/signing_key.h"
#include "node/groups/group_records.h"

namespace hearth::directory {

// More than this many groups in one document is refused whole.
constexpr size_t kMaxListedGroups = 5000;

struct DirectoryDocument {
  std::string server_name;
  std::uint64_t version = 0;        // grows with every change (a ms timestamp)
  std::vector<GroupRecord> groups;  // listed fields only
};

// The listed fields of a group, as in the document and in search results.
nlohmann::json ListingJson(const GroupRecord& g);

// The document in canonical JSON, signed by `server_name` with `key`.
Result<std::string> SignDirectory(const DirectoryDocument& doc,
                                  const federation::SigningKey& key);

// Reads a document whose signature the caller verified. Invalid
// (`bad_directory`) if its shape is wrong, it names another server or it
// lists too many groups; a group that breaks the group rules, is not
// hosted on `server` or repeats an id is skipped and counted in `skipped`.
Result<DirectoryDocument> ParseDirectory(const nlohmann::json& doc,
                                         const std::string& server,
                                         size_t* skipped);

}  // namespace hearth::directory
