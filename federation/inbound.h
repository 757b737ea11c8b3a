// Inbound federation: authenticate the request (header, destination, clock
// window, signature), check trust, then verify each event's signature and
// hand it to the sink that `node/` implements. Nothing reaches a service
// before all of that passed.
//
// Table `origintxn_result`: origin 0x00 txn_id -> TxnRecord. A repeated txn
// id with the same body gets the first answer and changes nothing; with a
// different body it is refused (409 `txn_conflict`).
#pragma once

#include <any>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/result.h"
#include "federation/request_auth.h"
#include "federation/trust.h"
#include "storage/committer.h"
#include "storage/env.h"
#include "storage/table.h"

namespace hearth::federation {

struct InboundEvent {
  std::string event_id;
  std::string origin;
  std::string type;
  nlohmann::json event;       // as received, signatures included
  std::string signing_bytes;  // SigningBytes(event), made once to verify it
  // What the sink wants done once the event is durable (wake members
  // waiting in sync, say). Run after the commit, in order, only for events
  // that applied.
  mutable std::vector<std::function<void()>> after_commit;
  // What the sink's Prepare made of the event for its Apply (empty if
  // Prepare made nothing).
  std::any prepared;
};

// Implemented by node/: applies verified events inside the transaction
// that records the transaction's answer, so both commit together.
class InboundSink {
 public:
  virtual ~InboundSink() = default;
  // Before the write transaction, for each event whose signature
  // verified, concurrently on several threads: whatever needs no write
  // (parsing, further signature checks, reads) so that Apply, which runs
  // with every other writer of the node waiting, does little. A refusal
  // is reported for the event as Apply's are; Internal fails the whole
  // transaction (the sender retries it).
  virtual Status Prepare(InboundEvent& event) const {
    (void)event;
    return Ok();
  }
  // Invalid (reason reported per event) for an event the node refuses;
  // a storage error fails the whole transaction.
  virtual Status Apply(storage::WriteTxn& txn, const InboundEvent& event) = 0;
};

// The shape checks of inbound parsing, without keys or storage (the fuzz
// targets drive these). Invalid (`bad_txn`, `bad_event`) or TooLarge
// (`too_many_events`).
Status CheckTransactionShape(const nlohmann::json& content,
                             const std::string& origin,
                             const std::string& destination, size_t max_events);
Status CheckEventShape(const nlohmann::json& event, const std::string& origin);
bool IsValidTxnId(const std::string& id);

struct TxnRecord {
  std::string body_hash;  // SHA-256 of the request body
  std::string response;   // JSON text of the first answer
  std::int64_t ts = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(body_hash, response, ts);
  }
};

struct InboundOptions {
  std::string server_name;
  std::int64_t clock_window_ms = 5 * 60 * 1000;
  size_t max_events = 100;
  size_t max_body_bytes = 1 << 20;
  // How long a transaction sent `after` another waits for that one to
  // commit before it is refused with 503 `out_of_order` (spec §9.3).
  std::int64_t order_wait_ms = 10 * 1000;
};

class Inbound {
 public:
  static Result<std::unique_ptr<Inbound>> Open(
      storage::Env& env, storage::Committer& committer, TrustService& trust,
      InboundSink& sink, const Clock& clock, Metrics& metrics,
      InboundOptions options);

  // Called for every authenticated contact by a peer (the sender retries
  // a peer that was down as soon as it talks to us again).
  void OnContact(std::function<void(const std::string&)> callback) {
    on_contact_ = std::move(callback);
  }

  // Authenticates a signed request (reads pass this too). Returns the
  // origin. `canonical_content` is the body, already checked to be
  // canonical JSON, or nullopt for a request without one.
  Result<std::string> Authenticate(
      const std::string& method, const std::string& uri,
      const std::string& authorization,
      std::optional<std::string_view> canonical_content, bool directory_only);

  // Deletes remembered transaction answers older than `max_age_ms`: a
  // sender retries a batch for at most retry_max_s, so a week is plenty.
  // Returns how many were deleted.
  Result<size_t> ForgetOldTransactions(std::int64_t max_age_ms);

  // PUT /_hearth/v1/send/{txn_id}[?after={txn_id}]: returns {"results":
  // {event_id: {} or {"error": {...}}}}. With `after` (the query
  // parameter, which the request signature covers), the transaction
  // commits only once the origin's transaction `after` has: a sender
  // with two in flight keeps its order.
  Result<nlohmann::json> Send(const std::string& txn_id, const std::string& uri,
                              const std::string& authorization,
                              const std::string& body,
                              const std::string* after = nullptr);

 private:
  Inbound(storage::Env& env, storage::Committer& committer, TrustService& trust,
          InboundSink& sink, storage::Table<TxnRecord> txns, const Clock& clock,
          Metrics& metrics, InboundOptions options)
      : env_(env),
        committer_(committer),
        trust_(trust),
        sink_(sink),
        txns_(txns),
        clock_(clock),
        metrics_(metrics),
        options_(std::move(options)) {}
  Result<std::string> Authenticate(
      const RequestAuth& auth, const std::string& method,
      const std::string& uri, std::optional<std::string_view> canonical_content,
      bool directory_only);
  // Waits until `origin`'s transaction `after` has an answer stored, up
  // to order_wait_ms; Unavailable `out_of_order` if it never does.
  Status WaitForEarlier(const std::string& origin, const std::string& after);
  // Checks `origin`'s signature on an event; the reason on failure.
  Status VerifyEvent(const std::string& origin, const nlohmann::json& event,
                     const std::string& signing_bytes);

  storage::Env& env_;
  storage::Committer& committer_;
  TrustService& trust_;
  InboundSink& sink_;
  storage::Table<TxnRecord> txns_;
  const Clock& clock_;
  Metrics& metrics_;
  InboundOptions options_;
  std::function<void(const std::string&)> on_contact_;
  // Bumped and broadcast after every transaction that stored an answer:
  // what WaitForEarlier waits on.
  std::mutex answered_mu_;
  std::condition_variable answered_cv_;
  std::uint64_t answered_ = 0;
};

}  // namespace hearth::federation

CEREAL_CLASS_VERSION(hearth::federation::TxnRecord, 1);
