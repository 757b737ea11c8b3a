#include "admin/admin_api.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace hearth {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

// The token holder is the actor recorded in the audit log.
constexpr char kAdminActor[] = "admin";

// Wraps a handler so that it runs only with the admin token.
http::Handler RequireAdmin(std::shared_ptr<const std::string> token_hash,
                           http::Handler inner) {
  return [token_hash,
          inner = std::move(inner)](const Request& req) -> Result<Reply> {
    HEARTH_ASSIGN_OR_RETURN(std::string token, req.BearerToken());
    // Compare digests so the comparison is constant-time in the token.
    if (!ConstantTimeEquals(Sha256(token), *token_hash)) {
      return Error::Unauthenticated("invalid_token",
                                    "the admin token is wrong");
    }
    return inner(req);
  };
}

}  // namespace

void AddAdminApi(http::Router& router, AdminDeps deps) {
  auto token_hash =
      std::make_shared<const std::string>(Sha256(deps.admin_token));
  AccountService& accounts = deps.accounts;
  storage::Env& env = deps.env;
  storage::AuditLog audit = deps.audit;
  Metrics& metrics = deps.metrics;

  router.Add("POST", "/admin/v1/invites",
             RequireAdmin(
                 token_hash, [&accounts](const Request& req) -> Result<Reply> {
                   json body = json::object();
                   if (!req.raw.body.empty()) {
                     HEARTH_ASSIGN_OR_RETURN(body, req.JsonBody());
                   }
                   HEARTH_ASSIGN_OR_RETURN(
                       auto uses, http::OptionalInt(body, "uses", 1, 10000));
                   HEARTH_ASSIGN_OR_RETURN(
                       auto hours,
                       http::OptionalInt(body, "expires_in_hours", 1, 8784));
                   HEARTH_ASSIGN_OR_RETURN(
                       InviteGrant g,
                       accounts.CreateInvite(
                           kAdminActor, std::uint32_t(uses.value_or(1)),
                           hours.value_or(24 * 7) * 3600 * 1000));
                   return Reply::Json(201, {{"code", g.code},
                                            {"uses", g.uses},
                                            {"expires_ts", g.expires_ts}});
                 }));

  router.Add(
      "GET", "/admin/v1/audit",
      RequireAdmin(
          token_hash, [&env, audit](const Request& req) -> Result<Reply> {
            HEARTH_ASSIGN_OR_RETURN(
                auto after, http::QueryInt(req, "after", 0, INT64_MAX - 1));
            HEARTH_ASSIGN_OR_RETURN(auto limit,
                                    http::QueryInt(req, "limit", 1, 500));
            size_t n = size_t(limit.value_or(100));
            std::vector<storage::AuditEntry> entries;
            {
              HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env.BeginRead());
              HEARTH_ASSIGN_OR_RETURN(
                  entries,
                  audit.List(txn, std::uint64_t(after.value_or(0)), n));
            }
            json list = json::array();
            for (const auto& e : entries) {
              json detail = json::parse(e.detail, nullptr, false);
              list.push_back({{"seq", e.seq},
                              {"ts", e.ts},
                              {"actor", e.actor},
                              {"action", e.action},
                              {"target", e.target},
                              {"detail", detail.is_discarded() ? json(e.detail)
                                                               : detail}});
            }
            json next = entries.size() == n ? json(entries.back().seq) : json();
            return Reply::Json(200,
                               {{"entries", std::move(list)}, {"next", next}});
          }));

  router.Add(
      "GET", "/metrics",
      RequireAdmin(token_hash, [&metrics](const Request&) -> Result<Reply> {
        return Reply::Text(200, metrics.Render(), "text/plain; version=0.0.4");
      }));
}

}  // namespace hearth
