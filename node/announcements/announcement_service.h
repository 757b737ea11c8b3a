// Announcements between organizations: an admin posts a short notice
// ("our crisis line number changed", "maintenance Saturday") that every
// trusted peer's admins receive. A signed `node.announcement` event:
//
//   {"type": "node.announcement", "origin": "a.example", "ts": T,
//    "content": {"body": "..."}, "signatures": {...}}
//
// Tables:
//   seq_announcement: seq (u64 BE) -> AnnouncementRecord (sent and received)
//   eventid_announcement: event id -> seq (one copy per event)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "federation/inbound.h"
#include "federation/node_keys.h"
#include "federation/outbox.h"
#include "federation/trust.h"
#include "storage/audit_log.h"
#include "storage/committer.h"
#include "storage/env.h"
#include "storage/table.h"

namespace hearth {

struct AnnouncementRecord {
  std::uint64_t seq = 0;
  std::string event_id;
  std::string origin;
  std::int64_t ts = 0;           // when the origin made it
  std::int64_t received_ts = 0;  // when it was stored here
  std::string body;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(seq, event_id, origin, ts, received_ts, body);
  }
};

class AnnouncementService {
 public:
  static constexpr char kEventType[] = "node.announcement";

  static Result<std::unique_ptr<AnnouncementService>> Open(
      storage::Env& env, storage::Committer& committer,
      const federation::Outbox& outbox, federation::TrustService& trust,
      const federation::NodeKeys& keys, storage::AuditLog audit,
      const Clock& clock, std::function<void()> notify_senders);

  // Signs and stores an announcement and queues it for every trusted
  // peer, in one transaction. Invalid (`invalid_body`): 1-4000 bytes.
  Result<AnnouncementRecord> Announce(const std::string& actor,
                                      const std::string& body);

  // Sent and received announcements with seq > after, oldest first.
  Result<std::vector<AnnouncementRecord>> List(std::uint64_t after,
                                               size_t limit) const;

  // Inbound: stores a verified announcement once.
  Status Apply(storage::WriteTxn& txn, const federation::InboundEvent& event);

 private:
  AnnouncementService(storage::Env& env, storage::Committer& committer,
                      const federation::Outbox& outbox,
                      federation::TrustService& trust,
                      const federation::NodeKeys& keys, storage::AuditLog audit,
                      const Clock& clock, std::function<void()> notify,
                      storage::Table<AnnouncementRecord> records,
                      storage::Dbi by_event)
      : env_(env),
        committer_(committer),
        outbox_(outbox),
        trust_(trust),
        keys_(keys),
        audit_(audit),
        clock_(clock),
        notify_(std::move(notify)),
        records_(records),
        by_event_(by_event) {}
  // Stores `record` once per event id, assigning its seq.
  Result<bool> Store(storage::WriteTxn& txn, AnnouncementRecord& record);

  storage::Env& env_;
  storage::Committer& committer_;
  const federation::Outbox& outbox_;
  federation::TrustService& trust_;
  const federation::NodeKeys& keys_;
  storage::AuditLog audit_;
  const Clock& clock_;
  std::function<void()> notify_;
  storage::Table<AnnouncementRecord> records_;
  storage::Dbi by_event_;
};

}  // namespace hearth

CEREAL_CLASS_VERSION(hearth::AnnouncementRecord, 1);
