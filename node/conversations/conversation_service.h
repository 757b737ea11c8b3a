// One-on-one conversations between two members, on the same node or on two
// trusted nodes. Only those two nodes ever hold the messages.
//
// Each node keeps its own member's view of a conversation:
//
//   pair_conversation: local id 0x00 other id -> ConversationRecord
//   pairseq_direct:    local id 0x00 other id 0x00 seq (u64 BE)
//                      -> DirectMessage
//   eventid_direct:    event id 0x00 local id -> "" (applied once)
//
// The first message is a request. Nothing more is delivered until the
// recipient accepts: the sender's node refuses more messages (409
// not_accepted), and the recipient's node refuses them too, whatever
// another node sends. Declines and blocks are enforced by the recipient's
// node; a block is silent (the sender's node is not told).
//
// Events (signed by the author's node, sent through the outbox to the one
// other node): direct.message {author, recipient, content: {body}},
// direct.accept and direct.decline {author: who answers, recipient}.
#pragma once

#include <cereal/types/common.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "federation/inbound.h"
#include "federation/node_keys.h"
#include "federation/outbox.h"
#include "federation/trust.h"
#include "node/accounts/account_service.h"
#include "node/safety/block_list.h"
#include "node/sync/sync_stream.h"
#include "storage/committer.h"
#include "storage/env.h"
#include "storage/table.h"

namespace hearth {

enum class ConversationState : std::uint8_t {
  kOutgoingRequest = 0,  // I asked; they have not answered
  kIncomingRequest = 1,  // they asked; I have not answered
  kAccepted = 2,
  kDeclinedByMe = 3,
  kDeclinedByThem = 4,
};
const char* ToString(ConversationState s);

struct ConversationRecord {
  std::string other;
  ConversationState state = ConversationState::kOutgoingRequest;
  std::int64_t created_ts = 0;
  std::int64_t updated_ts = 0;
  std::uint64_t last_seq = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(other, state, created_ts, updated_ts, last_seq);
  }
};

struct DirectMessage {
  std::uint64_t seq = 0;
  std::string event_id;
  std::string author;
  std::string body;
  std::int64_t ts = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(seq, event_id, author, body, ts);
  }
};

struct DirectPage {
  std::vector<DirectMessage> messages;
  std::optional<std::uint64_t> next;
};

class ConversationService {
 public:
  static constexpr char kMessageType[] = "direct.message";
  static constexpr char kAcceptType[] = "direct.accept";
  static constexpr char kDeclineType[] = "direct.decline";

  struct Deps {
    storage::Env& env;
    storage::Committer& committer;
    const federation::Outbox& outbox;
    federation::TrustService& trust;
    const federation::NodeKeys& keys;
    const AccountService& accounts;
    const BlockList& blocks;
    const SyncStream& stream;
    SyncHub& hub;
    const Clock& clock;
    std::function<void()> notify_senders;
  };
  static Result<std::unique_ptr<ConversationService>> Open(Deps deps);
  ~ConversationService();

  struct Sent {
    std::string event_id;
    std::uint64_t seq = 0;
    ConversationState state;
  };
  // Errors: invalid_member_id, invalid_body, cannot_message_self (400);
  // blocked, declined, peer_not_trusted, peer_limited (403);
  // unknown_member (404); not_accepted (409).
  Result<Sent> Send(const Member& m, const std::string& other,
                    const std::string& body);
  // Answers an incoming request. NotFound (`no_request`).
  Status Accept(const Member& m, const std::string& other);
  Status Decline(const Member& m, const std::string& other);
  Result<std::vector<ConversationRecord>> List(const Member& m) const;
  // NotFound (`no_conversation`).
  Result<DirectPage> Messages(const Member& m, const std::string& other,
                              std::uint64_t after, size_t limit) const;

  // Inbound direct.* events.
  Status Apply(storage::WriteTxn& txn, const federation::InboundEvent& event);

 private:
  explicit ConversationService(Deps deps);
  struct Tables;
  struct Effects {
    std::vector<std::string> wake;
    bool senders = false;
  };
  // Signs (for another node) an event from `author` to `recipient`.
  Result<nlohmann::json> MakeEvent(const std::string& type,
                                   const std::string& author,
                                   const std::string& recipient,
                                   const std::string& body,
                                   std::int64_t ts) const;
  // Hands `event` to the recipient: applied here for a local recipient,
  // queued for its node otherwise.
  Status Dispatch(storage::WriteTxn& txn, const nlohmann::json& event,
                  Effects& fx);
  // The recipient's side of an event.
  Status Deliver(storage::WriteTxn& txn, const std::string& type,
                 const std::string& event_id, const std::string& author,
                 const std::string& recipient, const std::string& body,
                 std::int64_t ts, Effects& fx);
  Result<std::uint64_t> StoreMessage(storage::WriteTxn& txn,
                                     ConversationRecord& conv,
                                     const std::string& local,
                                     DirectMessage msg, const char* kind,
                                     Effects& fx);
  Status Notice(storage::WriteTxn& txn, const std::string& local,
                const std::string& other, const char* kind, Effects& fx);
  Status CheckPeer(const std::string& other) const;
  Status Answer(const Member& m, const std::string& other, bool accept);
  Status Commit(
      const std::function<Status(storage::WriteTxn&, Effects&)>& change);
  void Finish(const Effects& fx);

  Deps d_;
  std::unique_ptr<Tables> t_;
};

}  // namespace hearth

CEREAL_CLASS_VERSION(hearth::ConversationRecord, 1);
CEREAL_CLASS_VERSION(hearth::DirectMessage, 1);
