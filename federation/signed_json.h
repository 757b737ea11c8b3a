// Signing and verifying JSON objects: Matrix's "Signing JSON" algorithm.
// The signature covers the canonical JSON of the object without its
// `signatures` and `unsigned` members, and is stored as unpadded base64 at
// signatures[<server name>][<key id>].
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "federation/canonical_json.h"
#include "federation/signing_key.h"

namespace hearth::federation {

// The bytes a signature covers. Invalid (`not_canonical`, ...) if `object`
// is not an object or cannot be canonical.
Result<std::string> SigningBytes(const nlohmann::json& object);

// The canonical text of `object` (Canonicalize's bytes) from its signing
// bytes: the `signatures` member is put in its place in the text, not the
// whole object encoded again. `signing_bytes` must be SigningBytes(object).
Result<std::string> CanonicalFromSigningBytes(const nlohmann::json& object,
                                              std::string_view signing_bytes);

// Adds `server_name`'s signature with `key` to `object`, keeping other
// signatures.
Status SignJson(nlohmann::json& object, const std::string& server_name,
                const SigningKey& key);

// An object put together from members whose canonical form is known, for
// hot paths that would otherwise build a DOM only to canonicalize it (a
// host accepting a group message: the author's event is already text).
class CanonicalObject {
 public:
  // `canonical` must be the canonical encoding of the member's value.
  void AddRaw(std::string key, std::string canonical);
  // Invalid (`not_canonical`) for invalid UTF-8.
  Status AddString(std::string key, std::string_view value);
  // Invalid (`not_canonical`) outside ±(2^53−1).
  Status AddInt(std::string key, std::int64_t value);
  bool Has(std::string_view key) const;
  // The canonical text: members in key order. Keys must be distinct.
  Result<std::string> Text() const;

 private:
  std::vector<std::pair<std::string, std::string>> members_;
};

// Signs `object` as SignJson signs the same object as a DOM, and returns
// the canonical text of the signed object (with `signatures`): the same
// bytes as Canonicalize after SignJson, made once. Invalid if `object` has
// `signatures` or `unsigned` already.
Result<std::string> SignCanonical(CanonicalObject object,
                                  const std::string& server_name,
                                  const SigningKey& key);

// The event id of an event whose signing bytes are `bytes` (see EventId).
std::string EventIdOfSigningBytes(std::string_view bytes);

// The key ids `server_name` signed `object` with (ed25519 ones only).
std::vector<std::string> SignatureKeyIds(const nlohmann::json& object,
                                         const std::string& server_name);

// Checks `server_name`'s signature by `key_id` against `public_key`.
// Unauthenticated with reason `unsigned` (no such signature),
// `bad_signature` (malformed or wrong).
// `signing_bytes`, if set, must be SigningBytes(object) (made once by a
// caller that needs them for the event id too).
Status VerifyJson(const nlohmann::json& object, const std::string& server_name,
                  const std::string& key_id, std::string_view public_key,
                  const std::string* signing_bytes = nullptr);

// An event's id: "$" + unpadded URL-safe base64 of the SHA-256 of its
// signing bytes. The same on every node, whoever signed it.
Result<std::string> EventId(const nlohmann::json& event);

}  // namespace hearth::federation
