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
    HEARTH_ASSIGN_OR_RETURN(std::string key, CanonicalString(it.key()));
    HEARTH_ASSIGN_OR_RETURN(std::string value, Canonicalize(*it, inner));
    out += key;
    out += ':';
    out += value;
  }
  out += '}';
  return out;
}

namespace {

// Past the JSON string that starts at text[i] (a '"'); its unescaped
// bytes in *out. Canonical text only: escapes are \" \\ \b \f \n \r \t
// and \u00XX.
Result<size_t> ScanString(std::string_view text, size_t i, std::string* out) {
  static const Error bad = Error::Invalid("not_canonical", "bad string");
  ++i;
  while (i < text.size()) {
    char c = text[i++];
    if (c == '"') return i;
    if (c != '\\') {
      if (out) out->push_back(c);
      continue;
    }
    if (i >= text.size()) return bad;
    char e = text[i++];
    if (e == 'u') {
      if (text.size() - i < 4) return bad;
      unsigned v = 0;
      for (size_t k = 0; k < 4; ++k) {
        char h = text[i + k];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                       : -1;
        if (d < 0) return bad;
        v = v * 16 + unsigned(d);
      }
      if (v > 0x1f) return bad;  // canonical JSON escapes controls only
      if (out) out->push_back(char(v));
      i += 4;
      continue;
    }
    static const std::string_view from = "\"\\bfnrt", to = "\"\\\b\f\n\r\t";
    size_t k = from.find(e);
    if (k == std::string_view::npos) return bad;
    if (out) out->push_back(to[k]);
  }
  return bad;
}

// Past the JSON value that starts at text[i].
Result<size_t> SkipValue(std::string_view text, size_t i) {
  if (i >= text.size())
    return Error::Invalid("not_canonical", "text ends in a value");
  if (text[i] == '"') return ScanString(text, i, nullptr);
  if (text[i] != '{' && text[i] != '[') {
    while (i < text.size() && text[i] != ',' && text[i] != '}' &&
           text[i] != ']')
      ++i;
    return i;
  }
  int depth = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '"') {
      HEARTH_ASSIGN_OR_RETURN(i, ScanString(text, i, nullptr));
      continue;
    }
    ++i;
    if (c == '{' || c == '[') ++depth;
    if ((c == '}' || c == ']') && --depth == 0) return i;
  }
  return Error::Invalid("not_canonical", "unbalanced value");
}

}  // namespace

Result<std::string> CanonicalFromSigningBytes(const nlohmann::json& object,
                                              std::string_view signing_bytes) {
  if (!object.is_object() || object.contains("unsigned"))
    return Canonicalize(object);  // the unusual case: no shortcut
  auto sigs = object.find("signatures");
  if (sigs == object.end()) return std::string(signing_bytes);
  HEARTH_ASSIGN_OR_RETURN(std::string value, Canonicalize(*sigs));
  const std::string_view text = signing_bytes;
  if (text.size() < 2 || text.front() != '{' || text.back() != '}')
    return Error::Invalid("not_canonical", "signing bytes are an object");
  // Find the first top-level member whose key sorts after "signatures".
  size_t i = 1, at = text.size() - 1;
  while (i < text.size() - 1) {
    if (text[i] != '"')
      return Error::Invalid("not_canonical", "a member without a key");
    std::string key;
    const size_t start = i;
    HEARTH_ASSIGN_OR_RETURN(i, ScanString(text, i, &key));
    if (key > "signatures") {
      at = start;
      break;
    }
    if (i >= text.size() || text[i] != ':')
      return Error::Invalid("not_canonical", "a key without a value");
    HEARTH_ASSIGN_OR_RETURN(i, SkipValue(text, i + 1));
    if (i < text.size() && text[i] == ',') ++i;
  }
  std::string out;
  out.reserve(text.size() + value.size() + 16);
  out.append(text.substr(0, at));
  if (at == text.size() - 1 && text.size() > 2) out += ',';
  out += "\"signatures\":";
  out += value;
  if (at != text.size() - 1) out += ',';
  out.append(text.substr(at));
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
                  const std::string& key_id, std::string_view public_key,
                  const std::string* signing_bytes) {
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
  std::string made;
  if (signing_bytes == nullptr) {
    HEARTH_ASSIGN_OR_RETURN(made, SigningBytes(object));
    signing_bytes = &made;
  }
  if (!VerifyEd25519(public_key, *signing_bytes, *sig)) {
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
  HEARTH_ASSIGN_OR_RETURN(std::string text, CanonicalString(value));
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
    HEARTH_ASSIGN_OR_RETURN(std::string key, CanonicalString(sorted[i]->first));
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
