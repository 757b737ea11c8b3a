#include "federation/peer_requests.h"

#include "federation/canonical_json.h"
#include "federation/request_auth.h"

namespace hearth::federation {
namespace {

// The peer's 4xx answer as one of our errors.
Error PeerError(const std::string& peer, const PeerResponse& res) {
  std::string code = "peer_refused";
  std::string message = peer + " answered " + std::to_string(res.status);
  auto answer = ParseJson(res.body);
  nlohmann::json parsed = answer ? std::move(*answer) : nlohmann::json();
  if (parsed.is_object() && parsed.contains("error") &&
      parsed["error"].is_object()) {
    const auto& e = parsed["error"];
    if (e.contains("code") && e["code"].is_string()) code = e["code"];
    if (e.contains("message") && e["message"].is_string())
      message = peer + ": " + e["message"].get<std::string>();
  }
  switch (res.status) {
    case 400:
      return Error::Invalid(code, message);
    case 401:
      return Error::Forbidden(code, message);  // our signature, not the member
    case 403:
      return Error::Forbidden(code, message);
    case 404:
      return Error::NotFound(code, message);
    case 409:
      return Error::Conflict(code, message);
    case 413:
      return Error::TooLarge(code, message);
    case 429:
      return Error::RateLimited(message, 1000);
    default:
      return Error::Unavailable("peer_unreachable", message);
  }
}

}  // namespace

Result<nlohmann::json> PeerRequests::Call(const std::string& peer,
                                          const std::string& method,
                                          const std::string& uri,
                                          const nlohmann::json* body,
                                          bool directory_only) {
  HEARTH_ASSIGN_OR_RETURN(auto record, trust_.Get(peer));
  if (!record || record->state == PeerState::kPending ||
      record->state == PeerState::kBlocked) {
    return Error::Forbidden("peer_not_trusted",
                            peer + " is not a trusted peer of this node");
  }
  if (record->state == PeerState::kLimited && !directory_only) {
    return Error::Forbidden(
        "peer_limited",
        peer + " is limited: directory only, no memberships or messages");
  }
  std::optional<std::string> text;
  if (body) {
    HEARTH_ASSIGN_OR_RETURN(std::string canonical, Canonicalize(*body));
    text = std::move(canonical);
  } else if (method != "GET") {
    text = "{}";
  }
  std::string auth = SignCanonicalRequest(
      keys_.current(), keys_.server_name(), peer, method, uri, clock_.NowMs(),
      text ? std::optional<std::string_view>(*text) : std::nullopt);
  Result<PeerResponse> res =
      method == "GET" ? client_.Get(record->base_url, uri, auth)
                      : client_.Post(record->base_url, uri, auth, *text);
  if (!res) return res.error();
  if (res->status >= 200 && res->status < 300) {
    // Bounded depth: a hostile answer must not exhaust the stack of
    // whatever copies or encodes it later.
    JsonLimits limits;
    limits.max_bytes = 32 << 20;
    auto parsed = ParseJson(res->body, limits);
    if (!parsed || !parsed->is_object())
      return Error::Unavailable("peer_unreachable",
                                peer + " answered with something not JSON");
    return std::move(*parsed);
  }
  return PeerError(peer, *res);
}

}  // namespace hearth::federation
