// Request authentication between nodes: Matrix's X-Matrix scheme plus a
// timestamp, so that reads too are bound to a clock window.
//
//   Authorization: Hearth origin="a.example",destination="b.example",
//                  key="ed25519:k1",ts="1764100000000",sig="<base64>"
//
// `sig` signs the canonical JSON of {"method", "uri", "origin",
// "destination", "ts", "content"}, `content` omitted without a body; `uri`
// is the path and query exactly as sent.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "federation/signing_key.h"

namespace hearth::federation {

struct RequestAuth {
  std::string origin;
  std::string destination;
  std::string key_id;
  std::int64_t ts = 0;
  std::string sig;  // 64 raw bytes
};

// The Authorization header value for a request.
Result<std::string> SignRequest(const SigningKey& key,
                                const std::string& origin,
                                const std::string& destination,
                                const std::string& method,
                                const std::string& uri, std::int64_t ts,
                                const nlohmann::json* content);

// The same, for a body that is already canonical JSON text (the sender's
// transaction body): nothing is parsed or re-encoded.
std::string SignCanonicalRequest(
    const SigningKey& key, const std::string& origin,
    const std::string& destination, const std::string& method,
    const std::string& uri, std::int64_t ts,
    std::optional<std::string_view> canonical_content);

// Parses the header; Unauthenticated (`missing_auth`, `bad_auth`).
Result<RequestAuth> ParseAuthorization(std::string_view header);

// Checks the signature; Unauthenticated (`bad_signature`).
Status VerifyRequest(const RequestAuth& auth, const std::string& method,
                     const std::string& uri, const nlohmann::json* content,
                     std::string_view public_key);
// The same, for a body the caller has checked is canonical text.
Status VerifyCanonicalRequest(const RequestAuth& auth,
                              const std::string& method, const std::string& uri,
                              std::optional<std::string_view> canonical_content,
                              std::string_view public_key);

}  // namespace hearth::federation
