#include "node/api/federation_api.h"

#include "federation/canonical_json.h"

namespace hearth {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

// Authenticates a peer's request; returns its origin and canonical body.
Result<std::pair<std::string, json>> Peer(federation::Inbound& inbound,
                                          const Request& req,
                                          bool directory_only) {
  std::optional<std::string_view> content;
  json body;
  const std::string& method = req.raw.method;
  if (method != "GET") {
    HEARTH_ASSIGN_OR_RETURN(body, federation::ParseCanonical(req.raw.body));
    content = req.raw.body;
  }
  HEARTH_ASSIGN_OR_RETURN(
      std::string origin,
      inbound.Authenticate(method, req.raw.target,
                           req.raw.HeaderValue("Authorization"), content,
                           directory_only));
  return std::make_pair(std::move(origin), std::move(body));
}

}  // namespace

void AddFederationApi(http::Router& router, const federation::NodeKeys& keys,
                      federation::Inbound& inbound, GroupService& groups,
                      DirectoryService& directory) {
  router.Add("GET", "/_hearth/v1/groups/{}",
             [&](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto peer, Peer(inbound, req, true));
               HEARTH_ASSIGN_OR_RETURN(
                   json g, groups.HostGetGroup(peer.first, req.params[0]));
               return Reply::Json(200, g);
             });
  router.Add("POST", "/_hearth/v1/groups/{}/join",
             [&](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto peer, Peer(inbound, req, false));
               HEARTH_ASSIGN_OR_RETURN(
                   json r,
                   groups.HostJoin(peer.first, req.params[0], peer.second));
               return Reply::Json(200, r);
             });
  router.Add("POST", "/_hearth/v1/groups/{}/leave",
             [&](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto peer, Peer(inbound, req, false));
               HEARTH_ASSIGN_OR_RETURN(
                   json r,
                   groups.HostLeave(peer.first, req.params[0], peer.second));
               return Reply::Json(200, r);
             });
  router.Add("POST", "/_hearth/v1/groups/{}/messages",
             [&](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto peer, Peer(inbound, req, false));
               HEARTH_ASSIGN_OR_RETURN(
                   json r,
                   groups.HostPost(peer.first, req.params[0], peer.second));
               return Reply::Json(200, r);
             });
  router.Add("GET", "/_hearth/v1/groups/{}/events",
             [&](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto peer, Peer(inbound, req, false));
               HEARTH_ASSIGN_OR_RETURN(
                   auto after,
                   http::QueryInt(req, "after", 0, (1ll << 53) - 1));
               HEARTH_ASSIGN_OR_RETURN(auto limit,
                                       http::QueryInt(req, "limit", 1, 500));
               HEARTH_ASSIGN_OR_RETURN(
                   std::string text,
                   groups.HostEvents(peer.first, req.params[0],
                                     std::uint64_t(after.value_or(0)),
                                     size_t(limit.value_or(100))));
               return Reply{200, std::move(text), "application/json"};
             });
  // Directory-only: limited peers may call these too.
  router.Add("GET", DirectoryService::kPath,
             [&](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto peer, Peer(inbound, req, true));
               HEARTH_ASSIGN_OR_RETURN(
                   auto newer_than,
                   http::QueryInt(req, "newer_than", 0, (1ll << 53) - 1));
               std::optional<std::uint64_t> since;
               if (newer_than) since = std::uint64_t(*newer_than);
               HEARTH_ASSIGN_OR_RETURN(std::string doc,
                                       directory.HostDirectory(since));
               return Reply{200, std::move(doc), "application/json"};
             });
  router.Add(
      "POST", DirectoryService::kNoticePath,
      [&](const Request& req) -> Result<Reply> {
        HEARTH_ASSIGN_OR_RETURN(auto peer, Peer(inbound, req, true));
        HEARTH_RETURN_IF_ERROR(directory.HostNotice(peer.first, peer.second));
        return Reply::Json(200, json::object());
      });
  router.Add("GET", "/_hearth/v1/keys",
             [&keys](const http::Request&) -> Result<http::Reply> {
               HEARTH_ASSIGN_OR_RETURN(std::string doc, keys.KeyDocumentText());
               return http::Reply{200, std::move(doc), "application/json"};
             });
  router.Add("PUT", "/_hearth/v1/send/{}",
             [&inbound](const http::Request& req) -> Result<http::Reply> {
               HEARTH_ASSIGN_OR_RETURN(
                   nlohmann::json result,
                   inbound.Send(req.params[0], req.raw.target,
                                req.raw.HeaderValue("Authorization"),
                                req.raw.body, req.raw.Query("after")));
               return http::Reply::Json(200, result);
             });
}

}  // namespace hearth
