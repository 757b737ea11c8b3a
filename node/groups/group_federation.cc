// The host's side of groups (accepting, fan-out, answering peers) and the
// receiving side (applying a host's events, backfill).
#include <spdlog/spdlog.h>

#include "common/encoding.h"
#include "federation/canonical_json.h"
#include "federation/signed_json.h"
#include "node/groups/group_service.h"
#include "node/groups/group_tables.h"

namespace hearth {

using groupkeys::EventKey;
using groupkeys::MessageKey;
using nlohmann::json;

namespace {

// A string field of untrusted JSON: "" when absent or not a string
// (json::value() would throw on a wrong type).
std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

json SyncMessageJson(const MessageRecord& m, const std::string& gid) {
  json j = MessageJson(m);
  j["type"] = "group.message";
  j["group"] = gid;
  return j;
}

// The author's event's fields, checked.
struct AuthorEvent {
  std::string origin;
  std::string author;
  std::int64_t ts = 0;
  PostRequest post;
};

Result<AuthorEvent> ParseAuthorEvent(const json& e, const std::string& gid) {
  auto bad = [](const std::string& why) {
    return Error::Invalid("bad_event", "group.message: " + why);
  };
  if (!e.is_object()) return bad("not an object");
  if (Str(e, "type") != GroupService::kMessageType) return bad("wrong type");
  if (Str(e, "group") != gid) return bad("wrong group");
  AuthorEvent out;
  if (!e.contains("origin") || !e["origin"].is_string())
    return bad("no origin");
  out.origin = e["origin"];
  if (!e.contains("author") || !e["author"].is_string())
    return bad("no author");
  out.author = e["author"];
  auto author = MemberId::Parse(out.author);
  if (!author || author->server != out.origin)
    return bad("the author must be a member of the origin node");
  if (!e.contains("ts") || !e["ts"].is_number_integer()) return bad("no ts");
  out.ts = e["ts"];
  if (!e.contains("content") || !e["content"].is_object())
    return bad("no content");
  const json& c = e["content"];
  if (!c.contains("body") || !c["body"].is_string()) return bad("no body");
  out.post.body = c["body"];
  if (c.contains("content_warning")) {
    if (!c["content_warning"].is_string()) return bad("bad content_warning");
    out.post.content_warning = c["content_warning"];
  }
  if (c.contains("reply_to")) {
    if (!c["reply_to"].is_string()) return bad("bad reply_to");
    out.post.reply_to = c["reply_to"];
  }
  if (out.post.body.empty() || out.post.body.size() > 8000 ||
      out.post.content_warning.size() > 200 || out.post.reply_to.size() > 64)
    return bad("content out of bounds");
  return out;
}

// The stored form of an accepted message.
MessageRecord ToRecord(const AuthorEvent& a, std::uint64_t seq,
                       std::string event_id, std::int64_t accept_ts,
                       std::string accept_text) {
  return MessageRecord{seq,
                       std::move(event_id),
                       a.author,
                       a.post.body,
                       a.post.content_warning,
                       a.post.reply_to,
                       a.ts,
                       accept_ts,
                       std::move(accept_text)};
}

}  // namespace

Status GroupService::RequireTrusted(const std::string& origin) const {
  // Authentication let the peer in (in open federation a pending peer
  // with keys passes); memberships and content need trust.
  HEARTH_ASSIGN_OR_RETURN(auto peer, d_.trust.Get(origin));
  if (!peer || peer->state != federation::PeerState::kTrusted)
    return Error::Forbidden("not_trusted",
                            origin + " is not a trusted peer of this node");
  return Ok();
}

Status GroupService::CheckPoster(const storage::Txn& txn, const GroupRecord& g,
                                 const std::string& member) const {
  HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, g.group_id, member));
  if (!r || r->state != MemberState::kJoined) {
    if (r && r->state == MemberState::kBanned)
      return Error::Forbidden("banned", "you are banned from this group");
    if (!r && g.visibility == Visibility::kPrivate)
      return Error::NotFound("not_found", "no group " + g.group_id);
    return Error::Forbidden("not_member", "join the group to post in it");
  }
  if (r->muted)
    return Error::Forbidden("muted", "a facilitator has muted you here");
  return Ok();
}

std::shared_ptr<GroupService::Sequencer> GroupService::SequencerFor(
    const std::string& gid) {
  std::lock_guard<std::mutex> lock(sequencers_mu_);
  auto& s = sequencers_[gid];
  if (!s) s = std::make_shared<Sequencer>();
  return s;
}

Result<std::shared_ptr<const GroupService::Fanout>> GroupService::FanoutOf(
    const storage::Txn& txn, const std::string& gid, std::uint64_t generation) {
  {
    std::lock_guard<std::mutex> lock(fanout_mu_);
    auto it = fanout_cache_.find(gid);
    if (it != fanout_cache_.end()) return it->second;
  }
  HEARTH_ASSIGN_OR_RETURN(auto members, Members(txn, gid));
  auto out = std::make_shared<Fanout>();
  for (const auto& m : members) {
    if (m.state != MemberState::kJoined) continue;
    auto id = MemberId::Parse(m.member_id);
    if (!id) continue;
    if (id->server == d_.keys.server_name()) {
      out->local.push_back(m.member_id);
    } else {
      out->nodes[id->server].push_back(m.member_id);
    }
  }
  std::lock_guard<std::mutex> lock(fanout_mu_);
  if (fanout_generation_ == generation) fanout_cache_[gid] = out;
  return std::shared_ptr<const Fanout>(std::move(out));
}

Result<PostResult> GroupService::Accept(
    const std::string& group_id, const std::string& poster,
    const json& author_event, const std::string& event_text,
    const std::string& event_id,
    const std::optional<std::pair<std::string, std::string>>& author_key,
    json* accept_out) {
  HEARTH_ASSIGN_OR_RETURN(AuthorEvent a,
                          ParseAuthorEvent(author_event, group_id));
  std::shared_ptr<Sequencer> sequencer = SequencerFor(group_id);
  for (int attempt = 0;; ++attempt) {
    // Everything that needs no seq, before the sequencer and the commit:
    // the checks (made again inside the commit), who hears of it.
    std::shared_ptr<const Fanout> fanout;
    {
      std::uint64_t generation;
      {
        std::lock_guard<std::mutex> lock(fanout_mu_);
        generation = fanout_generation_;
      }
      // The latest view: the checks are made again in the commit. What
      // this read passes on (an earlier accept) waits for the disk first.
      HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn,
                              d_.env.BeginRead(storage::Env::View::kLatest));
      HEARTH_ASSIGN_OR_RETURN(auto seen, AcceptedEvent(txn, a.ts, event_id));
      if (seen) {
        HEARTH_RETURN_IF_ERROR(d_.env.Sync(txn.id()));
        HEARTH_ASSIGN_OR_RETURN(auto rec, t_->messages.Get(txn, *seen));
        if (!rec) return Error::Internal("event index points at nothing");
        if (accept_out) *accept_out = json::parse(rec->accept);
        return PostResult{event_id, rec->seq};
      }
      HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
      if (!g) return Error::NotFound("not_found", "no group " + group_id);
      HEARTH_RETURN_IF_ERROR(CheckPoster(txn, *g, poster));
      HEARTH_ASSIGN_OR_RETURN(fanout, FanoutOf(txn, group_id, generation));
    }

    std::unique_lock<std::mutex> lock(sequencer->mu);
    if (sequencer->next == 0) {
      // Read under the mutex: every post of an earlier generation queued
      // before the failure that reset us has committed, and those after
      // it will fail, so what is stored now is where to go on from.
      HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
      HEARTH_ASSIGN_OR_RETURN(std::uint64_t stored_last,
                              LastSeq(txn, group_id));
      sequencer->next = stored_last + 1;
    }
    const std::uint64_t seq = sequencer->next;
    const std::uint64_t generation = sequencer->generation;
    std::int64_t now = d_.clock.NowMs();
    // Put together as canonical text, not a DOM: the author's event is
    // text already, and the text is what is signed, stored and sent.
    federation::CanonicalObject accept;
    accept.AddRaw("content", "{}");
    accept.AddRaw("event", event_text);
    HEARTH_RETURN_IF_ERROR(accept.AddString("group", group_id));
    HEARTH_RETURN_IF_ERROR(accept.AddString("origin", d_.keys.server_name()));
    HEARTH_RETURN_IF_ERROR(accept.AddInt("seq", std::int64_t(seq)));
    HEARTH_RETURN_IF_ERROR(accept.AddInt("ts", now));
    HEARTH_RETURN_IF_ERROR(accept.AddString("type", kAcceptType));
    if (author_key) {
      HEARTH_ASSIGN_OR_RETURN(
          std::string vouched,
          federation::Canonicalize(
              json{{author_key->first, Base64Encode(author_key->second)}}));
      accept.AddRaw("author_key", std::move(vouched));
    }
    HEARTH_ASSIGN_OR_RETURN(
        std::string text,
        federation::SignCanonical(std::move(accept), d_.keys.server_name(),
                                  d_.keys.current()));
    const MessageRecord rec = ToRecord(a, seq, event_id, now, text);
    const std::string sync = SyncMessageJson(rec, group_id).dump();

    bool out_of_turn = false;
    Effects fx;
    Status stored = d_.committer.Run(
        [&](storage::WriteTxn& txn) -> Status {
          fx.Clear();
          out_of_turn = false;
          HEARTH_ASSIGN_OR_RETURN(auto seen,
                                  AcceptedEvent(txn, a.ts, event_id));
          HEARTH_ASSIGN_OR_RETURN(std::uint64_t last, LastSeq(txn, group_id));
          if (seen || last + 1 != seq) {
            // Accepted meanwhile (a retried relay), or an earlier seq was
            // not stored: start again from what is stored.
            out_of_turn = true;
            return Error::Conflict("out_of_turn", "sequence again");
          }
          HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
          if (!g) return Error::NotFound("not_found", "no group " + group_id);
          HEARTH_RETURN_IF_ERROR(CheckPoster(txn, *g, poster));
          std::string key = MessageKey(group_id, seq);
          HEARTH_RETURN_IF_ERROR(t_->messages.Insert(txn, key, rec));
          HEARTH_RETURN_IF_ERROR(
              txn.Put(t_->by_event, EventKey(a.ts, event_id), key));
          // Only to peers we still trust (a blocked or limited node's
          // members stay in the group's list but hear nothing), and that
          // still have a joined member: one banned or gone since step 1
          // must not get what follows.
          std::vector<std::string> nodes;
          for (const auto& [node, joined] : fanout->nodes) {
            HEARTH_ASSIGN_OR_RETURN(auto peer, d_.trust.Get(txn, node));
            if (!peer || peer->state != federation::PeerState::kTrusted)
              continue;
            for (const auto& member : joined) {
              HEARTH_ASSIGN_OR_RETURN(auto r,
                                      GetMembership(txn, group_id, member));
              if (r && r->state == MemberState::kJoined) {
                nodes.push_back(node);
                break;
              }
            }
          }
          if (!nodes.empty()) {
            // Keyed by the group: a node far behind gets only the newest
            // accept and backfills the gap from us.
            HEARTH_ASSIGN_OR_RETURN(
                auto qseq, d_.outbox.Enqueue(txn, text, nodes, group_id));
            (void)qseq;
            fx.senders = true;
          }
          return AddSyncItem(txn, SyncItem{group_id, {}, sync}, fanout->local,
                             fx);
        },
        // In the queue: the next post may take the next seq.
        [&] {
          sequencer->next = seq + 1;
          lock.unlock();
        });
    if (stored) {
      Finish(fx);
      if (accept_out) *accept_out = json::parse(text);
      return PostResult{event_id, seq};
    }
    // This seq was not stored: whoever queued the next one will find it
    // out of turn and sequence again from the store.
    if (!lock.owns_lock()) lock.lock();
    if (sequencer->generation == generation) {
      sequencer->next = 0;
      ++sequencer->generation;
    }
    lock.unlock();
    if (!out_of_turn) return stored.error();
    if (attempt >= 8)
      return Error::Unavailable("busy", "the group is busy; try again");
  }
}

Status GroupService::VerifyAccept(const json& accept, const std::string& host) {
  if (!accept.is_object() || Str(accept, "origin") != host ||
      Str(accept, "type") != kAcceptType)
    return Error::Unauthenticated("bad_accept",
                                  "not a group.accept by " + host);
  return d_.trust.VerifySigned(accept, host);
}

Status GroupService::VerifyAuthor(const json& accept,
                                  const std::string& origin) const {
  const json& inner = accept["event"];
  // Keys and pins only decide whether to take it; the latest view will do.
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn,
                          d_.env.BeginRead(storage::Env::View::kLatest));
  auto ids = federation::SignatureKeyIds(inner, origin);
  if (ids.empty())
    return Error::Unauthenticated(
        "unsigned", "the author's event is not signed by " + origin);
  for (const auto& id : ids) {
    std::optional<std::string> key;
    if (origin == d_.keys.server_name()) {
      HEARTH_ASSIGN_OR_RETURN(auto rec, d_.keys.Find(txn, id));
      if (rec) key = rec->public_key;
    } else {
      // A peer we know: our pinned keys. Otherwise the key the host
      // vouched for when it checked the author's signature.
      HEARTH_ASSIGN_OR_RETURN(auto peer, d_.trust.Get(txn, origin));
      if (peer) {
        if (auto it = peer->pinned.find(id); it != peer->pinned.end())
          key = it->second;
        else if (auto old = peer->old_keys.find(id);
                 old != peer->old_keys.end())
          key = old->second.first;
      }
      if (!key && accept.contains("author_key") &&
          accept["author_key"].is_object()) {
        const json& vouched = accept["author_key"];
        if (vouched.contains(id) && vouched[id].is_string())
          key = Base64Decode(vouched[id].get<std::string>());
      }
    }
    if (key && federation::VerifyJson(inner, origin, id, *key)) return Ok();
  }
  return Error::Unauthenticated("bad_signature",
                                "the author's signature does not verify");
}

Result<GroupService::ReceivedAccept> GroupService::ReadAccept(
    const json& accept, const std::string* signing_bytes) const {
  if (!accept.contains("group") || !accept["group"].is_string() ||
      !accept.contains("seq") || !accept["seq"].is_number_unsigned() ||
      accept["seq"].get<std::uint64_t>() == 0 || !accept.contains("ts") ||
      !accept["ts"].is_number_integer())
    return Error::Invalid("bad_accept", "a group.accept needs group, seq, ts");
  ReceivedAccept out;
  out.group_id = accept["group"];
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(out.group_id));
  if (Str(accept, "origin") != id.server || IsHost(id))
    return Error::Forbidden(
        "not_host",
        "only " + id.server + " accepts messages for " + out.group_id);
  if (!accept.contains("event"))
    return Error::Invalid("bad_event", "a group.accept carries an event");
  const json& inner = accept["event"];
  HEARTH_ASSIGN_OR_RETURN(AuthorEvent a, ParseAuthorEvent(inner, out.group_id));
  // The host's signature covers its own member's event.
  if (a.origin != id.server)
    HEARTH_RETURN_IF_ERROR(VerifyAuthor(accept, a.origin));
  HEARTH_ASSIGN_OR_RETURN(out.event_id, federation::EventId(inner));
  std::string text;
  if (signing_bytes) {
    HEARTH_ASSIGN_OR_RETURN(
        text, federation::CanonicalFromSigningBytes(accept, *signing_bytes));
  } else {
    HEARTH_ASSIGN_OR_RETURN(text, federation::Canonicalize(accept));
  }
  out.record = ToRecord(a, accept["seq"].get<std::uint64_t>(), out.event_id,
                        accept["ts"].get<std::int64_t>(), std::move(text));
  out.sync_json = SyncMessageJson(out.record, out.group_id).dump();
  return out;
}

Status GroupService::StoreAcceptInTxn(storage::WriteTxn& txn,
                                      const ReceivedAccept& a, Effects& fx) {
  const std::string& gid = a.group_id;
  const std::uint64_t seq = a.record.seq;
  HEARTH_ASSIGN_OR_RETURN(auto members, Members(txn, gid));
  std::vector<std::string> local;
  for (const auto& m : members) {
    if (m.state == MemberState::kJoined) local.push_back(m.member_id);
  }
  if (local.empty())
    return Error::Forbidden("no_members", "no member here is in " + gid);

  std::string key = MessageKey(gid, seq);
  HEARTH_ASSIGN_OR_RETURN(auto existing, t_->messages.Get(txn, key));
  if (existing) {
    if (existing->event_id == a.event_id) return Ok();  // had it already
    return Error::Conflict("seq_conflict",
                           "seq " + std::to_string(seq) + " is another event");
  }
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t last, LastSeq(txn, gid));
  if (seq > last + 1) {
    // A gap: take it in order from the host instead.
    fx.backfill.insert(gid);
    return Ok();
  }
  if (seq <= last) {
    // Below our last seq but missing: only backfill fills holes, and it
    // fetches in order, so this means the host reused a number.
    return Error::Conflict(
        "seq_conflict", "seq " + std::to_string(seq) + " arrived out of order");
  }
  // No `by_event` entry: only a host reads it (to answer a retried post),
  // and a random-keyed index costs a page of every commit per event.
  HEARTH_RETURN_IF_ERROR(t_->messages.Insert(txn, key, a.record));
  return AddSyncItem(txn, SyncItem{gid, {}, a.sync_json}, local, fx);
}

// ---------------------------------------------------------------------------
// Host side

Result<json> GroupService::HostGetGroup(const std::string& origin,
                                        const std::string& group_id) const {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  if (!IsHost(id)) return Error::NotFound("not_found", "no group " + group_id);
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
  if (!g) return Error::NotFound("not_found", "no group " + group_id);
  if (g->visibility == Visibility::kPrivate) {
    HEARTH_ASSIGN_OR_RETURN(auto members, Members(txn, group_id));
    bool known = false;
    for (const auto& m : members) {
      auto mid = MemberId::Parse(m.member_id);
      known = known || (mid && mid->server == origin);
    }
    if (!known) return Error::NotFound("not_found", "no group " + group_id);
  }
  json out = GroupJson(*g);
  // A node whose members cannot join (limited, or pending in open
  // federation) learns no meeting links: as in the directory.
  HEARTH_ASSIGN_OR_RETURN(auto peer, d_.trust.Get(txn, origin));
  if (!peer || peer->state != federation::PeerState::kTrusted) {
    for (auto& m : out["meetings"]) m.erase("link");
  }
  return out;
}

namespace {

Result<std::string> MemberOf(const json& body, const std::string& origin) {
  if (!body.is_object() || !body.contains("member") ||
      !body["member"].is_string())
    return Error::Invalid("invalid_member_id", "the body names the member");
  auto id = MemberId::Parse(body["member"].get<std::string>());
  if (!id)
    return Error::Invalid("invalid_member_id", "a member id is @handle@server");
  if (id->server != origin)
    return Error::Forbidden("wrong_origin",
                            origin + " speaks only for its own members");
  return id->ToString();
}

}  // namespace

Result<json> GroupService::HostJoin(const std::string& origin,
                                    const std::string& group_id,
                                    const json& body) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  if (!IsHost(id)) return Error::NotFound("not_found", "no group " + group_id);
  HEARTH_ASSIGN_OR_RETURN(std::string member, MemberOf(body, origin));
  HEARTH_RETURN_IF_ERROR(RequireTrusted(origin));
  bool accept_rules = body.contains("accept_rules") &&
                      body["accept_rules"].is_boolean() &&
                      body["accept_rules"].get<bool>();
  json answer;
  HEARTH_RETURN_IF_ERROR(
      Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
        HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
        if (!g) return Error::NotFound("not_found", "no group " + group_id);
        if (g->visibility == Visibility::kPrivate) {
          HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, member));
          if (!r) return Error::NotFound("not_found", "no group " + group_id);
        }
        HEARTH_ASSIGN_OR_RETURN(MemberState state,
                                JoinInTxn(txn, *g, member, accept_rules, fx));
        HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, member));
        // The state as of this version: any change announced before it
        // has a lower one, and is ignored if it arrives after this answer.
        HEARTH_ASSIGN_OR_RETURN(std::uint64_t version,
                                MembershipVersion(txn, group_id));
        answer = {{"status", ToString(state)},
                  {"role", ToString(r ? r->role : Role::kMember)},
                  {"ts", r ? r->updated_ts : d_.clock.NowMs()},
                  {"version", version},
                  {"group", GroupJson(*g)}};
        return Ok();
      }));
  return answer;
}

Result<json> GroupService::HostLeave(const std::string& origin,
                                     const std::string& group_id,
                                     const json& body) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  if (!IsHost(id)) return Error::NotFound("not_found", "no group " + group_id);
  HEARTH_ASSIGN_OR_RETURN(std::string member, MemberOf(body, origin));
  json answer;
  HEARTH_RETURN_IF_ERROR(
      Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
        HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
        if (!g) return Error::NotFound("not_found", "no group " + group_id);
        HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, member));
        if (!r && g->visibility == Visibility::kPrivate)
          return Error::NotFound("not_found", "no group " + group_id);
        HEARTH_RETURN_IF_ERROR(LeaveInTxn(txn, *g, member, fx));
        // A banned member stays banned: the answer says what holds now.
        HEARTH_ASSIGN_OR_RETURN(auto now, GetMembership(txn, group_id, member));
        HEARTH_ASSIGN_OR_RETURN(std::uint64_t version,
                                MembershipVersion(txn, group_id));
        answer = {{"status", ToString(now ? now->state : MemberState::kNone)},
                  {"ts", d_.clock.NowMs()},
                  {"version", version}};
        return Ok();
      }));
  return answer;
}

Result<json> GroupService::HostPost(const std::string& origin,
                                    const std::string& group_id,
                                    const json& event) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  if (!IsHost(id)) return Error::NotFound("not_found", "no group " + group_id);
  HEARTH_ASSIGN_OR_RETURN(AuthorEvent a, ParseAuthorEvent(event, group_id));
  if (a.origin != origin)
    return Error::Forbidden("wrong_origin",
                            origin + " speaks only for its own members");
  HEARTH_RETURN_IF_ERROR(RequireTrusted(origin));
  HEARTH_ASSIGN_OR_RETURN(std::string event_id, federation::EventId(event));
  federation::JsonLimits nested;  // as inside the accept
  nested.max_depth = federation::JsonLimits{}.max_depth - 1;
  HEARTH_ASSIGN_OR_RETURN(std::string event_text,
                          federation::Canonicalize(event, nested));
  {
    // A post retried after a lost answer gets its first accept back,
    // whatever happened since (a ban, the clock).
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto seen, AcceptedEvent(txn, a.ts, event_id));
    if (seen) {
      HEARTH_ASSIGN_OR_RETURN(auto rec, t_->messages.Get(txn, *seen));
      if (rec) {
        json accept = json::parse(rec->accept);
        if (Str(accept, "group") == group_id) return json{{"accept", accept}};
      }
    }
  }
  std::int64_t skew = d_.clock.NowMs() - a.ts;
  if (skew > 10 * 60 * 1000 || skew < -10 * 60 * 1000)
    return Error::Invalid("bad_ts",
                          "the event's ts is more than 10 minutes off");
  HEARTH_RETURN_IF_ERROR(ValidatePost(a.post));
  // The author node's signature, with the key we pin for it.
  std::optional<std::pair<std::string, std::string>> used;
  for (const auto& kid : federation::SignatureKeyIds(event, origin)) {
    auto key = d_.trust.PublicKeyFor(origin, kid);
    if (key && key->expired_ts == 0 &&
        federation::VerifyJson(event, origin, kid, key->key)) {
      used = std::make_pair(kid, key->key);
      break;
    }
  }
  if (!used)
    return Error::Unauthenticated("bad_signature",
                                  "the event is not signed by " + origin);
  json accept;
  HEARTH_ASSIGN_OR_RETURN(auto r, Accept(group_id, a.author, event, event_text,
                                         event_id, used, &accept));
  (void)r;
  return json{{"accept", accept}};
}

Result<std::string> GroupService::HostEvents(const std::string& origin,
                                             const std::string& group_id,
                                             std::uint64_t after,
                                             size_t limit) const {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  if (!IsHost(id)) return Error::NotFound("not_found", "no group " + group_id);
  HEARTH_RETURN_IF_ERROR(RequireTrusted(origin));
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto g, t_->groups.Get(txn, group_id));
  if (!g) return Error::NotFound("not_found", "no group " + group_id);
  HEARTH_ASSIGN_OR_RETURN(auto members, Members(txn, group_id));
  bool has_members = false, known = false;
  for (const auto& m : members) {
    auto mid = MemberId::Parse(m.member_id);
    bool theirs = mid && mid->server == origin;
    known = known || theirs;
    has_members = has_members || (theirs && m.state == MemberState::kJoined);
  }
  if (!known && g->visibility == Visibility::kPrivate)
    return Error::NotFound("not_found", "no group " + group_id);
  if (!has_members)
    return Error::Forbidden("no_members",
                            origin + " has no members in " + group_id);
  std::string out = "{\"events\":[";
  std::string prefix = group_id + std::string(1, '\0');
  HEARTH_ASSIGN_OR_RETURN(auto c,
                          storage::Cursor::Open(txn, t_->messages.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(MessageKey(group_id, after + 1)));
  size_t n = 0;
  std::uint64_t last = after;
  bool full = false;
  while (more && c.key().substr(0, prefix.size()) == prefix) {
    if (n == limit) {
      full = true;
      break;
    }
    HEARTH_ASSIGN_OR_RETURN(auto rec,
                            storage::Decode<MessageRecord>(c.value()));
    if (n++) out += ',';
    out += rec.accept;
    last = rec.seq;
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  out += "],\"next\":";
  out += full ? std::to_string(last) : "null";
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------
// Inbound events from hosts

Status GroupService::PrepareAccept(federation::InboundEvent& event) const {
  const json& accept = event.event;
  auto gid = GroupId::Parse(Str(accept, "group"));
  if (!gid || gid->server != event.origin)
    return Error::Forbidden(
        "not_host", event.origin + " does not host " + Str(accept, "group"));
  HEARTH_ASSIGN_OR_RETURN(
      ReceivedAccept a,
      ReadAccept(accept,
                 event.signing_bytes.empty() ? nullptr : &event.signing_bytes));
  event.prepared = std::move(a);
  return Ok();
}

Status GroupService::ApplyAccept(storage::WriteTxn& txn,
                                 const federation::InboundEvent& event) {
  // Read by PrepareAccept, outside the transaction (the router always
  // registers both).
  const auto* a = std::any_cast<ReceivedAccept>(&event.prepared);
  if (!a) return Error::Internal("a group.accept reached Apply unprepared");
  Effects fx;
  HEARTH_RETURN_IF_ERROR(StoreAcceptInTxn(txn, *a, fx));
  event.after_commit.push_back([this, fx] { Finish(fx); });
  return Ok();
}

Status GroupService::ApplyMembership(storage::WriteTxn& txn,
                                     const federation::InboundEvent& event) {
  const json& e = event.event;
  std::string group_id = Str(e, "group");
  auto gid = GroupId::Parse(group_id);
  if (!gid || gid->server != event.origin)
    return Error::Forbidden("not_host",
                            event.origin + " does not host " + group_id);
  const json& c = e["content"];
  MemberState state;
  Role role;
  if (!c.contains("member") || !c["member"].is_string() ||
      !c.contains("state") || !c["state"].is_string() ||
      !ParseMemberState(c["state"].get<std::string>(), &state) ||
      !c.contains("role") || !c["role"].is_string() ||
      !ParseRole(c["role"].get<std::string>(), &role) || !c.contains("group"))
    return Error::Invalid("bad_event",
                          "group.membership needs member, state, role, group");
  std::string member = c["member"];
  HEARTH_ASSIGN_OR_RETURN(bool local, d_.accounts.IsLocalMember(txn, member));
  if (!local) return Error::NotFound("unknown_member", "no member " + member);
  HEARTH_ASSIGN_OR_RETURN(GroupRecord g, GroupFromJson(c["group"]));
  if (g.group_id != group_id)
    return Error::Invalid("bad_event", "the group does not match");
  Effects fx;
  HEARTH_ASSIGN_OR_RETURN(auto r, GetMembership(txn, group_id, member));
  HEARTH_ASSIGN_OR_RETURN(auto taken, GetTaken(txn, group_id, member));
  std::int64_t host_ts = e["ts"].get<std::int64_t>();
  const std::uint64_t version = VersionIn(c);
  // Events and answers can cross, and an event can come twice: an older
  // or repeated word from the host does not undo a newer one. The host's
  // membership version orders them; from a host of an older build, which
  // sends none, its clock does (the row's updated_ts, or the marker left
  // when the row went).
  if (version != 0) {
    if (taken && taken->version >= version) return Ok();
  } else if (r ? r->updated_ts > host_ts : taken && taken->ts > host_ts) {
    return Ok();
  }
  HEARTH_RETURN_IF_ERROR(
      PutTaken(txn, group_id, member, Taken::After(taken, version, host_ts)));
  HEARTH_RETURN_IF_ERROR(t_->groups.Put(txn, group_id, g));
  if (state == MemberState::kNone) {
    HEARTH_RETURN_IF_ERROR(DeleteMembership(txn, group_id, member, fx));
  } else {
    MembershipRecord rec = r.value_or(MembershipRecord{member});
    rec.state = state;
    rec.role = role;
    rec.updated_ts = host_ts;
    HEARTH_RETURN_IF_ERROR(PutMembership(txn, group_id, rec, fx));
  }
  HEARTH_RETURN_IF_ERROR(TellMember(txn, group_id, member, state, role, fx));
  if (state == MemberState::kJoined) fx.backfill.insert(group_id);
  event.after_commit.push_back([this, fx] { Finish(fx); });
  return Ok();
}

// ---------------------------------------------------------------------------
// Backfill

void GroupService::StartBackfill() {
  std::set<std::string> remote;
  if (auto txn = d_.env.BeginRead()) {
    if (auto c = storage::Cursor::Open(*txn, t_->index)) {
      for (auto more = c->First(); more && *more; more = c->Next()) {
        std::string_view key = c->key();
        auto zero = key.find('\0');
        if (zero == std::string_view::npos) continue;
        std::string member(key.substr(0, zero));
        std::string gid(key.substr(zero + 1));
        auto id = GroupId::Parse(gid);
        if (!id || IsHost(*id)) continue;
        auto r = GetMembership(*txn, gid, member);
        if (r && *r && (*r)->state == MemberState::kJoined) remote.insert(gid);
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(backfill_mu_);
    backfill_stop_ = false;
    backfill_queue_.insert(remote.begin(), remote.end());
  }
  backfill_thread_ = std::thread([this] { BackfillLoop(); });
}

void GroupService::StopBackfill() {
  {
    std::lock_guard<std::mutex> lock(backfill_mu_);
    backfill_stop_ = true;
  }
  backfill_cv_.notify_all();
  if (backfill_thread_.joinable()) backfill_thread_.join();
}

void GroupService::RequestBackfill(const std::string& group_id) {
  {
    std::lock_guard<std::mutex> lock(backfill_mu_);
    backfill_queue_.insert(group_id);
  }
  backfill_cv_.notify_all();
}

void GroupService::BackfillLoop() {
  using SteadyClock = std::chrono::steady_clock;
  std::map<std::string, SteadyClock::time_point> retry;  // failed: not before
  std::unique_lock<std::mutex> lock(backfill_mu_);
  while (!backfill_stop_) {
    // The first queued group (in id order) not waiting out a retry.
    std::string gid;
    auto now = SteadyClock::now();
    auto wake = now + std::chrono::hours(1);
    for (auto it = backfill_queue_.begin(); it != backfill_queue_.end(); ++it) {
      auto r = retry.find(*it);
      if (r == retry.end() || r->second <= now) {
        gid = *it;
        backfill_queue_.erase(it);
        break;
      }
      wake = std::min(wake, r->second);
    }
    if (gid.empty()) {
      backfill_cv_.wait_until(lock, wake);
      continue;
    }
    lock.unlock();
    Status s = Ok();
    try {
      s = BackfillGroup(gid);
    } catch (const std::exception& e) {
      s = Error::Internal(std::string("backfill threw: ") + e.what());
    }
    lock.lock();
    retry.erase(gid);
    if (s) continue;
    bool retryable = s.error().kind == ErrorKind::kUnavailable ||
                     s.error().kind == ErrorKind::kRateLimited ||
                     s.error().kind == ErrorKind::kInternal;
    spdlog::warn("backfill of {}: {}{}", gid, s.error().message,
                 retryable ? " (retrying in 10 s)" : "");
    if (retryable) {
      // A host that is down is asked again every 10 s; the others go on.
      retry[gid] = SteadyClock::now() + std::chrono::seconds(10);
      backfill_queue_.insert(gid);
    }
  }
}

Status GroupService::BackfillGroup(const std::string& group_id) {
  HEARTH_ASSIGN_OR_RETURN(GroupId id, ParseGroup(group_id));
  for (int page = 0; page < 1000; ++page) {
    {
      std::lock_guard<std::mutex> lock(backfill_mu_);
      if (backfill_stop_) return Ok();
    }
    std::uint64_t last = 0;
    {
      HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
      HEARTH_ASSIGN_OR_RETURN(last, LastSeq(txn, group_id));
    }
    HEARTH_ASSIGN_OR_RETURN(
        json answer,
        d_.peers.Call(id.server, "GET",
                      "/_hearth/v1/groups/" + PercentEncode(group_id) +
                          "/events?after=" + std::to_string(last) +
                          "&limit=200",
                      nullptr));
    if (!answer.contains("events") || !answer["events"].is_array())
      return Error::Unavailable("peer_unreachable", "bad backfill answer");
    const json& events = answer["events"];
    if (events.empty()) return Ok();
    std::vector<ReceivedAccept> received;
    for (const auto& accept : events) {
      HEARTH_RETURN_IF_ERROR(VerifyAccept(accept, id.server));
      if (Str(accept, "group") != group_id)
        return Error::Forbidden("bad_backfill",
                                id.server + " answered with another group");
      HEARTH_ASSIGN_OR_RETURN(ReceivedAccept a, ReadAccept(accept, nullptr));
      received.push_back(std::move(a));
    }
    HEARTH_RETURN_IF_ERROR(
        Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
          for (const auto& a : received) {
            HEARTH_RETURN_IF_ERROR(StoreAcceptInTxn(txn, a, fx));
          }
          fx.backfill.clear();  // this loop goes on by itself
          return Ok();
        }));
    if (!answer.contains("next") || answer["next"].is_null()) return Ok();
  }
  // A long gap (our queue at the host was collapsed): queued again, so the
  // loop goes on with it rather than leave the rest for the next gap.
  RequestBackfill(group_id);
  return Ok();
}

}  // namespace hearth
