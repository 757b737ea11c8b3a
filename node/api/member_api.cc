#include "node/api/member_api.h"

#include <nlohmann/json.hpp>

#include "common/version.h"

namespace hearth {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

json SessionJson(const SessionGrant& g) {
  return {{"member_id", g.member_id},
          {"token", g.token},
          {"expires_ts", g.expires_ts}};
}

json NodeJson(const NodeInfo& info) {
  json resources = json::array();
  for (const CrisisResource& r : info.crisis_resources) {
    json item = {{"name", r.name}};
    if (r.phone) item["phone"] = *r.phone;
    if (r.text) item["text"] = *r.text;
    if (r.url) item["url"] = *r.url;
    if (r.region) item["region"] = *r.region;
    resources.push_back(std::move(item));
  }
  return {{"server_name", info.server_name},
          {"software", kSoftware},
          {"version", kVersion},
          {"registration", ToString(info.registration)},
          {"crisis_resources", std::move(resources)}};
}

}  // namespace

void AddMemberApi(http::Router& router, const NodeInfo& info,
                  AccountService& accounts) {
  // The node document never changes while the node runs.
  std::string node_doc = NodeJson(info).dump();
  router.Add("GET", "/api/v1/node",
             [node_doc](const Request&) -> Result<Reply> {
               return Reply{200, node_doc, "application/json"};
             });

  router.Add("POST", "/api/v1/accounts",
             [&accounts](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
               RegisterRequest r;
               HEARTH_ASSIGN_OR_RETURN(
                   r.handle, http::RequiredString(body, "handle", 64));
               HEARTH_ASSIGN_OR_RETURN(
                   r.password, http::RequiredString(body, "password", 4096));
               HEARTH_ASSIGN_OR_RETURN(
                   auto display,
                   http::OptionalString(body, "display_name", 1024));
               r.display_name = display.value_or("");
               HEARTH_ASSIGN_OR_RETURN(
                   r.invite, http::OptionalString(body, "invite", 256));
               HEARTH_ASSIGN_OR_RETURN(SessionGrant g, accounts.Register(r));
               return Reply::Json(201, SessionJson(g));
             });

  router.Add("POST", "/api/v1/sessions",
             [&accounts](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
               HEARTH_ASSIGN_OR_RETURN(
                   auto handle, http::RequiredString(body, "handle", 64));
               HEARTH_ASSIGN_OR_RETURN(
                   auto password, http::RequiredString(body, "password", 4096));
               HEARTH_ASSIGN_OR_RETURN(
                   SessionGrant g,
                   accounts.Login(handle, password, req.remote_addr));
               return Reply::Json(200, SessionJson(g));
             });

  router.Add("DELETE", "/api/v1/sessions/current",
             [&accounts](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(std::string token, req.BearerToken());
               HEARTH_RETURN_IF_ERROR(accounts.Logout(token));
               return Reply::Json(200, json::object());
             });

  router.Add("GET", "/api/v1/me",
             [&accounts](const Request& req) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(std::string token, req.BearerToken());
               HEARTH_ASSIGN_OR_RETURN(Member m, accounts.Authenticate(token));
               HEARTH_ASSIGN_OR_RETURN(Profile p, accounts.GetProfile(m));
               return Reply::Json(200, {{"member_id", p.member_id},
                                        {"handle", p.handle},
                                        {"display_name", p.display_name},
                                        {"created_ts", p.created_ts}});
             });
}

}  // namespace hearth
