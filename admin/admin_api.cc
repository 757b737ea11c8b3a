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

  auto& trust = deps.trust;
  auto& keys = deps.keys;
  auto& outbox = deps.outbox;
  auto& announcements = deps.announcements;
  auto notify = deps.notify_senders;

  auto peer_json = [&env, &outbox](const federation::PeerView& v) {
    const auto& r = v.record;
    json pinned = json::array(), offered = json::array();
    for (const auto& [id, key] : r.pinned)
      pinned.push_back(
          {{"key_id", id}, {"fingerprint", federation::Fingerprint(key)}});
    for (const auto& [id, key] : r.offered)
      offered.push_back(
          {{"key_id", id}, {"fingerprint", federation::Fingerprint(key)}});
    std::uint64_t depth = 0;
    if (auto txn = env.BeginRead()) {
      if (auto d = outbox.Depth(*txn, r.server_name)) depth = *d;
    }
    return json{
        {"server_name", r.server_name},
        {"url", r.base_url},
        {"state", federation::ToString(r.state)},
        {"note", r.note},
        {"pinned", pinned},
        {"fingerprints", offered},
        {"added_ts", r.added_ts},
        {"last_contact_ts",
         v.last_contact_ts ? json(v.last_contact_ts) : json()},
        {"last_error", v.last_error.empty() ? json() : json(v.last_error)},
        {"queue_depth", depth}};
  };

  router.Add("GET", "/admin/v1/peers",
             RequireAdmin(token_hash,
                          [&trust, peer_json](const Request&) -> Result<Reply> {
                            HEARTH_ASSIGN_OR_RETURN(auto peers, trust.List());
                            json list = json::array();
                            for (const auto& p : peers)
                              list.push_back(peer_json(p));
                            return Reply::Json(200, {{"peers", list}});
                          }));
  router.Add(
      "POST", "/admin/v1/peers",
      RequireAdmin(
          token_hash, [&trust, peer_json](const Request& req) -> Result<Reply> {
            HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
            HEARTH_ASSIGN_OR_RETURN(std::string url,
                                    http::RequiredString(body, "url", 300));
            HEARTH_ASSIGN_OR_RETURN(auto view, trust.AddPeer(url, kAdminActor));
            return Reply::Json(201, peer_json(view));
          }));
  router.Add(
      "POST", "/admin/v1/peers/{}/trust",
      RequireAdmin(
          token_hash,
          [&trust, peer_json, notify](const Request& req) -> Result<Reply> {
            std::optional<std::vector<std::string>> fingerprints;
            if (!req.raw.body.empty()) {
              HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
              if (body.contains("fingerprints")) {
                Error bad =
                    Error::Invalid("invalid_field",
                                   "'fingerprints' must be a list of strings");
                if (!body["fingerprints"].is_array()) return bad;
                fingerprints.emplace();
                for (const auto& f : body["fingerprints"]) {
                  if (!f.is_string()) return bad;
                  fingerprints->push_back(f.get<std::string>());
                }
              }
            }
            HEARTH_ASSIGN_OR_RETURN(
                auto view,
                trust.Trust(req.params[0], fingerprints, kAdminActor));
            if (notify) notify();
            return Reply::Json(200, peer_json(view));
          }));
  for (auto [verb, state] :
       {std::pair{"limit", federation::PeerState::kLimited},
        std::pair{"block", federation::PeerState::kBlocked}}) {
    router.Add(
        "POST", std::string("/admin/v1/peers/{}/") + verb,
        RequireAdmin(
            token_hash,
            [&trust, peer_json, state](const Request& req) -> Result<Reply> {
              HEARTH_ASSIGN_OR_RETURN(
                  auto view, trust.SetState(req.params[0], state, kAdminActor));
              return Reply::Json(200, peer_json(view));
            }));
  }
  router.Add(
      "DELETE", "/admin/v1/peers/{}",
      RequireAdmin(token_hash, [&trust](const Request& req) -> Result<Reply> {
        HEARTH_RETURN_IF_ERROR(trust.Remove(req.params[0], kAdminActor));
        return Reply::Json(200, json::object());
      }));

  router.Add(
      "POST", "/admin/v1/keys/rotate",
      RequireAdmin(token_hash, [&keys, audit](const Request&) -> Result<Reply> {
        HEARTH_ASSIGN_OR_RETURN(std::string id,
                                keys.Rotate(audit, kAdminActor));
        return Reply::Json(
            200, {{"key_id", id},
                  {"fingerprint",
                   federation::Fingerprint(keys.current().public_key())}});
      }));
  router.Add(
      "GET", "/admin/v1/keys",
      RequireAdmin(token_hash, [&keys](const Request&) -> Result<Reply> {
        json list = json::array();
        for (const auto& [id, rec] : keys.History()) {
          list.push_back(
              {{"key_id", id},
               {"fingerprint", federation::Fingerprint(rec.public_key)},
               {"created_ts", rec.created_ts},
               {"expired_ts", rec.expired_ts ? json(rec.expired_ts) : json()}});
        }
        return Reply::Json(200, {{"keys", list}});
      }));

  router.Add(
      "POST", "/admin/v1/announcements",
      RequireAdmin(
          token_hash, [&announcements](const Request& req) -> Result<Reply> {
            HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
            HEARTH_ASSIGN_OR_RETURN(std::string text,
                                    http::RequiredString(body, "body", 4000));
            HEARTH_ASSIGN_OR_RETURN(auto a,
                                    announcements.Announce(kAdminActor, text));
            return Reply::Json(201, {{"event_id", a.event_id}, {"seq", a.seq}});
          }));
  router.Add(
      "GET", "/admin/v1/announcements",
      RequireAdmin(
          token_hash, [&announcements](const Request& req) -> Result<Reply> {
            HEARTH_ASSIGN_OR_RETURN(
                auto after, http::QueryInt(req, "after", 0, INT64_MAX - 1));
            HEARTH_ASSIGN_OR_RETURN(auto limit,
                                    http::QueryInt(req, "limit", 1, 500));
            size_t n = size_t(limit.value_or(100));
            HEARTH_ASSIGN_OR_RETURN(
                auto list,
                announcements.List(std::uint64_t(after.value_or(0)), n));
            json items = json::array();
            for (const auto& a : list) {
              items.push_back({{"seq", a.seq},
                               {"event_id", a.event_id},
                               {"origin", a.origin},
                               {"ts", a.ts},
                               {"received_ts", a.received_ts},
                               {"body", a.body}});
            }
            json next = list.size() == n ? json(list.back().seq) : json();
            return Reply::Json(200, {{"announcements", items}, {"next", next}});
          }));

  router.Add(
      "GET", "/metrics",
      RequireAdmin(token_hash, [&metrics](const Request&) -> Result<Reply> {
        return Reply::Text(200, metrics.Render(), "text/plain; version=0.0.4");
      }));
}

}  // namespace hearth
