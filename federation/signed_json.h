// Signing and verifying JSON objects: Matrix's "Signing JSON" algorithm.
// The signature covers the canonical JSON of the object without its
// `signatures` and `unsigned` members, and is stored as unpadded base64 at
// signatures[<server name>][<key id>].
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "federation/canonical_json.h"
#include "federation/signing_key.h"

namespace hearth::federation {

// The bytes a signature covers. Invalid (`not_canonical`, ...) if `object`
// is not an object or cannot be canonical.
Result<std::string> SigningBytes(const nlohmann::json& object);

// Adds `server_name`'s signature with `key` to `object`, keeping other
// signatures.
Status SignJson(nlohmann::json& object, const std::string& server_name,
                const SigningKey& key);

// The key ids `server_name` signed `object` with (ed25519 ones only).
std::vector<std::string> SignatureKeyIds(const nlohmann::json& object,
                                         const std::string& server_name);

// Checks `server_name`'s signature by `key_id` against `public_key`.
// Unauthenticated with reason `unsigned` (no such signature),
// `bad_signature` (malformed or wrong).
Status VerifyJson(const nlohmann::json& object, const std::string& server_name,
                  const std::string& key_id, std::string_view public_key);

// An event's id: "$" + unpadded URL-safe base64 of the SHA-256 of its
// signing bytes. The same on every node, whoever signed it.
Result<std::string> EventId(const nlohmann::json& event);

}  // namespace hearth::federation
