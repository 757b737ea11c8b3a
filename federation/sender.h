// Delivery to peers. One sender per destination drains that peer's part of
// the outbox in order, in batches, two requests in flight (the second sent
// `after` the first, so the peer commits them in order); a peer that is
// down or slow delays nobody else. Failures back off exponentially with
// jitter up to a cap of an hour (low enough that a peer down for a day is
// retried within the hour it returns), reset by a success, and cut short
// when the peer contacts us. A failed batch is resent unchanged (same txn
// id and body), alone, and whatever was sent after it goes again after it,
// so the receiver's txn-id idempotency makes a resend after a
// lost answer harmless. A delivered batch is acknowledged in memory at once
// and in the store every 500 events or when the queue runs dry, so the
// next batch never waits for a disk flush. After a restart senders start
// again from the stored cursor; a batch rebuilt then may differ, and
// receivers dedupe events by event id (spec/federation.md §10).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/metrics.h"
#include "federation/node_keys.h"
#include "federation/outbox.h"
#include "federation/trust.h"
#include "storage/committer.h"
#include "storage/env.h"

namespace hearth::federation {

struct SenderOptions {
  std::string server_name;
  size_t max_events = 50;
  size_t max_bytes = 512 << 10;
  // Transactions on their way to one peer at once; the peer commits them
  // in order (each after the one before it).
  size_t in_flight = 2;
  std::int64_t base_backoff_ms = 1000;
  std::int64_t max_backoff_ms = 3600 * 1000;
  std::int64_t idle_poll_ms = 30 * 1000;  // re-check with nothing to do
};

// The transaction id and body for a batch. Both depend only on the batch,
// so a resend is byte-identical.
struct Transaction {
  std::string txn_id;
  std::string body;  // canonical JSON
};
Result<Transaction> MakeTransaction(const std::string& origin,
                                    const std::string& destination,
                                    const OutboxBatch& batch);

class SenderPool {
 public:
  SenderPool(storage::Env& env, storage::Committer& committer,
             const Outbox& outbox, TrustService& trust, const NodeKeys& keys,
             const Clock& clock, Metrics& metrics, SenderOptions options);
  ~SenderPool();

  // Starts a sender for every trusted peer.
  void Start();
  // Stops every sender (a request in flight finishes or times out).
  void Stop();
  // The outbox grew: wake senders (starting any a newly trusted peer needs).
  void Notify();
  // `peer` contacted us: if its sender is backing off, retry now.
  void Poke(const std::string& peer);

 private:
  struct PeerSender {
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    bool wake = false;
    bool poked = false;
  };
  void Run(const std::string& peer, PeerSender& self);
  // Starts a sender for each trusted peer without one; reads the peer
  // table only when it changed since the last time (every post calls
  // Notify).
  void EnsureSenders();
  // Waits up to `ms`, or until new work (unless `backoff`: then only a
  // poke cuts it short). Returns true if poked.
  bool Wait(PeerSender& self, std::int64_t ms, bool backoff = false);

  storage::Env& env_;
  storage::Committer& committer_;
  const Outbox& outbox_;
  TrustService& trust_;
  const NodeKeys& keys_;
  const Clock& clock_;
  Metrics& metrics_;
  SenderOptions options_;
  std::atomic<bool> stop_{false};
  // The trust generation EnsureSenders last read the peers at.
  std::atomic<std::uint64_t> ensured_generation_{
      std::numeric_limits<std::uint64_t>::max()};
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<PeerSender>> senders_;
};

}  // namespace hearth::federation
