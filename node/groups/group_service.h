// Support groups: created on, and authoritative at, their host node.
//
// Members of this node use the member-facing calls; for a group hosted
// elsewhere they relay to the host with a signed request and keep a local
// copy of what the host answers (membership, the group, its messages).
// Peers reach the host-side calls through node/api/federation_api.cc after
// inbound authentication and the trust gate. Accepted messages and
// membership results reach other nodes as signed events through the
// outbox, and are applied here by Apply* from inbound federation.
//
// Posting (spec/groups.md): the author's node signs the author's event (a
// host's own members' events are covered by the host's signature alone);
// the host checks membership, mute and ban, takes the next sequence
// number, signs a `group.accept` wrapping the author's event, stores it,
// queues it once for every other node with joined members and adds it to
// the sync stream, all in one transaction.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/result.h"
#include "federation/inbound.h"
#include "federation/node_keys.h"
#include "federation/outbox.h"
#include "federation/peer_requests.h"
#include "federation/trust.h"
#include "node/accounts/account_service.h"
#include "node/groups/group_fields.h"
#include "node/groups/group_records.h"
#include "node/groups/joined_cache.h"
#include "node/sync/sync_stream.h"
#include "storage/committer.h"
#include "storage/env.h"
#include "storage/table.h"

namespace hearth {

struct GroupView {
  GroupRecord group;
  MemberState membership = MemberState::kNone;
  Role role = Role::kMember;
};

struct PostRequest {
  std::string body;
  std::string content_warning;
  std::string reply_to;
};

struct PostResult {
  std::string event_id;
  std::uint64_t seq = 0;
};

struct HistoryPage {
  std::vector<MessageRecord> messages;
  std::optional<std::uint64_t> next;
};

struct JoinRequest {
  std::string member_id;
  std::int64_t ts = 0;
};

struct MyGroup {
  std::string group_id;
  std::string name;
  MemberState membership = MemberState::kNone;
  Role role = Role::kMember;
};

// Bounds of a post's fields (400 invalid_body, ...).
Status ValidatePost(const PostRequest& p);

// Wire forms shared by the member and federation APIs.
nlohmann::json GroupJson(const GroupRecord& g);
Result<GroupRecord> GroupFromJson(const nlohmann::json& j);
nlohmann::json MessageJson(const MessageRecord& m);

class GroupService {
 public:
  static constexpr char kAcceptType[] = "group.accept";
  static constexpr char kMembershipType[] = "group.membership";
  static constexpr char kMessageType[] = "group.message";

  struct Deps {
    storage::Env& env;
    storage::Committer& committer;
    const federation::Outbox& outbox;
    federation::PeerRequests& peers;
    federation::TrustService& trust;
    const federation::NodeKeys& keys;
    const AccountService& accounts;
    const SyncStream& stream;
    SyncHub& hub;
    const Clock& clock;
    std::function<void()> notify_senders;
    // After a change to a group hosted here (its listing may change).
    std::function<void()> listing_changed = {};
  };
  static Result<std::unique_ptr<GroupService>> Open(Deps deps);
  ~GroupService();

  // --- Members of this node -------------------------------------------
  // Errors: invalid_* (400), group_exists (409).
  Result<GroupView> Create(const Member& m, const GroupSpec& spec);
  // Owner only (403 not_owner).
  Result<GroupView> Update(const Member& m, const std::string& group_id,
                           const GroupSpec& spec);
  // Local or remote; a private group is 404 to non-members.
  Result<GroupView> Get(const Member& m, const std::string& group_id);
  // -> joined or pending. Errors: rules_not_accepted (400), banned,
  // invite_only, peer_limited, peer_not_trusted (403).
  Result<MemberState> Join(const Member& m, const std::string& group_id,
                           bool accept_rules);
  Status Leave(const Member& m, const std::string& group_id);
  // Errors: not_member, muted, banned (403); invalid_body (400).
  Result<PostResult> Post(const Member& m, const std::string& group_id,
                          const PostRequest& post);
  // Joined members only (403 not_member).
  Result<HistoryPage> History(const Member& m, const std::string& group_id,
                              std::uint64_t after, size_t limit) const;
  Result<std::vector<MyGroup>> MyGroups(const Member& m) const;
  // The public groups hosted here: what the directory publishes.
  Result<std::vector<GroupRecord>> ListedGroups() const;

  // Moderation, by the host's facilitators (403 not_facilitator; for a
  // remote group 403 moderate_on_host).
  Result<std::vector<JoinRequest>> Requests(const Member& m,
                                            const std::string& group_id) const;
  // Approves (-> joined) or refuses (-> none) a pending request.
  Result<MemberState> Decide(const Member& m, const std::string& group_id,
                             const std::string& target, bool approve);
  Status Invite(const Member& m, const std::string& group_id,
                const std::string& target);
  Status SetBanned(const Member& m, const std::string& group_id,
                   const std::string& target, bool banned);
  Status SetMuted(const Member& m, const std::string& group_id,
                  const std::string& target, bool muted);
  // Owner only.
  Status SetFacilitator(const Member& m, const std::string& group_id,
                        const std::string& target, bool facilitator);

  // The groups `member` has joined (for sync), as of `txn`, a read
  // transaction: from memory while no membership changed since they were
  // read (joined_cache.h).
  Result<JoinedCache::Groups> JoinedGroups(const storage::ReadTxn& txn,
                                           const std::string& member) const;

  // --- Host side, for authenticated peers -------------------------------
  Result<nlohmann::json> HostGetGroup(const std::string& origin,
                                      const std::string& group_id) const;
  // Body {member, accept_rules} -> {status, role, group}.
  Result<nlohmann::json> HostJoin(const std::string& origin,
                                  const std::string& group_id,
                                  const nlohmann::json& body);
  // Body {member} -> {status: "none"}.
  Result<nlohmann::json> HostLeave(const std::string& origin,
                                   const std::string& group_id,
                                   const nlohmann::json& body);
  // Body: the author node's signed group.message -> {accept}.
  Result<nlohmann::json> HostPost(const std::string& origin,
                                  const std::string& group_id,
                                  const nlohmann::json& event);
  // Backfill: accepted events after `after`, only for nodes with joined
  // members (403 no_members otherwise). -> JSON text {events, next}.
  Result<std::string> HostEvents(const std::string& origin,
                                 const std::string& group_id,
                                 std::uint64_t after, size_t limit) const;

  // --- Inbound events from hosts -----------------------------------------
  // Before the write (any thread): checks and parses a group.accept into
  // `event.prepared` (a ReceivedAccept) for ApplyAccept.
  Status PrepareAccept(federation::InboundEvent& event) const;
  Status ApplyAccept(storage::WriteTxn& txn,
                     const federation::InboundEvent& event);
  Status ApplyMembership(storage::WriteTxn& txn,
                         const federation::InboundEvent& event);

  // --- Backfill ------------------------------------------------------------
  // Starts the thread that catches remote groups up from their hosts, and
  // queues every remote group with joined local members.
  void StartBackfill();
  void StopBackfill();
  void RequestBackfill(const std::string& group_id);

 private:
  explicit GroupService(Deps deps);
  struct Tables;
  bool IsHost(const GroupId& g) const {
    return g.server == d_.keys.server_name();
  }
  Result<GroupId> ParseGroup(const std::string& group_id) const;

  // In a write transaction: the steps shared by local and relayed calls.
  struct Effects {
    std::vector<std::string> wake;  // local members to wake after commit
    bool senders = false;           // outbox grew
    bool listing = false;           // a hosted group changed
    std::set<std::string> backfill;
    std::set<std::string> members_changed;  // groups whose members changed
    void Clear() { *this = Effects(); }
  };
  Result<MemberState> JoinInTxn(storage::WriteTxn& txn, GroupRecord& g,
                                const std::string& member, bool accept_rules,
                                Effects& fx);
  Status LeaveInTxn(storage::WriteTxn& txn, GroupRecord& g,
                    const std::string& member, Effects& fx);
  // Host: sequence, sign, store and fan out an author's event, for
  // `poster` (checked again inside the commit). The seq is taken and the
  // accept signed under the group's sequencer, outside the commit; the
  // commit only checks that the seq still follows and stores. A retried
  // relayed post gets its first accept back. `event_text`: the canonical
  // text of `author_event` (signatures included), which goes into the
  // accept as it is. `accept_out`: the accept.
  Result<PostResult> Accept(
      const std::string& group_id, const std::string& poster,
      const nlohmann::json& author_event, const std::string& event_text,
      const std::string& event_id,
      const std::optional<std::pair<std::string, std::string>>& author_key,
      nlohmann::json* accept_out);
  // Who an accepted post goes to: the local members to wake, and the
  // other nodes with their joined members.
  struct Fanout {
    std::vector<std::string> local;
    std::map<std::string, std::vector<std::string>> nodes;
  };
  // From memory when cached (reading every membership of a big group for
  // each post was a sixth of a post's CPU with 64 members). `generation`:
  // fanout_generation_ read before `txn` began; a result read from the
  // store is cached only if no membership change committed since then.
  Result<std::shared_ptr<const Fanout>> FanoutOf(const storage::Txn& txn,
                                                 const std::string& gid,
                                                 std::uint64_t generation);
  // The next seq of a group hosted here, once known (0: read it from the
  // store). Held while a post is signed and queued for commit.
  struct Sequencer {
    std::mutex mu;
    std::uint64_t next = 0;
    // Grows each time `next` is forgotten: a post that fails forgets it
    // only if nobody did since it took its seq (so a post sequenced
    // afresh is not undone by an older failure).
    std::uint64_t generation = 0;
  };
  std::shared_ptr<Sequencer> SequencerFor(const std::string& gid);
  // Receiver: a host's accept (its signature already verified), checked
  // and made ready to store by ReadAccept, outside the write transaction:
  // the author's signature, the event id, the stored text and record, the
  // sync item.
  struct ReceivedAccept {
    std::string group_id;
    std::string event_id;
    MessageRecord record;  // record.seq is the accept's seq
    std::string sync_json;
  };
  // `signing_bytes`: the accept's, if the caller has them (inbound made
  // them to verify it), so its stored text is not encoded again. Keys are
  // read in a read transaction of its own. REQUIRES: no transaction held.
  Result<ReceivedAccept> ReadAccept(const nlohmann::json& accept,
                                    const std::string* signing_bytes) const;
  // Stores it (deduped by seq; a gap asks for backfill instead).
  Status StoreAcceptInTxn(storage::WriteTxn& txn, const ReceivedAccept& a,
                          Effects& fx);
  // The host's signature on an accept (may fetch the host's keys: call
  // outside a transaction).
  Status VerifyAccept(const nlohmann::json& accept, const std::string& host);
  // The signature of `origin` (the author's node, not the host) on the
  // author's event inside an accept, with keys read in a read transaction
  // of its own. REQUIRES: the accept has an `event`.
  Status VerifyAuthor(const nlohmann::json& accept,
                      const std::string& origin) const;
  // Forbidden (`not_trusted`) unless `origin` is a trusted peer.
  Status RequireTrusted(const std::string& origin) const;
  // Checks that `member` may post now (joined, not muted or banned).
  Status CheckPoster(const storage::Txn& txn, const GroupRecord& g,
                     const std::string& member) const;
  // Host: tell `member` (local: sync; remote: outbox) its new state.
  Status AnnounceMembership(storage::WriteTxn& txn, const GroupRecord& g,
                            const MembershipRecord& r, Effects& fx);
  // A local member's new state, in the sync stream.
  Status TellMember(storage::WriteTxn& txn, const std::string& gid,
                    const std::string& member, MemberState state, Role role,
                    Effects& fx);
  Status AddSyncItem(storage::WriteTxn& txn, SyncItem item,
                     const std::vector<std::string>& wake, Effects& fx);
  Result<std::vector<MembershipRecord>> Members(const storage::Txn& txn,
                                                const std::string& gid) const;
  Result<std::optional<MembershipRecord>> GetMembership(
      const storage::Txn& txn, const std::string& gid,
      const std::string& member) const;
  // Membership writes; each notes the group in `fx` so that, once the
  // change commits, the group's cached fan-out is dropped.
  Status PutMembership(storage::WriteTxn& txn, const std::string& gid,
                       const MembershipRecord& r, Effects& fx) const;
  Status DeleteMembership(storage::WriteTxn& txn, const std::string& gid,
                          const std::string& member, Effects& fx) const;
  // On the host: the group's membership version, which every membership
  // write (PutMembership, DeleteMembership) moves on by one. Answers and
  // `group.membership` events carry it, so the member's node can tell a
  // late word from a newer one without trusting clocks (groups.md §4.4).
  Result<std::uint64_t> MembershipVersion(const storage::Txn& txn,
                                          const std::string& gid) const;
  Status BumpMembershipVersion(storage::WriteTxn& txn,
                               const std::string& gid) const;
  // The `version` in a host's answer or event content; 0 when absent or
  // not a positive integer (a host of an older build).
  static std::uint64_t VersionIn(const nlohmann::json& j);
  // The host's `ts` in its answer, or our clock if it sent none.
  std::int64_t HostTsIn(const nlohmann::json& answer) const;
  // On a member's node: the host's version and time of the last change to
  // `member`'s state in a remote group that this node took, kept after
  // the row is gone (a leave, a refusal, an unban).
  struct Taken {
    std::uint64_t version = 0;  // 0: the host sent none (an older build)
    std::int64_t ts = 0;
    // The marker once a word of `version` (0: none) at `ts` is taken.
    static Taken After(const std::optional<Taken>& last, std::uint64_t version,
                       std::int64_t ts) {
      return Taken{std::max(version, last ? last->version : 0), ts};
    }
  };
  Result<std::optional<Taken>> GetTaken(const storage::Txn& txn,
                                        const std::string& gid,
                                        const std::string& member) const;
  Status PutTaken(storage::WriteTxn& txn, const std::string& gid,
                  const std::string& member, const Taken& taken) const;
  Result<std::uint64_t> LastSeq(const storage::Txn& txn,
                                const std::string& gid) const;
  // The message key of an author event this host accepted already (its
  // author's `ts` and its id), or nullopt.
  Result<std::optional<std::string>> AcceptedEvent(
      const storage::Txn& txn, std::int64_t ts,
      const std::string& event_id) const;
  // A local facilitator (or owner) of a group hosted here.
  Result<GroupRecord> RequireModerator(const storage::Txn& txn, const Member& m,
                                       const GroupId& g, bool owner_only) const;
  Status Commit(
      const std::function<Status(storage::WriteTxn&, Effects&)>& change);
  void Finish(const Effects& fx);
  void BackfillLoop();
  Status BackfillGroup(const std::string& group_id);

  Deps d_;
  std::unique_ptr<Tables> t_;

  std::mutex sequencers_mu_;
  std::map<std::string, std::shared_ptr<Sequencer>> sequencers_;

  // Fan-out of groups hosted here, dropped after a membership change
  // commits (Finish), never before: a post reading an older snapshot could
  // otherwise cache what the change undid.
  std::mutex fanout_mu_;
  std::map<std::string, std::shared_ptr<const Fanout>> fanout_cache_;
  std::uint64_t fanout_generation_ = 0;  // guarded by fanout_mu_

  // Raised inside every membership write (PutMembership,
  // DeleteMembership); mutable because JoinedGroups fills it.
  mutable JoinedCache joined_;

  std::mutex backfill_mu_;
  std::condition_variable backfill_cv_;
  std::set<std::string> backfill_queue_;
  bool backfill_stop_ = false;
  std::thread backfill_thread_;
};

}  // namespace hearth
