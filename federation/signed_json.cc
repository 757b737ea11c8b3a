#include "federation/signed_json.h"

#include "common/crypto.h"
#include "common/encoding.h"

namespace hearth::federation {

Result<std::string> SigningBytes(const nlohmann::json& object) {
  if (!object.is_object())
    return Error::Invalid("not_an_object", "only JSON objects are signed");
  // The canonical form of the object without `signatures` and `unsigned`,
  // written member by member (keys come sorted) instead of from a copy
  // with them erased: what is signed is often a whole accepted event.
  JsonLimits inner;
  inner.max_depth = JsonLimits{}.max_depth - 1;
  std::string out = "{";
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (it.key() == "signatures" || it.key() == "unsigned") continue;
    if (out.size() > 1) out += ',';
    HEARTH_ASSIGN_OR_RETURN(std::string key,
                            Canonicalize(nlohmann::json(it.key())));
    HEARTH_ASSIGN_OR_RETURN(std::string value, Canonicalize(*it, inner));
    out += key;
    out += ':';
    out += value;
  }
  out += '}';
  return out;
}

Status SignJson(nlohmann::json& object, const std::string& server_name,
                const SigningKey& key) {
  HEARTH_ASSIGN_OR_RETURN(std::string bytes, SigningBytes(object));
  nlohmann::json& sigs = object["signatures"];
  if (!sigs.is_object()) sigs = nlohmann::json::object();
  sigs[server_name][key.key_id()] = Base64Encode(key.Sign(bytes));
  return Ok();
}

std::vector<std::string> SignatureKeyIds(const nlohmann::json& object,
                                         const std::string& server_name) {
  std::vector<std::string> ids;
  if (!object.is_object()) return ids;
  auto sigs = object.find("signatures");
  if (sigs == object.end() || !sigs->is_object()) return ids;
  auto mine = sigs->find(server_name);
  if (mine == sigs->end() || !mine->is_object()) return ids;
  for (const auto& [id, sig] : mine->items()) {
    if (IsValidKeyId(id) && sig.is_string()) ids.push_back(id);
  }
  return ids;
}

Status VerifyJson(const nlohmann::json& object, const std::string& server_name,
                  const std::string& key_id, std::string_view public_key) {
  auto ids = SignatureKeyIds(object, server_name);
  if (std::find(ids.begin(), ids.end(), key_id) == ids.end()) {
    return Error::Unauthenticated(
        "unsigned", "no signature by " + server_name + " with " + key_id);
  }
  const auto& sig_text =
      object["signatures"][server_name][key_id].get_ref<const std::string&>();
  auto sig = Base64Decode(sig_text);
  if (!sig || sig->size() != 64)
    return Error::Unauthenticated("bad_signature",
                                  "signature is not 64 bytes of base64");
  HEARTH_ASSIGN_OR_RETURN(std::string bytes, SigningBytes(object));
  if (!VerifyEd25519(public_key, bytes, *sig)) {
    return Error::Unauthenticated(
        "bad_signature",
        "signature by " + server_name + " with " + key_id + " does not verify");
  }
  return Ok();
}

Result<std::string> EventId(const nlohmann::json& event) {
  HEARTH_ASSIGN_OR_RETURN(std::string bytes, SigningBytes(event));
  std::string id = "$";  // (not "$" + ...: a GCC 12 -Wrestrict false alarm)
  id += Base64UrlEncode(Sha256(bytes));
  return id;
}

}  // namespace hearth::federation
