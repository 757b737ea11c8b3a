#include "federation/key_document.h"

#include "common/encoding.h"
#include "common/ids.h"
#include "federation/canonical_json.h"
#include "federation/signed_json.h"

namespace hearth::federation {
namespace {

Error Bad(const std::string& why) {
  return Error::Invalid("bad_key_document", "key document: " + why);
}

Result<std::map<std::string, PublicKey>> ReadKeys(const nlohmann::json& doc,
                                                  const char* field, bool old) {
  std::map<std::string, PublicKey> out;
  auto it = doc.find(field);
  if (it == doc.end()) {
    if (old) return out;
    return Bad(std::string("missing ") + field);
  }
  if (!it->is_object()) return Bad(std::string(field) + " is not an object");
  for (const auto& [id, entry] : it->items()) {
    if (!IsValidKeyId(id)) return Bad("bad key id " + id);
    if (!entry.is_object() || !entry.contains("key") ||
        !entry["key"].is_string())
      return Bad(id + " has no key");
    auto raw = Base64Decode(entry["key"].get<std::string>());
    if (!raw || raw->size() != 32) return Bad(id + " is not an Ed25519 key");
    PublicKey pk{*raw, 0};
    if (old) {
      if (!entry.contains("expired_ts") ||
          !entry["expired_ts"].is_number_integer())
        return Bad(id + " has no expired_ts");
      pk.expired_ts = entry["expired_ts"].get<std::int64_t>();
    }
    out.emplace(id, std::move(pk));
  }
  return out;
}

}  // namespace

Result<std::string> MakeKeyDocument(const std::string& server_name,
                                    const std::vector<SigningKey>& signers,
                                    const std::map<std::string, PublicKey>& old,
                                    std::int64_t valid_until_ts) {
  nlohmann::json doc = {{"server_name", server_name},
                        {"valid_until_ts", valid_until_ts}};
  doc["verify_keys"] = nlohmann::json::object();
  doc["verify_keys"][signers.at(0).key_id()] = {
      {"key", Base64Encode(signers[0].public_key())}};
  doc["old_verify_keys"] = nlohmann::json::object();
  for (const auto& [id, pk] : old) {
    doc["old_verify_keys"][id] = {{"key", Base64Encode(pk.key)},
                                  {"expired_ts", pk.expired_ts}};
  }
  for (const SigningKey& k : signers) {
    HEARTH_RETURN_IF_ERROR(SignJson(doc, server_name, k));
  }
  return Canonicalize(doc);
}

Result<KeyDocument> ParseKeyDocument(std::string_view text) {
  auto parsed = ParseCanonical(text, {.max_bytes = 64 << 10});
  if (!parsed) return Bad(parsed.error().message);
  const nlohmann::json& doc = *parsed;
  if (!doc.is_object()) return Bad("not an object");
  KeyDocument out;
  if (!doc.contains("server_name") || !doc["server_name"].is_string())
    return Bad("missing server_name");
  out.server_name = doc["server_name"].get<std::string>();
  if (!IsValidServerName(out.server_name)) return Bad("bad server_name");
  if (!doc.contains("valid_until_ts") ||
      !doc["valid_until_ts"].is_number_integer())
    return Bad("missing valid_until_ts");
  out.valid_until_ts = doc["valid_until_ts"].get<std::int64_t>();
  HEARTH_ASSIGN_OR_RETURN(out.verify_keys, ReadKeys(doc, "verify_keys", false));
  HEARTH_ASSIGN_OR_RETURN(out.old_verify_keys,
                          ReadKeys(doc, "old_verify_keys", true));
  if (out.verify_keys.empty()) return Bad("no verify_keys");
  for (const auto& [id, pk] : out.verify_keys) {
    Status s = VerifyJson(doc, out.server_name, id, pk.key);
    if (!s) return Bad("not self-signed by " + id + ": " + s.error().message);
    out.signed_by.insert(id);
  }
  for (const auto& [id, pk] : out.old_verify_keys) {
    if (VerifyJson(doc, out.server_name, id, pk.key)) out.signed_by.insert(id);
  }
  return out;
}

}  // namespace hearth::federation
