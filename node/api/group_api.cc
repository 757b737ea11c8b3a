#include "node/api/group_api.h"

#include "node/api/member_auth.h"

namespace hearth {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

Result<std::optional<std::vector<std::string>>> OptionalStrings(
    const json& body, const std::string& field, size_t max_items) {
  if (!body.contains(field)) return std::optional<std::vector<std::string>>();
  const json& v = body[field];
  if (!v.is_array() || v.size() > max_items)
    return Error::Invalid("invalid_" + field, field + " is a list of at most " +
                                                  std::to_string(max_items) +
                                                  " strings");
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (!s.is_string())
      return Error::Invalid("invalid_" + field, field + " holds strings");
    out.push_back(s);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<bool> OptionalBool(const json& body, const std::string& field) {
  if (!body.contains(field)) return false;
  if (!body[field].is_boolean())
    return Error::Invalid("invalid_" + field, field + " is true or false");
  return body[field].get<bool>();
}

Result<GroupSpec> ParseSpec(const json& body) {
  GroupSpec spec;
  HEARTH_ASSIGN_OR_RETURN(spec.slug, http::OptionalString(body, "slug", 64));
  HEARTH_ASSIGN_OR_RETURN(spec.name, http::OptionalString(body, "name", 200));
  HEARTH_ASSIGN_OR_RETURN(spec.description,
                          http::OptionalString(body, "description", 4000));
  HEARTH_ASSIGN_OR_RETURN(spec.topics, OptionalStrings(body, "topics", 10));
  HEARTH_ASSIGN_OR_RETURN(spec.language,
                          http::OptionalString(body, "language", 32));
  HEARTH_ASSIGN_OR_RETURN(spec.rules,
                          http::OptionalString(body, "rules", 8000));
  HEARTH_ASSIGN_OR_RETURN(auto visibility,
                          http::OptionalString(body, "visibility", 32));
  if (visibility) {
    Visibility v;
    if (!ParseVisibility(*visibility, &v))
      return Error::Invalid("invalid_visibility",
                            "visibility is public, unlisted or private");
    spec.visibility = v;
  }
  HEARTH_ASSIGN_OR_RETURN(auto policy,
                          http::OptionalString(body, "join_policy", 32));
  if (policy) {
    JoinPolicy p;
    if (!ParseJoinPolicy(*policy, &p))
      return Error::Invalid("invalid_join_policy",
                            "join_policy is open, approval or invite");
    spec.join_policy = p;
  }
  if (body.contains("meetings")) {
    const json& list = body["meetings"];
    if (!list.is_array() || list.size() > 14)
      return Error::Invalid("invalid_meetings",
                            "meetings is a list of at most 14 objects");
    std::vector<Meeting> meetings;
    for (const auto& m : list) {
      if (!m.is_object())
        return Error::Invalid("invalid_meetings", "a meeting is an object");
      Meeting meeting;
      HEARTH_ASSIGN_OR_RETURN(meeting.weekday,
                              http::RequiredString(m, "weekday", 16));
      HEARTH_ASSIGN_OR_RETURN(meeting.time, http::RequiredString(m, "time", 8));
      HEARTH_ASSIGN_OR_RETURN(meeting.timezone,
                              http::RequiredString(m, "timezone", 64));
      HEARTH_ASSIGN_OR_RETURN(auto link, http::OptionalString(m, "link", 500));
      meeting.link = link.value_or("");
      meetings.push_back(std::move(meeting));
    }
    spec.meetings = std::move(meetings);
  }
  return spec;
}

json ViewJson(const GroupView& v) {
  json j = GroupJson(v.group);
  j["membership"] = ToString(v.membership);
  if (v.membership != MemberState::kNone) j["role"] = ToString(v.role);
  return j;
}

Result<std::uint64_t> After(const Request& req) {
  HEARTH_ASSIGN_OR_RETURN(auto after,
                          http::QueryInt(req, "after", 0, (1ll << 53) - 1));
  return std::uint64_t(after.value_or(0));
}

Result<size_t> Limit(const Request& req) {
  HEARTH_ASSIGN_OR_RETURN(auto limit, http::QueryInt(req, "limit", 1, 500));
  return size_t(limit.value_or(50));
}

json Next(const std::optional<std::uint64_t>& next) {
  return next ? json(*next) : json(nullptr);
}

}  // namespace

void AddGroupApi(http::Router& router, AccountService& accounts,
                 GroupService& groups) {
  router.Add(
      "POST", "/api/v1/groups",
      Authed(accounts,
             [&groups](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
               HEARTH_ASSIGN_OR_RETURN(GroupSpec spec, ParseSpec(body));
               HEARTH_ASSIGN_OR_RETURN(GroupView v, groups.Create(m, spec));
               return Reply::Json(201, ViewJson(v));
             }));
  router.Add(
      "GET", "/api/v1/groups/{}",
      Authed(accounts,
             [&groups](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(GroupView v,
                                       groups.Get(m, req.params[0]));
               return Reply::Json(200, ViewJson(v));
             }));
  router.Add(
      "PATCH", "/api/v1/groups/{}",
      Authed(accounts,
             [&groups](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
               HEARTH_ASSIGN_OR_RETURN(GroupSpec spec, ParseSpec(body));
               HEARTH_ASSIGN_OR_RETURN(GroupView v,
                                       groups.Update(m, req.params[0], spec));
               return Reply::Json(200, ViewJson(v));
             }));
  router.Add(
      "POST", "/api/v1/groups/{}/join",
      Authed(accounts,
             [&groups](const Request& req, const Member& m) -> Result<Reply> {
               json body = json::object();
               if (!req.raw.body.empty()) {
                 HEARTH_ASSIGN_OR_RETURN(body, req.JsonBody());
               }
               HEARTH_ASSIGN_OR_RETURN(bool accept,
                                       OptionalBool(body, "accept_rules"));
               HEARTH_ASSIGN_OR_RETURN(MemberState s,
                                       groups.Join(m, req.params[0], accept));
               return Reply::Json(200, {{"status", ToString(s)}});
             }));
  router.Add(
      "POST", "/api/v1/groups/{}/leave",
      Authed(accounts,
             [&groups](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_RETURN_IF_ERROR(groups.Leave(m, req.params[0]));
               return Reply::Json(200, {{"status", "none"}});
             }));
  router.Add(
      "POST", "/api/v1/groups/{}/messages",
      Authed(
          accounts,
          [&groups](const Request& req, const Member& m) -> Result<Reply> {
            HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
            PostRequest post;
            HEARTH_ASSIGN_OR_RETURN(post.body,
                                    http::RequiredString(body, "body", 8000));
            HEARTH_ASSIGN_OR_RETURN(
                auto cw, http::OptionalString(body, "content_warning", 200));
            post.content_warning = cw.value_or("");
            HEARTH_ASSIGN_OR_RETURN(auto reply,
                                    http::OptionalString(body, "reply_to", 64));
            post.reply_to = reply.value_or("");
            HEARTH_ASSIGN_OR_RETURN(PostResult r,
                                    groups.Post(m, req.params[0], post));
            return Reply::Json(201, {{"event_id", r.event_id}, {"seq", r.seq}});
          }));
  router.Add(
      "GET", "/api/v1/groups/{}/messages",
      Authed(accounts,
             [&groups](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(std::uint64_t after, After(req));
               HEARTH_ASSIGN_OR_RETURN(size_t limit, Limit(req));
               HEARTH_ASSIGN_OR_RETURN(
                   HistoryPage page,
                   groups.History(m, req.params[0], after, limit));
               json messages = json::array();
               for (const auto& msg : page.messages)
                 messages.push_back(MessageJson(msg));
               return Reply::Json(
                   200, {{"messages", messages}, {"next", Next(page.next)}});
             }));
  router.Add(
      "GET", "/api/v1/groups/{}/requests",
      Authed(accounts,
             [&groups](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto list,
                                       groups.Requests(m, req.params[0]));
               json out = json::array();
               for (const auto& r : list)
                 out.push_back({{"member_id", r.member_id}, {"ts", r.ts}});
               return Reply::Json(200, {{"requests", out}});
             }));
  for (const char* verb : {"approve", "refuse"}) {
    bool approve = std::string(verb) == "approve";
    router.Add(
        "POST", std::string("/api/v1/groups/{}/requests/{}/") + verb,
        Authed(accounts,
               [&groups, approve](const Request& req,
                                  const Member& m) -> Result<Reply> {
                 HEARTH_ASSIGN_OR_RETURN(
                     MemberState s,
                     groups.Decide(m, req.params[0], req.params[1], approve));
                 return Reply::Json(200, {{"status", ToString(s)}});
               }));
  }
  router.Add(
      "POST", "/api/v1/groups/{}/invites/{}",
      Authed(accounts,
             [&groups](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_RETURN_IF_ERROR(
                   groups.Invite(m, req.params[0], req.params[1]));
               return Reply::Json(200, {{"status", "invited"}});
             }));
  // Bans, mutes and facilitators: POST sets, DELETE clears.
  using Setter = Status (GroupService::*)(const Member&, const std::string&,
                                          const std::string&, bool);
  const std::pair<const char*, Setter> toggles[] = {
      {"bans", &GroupService::SetBanned},
      {"mutes", &GroupService::SetMuted},
      {"facilitators", &GroupService::SetFacilitator}};
  for (const auto& [name, setter] : toggles) {
    for (bool on : {true, false}) {
      router.Add(
          on ? "POST" : "DELETE",
          std::string("/api/v1/groups/{}/") + name + "/{}",
          Authed(accounts,
                 [&groups, setter = setter, on](
                     const Request& req, const Member& m) -> Result<Reply> {
                   HEARTH_RETURN_IF_ERROR(
                       (groups.*setter)(m, req.params[0], req.params[1], on));
                   return Reply::Json(200, json::object());
                 }));
    }
  }
  router.Add(
      "GET", "/api/v1/me/groups",
      Authed(accounts,
             [&groups](const Request&, const Member& m) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto mine, groups.MyGroups(m));
               json out = json::array();
               for (const auto& g : mine) {
                 json item = {{"group_id", g.group_id},
                              {"name", g.name},
                              {"membership", ToString(g.membership)}};
                 if (g.membership == MemberState::kJoined)
                   item["role"] = ToString(g.role);
                 out.push_back(std::move(item));
               }
               return Reply::Json(200, {{"groups", out}});
             }));
}

void AddConversationApi(http::Router& router, AccountService& accounts,
                        ConversationService& conversations, BlockList& blocks) {
  router.Add(
      "POST", "/api/v1/conversations/{}/messages",
      Authed(accounts,
             [&conversations](const Request& req,
                              const Member& m) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(json body, req.JsonBody());
               HEARTH_ASSIGN_OR_RETURN(
                   auto text, http::RequiredString(body, "body", 8000));
               HEARTH_ASSIGN_OR_RETURN(
                   auto sent, conversations.Send(m, req.params[0], text));
               return Reply::Json(201, {{"event_id", sent.event_id},
                                        {"seq", sent.seq},
                                        {"state", ToString(sent.state)}});
             }));
  router.Add("GET", "/api/v1/conversations/{}/messages",
             Authed(accounts,
                    [&conversations](const Request& req,
                                     const Member& m) -> Result<Reply> {
                      HEARTH_ASSIGN_OR_RETURN(std::uint64_t after, After(req));
                      HEARTH_ASSIGN_OR_RETURN(size_t limit, Limit(req));
                      HEARTH_ASSIGN_OR_RETURN(
                          auto page, conversations.Messages(m, req.params[0],
                                                            after, limit));
                      json out = json::array();
                      for (const auto& msg : page.messages)
                        out.push_back({{"event_id", msg.event_id},
                                       {"seq", msg.seq},
                                       {"author", msg.author},
                                       {"body", msg.body},
                                       {"ts", msg.ts}});
                      return Reply::Json(
                          200, {{"messages", out}, {"next", Next(page.next)}});
                    }));
  router.Add(
      "POST", "/api/v1/conversations/{}/accept",
      Authed(accounts,
             [&conversations](const Request& req,
                              const Member& m) -> Result<Reply> {
               HEARTH_RETURN_IF_ERROR(conversations.Accept(m, req.params[0]));
               return Reply::Json(200, {{"state", "accepted"}});
             }));
  router.Add(
      "POST", "/api/v1/conversations/{}/decline",
      Authed(accounts,
             [&conversations](const Request& req,
                              const Member& m) -> Result<Reply> {
               HEARTH_RETURN_IF_ERROR(conversations.Decline(m, req.params[0]));
               return Reply::Json(200, {{"state", "declined"}});
             }));
  router.Add("GET", "/api/v1/conversations",
             Authed(accounts,
                    [&conversations](const Request&,
                                     const Member& m) -> Result<Reply> {
                      HEARTH_ASSIGN_OR_RETURN(auto list, conversations.List(m));
                      json out = json::array();
                      for (const auto& c : list)
                        out.push_back({{"with", c.other},
                                       {"state", ToString(c.state)},
                                       {"updated_ts", c.updated_ts}});
                      return Reply::Json(200, {{"conversations", out}});
                    }));
  router.Add(
      "POST", "/api/v1/blocks/{}",
      Authed(accounts,
             [&blocks](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_RETURN_IF_ERROR(blocks.Block(m, req.params[0]));
               return Reply::Json(200, json::object());
             }));
  router.Add(
      "DELETE", "/api/v1/blocks/{}",
      Authed(accounts,
             [&blocks](const Request& req, const Member& m) -> Result<Reply> {
               HEARTH_RETURN_IF_ERROR(blocks.Unblock(m, req.params[0]));
               return Reply::Json(200, json::object());
             }));
  router.Add(
      "GET", "/api/v1/blocks",
      Authed(accounts,
             [&blocks](const Request&, const Member& m) -> Result<Reply> {
               HEARTH_ASSIGN_OR_RETURN(auto list, blocks.List(m));
               json out = json::array();
               for (const auto& b : list)
                 out.push_back({{"member_id", b.member_id}, {"ts", b.ts}});
               return Reply::Json(200, {{"blocks", out}});
             }));
}

}  // namespace hearth
