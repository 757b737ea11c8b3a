#include "node/conversations/conversation_service.h"

#include "common/encoding.h"
#include "common/ids.h"
#include "federation/canonical_json.h"
#include "federation/signed_json.h"

namespace hearth {

using nlohmann::json;

const char* ToString(ConversationState s) {
  switch (s) {
    case ConversationState::kOutgoingRequest:
      return "requested";
    case ConversationState::kIncomingRequest:
      return "incoming_request";
    case ConversationState::kAccepted:
      return "accepted";
    case ConversationState::kDeclinedByMe:
      return "declined";
    case ConversationState::kDeclinedByThem:
      return "declined_by_them";
  }
  return "unknown";
}

namespace {

std::string PairKey(const std::string& local, const std::string& other) {
  return local + std::string(1, '\0') + other;
}
std::string MessageKey(const std::string& local, const std::string& other,
                       std::uint64_t seq) {
  return PairKey(local, other) + std::string(1, '\0') + EncodeU64BE(seq);
}

Status CheckBody(const std::string& body) {
  if (body.empty() || body.size() > 8000)
    return Error::Invalid("invalid_body", "a message is 1 to 8000 bytes");
  return Ok();
}

}  // namespace

struct ConversationService::Tables {
  storage::Table<ConversationRecord> conversations;
  storage::Table<DirectMessage> messages;
  storage::Dbi applied;
};

Result<std::unique_ptr<ConversationService>> ConversationService::Open(
    Deps deps) {
  auto t = std::make_unique<Tables>();
  HEARTH_ASSIGN_OR_RETURN(
      t->conversations,
      storage::Table<ConversationRecord>::Open(deps.env, "pair_conversation"));
  HEARTH_ASSIGN_OR_RETURN(t->messages, storage::Table<DirectMessage>::Open(
                                           deps.env, "pairseq_direct"));
  HEARTH_ASSIGN_OR_RETURN(t->applied, deps.env.OpenTable("eventid_direct"));
  std::unique_ptr<ConversationService> s(
      new ConversationService(std::move(deps)));
  s->t_ = std::move(t);
  return s;
}

ConversationService::ConversationService(Deps deps) : d_(std::move(deps)) {}
ConversationService::~ConversationService() = default;

Status ConversationService::Commit(
    const std::function<Status(storage::WriteTxn&, Effects&)>& change) {
  Effects fx;
  HEARTH_RETURN_IF_ERROR(
      d_.committer.Run([&](storage::WriteTxn& txn) -> Status {
        fx = Effects();
        return change(txn, fx);
      }));
  Finish(fx);
  return Ok();
}

void ConversationService::Finish(const Effects& fx) {
  if (!fx.wake.empty()) d_.hub.Notify(fx.wake);
  if (fx.senders && d_.notify_senders) d_.notify_senders();
}

Status ConversationService::CheckPeer(const std::string& other) const {
  auto id = MemberId::Parse(other);
  if (!id)
    return Error::Invalid("invalid_member_id", "a member id is @handle@server");
  if (id->server == d_.keys.server_name()) return Ok();
  HEARTH_ASSIGN_OR_RETURN(auto peer, d_.trust.Get(id->server));
  if (peer && peer->state == federation::PeerState::kLimited)
    return Error::Forbidden("peer_limited",
                            id->server + " is limited: no direct messages");
  if (!peer || peer->state != federation::PeerState::kTrusted)
    return Error::Forbidden("peer_not_trusted",
                            id->server + " is not a trusted peer of this node");
  return Ok();
}

Result<json> ConversationService::MakeEvent(const std::string& type,
                                            const std::string& author,
                                            const std::string& recipient,
                                            const std::string& body,
                                            std::int64_t ts) const {
  json content = json::object();
  if (type == kMessageType) content["body"] = body;
  json event = {{"type", type},     {"origin", d_.keys.server_name()},
                {"author", author}, {"recipient", recipient},
                {"ts", ts},         {"content", content}};
  auto rid = MemberId::Parse(recipient);
  if (rid && rid->server != d_.keys.server_name()) {
    HEARTH_RETURN_IF_ERROR(
        federation::SignJson(event, d_.keys.server_name(), d_.keys.current()));
  }
  return event;
}

Status ConversationService::Dispatch(storage::WriteTxn& txn, const json& event,
                                     Effects& fx) {
  std::string recipient = event["recipient"];
  auto rid = MemberId::Parse(recipient);
  HEARTH_ASSIGN_OR_RETURN(std::string event_id, federation::EventId(event));
  if (rid->server == d_.keys.server_name()) {
    std::string body = event["content"].value("body", "");
    return Deliver(txn, event["type"], event_id, event["author"], recipient,
                   body, event["ts"], fx);
  }
  HEARTH_ASSIGN_OR_RETURN(std::string text, federation::Canonicalize(event));
  HEARTH_ASSIGN_OR_RETURN(auto seq,
                          d_.outbox.Enqueue(txn, text, {rid->server}));
  (void)seq;
  fx.senders = true;
  return Ok();
}

Result<std::uint64_t> ConversationService::StoreMessage(
    storage::WriteTxn& txn, ConversationRecord& conv, const std::string& local,
    DirectMessage msg, const char* kind, Effects& fx) {
  msg.seq = ++conv.last_seq;
  conv.updated_ts = d_.clock.NowMs();
  HEARTH_RETURN_IF_ERROR(
      t_->messages.Insert(txn, MessageKey(local, conv.other, msg.seq), msg));
  HEARTH_RETURN_IF_ERROR(
      t_->conversations.Put(txn, PairKey(local, conv.other), conv));
  json item = {
      {"type", kind},   {"with", conv.other},   {"event_id", msg.event_id},
      {"seq", msg.seq}, {"author", msg.author}, {"body", msg.body},
      {"ts", msg.ts}};
  HEARTH_ASSIGN_OR_RETURN(
      auto pos, d_.stream.Append(
                    txn, SyncItem{"", {local}, item.dump(), d_.clock.NowMs()}));
  (void)pos;
  fx.wake.push_back(local);
  return msg.seq;
}

Status ConversationService::Notice(storage::WriteTxn& txn,
                                   const std::string& local,
                                   const std::string& other, const char* kind,
                                   Effects& fx) {
  json item = {{"type", kind}, {"with", other}};
  HEARTH_ASSIGN_OR_RETURN(
      auto pos, d_.stream.Append(
                    txn, SyncItem{"", {local}, item.dump(), d_.clock.NowMs()}));
  (void)pos;
  fx.wake.push_back(local);
  return Ok();
}

Status ConversationService::Deliver(storage::WriteTxn& txn,
                                    const std::string& type,
                                    const std::string& event_id,
                                    const std::string& author,
                                    const std::string& recipient,
                                    const std::string& body, std::int64_t ts,
                                    Effects& fx) {
  HEARTH_ASSIGN_OR_RETURN(bool exists,
                          d_.accounts.IsLocalMember(txn, recipient));
  if (!exists)
    return Error::NotFound("unknown_member", "no member " + recipient);
  std::string applied_key = event_id + std::string(1, '\0') + recipient;
  HEARTH_ASSIGN_OR_RETURN(auto seen, txn.Get(t_->applied, applied_key));
  if (seen) return Ok();  // applied before
  // A block is silent: the event is taken and dropped.
  HEARTH_ASSIGN_OR_RETURN(bool blocked,
                          d_.blocks.IsBlocked(txn, recipient, author));
  if (blocked) return Ok();
  HEARTH_ASSIGN_OR_RETURN(
      auto conv, t_->conversations.Get(txn, PairKey(recipient, author)));
  std::int64_t now = d_.clock.NowMs();
  if (type == kMessageType) {
    HEARTH_RETURN_IF_ERROR(CheckBody(body));
    const char* kind = "conversation.message";
    if (!conv) {
      conv = ConversationRecord{author, ConversationState::kIncomingRequest,
                                now, now, 0};
      kind = "conversation.request";
    } else {
      switch (conv->state) {
        case ConversationState::kIncomingRequest:
          return Error::Conflict("not_accepted",
                                 recipient + " has not accepted yet");
        case ConversationState::kDeclinedByMe:
          return Error::Forbidden("declined", recipient + " declined");
        case ConversationState::kOutgoingRequest:
        case ConversationState::kDeclinedByThem:
          // They wrote back: that is their yes.
          conv->state = ConversationState::kAccepted;
          break;
        case ConversationState::kAccepted:
          break;
      }
    }
    HEARTH_ASSIGN_OR_RETURN(
        auto seq,
        StoreMessage(txn, *conv, recipient,
                     DirectMessage{0, event_id, author, body, ts}, kind, fx));
    (void)seq;
  } else if (type == kAcceptType || type == kDeclineType) {
    bool yes = type == kAcceptType;
    // They answer what we asked, or change their mind (accept after a
    // decline, decline after accepting); anything else changes nothing.
    bool applies =
        conv && (conv->state == ConversationState::kOutgoingRequest ||
                 conv->state == (yes ? ConversationState::kDeclinedByThem
                                     : ConversationState::kAccepted));
    if (applies) {
      conv->state = yes ? ConversationState::kAccepted
                        : ConversationState::kDeclinedByThem;
      conv->updated_ts = now;
      HEARTH_RETURN_IF_ERROR(
          t_->conversations.Put(txn, PairKey(recipient, author), *conv));
      HEARTH_RETURN_IF_ERROR(
          Notice(txn, recipient, author,
                 yes ? "conversation.accepted" : "conversation.declined", fx));
    }
  } else {
    return Error::Invalid("unknown_event_type", "not a direct event: " + type);
  }
  return txn.Put(t_->applied, applied_key, "");
}

Result<ConversationService::Sent> ConversationService::Send(
    const Member& m, const std::string& other, const std::string& body) {
  HEARTH_RETURN_IF_ERROR(CheckPeer(other));
  if (other == m.member_id)
    return Error::Invalid("cannot_message_self",
                          "a conversation needs another member");
  HEARTH_RETURN_IF_ERROR(CheckBody(body));
  std::int64_t now = d_.clock.NowMs();
  HEARTH_ASSIGN_OR_RETURN(
      json message, MakeEvent(kMessageType, m.member_id, other, body, now));
  HEARTH_ASSIGN_OR_RETURN(json accept,
                          MakeEvent(kAcceptType, m.member_id, other, "", now));
  HEARTH_ASSIGN_OR_RETURN(std::string event_id, federation::EventId(message));
  Sent sent{event_id, 0, ConversationState::kOutgoingRequest};
  HEARTH_RETURN_IF_ERROR(
      Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
        HEARTH_ASSIGN_OR_RETURN(bool blocked,
                                d_.blocks.IsBlocked(txn, m.member_id, other));
        if (blocked)
          return Error::Forbidden(
              "blocked", "you have blocked " + other + "; unblock them first");
        auto oid = MemberId::Parse(other);
        if (oid->server == d_.keys.server_name()) {
          HEARTH_ASSIGN_OR_RETURN(bool exists,
                                  d_.accounts.IsLocalMember(txn, other));
          if (!exists)
            return Error::NotFound("unknown_member", "no member " + other);
        }
        HEARTH_ASSIGN_OR_RETURN(
            auto conv, t_->conversations.Get(txn, PairKey(m.member_id, other)));
        bool answer_first = false;
        if (!conv) {
          conv = ConversationRecord{other, ConversationState::kOutgoingRequest,
                                    now, now, 0};
        } else {
          switch (conv->state) {
            case ConversationState::kOutgoingRequest:
              return Error::Conflict(
                  "not_accepted", other + " has not accepted your request yet");
            case ConversationState::kDeclinedByThem:
              return Error::Forbidden("declined", other + " declined");
            case ConversationState::kIncomingRequest:
            case ConversationState::kDeclinedByMe:
              // Writing back is accepting.
              conv->state = ConversationState::kAccepted;
              answer_first = true;
              break;
            case ConversationState::kAccepted:
              break;
          }
        }
        HEARTH_ASSIGN_OR_RETURN(
            sent.seq,
            StoreMessage(txn, *conv, m.member_id,
                         DirectMessage{0, event_id, m.member_id, body, now},
                         "conversation.message", fx));
        sent.state = conv->state;
        if (answer_first) HEARTH_RETURN_IF_ERROR(Dispatch(txn, accept, fx));
        return Dispatch(txn, message, fx);
      }));
  return sent;
}

Status ConversationService::Answer(const Member& m, const std::string& other,
                                   bool yes) {
  if (!MemberId::Parse(other))
    return Error::Invalid("invalid_member_id", "a member id is @handle@server");
  std::int64_t now = d_.clock.NowMs();
  HEARTH_ASSIGN_OR_RETURN(
      json event,
      MakeEvent(yes ? kAcceptType : kDeclineType, m.member_id, other, "", now));
  // An answer that cannot reach anyone (the other node is no longer
  // trusted) still holds here.
  bool reachable = static_cast<bool>(CheckPeer(other));
  return Commit([&](storage::WriteTxn& txn, Effects& fx) -> Status {
    HEARTH_ASSIGN_OR_RETURN(
        auto conv, t_->conversations.Get(txn, PairKey(m.member_id, other)));
    if (!conv)
      return Error::NotFound("no_request", other + " has not written to you");
    ConversationState target =
        yes ? ConversationState::kAccepted : ConversationState::kDeclinedByMe;
    if (conv->state == target) return Ok();  // answered already
    if (conv->state != ConversationState::kIncomingRequest &&
        !(yes && conv->state == ConversationState::kDeclinedByMe) &&
        !(!yes && conv->state == ConversationState::kAccepted))
      return Error::Conflict("no_request", "there is no request to answer");
    conv->state = target;
    conv->updated_ts = now;
    HEARTH_RETURN_IF_ERROR(
        t_->conversations.Put(txn, PairKey(m.member_id, other), *conv));
    if (!reachable) return Ok();
    return Dispatch(txn, event, fx);
  });
}

Status ConversationService::Accept(const Member& m, const std::string& other) {
  return Answer(m, other, true);
}

Status ConversationService::Decline(const Member& m, const std::string& other) {
  return Answer(m, other, false);
}

Result<std::vector<ConversationRecord>> ConversationService::List(
    const Member& m) const {
  std::vector<ConversationRecord> out;
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  std::string prefix = m.member_id + std::string(1, '\0');
  HEARTH_ASSIGN_OR_RETURN(auto c,
                          storage::Cursor::Open(txn, t_->conversations.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
  while (more && c.key().substr(0, prefix.size()) == prefix) {
    HEARTH_ASSIGN_OR_RETURN(auto r,
                            storage::Decode<ConversationRecord>(c.value()));
    HEARTH_ASSIGN_OR_RETURN(bool blocked,
                            d_.blocks.IsBlocked(txn, m.member_id, r.other));
    if (!blocked) out.push_back(std::move(r));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.updated_ts > b.updated_ts;
  });
  return out;
}

Result<DirectPage> ConversationService::Messages(const Member& m,
                                                 const std::string& other,
                                                 std::uint64_t after,
                                                 size_t limit) const {
  if (!MemberId::Parse(other))
    return Error::Invalid("invalid_member_id", "a member id is @handle@server");
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(
      auto conv, t_->conversations.Get(txn, PairKey(m.member_id, other)));
  if (!conv)
    return Error::NotFound("no_conversation", "no conversation with " + other);
  DirectPage page;
  std::string prefix = PairKey(m.member_id, other) + std::string(1, '\0');
  HEARTH_ASSIGN_OR_RETURN(auto c,
                          storage::Cursor::Open(txn, t_->messages.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more,
                          c.Seek(MessageKey(m.member_id, other, after + 1)));
  while (more && c.key().substr(0, prefix.size()) == prefix) {
    if (page.messages.size() == limit) {
      page.next = page.messages.back().seq;
      break;
    }
    HEARTH_ASSIGN_OR_RETURN(auto msg,
                            storage::Decode<DirectMessage>(c.value()));
    page.messages.push_back(std::move(msg));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return page;
}

Status ConversationService::Apply(storage::WriteTxn& txn,
                                  const federation::InboundEvent& event) {
  const json& e = event.event;
  if (!e.contains("author") || !e["author"].is_string() ||
      !e.contains("recipient") || !e["recipient"].is_string())
    return Error::Invalid("bad_event",
                          "a direct event names author and recipient");
  auto author = MemberId::Parse(e["author"].get<std::string>());
  if (!author || author->server != event.origin)
    return Error::Forbidden("wrong_origin",
                            event.origin + " speaks only for its own members");
  std::string body;
  if (event.type == kMessageType) {
    if (!e["content"].contains("body") || !e["content"]["body"].is_string())
      return Error::Invalid("invalid_body", "a direct message needs a body");
    body = e["content"]["body"];
  }
  Effects fx;
  HEARTH_RETURN_IF_ERROR(Deliver(txn, event.type, event.event_id,
                                 author->ToString(), e["recipient"], body,
                                 e["ts"], fx));
  event.after_commit.push_back([this, fx] { Finish(fx); });
  return Ok();
}

}  // namespace hearth
