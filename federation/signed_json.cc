#include "federation/signed_json.h"

#include <algorithm>

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
  return EventIdOfSigningBytes(bytes);
}

std::string EventIdOfSigningBytes(std::string_view bytes) {
  std::string id = "$";  // (not "$" + ...: a GCC 12 -Wrestrict false alarm)
  id += Base64UrlEncode(Sha256(bytes));
  return id;
}

void CanonicalObject::AddRaw(std::string key, std::string canonical) {
  members_.emplace_back(std::move(key), std::move(canonical));
}

Status CanonicalObject::AddString(std::string key, std::string_view value) {
  HEARTH_ASSIGN_OR_RETURN(std::string text,
                          Canonicalize(nlohmann::json(std::string(value))));
  AddRaw(std::move(key), std::move(text));
  return Ok();
}

Status CanonicalObject::AddInt(std::string key, std::int64_t value) {
  if (value > kMaxSafeInteger || value < -kMaxSafeInteger)
    return Error::Invalid("not_canonical",
                          "integer outside the canonical JSON range");
  AddRaw(std::move(key), std::to_string(value));
  return Ok();
}

bool CanonicalObject::Has(std::string_view key) const {
  for (const auto& [k, v] : members_)
    if (k == key) return true;
  return false;
}

Result<std::string> CanonicalObject::Text() const {
  // Sorted by code point, which for UTF-8 is byte order (std::string's).
  std::vector<const std::pair<std::string, std::string>*> sorted;
  size_t size = 2;
  for (const auto& m : members_) {
    sorted.push_back(&m);
    size += m.first.size() + m.second.size() + 4;
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  std::string out;
  out.reserve(size);
  out += '{';
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) {
      if (sorted[i]->first == sorted[i - 1]->first)
        return Error::Invalid("not_canonical",
                              "duplicate key " + sorted[i]->first);
      out += ',';
    }
    HEARTH_ASSIGN_OR_RETURN(std::string key,
                            Canonicalize(nlohmann::json(sorted[i]->first)));
    out += key;
    out += ':';
    out += sorted[i]->second;
  }
  out += '}';
  return out;
}

Result<std::string> SignCanonical(CanonicalObject object,
                                  const std::string& server_name,
                                  const SigningKey& key) {
  if (object.Has("signatures") || object.Has("unsigned"))
    return Error::Invalid("not_canonical",
                          "sign an object without signatures here");
  HEARTH_ASSIGN_OR_RETURN(std::string bytes, object.Text());
  nlohmann::json sigs = {
      {server_name, {{key.key_id(), Base64Encode(key.Sign(bytes))}}}};
  HEARTH_ASSIGN_OR_RETURN(std::string sigs_text, Canonicalize(sigs));
  object.AddRaw("signatures", std::move(sigs_text));
  return object.Text();
}

}  // namespace hearth::federation
