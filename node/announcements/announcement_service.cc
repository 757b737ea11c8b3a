#include "node/announcements/announcement_service.h"

#include "common/encoding.h"
#include "federation/canonical_json.h"
#include "federation/signed_json.h"

namespace hearth {
namespace {

Status ValidateBody(const std::string& body) {
  if (body.empty() || body.size() > 4000)
    return Error::Invalid("invalid_body", "an announcement is 1 to 4000 bytes");
  return Ok();
}

}  // namespace

Result<std::unique_ptr<AnnouncementService>> AnnouncementService::Open(
    storage::Env& env, storage::Committer& committer,
    const federation::Outbox& outbox, federation::TrustService& trust,
    const federation::NodeKeys& keys, storage::AuditLog audit,
    const Clock& clock, std::function<void()> notify_senders) {
  HEARTH_ASSIGN_OR_RETURN(
      auto records,
      storage::Table<AnnouncementRecord>::Open(env, "seq_announcement"));
  HEARTH_ASSIGN_OR_RETURN(auto by_event, env.OpenTable("eventid_announcement"));
  return std::unique_ptr<AnnouncementService>(
      new AnnouncementService(env, committer, outbox, trust, keys, audit, clock,
                              std::move(notify_senders), records, by_event));
}

Result<bool> AnnouncementService::Store(storage::WriteTxn& txn,
                                        AnnouncementRecord& record) {
  HEARTH_ASSIGN_OR_RETURN(auto seen, txn.Get(by_event_, record.event_id));
  if (seen) return false;  // already have it: applying twice changes nothing
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, records_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool any, c.Last());
  record.seq = any ? DecodeU64BE(c.key()).value_or(0) + 1 : 1;
  std::string key = EncodeU64BE(record.seq);
  HEARTH_RETURN_IF_ERROR(txn.Put(by_event_, record.event_id, key));
  HEARTH_RETURN_IF_ERROR(records_.Insert(txn, key, record));
  return true;
}

Result<AnnouncementRecord> AnnouncementService::Announce(
    const std::string& actor, const std::string& body) {
  HEARTH_RETURN_IF_ERROR(ValidateBody(body));
  HEARTH_ASSIGN_OR_RETURN(auto peers, trust_.TrustedPeers());
  std::int64_t now = clock_.NowMs();
  nlohmann::json event = {{"type", kEventType},
                          {"origin", keys_.server_name()},
                          {"ts", now},
                          {"content", {{"body", body}}}};
  HEARTH_RETURN_IF_ERROR(
      federation::SignJson(event, keys_.server_name(), keys_.current()));
  HEARTH_ASSIGN_OR_RETURN(std::string event_id, federation::EventId(event));
  HEARTH_ASSIGN_OR_RETURN(std::string text, federation::Canonicalize(event));
  AnnouncementRecord record{0, event_id, keys_.server_name(), now, now, body};
  HEARTH_RETURN_IF_ERROR(committer_.Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(bool stored, Store(txn, record));
    (void)stored;
    if (!peers.empty()) {
      HEARTH_ASSIGN_OR_RETURN(auto seq, outbox_.Enqueue(txn, text, peers));
      (void)seq;
    }
    nlohmann::json detail = {{"event_id", event_id}, {"peers", peers.size()}};
    HEARTH_ASSIGN_OR_RETURN(
        auto audit_seq,
        audit_.Append(txn, storage::AuditEntry{0, now, actor, "announce", "",
                                               detail.dump()}));
    (void)audit_seq;
    return Ok();
  }));
  if (notify_) notify_();
  return record;
}

Result<std::vector<AnnouncementRecord>> AnnouncementService::List(
    std::uint64_t after, size_t limit) const {
  std::vector<AnnouncementRecord> out;
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, records_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(EncodeU64BE(after + 1)));
  while (more && out.size() < limit) {
    HEARTH_ASSIGN_OR_RETURN(auto r,
                            storage::Decode<AnnouncementRecord>(c.value()));
    out.push_back(std::move(r));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

Status AnnouncementService::Apply(storage::WriteTxn& txn,
                                  const federation::InboundEvent& event) {
  const auto& content = event.event["content"];
  auto body = content.find("body");
  if (body == content.end() || !body->is_string())
    return Error::Invalid("invalid_body", "an announcement needs a body");
  HEARTH_RETURN_IF_ERROR(ValidateBody(body->get<std::string>()));
  AnnouncementRecord record{0,
                            event.event_id,
                            event.origin,
                            event.event["ts"].get<std::int64_t>(),
                            clock_.NowMs(),
                            body->get<std::string>()};
  HEARTH_ASSIGN_OR_RETURN(bool stored, Store(txn, record));
  (void)stored;
  return Ok();
}

}  // namespace hearth
