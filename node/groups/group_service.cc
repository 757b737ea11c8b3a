#include "node/groups/group_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/encoding.h"
#include "federation/canonical_json.h"
#include "federation/signed_json.h"
#include "node/groups/group_tables.h"

namespace hearth {

using groupkeys::EventKey;
using groupkeys::IndexKey;
using groupkeys::MemberKey;
using groupkeys::MessageKey;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Wire forms

nlohmann::json GroupJson(const GroupRecord& g) {
  json meetings = json::array();
  for (const Meeting& m : g.meetings) {
    json item = {
        {"weekday", m.weekday}, {"time", m.time}, {"timezone", m.timezone}};
    if (!m.link.empty()) item["link"] = m.link;
    meetings.push_back(std::move(item));
  }
  auto id = GroupId::Parse(g.group_id);
  return {{"group_id", g.group_id},
          {"host", id ? id->server : ""},
          {"name", g.name},
          {"description", g.description},
          {"topics", g.topics},
          {"language", g.language},
          {"visibility", ToString(g.visibility)},
          {"join_policy", ToString(g.join_policy)},
          {"rules", g.rules},
          {"meetings", std::move(meetings)},
          {"owner", g.owner},
          {"member_count", g.member_count},
          {"created_ts", g.created_ts},
          {"updated_ts", g.updated_ts}};
}

nlohmann::json MessageJson(const MessageRecord& m) {
  json j = {{"event_id", m.event_id},
            {"seq", m.seq},
            {"author", m.author},
            {"body", m.body},
            {"ts", m.ts}};
  if (!m.content_warning.empty()) j["content_warning"] = m.content_warning;
  if (!m.reply_to.empty()) j["reply_to"] = m.reply_to;
  return j;
}

Result<GroupRecord> GroupFromJson(const nlohmann::json& j) {
  if (!j.is_object())
    return Error::Invalid("bad_group", "a group is a JSON object");
  try {
    GroupRecord g;
    g.group_id = j.at("group_id").get<std::string>();
    if (!GroupId::Parse(g.group_id))
      return Error::Invalid("bad_group", "bad group id");
    GroupSpec spec;
    spec.name = j.at("name").get<std::string>();
    spec.description = j.at("description").get<std::string>();
    spec.topics = j.at("topics").get<std::vector<std::string>>();
    spec.language = j.at("language").get<std::string>();
    spec.rules = j.at("rules").get<std::string>();
    Visibility v;
    JoinPolicy p;
    if (!ParseVisibility(j.at("visibility").get<std::string>(), &v) ||
        !ParseJoinPolicy(j.at("join_policy").get<std::string>(), &p))
      return Error::Invalid("bad_group", "bad visibility or join policy");
    spec.visibility = v;
    spec.join_policy = p;
    std::vector<Meeting> meetings;
    for (const auto& m : j.at("meetings")) {
      meetings.push_back(Meeting{
          m.at("weekday").get<std::string>(), m.at("time").get<std::string>(),
          m.at("timezone").get<std::string>(),
          m.contains("link") ? m.at("link").get<std::string>() : ""});
    }
    spec.meetings = std::move(meetings);
    HEARTH_RETURN_IF_ERROR(ApplyGroupSpec(spec, g));
    g.owner = j.at("owner").get<std::string>();
    g.member_count = j.at("member_count").get<std::uint64_t>();
    g.created_ts = j.at("created_ts").get<std::int64_t>();
    g.updated_ts = j.at("updated_ts").get<std::int64_t>();
    return g;
  } catch (const std::exception& e) {
    return Error::Invalid("bad_group", std::string("bad group: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// Tables and small helpers

Result<std::unique_ptr<GroupService>> GroupService::Open(Deps deps) {
  auto t = std::make_unique<Tables>();
  HEARTH_ASSIGN_OR_RETURN(
      t->groups, storage::Table<GroupRecord>::Open(deps.env, "groupid_group"));
  HEARTH_ASSIGN_OR_RETURN(t->members, storage::Table<MembershipRecord>::Open(
                                          deps.env, "groupmember_membership"));
  HEARTH_ASSIGN_OR_RETURN(t->index, deps.env.OpenTable("membergroup_index"));
  HEARTH_ASSIGN_OR_RETURN(t->messages, storage::Table<MessageRecord>::Open(
                                           deps.env, "groupseq_message"));
  HEARTH_ASSIGN_OR_RETURN(t->by_event, deps.env.OpenTable("tseventid_message"));
  HEARTH_ASSIGN_OR_RETURN(t->by_event_v1,
                          deps.env.OpenTable("eventid_message"));
  HEARTH_ASSIGN_OR_RETURN(t->membership_version,
                          deps.env.OpenTable("groupid_mversion"));
  HEARTH_ASSIGN_OR_RETURN(t->taken, deps.env.OpenTable("groupmember_taken"));
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, deps.env.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, t->by_event_v1));
    HEARTH_ASSIGN_OR_RETURN(t->by_event_v1_in_use, c.First());
  }
  std::unique_ptr<GroupService> s(new GroupService(std::move(deps)));
  s->t_ = std::move(t);
  return s;
}

GroupService::GroupService(Deps deps) : d_(std::move(deps)) {}
GroupService::~GroupService() { StopBackfill(); }

Result<GroupId> GroupService::ParseGroup(const std::string& group_id) const {
  auto id = GroupId::Parse(group_id);
  if (!id)
    return Error::Invalid("invalid_group_id",
                          "a group id is !slug@server (slug: [a-z0-9-]{2,48})");
  return *id;
}

Status GroupService::Commit(
    const std::function<Status(storage::WriteTxn&, Effects&)>& change) {
  Effects fx;
  HEARTH_RETURN_IF_ERROR(
      d_.committer.Run([&](storage::WriteTxn& txn) -> Status {
        fx.Clear();
        return change(txn, fx);
      }));
  Finish(fx);
  return Ok();
}

void GroupService::Finish(const Effects& fx) {
  if (!fx.members_changed.empty()) {
    std::lock_guard<std::mutex> lock(fanout_mu_);
    ++fanout_generation_;
    for (const auto& gid : fx.members_changed) fanout_cache_.erase(gid);
  }
  if (!fx.wake.empty()) d_.hub.Notify(fx.wake);
  if (fx.senders && d_.notify_senders) d_.notify_senders();
  if (fx.listing && d_.listing_changed) d_.listing_changed();
  for (const auto& g : fx.backfill) RequestBackfill(g);
}

Result<std::optional<MembershipRecord>> GroupService::GetMembership(
    const storage::Txn& txn, const std::string& gid,
    const std::string& member) const {
  return t_->members.Get(txn, MemberKey(gid, member));
}

Result<std::uint64_t> GroupService::MembershipVersion(
    const storage::Txn& txn, const std::string& gid) const {
  HEARTH_ASSIGN_OR_RETURN(auto v, txn.Get(t_->membership_version, gid));
  if (!v) return std::uint64_t{0};
  auto n = DecodeU64BE(*v);
  if (!n) return Error::Internal("bad membership version of " + gid);
  return *n;
}

Status GroupService::BumpMembershipVersion(storage::WriteTxn& txn,
                                           const std::string& gid) const {
  auto id = GroupId::Parse(gid);
  if (!id || !IsHost(*id)) return Ok();  // a copy of a remote group
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t v, MembershipVersion(txn, gid));
  return txn.Put(t_->membership_version, gid, EncodeU64BE(v + 1));
}

std::uint64_t GroupService::VersionIn(const json& j) {
  if (!j.is_object()) return 0;
  auto it = j.find("version");
  if (it == j.end() || !it->is_number_unsigned()) return 0;
  return it->get<std::uint64_t>();
}

std::int64_t GroupService::HostTsIn(const json& answer) const {
  return answer.is_object() && answer.contains("ts") &&
                 answer["ts"].is_number_integer()
             ? answer["ts"].get<std::int64_t>()
             : d_.clock.NowMs();
}

Result<std::optional<GroupService::Taken>> GroupService::GetTaken(
    const storage::Txn& txn, const std::string& gid,
    const std::string& member) const {
  HEARTH_ASSIGN_OR_RETURN(auto v, txn.Get(t_->taken, MemberKey(gid, member)));
  if (!v) return std::optional<Taken>();
  auto version = DecodeU64BE(v->substr(0, 8));
  auto ts = v->size() == 16 ? DecodeU64BE(v->substr(8)) : std::nullopt;
  if (!version || !ts)
    return Error::Internal("bad membership marker in " + gid);
  return std::optional<Taken>(Taken{*version, std::int64_t(*ts)});
}

Status GroupService::PutTaken(storage::WriteTxn& txn, const std::string& gid,
                              const std::string& member,
                              const Taken& taken) const {
  return txn.Put(
      t_->taken, MemberKey(gid, member),
      EncodeU64BE(taken.version) + EncodeU64BE(std::uint64_t(taken.ts)));
}

Status GroupService::PutMembership(storage::WriteTxn& txn,
                                   const std::string& gid,
                                   const MembershipRecord& r,
                                   Effects& fx) const {
  fx.members_changed.insert(gid);
  joined_.NoteWrite(txn.id());
  HEARTH_RETURN_IF_ERROR(BumpMembershipVersion(txn, gid));
  HEARTH_RETURN_IF_ERROR(t_->members.Put(txn, MemberKey(gid, r.member_id), r));
  auto id = MemberId::Parse(r.member_id);
  if (id && id->server == d_.keys.server_name())
    HEARTH_RETURN_IF_ERROR(txn.Put(t_->index, IndexKey(r.member_id, gid), ""));
  return Ok();
}

Status GroupService::DeleteMembership(storage::WriteTxn& txn,
                                      const std::string& gid,
                                      const std::string& member,
                                      Effects& fx) const {
  fx.members_changed.insert(gid);
  joined_.NoteWrite(txn.id());
  HEARTH_RETURN_IF_ERROR(BumpMembershipVersion(txn, gid));
  HEARTH_ASSIGN_OR_RETURN(bool a,
                          t_->members.Delete(txn, MemberKey(gid, member)));
  HEARTH_ASSIGN_OR_RETURN(bool b, txn.Delete(t_->index, IndexKey(member, gid)));
  (void)a;
  (void)b;
  return Ok();
}

Result<std::vector<MembershipRecord>> GroupService::Members(
    const storage::Txn& txn, const std::string& gid) const {
  std::vector<MembershipRecord> out;
  std::string prefix = gid + std::string(1, '\0');
  HEARTH_ASSIGN_OR_RETURN(auto c,
                          storage::Cursor::Open(txn, t_->members.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
  while (more && c.key().substr(0, prefix.size()) == prefix) {
    HEARTH_ASSIGN_OR_RETURN(auto r,
                            storage::Decode<MembershipRecord>(c.value()));
    out.push_back(std::move(r));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

Result<std::uint64_t> GroupService::LastSeq(const storage::Txn& txn,
                                            const std::string& gid) const {
  HEARTH_ASSIGN_OR_RETURN(auto c,
                          storage::Cursor::Open(txn, t_->messages.dbi()));
  // The first key after this group's range, then one back.
  std::string end = gid + std::string(1, '\x01');
  HEARTH_ASSIGN_OR_RETURN(bool found, c.Seek(end));
  HEARTH_ASSIGN_OR_RETURN(bool any, found ? c.Prev() : c.Last());
  std::string prefix = gid + std::string(1, '\0');
  if (!any || c.key().substr(0, prefix.size()) != prefix) return 0;
  return DecodeU64BE(c.key().substr(prefix.size())).value_or(0);
}

Result<std::optional<std::string>> GroupService::AcceptedEvent(
    const storage::Txn& txn, std::int64_t ts,
    const std::string& event_id) const {
  HEARTH_ASSIGN_OR_RETURN(auto key,
                          txn.Get(t_->by_event, EventKey(ts, event_id)));
  if (!key && t_->by_event_v1_in_use) {
    HEARTH_ASSIGN_OR_RETURN(key, txn.Get(t_->by_event_v1, event_id));
  }
  if (!key) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*key));
}

Status GroupService::AddSyncItem(storage::WriteTxn& txn, SyncItem item,
                                 const std::vector<std::string>& wake,
                                 Effects& fx) {
  item.ts = d_.clock.NowMs();
  HEARTH_ASSIGN_OR_RETURN(auto pos, d_.stream.Append(txn, item));
  (void)pos;
  fx.wake.insert(fx.wake.end(), wake.begin(), wake.end());
  return Ok();
}

Status GroupService::TellMember(storage::WriteTxn& txn, const std::string& gid,
                                const std::string& member, MemberState state,
                                Role role, Effects& fx) {
  json item = {{"type", "group.membership"},
               {"group", gid},
               {"member", member},
               {"state", ToString(state)},
               {"role", ToString(role)}};
  return AddSyncItem(txn, SyncItem{gid, {member}, item.dump()}, {member}, fx);
}

Result<JoinedCache::Groups> GroupService::JoinedGroups(
    const storage::ReadTxn& txn, const std::string& member) const {
  if (JoinedCache::Groups known = joined_.Find(member, txn.id())) return known;
  auto out = std::make_shared<std::set<std::string>>();
  std::string prefix = member + std::string(1, '\0');
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, t_->index));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
  while (more && c.key().substr(0, prefix.size()) == prefix) {
    std::string gid(c.key().substr(prefix.size()));
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, gid, member));
    if (r && r->state == MemberState::kJoined) out->insert(gid);
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  joined_.Keep(member, txn.id(), out);
  return JoinedCache::Groups(std::move(out));
}

Result<std::vector<GroupRecord>> GroupService::ListedGroups() const {
  std::vector<GroupRecord> out;
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, t_->groups.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
  while (more) {
    auto id = GroupId::Parse(c.key());
    if (id && IsHost(*id)) {
      HEARTH_ASSIGN_OR_RETURN(auto g, storage::Decode<GroupRecord>(c.value()));
      if (g.visibility == Visibility::kPublic) out.push_back(std::move(g));
    }
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

Result<std::vector<MyGroup>> GroupService::MyGroups(const Member& m) const {
  std::vector<MyGroup> out;
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  std::string prefix = m.member_id + std::string(1, '\0');
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, t_->index));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
  while (more && c.key().substr(0, prefix.size()) == prefix) {
    std::string gid(c.key().substr(prefix.size()));
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, gid, m.member_id));
    HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, gid));
    if (r) out.push_back(MyGroup{gid, g ? g->name : "", r->state, r->role});
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

// ---------------------------------------------------------------------------
// Create, update, get

Result<GroupView> GroupService::Create(const Member& m, const GroupSpec& spec) {
  if (!spec.slug || !IsValidSlug(*spec.slug))
    return Error::Invalid("invalid_slug", "a slug is [a-z0-9-]{2,48}");
  if (!spec.name) return Error::Invalid("invalid_name", "a group needs a name");
  GroupRecord g;
  g.group_id = GroupId{*spec.slug, d_.keys.server_name()}.ToString();
  g.language = "en";
  HEARTH_RETURN_IF_ERROR(ApplyGroupSpec(spec, g));
  g.owner = m.member_id;
  g.created_ts = g.updated_ts = d_.clock.NowMs();
  g.member_count = 1;
  HEARTH_RETURN_IF_ERROR(
      Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
        Status inserted = t_->groups.Insert(txn, g.group_id, g);
        if (!inserted && inserted.error().kind == ErrorKind::kConflict)
          return Status(
              Error::Conflict("group_exists", g.group_id + " already exists"));
        HEARTH_RETURN_IF_ERROR(inserted);
        MembershipRecord owner{m.member_id, MemberState::kJoined, Role::kOwner,
                               false,       g.created_ts,         g.created_ts};
        HEARTH_RETURN_IF_ERROR(PutMembership(txn, g.group_id, owner, fx));
        fx.listing = true;
        return Ok();
      }));
  return GroupView{g, MemberState::kJoined, Role::kOwner};
}

Result<GroupRecord> GroupService::RequireModerator(const storage::Txn& txn,
                                                   const Member& m,
                                                   const GroupId& g,
                                                   bool owner_only) const {
  if (!IsHost(g))
    return Error::Forbidden("moderate_on_host",
                            "this group is hosted on " + g.server +
                                "; its facilitators moderate it there");
  std::string gid = g.ToString();
  HEARTH_ASSIGN_OR_RETURN(auto group, t_->groups.Get(txn, gid));
  if (!group) return Error::NotFound("not_found", "no group " + gid);
  HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, gid, m.member_id));
  bool ok =
      r && r->state == MemberState::kJoined &&
      (owner_only ? r->role == Role::kOwner : r->role >= Role::kFacilitator);
  if (!ok) {
    if (!r && group->visibility == Visibility::kPrivate)
      return Error::NotFound("not_found", "no group " + gid);
    return owner_only ? Error::Forbidden("not_owner",
                                         "only the group's owner may do this")
                      : Error::Forbidden("not_facilitator",
                                         "only the group's facilitators may "
                                         "do this");
  }
  return *group;
}

Result<GroupView> GroupService::Update(const Member& m,
                                       const std::string& group_id,
                                       const GroupSpec& spec) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  if (spec.slug)
    return Error::Invalid("invalid_slug", "a group's slug cannot change");
  GroupRecord out;
  HEARTH_RETURN_IF_ERROR(Commit([&](storage::WriteTxn& txn,
                                    Effects& fx) -> Status {
    HEARTH_ASSIGN_OR_RETURN(GroupRecord g, RequireModerator(txn, m, id, true));
    HEARTH_RETURN_IF_ERROR(ApplyGroupSpec(spec, g));
    g.updated_ts = d_.clock.NowMs();
    HEARTH_RETURN_IF_ERROR(t_->groups.Put(txn, group_id, g));
    fx.listing = true;
    out = g;
    return Ok();
  }));
  return GroupView{out, MemberState::kJoined, Role::kOwner};
}

Result<GroupView> GroupService::Get(const Member& m,
                                    const std::string& group_id) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  std::optional<GroupRecord> cached;
  std::optional<MembershipRecord> mine;
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(cached, t_->groups.Get(txn, group_id));
    HEARTH_ASSIGN_OR_RETURN(mine, GetMembership(txn, group_id, m.member_id));
  }
  GroupView view;
  if (mine) {
    view.membership = mine->state;
    view.role = mine->role;
  }
  if (IsHost(id)) {
    if (!cached || (cached->visibility == Visibility::kPrivate && !mine))
      return Error::NotFound("not_found", "no group " + group_id);
    view.group = *cached;
    return view;
  }
  // A remote group: ask its host, fall back to our copy if it is down.
  auto answer =
      d_.peers.Call(id.server, "GET",
                    "/_hearth/v1/groups/" + PercentEncode(group_id), nullptr);
  if (answer) {
    HEARTH_ASSIGN_OR_RETURN(view.group, GroupFromJson(*answer));
    if (view.group.group_id != group_id)
      return Error::Unavailable("peer_unreachable",
                                id.server + " answered with another group");
    if (mine) {
      // Keep the copy of a group we are in fresh.
      GroupRecord fresh = view.group;
      HEARTH_RETURN_IF_ERROR(
          Commit([&](storage::WriteTxn& txn, Effects&) -> Status {
            return t_->groups.Put(txn, group_id, fresh);
          }));
    }
    return view;
  }
  if (answer.error().kind == ErrorKind::kUnavailable && cached && mine) {
    view.group = *cached;
    return view;
  }
  return answer.error();
}

// ---------------------------------------------------------------------------
// Membership

Result<MemberState> GroupService::JoinInTxn(storage::WriteTxn& txn,
                                            GroupRecord& g,
                                            const std::string& member,
                                            bool accept_rules, Effects& fx) {
  HEARTH_ASSIGN_OR_RETURN(auto existing,
                          GetMembership(txn, g.group_id, member));
  if (existing) {
    switch (existing->state) {
      case MemberState::kJoined:
      case MemberState::kPending:
        return existing->state;  // joining twice changes nothing
      case MemberState::kBanned:
        return Error::Forbidden("banned", "you are banned from this group");
      default:
        break;
    }
  }
  if (!g.rules.empty() && !accept_rules)
    return Error::Invalid("rules_not_accepted",
                          "this group has rules: read them and join with "
                          "accept_rules: true");
  bool invited = existing && existing->state == MemberState::kInvited;
  MemberState state;
  if (invited || g.join_policy == JoinPolicy::kOpen) {
    state = MemberState::kJoined;
  } else if (g.join_policy == JoinPolicy::kApproval) {
    state = MemberState::kPending;
  } else {
    return Error::Forbidden("invite_only", "this group is by invitation only");
  }
  std::int64_t now = d_.clock.NowMs();
  MembershipRecord r{member,
                     state,
                     existing ? existing->role : Role::kMember,
                     false,
                     accept_rules ? now : 0,
                     now};
  HEARTH_RETURN_IF_ERROR(PutMembership(txn, g.group_id, r, fx));
  if (state == MemberState::kJoined) {
    ++g.member_count;
    HEARTH_RETURN_IF_ERROR(t_->groups.Put(txn, g.group_id, g));
    fx.listing = true;
  }
  auto id = MemberId::Parse(member);
  if (id && id->server == d_.keys.server_name()) {
    HEARTH_RETURN_IF_ERROR(
        TellMember(txn, g.group_id, member, state, r.role, fx));
  }
  if (state == MemberState::kPending) {
    // Tell the facilitators here that someone is waiting.
    HEARTH_ASSIGN_OR_RETURN(auto all, Members(txn, g.group_id));
    std::vector<std::string> mods;
    for (const auto& mr : all) {
      auto mid = MemberId::Parse(mr.member_id);
      if (mr.state == MemberState::kJoined && mr.role >= Role::kFacilitator &&
          mid && mid->server == d_.keys.server_name())
        mods.push_back(mr.member_id);
    }
    if (!mods.empty()) {
      json item = {{"type", "group.join_request"},
                   {"group", g.group_id},
                   {"member", member},
                   {"ts", now}};
      HEARTH_RETURN_IF_ERROR(
          AddSyncItem(txn, SyncItem{g.group_id, mods, item.dump()}, mods, fx));
    }
  }
  return state;
}

Status GroupService::LeaveInTxn(storage::WriteTxn& txn, GroupRecord& g,
                                const std::string& member, Effects& fx) {
  HEARTH_ASSIGN_OR_RETURN(auto existing,
                          GetMembership(txn, g.group_id, member));
  if (!existing || existing->state == MemberState::kBanned) return Ok();
  if (existing->role == Role::kOwner)
    return Error::Conflict("owner_cannot_leave",
                           "the owner cannot leave their group");
  HEARTH_RETURN_IF_ERROR(DeleteMembership(txn, g.group_id, member, fx));
  if (existing->state == MemberState::kJoined && g.member_count > 0) {
    --g.member_count;
    HEARTH_RETURN_IF_ERROR(t_->groups.Put(txn, g.group_id, g));
    fx.listing = true;
  }
  auto id = MemberId::Parse(member);
  if (id && id->server == d_.keys.server_name()) {
    HEARTH_RETURN_IF_ERROR(TellMember(txn, g.group_id, member,
                                      MemberState::kNone, Role::kMember, fx));
  }
  return Ok();
}

Result<MemberState> GroupService::Join(const Member& m,
                                       const std::string& group_id,
                                       bool accept_rules) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  MemberState state = MemberState::kNone;
  if (IsHost(id)) {
    HEARTH_RETURN_IF_ERROR(
        Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
          HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
          if (!g) return Error::NotFound("not_found", "no group " + group_id);
          if (g->visibility == Visibility::kPrivate) {
            HEARTH_ASSIGN_OR_RETURN(auto r,
                                    GetMembership(txn, group_id, m.member_id));
            if (!r) return Error::NotFound("not_found", "no group " + group_id);
          }
          HEARTH_ASSIGN_OR_RETURN(
              state, JoinInTxn(txn, *g, m.member_id, accept_rules, fx));
          return Ok();
        }));
    return state;
  }
  // Relay to the host, then keep what it answered.
  json body = {{"member", m.member_id}, {"accept_rules", accept_rules}};
  HEARTH_ASSIGN_OR_RETURN(
      json answer,
      d_.peers.Call(id.server, "POST",
                    "/_hearth/v1/groups/" + PercentEncode(group_id) + "/join",
                    &body));
  Role role = Role::kMember;
  if (!answer.contains("status") || !answer["status"].is_string() ||
      !ParseMemberState(answer["status"].get<std::string>(), &state) ||
      !answer.contains("group") ||
      (answer.contains("role") && answer["role"].is_string() &&
       !ParseRole(answer["role"].get<std::string>(), &role)))
    return Error::Unavailable("peer_unreachable",
                              id.server + " gave an answer we cannot read");
  HEARTH_ASSIGN_OR_RETURN(GroupRecord g, GroupFromJson(answer["group"]));
  const std::int64_t host_ts = HostTsIn(answer);
  if (g.group_id != group_id)
    return Error::Unavailable("peer_unreachable",
                              id.server + " answered for another group");
  const std::uint64_t version = VersionIn(answer);
  // What the member is told: the answer, or what a newer event left. Set
  // afresh on each run of the change (the committer may run it twice).
  MemberState result = state;
  HEARTH_RETURN_IF_ERROR(Commit([&](storage::WriteTxn& txn,
                                    Effects& fx) -> Status {
    result = state;
    HEARTH_ASSIGN_OR_RETURN(auto taken, GetTaken(txn, group_id, m.member_id));
    if (version != 0 && taken && taken->version > version) {
      // An event the host made after this answer (a ban, a role) was
      // taken first: it holds, and so does the group copy it brought.
      HEARTH_ASSIGN_OR_RETURN(auto r,
                              GetMembership(txn, group_id, m.member_id));
      result = r ? r->state : MemberState::kNone;
      return Ok();
    }
    HEARTH_RETURN_IF_ERROR(t_->groups.Put(txn, group_id, g));
    std::int64_t now = d_.clock.NowMs();
    HEARTH_RETURN_IF_ERROR(
        PutMembership(txn, group_id,
                      MembershipRecord{m.member_id, state, role, false,
                                       accept_rules ? now : 0, host_ts},
                      fx));
    HEARTH_RETURN_IF_ERROR(PutTaken(txn, group_id, m.member_id,
                                    Taken::After(taken, version, host_ts)));
    HEARTH_RETURN_IF_ERROR(
        TellMember(txn, group_id, m.member_id, state, role, fx));
    if (state == MemberState::kJoined) fx.backfill.insert(group_id);
    return Ok();
  }));
  if (result == MemberState::kBanned)  // a ban that overtook the answer
    return Error::Forbidden("banned", "you are banned from this group");
  return result;
}

Status GroupService::Leave(const Member& m, const std::string& group_id) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  if (IsHost(id)) {
    return Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
      HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
      if (!g) return Error::NotFound("not_found", "no group " + group_id);
      HEARTH_ASSIGN_OR_RETURN(auto r,
                              GetMembership(txn, group_id, m.member_id));
      if (!r && g->visibility == Visibility::kPrivate)
        return Error::NotFound("not_found", "no group " + group_id);
      return LeaveInTxn(txn, *g, m.member_id, fx);
    });
  }
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, m.member_id));
    if (!r || r->state == MemberState::kBanned) return Ok();
  }
  json body = {{"member", m.member_id}};
  HEARTH_ASSIGN_OR_RETURN(
      json answer,
      d_.peers.Call(id.server, "POST",
                    "/_hearth/v1/groups/" + PercentEncode(group_id) + "/leave",
                    &body));
  // `none`, or `banned` when a ban we have not heard of yet holds (a
  // host of an older build always answers `none`, without a version).
  const bool banned = answer.is_object() && answer.contains("status") &&
                      answer["status"] == "banned";
  const std::uint64_t version = VersionIn(answer);
  const std::int64_t host_ts = HostTsIn(answer);
  return Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto taken, GetTaken(txn, group_id, m.member_id));
    if (version != 0 && taken && taken->version > version) return Ok();
    MemberState state = banned ? MemberState::kBanned : MemberState::kNone;
    if (banned) {
      HEARTH_RETURN_IF_ERROR(
          PutMembership(txn, group_id,
                        MembershipRecord{m.member_id, state, Role::kMember,
                                         false, 0, host_ts},
                        fx));
    } else {
      HEARTH_RETURN_IF_ERROR(DeleteMembership(txn, group_id, m.member_id, fx));
    }
    HEARTH_RETURN_IF_ERROR(PutTaken(txn, group_id, m.member_id,
                                    Taken::After(taken, version, host_ts)));
    return TellMember(txn, group_id, m.member_id, state, Role::kMember, fx);
  });
}

// ---------------------------------------------------------------------------
// Moderation (on the host)

Result<std::vector<JoinRequest>> GroupService::Requests(
    const Member& m, const std::string& group_id) const {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto g, RequireModerator(txn, m, id, false));
  (void)g;
  HEARTH_ASSIGN_OR_RETURN(auto all, Members(txn, group_id));
  std::vector<JoinRequest> out;
  for (const auto& r : all) {
    if (r.state == MemberState::kPending)
      out.push_back(JoinRequest{r.member_id, r.updated_ts});
  }
  return out;
}

Status GroupService::AnnounceMembership(storage::WriteTxn& txn,
                                        const GroupRecord& g,
                                        const MembershipRecord& r,
                                        Effects& fx) {
  auto id = MemberId::Parse(r.member_id);
  if (!id) return Ok();
  if (id->server == d_.keys.server_name()) {
    return TellMember(txn, g.group_id, r.member_id, r.state, r.role, fx);
  }
  HEARTH_ASSIGN_OR_RETURN(auto peer, d_.trust.Get(txn, id->server));
  if (!peer || peer->state != federation::PeerState::kTrusted) return Ok();
  // The version this change gave the group (the write before this call).
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t version,
                          MembershipVersion(txn, g.group_id));
  json event = {{"type", kMembershipType},
                {"origin", d_.keys.server_name()},
                {"group", g.group_id},
                {"ts", d_.clock.NowMs()},
                {"content",
                 {{"member", r.member_id},
                  {"state", ToString(r.state)},
                  {"role", ToString(r.role)},
                  {"version", version},
                  {"group", GroupJson(g)}}}};
  HEARTH_RETURN_IF_ERROR(
      federation::SignJson(event, d_.keys.server_name(), d_.keys.current()));
  HEARTH_ASSIGN_OR_RETURN(std::string text, federation::Canonicalize(event));
  HEARTH_ASSIGN_OR_RETURN(auto seq, d_.outbox.Enqueue(txn, text, {id->server}));
  (void)seq;
  fx.senders = true;
  return Ok();
}

Result<MemberState> GroupService::Decide(const Member& m,
                                         const std::string& group_id,
                                         const std::string& target,
                                         bool approve) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  MemberState out = MemberState::kNone;
  HEARTH_RETURN_IF_ERROR(Commit([&](storage::WriteTxn& txn,
                                    Effects& fx) -> Status {
    HEARTH_ASSIGN_OR_RETURN(GroupRecord g, RequireModerator(txn, m, id, false));
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, target));
    if (!r || r->state != MemberState::kPending)
      return Error::NotFound("no_request", target + " has not asked to join");
    if (approve) {
      r->state = MemberState::kJoined;
      r->updated_ts = d_.clock.NowMs();
      HEARTH_RETURN_IF_ERROR(PutMembership(txn, group_id, *r, fx));
      ++g.member_count;
      HEARTH_RETURN_IF_ERROR(t_->groups.Put(txn, group_id, g));
      fx.listing = true;
    } else {
      HEARTH_RETURN_IF_ERROR(DeleteMembership(txn, group_id, target, fx));
      r->state = MemberState::kNone;
    }
    out = r->state;
    return AnnounceMembership(txn, g, *r, fx);
  }));
  return out;
}

Status GroupService::Invite(const Member& m, const std::string& group_id,
                            const std::string& target) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  auto tid = MemberId::Parse(target);
  if (!tid)
    return Error::Invalid("invalid_member_id", "a member id is @handle@server");
  return Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
    HEARTH_ASSIGN_OR_RETURN(GroupRecord g, RequireModerator(txn, m, id, false));
    if (tid->server == d_.keys.server_name()) {
      HEARTH_ASSIGN_OR_RETURN(bool exists,
                              d_.accounts.IsLocalMember(txn, target));
      if (!exists)
        return Error::NotFound("unknown_member", "no member " + target);
    } else {
      HEARTH_ASSIGN_OR_RETURN(auto peer, d_.trust.Get(txn, tid->server));
      if (!peer || peer->state != federation::PeerState::kTrusted)
        return Error::Forbidden("peer_not_trusted",
                                tid->server + " is not a trusted peer");
    }
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, target));
    if (r && r->state == MemberState::kJoined)
      return Error::Conflict("already_member", target + " is already a member");
    if (r && r->state == MemberState::kBanned)
      return Error::Conflict("banned", target + " is banned from this group");
    std::int64_t now = d_.clock.NowMs();
    MembershipRecord inv{target, MemberState::kInvited, Role::kMember, false, 0,
                         now};
    HEARTH_RETURN_IF_ERROR(PutMembership(txn, group_id, inv, fx));
    return AnnounceMembership(txn, g, inv, fx);
  });
}

Status GroupService::SetBanned(const Member& m, const std::string& group_id,
                               const std::string& target, bool banned) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  if (!MemberId::Parse(target))
    return Error::Invalid("invalid_member_id", "a member id is @handle@server");
  return Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
    HEARTH_ASSIGN_OR_RETURN(GroupRecord g, RequireModerator(txn, m, id, false));
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, target));
    if (r && r->role == Role::kOwner)
      return Error::Forbidden("not_allowed", "the owner cannot be banned");
    std::int64_t now = d_.clock.NowMs();
    if (banned) {
      if (r && r->state == MemberState::kJoined && g.member_count > 0) {
        --g.member_count;
        HEARTH_RETURN_IF_ERROR(t_->groups.Put(txn, group_id, g));
        fx.listing = true;
      }
      MembershipRecord b{target, MemberState::kBanned, Role::kMember, false, 0,
                         now};
      HEARTH_RETURN_IF_ERROR(PutMembership(txn, group_id, b, fx));
      return AnnounceMembership(txn, g, b, fx);
    }
    if (!r || r->state != MemberState::kBanned) return Ok();
    HEARTH_RETURN_IF_ERROR(DeleteMembership(txn, group_id, target, fx));
    return AnnounceMembership(txn, g,
                              MembershipRecord{target, MemberState::kNone,
                                               Role::kMember, false, 0, now},
                              fx);
  });
}

Status GroupService::SetMuted(const Member& m, const std::string& group_id,
                              const std::string& target, bool muted) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  return Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
    HEARTH_ASSIGN_OR_RETURN(GroupRecord g, RequireModerator(txn, m, id, false));
    (void)g;
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, target));
    if (!r || r->state != MemberState::kJoined)
      return Error::NotFound("not_member", target + " is not a member");
    if (r->role == Role::kOwner)
      return Error::Forbidden("not_allowed", "the owner cannot be muted");
    r->muted = muted;
    r->updated_ts = d_.clock.NowMs();
    return PutMembership(txn, group_id, *r, fx);
  });
}

Status GroupService::SetFacilitator(const Member& m,
                                    const std::string& group_id,
                                    const std::string& target,
                                    bool facilitator) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  return Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
    HEARTH_ASSIGN_OR_RETURN(GroupRecord g, RequireModerator(txn, m, id, true));
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, target));
    if (!r || r->state != MemberState::kJoined)
      return Error::NotFound("not_member", target + " is not a member");
    if (r->role == Role::kOwner)
      return Error::Forbidden("not_allowed", "the owner's role cannot change");
    r->role = facilitator ? Role::kFacilitator : Role::kMember;
    r->updated_ts = d_.clock.NowMs();
    HEARTH_RETURN_IF_ERROR(PutMembership(txn, group_id, *r, fx));
    return AnnounceMembership(txn, g, *r, fx);
  });
}

// ---------------------------------------------------------------------------
// Messages

Status ValidatePost(const PostRequest& p) {
  HEARTH_RETURN_IF_ERROR(CheckText("body", p.body, 1, 8000, true));
  HEARTH_RETURN_IF_ERROR(
      CheckText("content_warning", p.content_warning, 0, 200, false));
  if (!p.reply_to.empty() && (p.reply_to.size() > 64 || p.reply_to[0] != '$'))
    return Error::Invalid("invalid_reply_to", "reply_to is an event id");
  return Ok();
}

namespace {

json Content(const PostRequest& p) {
  json c = {{"body", p.body}};
  if (!p.content_warning.empty()) c["content_warning"] = p.content_warning;
  if (!p.reply_to.empty()) c["reply_to"] = p.reply_to;
  return c;
}

}  // namespace

Result<PostResult> GroupService::Post(const Member& m,
                                      const std::string& group_id,
                                      const PostRequest& post) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  HEARTH_RETURN_IF_ERROR(ValidatePost(post));
  json event = {{"type", kMessageType},   {"origin", d_.keys.server_name()},
                {"author", m.member_id},  {"group", group_id},
                {"ts", d_.clock.NowMs()}, {"content", Content(post)}};
  if (IsHost(id)) {
    // Our own member in our own group: the host's signature on the accept
    // covers the author's event; there is no second signature to make.
    // Unsigned, the event's canonical text is its signing bytes.
    HEARTH_ASSIGN_OR_RETURN(std::string text, federation::SigningBytes(event));
    return Accept(group_id, m.member_id, event, text,
                  federation::EventIdOfSigningBytes(text), std::nullopt,
                  nullptr);
  }
  // A remote group: our signature on the author's event, then the host.
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, m.member_id));
    if (!r || r->state != MemberState::kJoined) {
      if (r && r->state == MemberState::kBanned)
        return Error::Forbidden("banned", "you are banned from this group");
      return Error::Forbidden("not_member", "join the group to post in it");
    }
  }
  HEARTH_RETURN_IF_ERROR(
      federation::SignJson(event, d_.keys.server_name(), d_.keys.current()));
  HEARTH_ASSIGN_OR_RETURN(std::string event_id, federation::EventId(event));
  HEARTH_ASSIGN_OR_RETURN(
      json answer, d_.peers.Call(id.server, "POST",
                                 "/_hearth/v1/groups/" +
                                     PercentEncode(group_id) + "/messages",
                                 &event));
  if (!answer.contains("accept") || !answer["accept"].is_object())
    return Error::Unavailable("peer_unreachable",
                              id.server + " gave an answer we cannot read");
  const json& accept = answer["accept"];
  if (Status verified = VerifyAccept(accept, id.server); !verified) {
    // The host's fault, not the member's session: not a 401.
    return Error::Unavailable(
        "bad_host_answer",
        id.server + "'s answer did not verify: " + verified.error().message);
  }
  if (accept.value("group", json()) != json(group_id))
    return Error::Unavailable("bad_host_answer",
                              id.server + " accepted into another group");
  if (!accept.contains("event"))
    return Error::Unavailable("bad_host_answer",
                              id.server + " accepted no event");
  HEARTH_ASSIGN_OR_RETURN(std::string accepted_id,
                          federation::EventId(accept["event"]));
  if (accepted_id != event_id)
    return Error::Unavailable("peer_unreachable",
                              id.server + " accepted another event");
  HEARTH_ASSIGN_OR_RETURN(ReceivedAccept received, ReadAccept(accept, nullptr));
  HEARTH_RETURN_IF_ERROR(
      Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
        return StoreAcceptInTxn(txn, received, fx);
      }));
  return PostResult{event_id, accept["seq"].get<std::uint64_t>()};
}

Result<HistoryPage> GroupService::History(const Member& m,
                                          const std::string& group_id,
                                          std::uint64_t after,
                                          size_t limit) const {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  (void)id;
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, m.member_id));
  if (!r || r->state != MemberState::kJoined) {
    HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
    if (!g || (!r && g->visibility == Visibility::kPrivate))
      return Error::NotFound("not_found", "no group " + group_id);
    return Error::Forbidden("not_member",
                            "only members can read a group's messages");
  }
  HistoryPage page;
  std::string prefix = group_id + std::string(1, '\0');
  HEARTH_ASSIGN_OR_RETURN(auto c,
                          storage::Cursor::Open(txn, t_->messages.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(MessageKey(group_id, after + 1)));
  while (more && c.key().substr(0, prefix.size()) == prefix) {
    if (page.messages.size() == limit) {
      page.next = page.messages.back().seq;
      break;
    }
    HEARTH_ASSIGN_OR_RETURN(auto msg,
                            storage::Decode<MessageRecord>(c.value()));
    page.messages.push_back(std::move(msg));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return page;
}

}  // namespace hearth
