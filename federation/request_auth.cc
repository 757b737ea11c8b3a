#include "federation/request_auth.h"

#include <charconv>

#include "common/encoding.h"
#include "common/ids.h"
#include "federation/canonical_json.h"

namespace hearth::federation {
namespace {

// The canonical JSON of {content?, destination, method, origin, ts, uri},
// written directly (keys in code-point order) so that a body that is
// already canonical text is not parsed and re-encoded again.
std::string Bytes(const std::string& method, const std::string& uri,
                  const std::string& origin, const std::string& destination,
                  std::int64_t ts,
                  std::optional<std::string_view> canonical_content) {
  auto str = [](const std::string& s) { return nlohmann::json(s).dump(); };
  std::string out = "{";
  if (canonical_content) {
    out += "\"content\":";
    out += *canonical_content;
    out += ',';
  }
  out += "\"destination\":" + str(destination) + ",\"method\":" + str(method) +
         ",\"origin\":" + str(origin) + ",\"ts\":" + std::to_string(ts) +
         ",\"uri\":" + str(uri) + "}";
  return out;
}

Result<std::optional<std::string>> CanonicalContent(
    const nlohmann::json* content) {
  if (content == nullptr) return std::optional<std::string>();
  HEARTH_ASSIGN_OR_RETURN(std::string text, Canonicalize(*content));
  return std::optional<std::string>(std::move(text));
}

Error BadAuth(const std::string& why) {
  return Error::Unauthenticated("bad_auth",
                                "malformed Authorization header: " + why);
}

}  // namespace

Result<std::string> SignRequest(const SigningKey& key,
                                const std::string& origin,
                                const std::string& destination,
                                const std::string& method,
                                const std::string& uri, std::int64_t ts,
                                const nlohmann::json* content) {
  HEARTH_ASSIGN_OR_RETURN(auto text, CanonicalContent(content));
  return SignCanonicalRequest(
      key, origin, destination, method, uri, ts,
      text ? std::optional<std::string_view>(*text) : std::nullopt);
}

std::string SignCanonicalRequest(
    const SigningKey& key, const std::string& origin,
    const std::string& destination, const std::string& method,
    const std::string& uri, std::int64_t ts,
    std::optional<std::string_view> canonical_content) {
  std::string bytes =
      Bytes(method, uri, origin, destination, ts, canonical_content);
  return "Hearth origin=\"" + origin + "\",destination=\"" + destination +
         "\",key=\"" + key.key_id() + "\",ts=\"" + std::to_string(ts) +
         "\",sig=\"" + Base64Encode(key.Sign(bytes)) + "\"";
}

Result<RequestAuth> ParseAuthorization(std::string_view header) {
  constexpr std::string_view kScheme = "Hearth ";
  if (header.empty())
    return Error::Unauthenticated("missing_auth",
                                  "a signed Authorization header is required");
  if (header.substr(0, kScheme.size()) != kScheme)
    return BadAuth("the scheme must be Hearth");
  std::string_view rest = header.substr(kScheme.size());
  RequestAuth auth;
  std::string ts_text, sig_text;
  int seen = 0;
  while (!rest.empty()) {
    auto eq = rest.find('=');
    if (eq == std::string_view::npos || eq + 1 >= rest.size() ||
        rest[eq + 1] != '"')
      return BadAuth("expected name=\"value\"");
    std::string_view name = rest.substr(0, eq);
    auto close = rest.find('"', eq + 2);
    if (close == std::string_view::npos) return BadAuth("unterminated value");
    std::string value(rest.substr(eq + 2, close - eq - 2));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ',') return BadAuth("expected ','");
      rest.remove_prefix(1);
      if (rest.empty()) return BadAuth("trailing ','");
    }
    std::string* target = nullptr;
    int bit = 0;
    if (name == "origin")
      target = &auth.origin, bit = 1;
    else if (name == "destination")
      target = &auth.destination, bit = 2;
    else if (name == "key")
      target = &auth.key_id, bit = 4;
    else if (name == "ts")
      target = &ts_text, bit = 8;
    else if (name == "sig")
      target = &sig_text, bit = 16;
    else
      return BadAuth("unknown field " + std::string(name));
    if (seen & bit) return BadAuth("repeated field " + std::string(name));
    seen |= bit;
    *target = std::move(value);
  }
  if (seen != 31)
    return BadAuth("origin, destination, key, ts and sig are required");
  if (!IsValidServerName(auth.origin) || !IsValidServerName(auth.destination))
    return BadAuth("bad server name");
  if (!IsValidKeyId(auth.key_id)) return BadAuth("bad key id");
  // Milliseconds as plain digits: no sign, no leading zeros.
  if (ts_text.empty() || ts_text.size() > 16 ||
      ts_text.find_first_not_of("0123456789") != std::string::npos ||
      (ts_text.size() > 1 && ts_text[0] == '0'))
    return BadAuth("bad ts");
  auto [ptr, ec] =
      std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), auth.ts);
  if (ec != std::errc() || ptr != ts_text.data() + ts_text.size())
    return BadAuth("bad ts");
  auto sig = Base64Decode(sig_text);
  if (!sig || sig->size() != 64) return BadAuth("bad sig");
  auth.sig = std::move(*sig);
  return auth;
}

Status VerifyRequest(const RequestAuth& auth, const std::string& method,
                     const std::string& uri, const nlohmann::json* content,
                     std::string_view public_key) {
  HEARTH_ASSIGN_OR_RETURN(auto text, CanonicalContent(content));
  return VerifyCanonicalRequest(
      auth, method, uri,
      text ? std::optional<std::string_view>(*text) : std::nullopt, public_key);
}

Status VerifyCanonicalRequest(const RequestAuth& auth,
                              const std::string& method, const std::string& uri,
                              std::optional<std::string_view> canonical_content,
                              std::string_view public_key) {
  std::string bytes = Bytes(method, uri, auth.origin, auth.destination, auth.ts,
                            canonical_content);
  if (!VerifyEd25519(public_key, bytes, auth.sig))
    return Error::Unauthenticated("bad_signature",
                                  "the request signature does not verify");
  return Ok();
}

}  // namespace hearth::federation
