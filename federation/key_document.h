// The key document a node publishes at GET /_hearth/v1/keys:
//
//   {"server_name": "riverside.example",
//    "verify_keys": {"ed25519:k2": {"key": "<base64>"}},
//    "old_verify_keys": {"ed25519:k1": {"key": "<base64>", "expired_ts": T}},
//    "valid_until_ts": T,
//    "signatures": {"riverside.example": {"ed25519:k2": "...", ...}}}
//
// It is signed by every current key (self-signed) and, after a rotation,
// also by the previous key, which is how a peer that pinned the old key
// accepts the new one.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"
#include "federation/signing_key.h"

namespace hearth::federation {

struct PublicKey {
  std::string key;              // 32 raw bytes
  std::int64_t expired_ts = 0;  // 0 for a current key
};

struct KeyDocument {
  std::string server_name;
  std::map<std::string, PublicKey> verify_keys;
  std::map<std::string, PublicKey> old_verify_keys;
  std::int64_t valid_until_ts = 0;
  // Key ids (current or old) whose signature on the document verified.
  std::set<std::string> signed_by;
};

// Builds and signs a document. `signers` are the keys to sign with (the
// current key first); `old` lists expired keys.
Result<std::string> MakeKeyDocument(const std::string& server_name,
                                    const std::vector<SigningKey>& signers,
                                    const std::map<std::string, PublicKey>& old,
                                    std::int64_t valid_until_ts);

// Parses a fetched document: canonical JSON, well-formed keys, every
// current key's self-signature present and valid. Invalid with reason
// `bad_key_document` otherwise.
Result<KeyDocument> ParseKeyDocument(std::string_view text);

}  // namespace hearth::federation
