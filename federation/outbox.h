// The durable outbox. A change that peers must hear of appends its signed
// event here in the same write transaction as the change itself; senders
// drain it per destination, in order. One copy of each event, whatever
// the number of destinations, and a cursor per peer:
//
//   seq_outboxentry:   seq (u64 BE, from 1) -> OutboxEntry
//   servername_cursor: server name -> u64 BE, last seq the peer acknowledged;
//                      "\x01last_seq" -> u64 BE, the last seq ever used;
//                      "\x02" server name -> u64 BE, entries queued for
//                      the peer after its cursor (kept by every change);
//                      "\x03" server name 0x00 collapse key -> u64 BE,
//                      the entry a peer that is behind got last under
//                      that key (see Enqueue)
//
// Entries every destination has acknowledged are deleted.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/env.h"
#include "storage/table.h"
#include "storage/txn.h"

namespace hearth::federation {

struct OutboxEntry {
  std::string event;  // canonical JSON of the signed event
  std::vector<std::string> destinations;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(event, destinations);
  }
};

struct OutboxBatch {
  std::vector<std::string> events;  // canonical JSON texts, in order
  std::uint64_t first_seq = 0;      // first entry sent
  std::uint64_t last_seq = 0;       // last entry looked at (ack up to here)
};

class Outbox {
 public:
  // How many events may wait for one peer before collapsible ones replace
  // each other (see Enqueue).
  static constexpr std::uint64_t kDefaultCollapseAfter = 10000;

  static Result<Outbox> Open(
      storage::Env& env, std::uint64_t collapse_after = kDefaultCollapseAfter);

  // Appends an event for `destinations`. REQUIRES: `txn` is the write
  // transaction of the change that causes the event.
  //
  // `collapse_key`, if set, says that a peer which is far behind needs
  // only the latest event under that key: for a destination with
  // `collapse_after` or more events waiting, this event replaces the one
  // queued for it last under the same key (that entry loses the
  // destination, and goes when it has none left). A group's host uses the
  // group id: a receiver that sees a gap in a group's seqs fetches the
  // missing events from the host (backfill), so a peer that was down
  // holds a bounded queue, not every message of every group.
  Result<std::uint64_t> Enqueue(storage::WriteTxn& txn, std::string event,
                                std::vector<std::string> destinations,
                                std::string_view collapse_key = {}) const;

  // The next events for `peer` after its cursor (or after `after`, if that
  // is further: what its sender delivered but has not acknowledged yet):
  // at most `max_events`, and no more than `max_bytes` of event text (but
  // at least one event).
  Result<OutboxBatch> Next(const storage::Txn& txn, const std::string& peer,
                           size_t max_events, size_t max_bytes,
                           std::uint64_t after = 0) const;

  // Moves `peer`'s cursor forward to `last_seq` and deletes entries nobody
  // needs. A peer without a cursor (removed meanwhile) does not get one.
  Status Ack(storage::WriteTxn& txn, const std::string& peer,
             std::uint64_t last_seq) const;

  // Starts a new peer's cursor at the end, so it gets only what follows.
  Status StartCursor(storage::WriteTxn& txn, const std::string& peer) const;
  Status DropCursor(storage::WriteTxn& txn, const std::string& peer) const;
  // Discards everything queued for `peer` (it was blocked).
  Status DropQueue(storage::WriteTxn& txn, const std::string& peer) const;

  // How many events may wait for a peer before collapse keys apply.
  std::uint64_t collapse_after() const { return collapse_after_; }

  // Events waiting for `peer`: one lookup, however long the queue (the
  // metrics and the admin API read it for every peer).
  Result<std::uint64_t> Depth(const storage::Txn& txn,
                              const std::string& peer) const;

 private:
  Outbox(storage::Table<OutboxEntry> entries, storage::Dbi cursors,
         std::uint64_t collapse_after)
      : entries_(entries), cursors_(cursors), collapse_after_(collapse_after) {}
  // Takes `peer` off the entry it got last under `key`, if that is still
  // queued for it; true if it was.
  Result<bool> Collapse(storage::WriteTxn& txn, const std::string& peer,
                        std::string_view key, std::uint64_t seq) const;
  Result<std::uint64_t> Cursor(const storage::Txn& txn,
                               const std::string& peer) const;
  Result<std::uint64_t> LastSeq(const storage::Txn& txn) const;
  // Entries for `peer` with seqs in (from, through], by a scan.
  Result<std::uint64_t> CountQueued(const storage::Txn& txn,
                                    const std::string& peer, std::uint64_t from,
                                    std::uint64_t through) const;
  // The kept count (every peer with a cursor has one; 0 for others).
  Result<std::uint64_t> Queued(const storage::Txn& txn,
                               const std::string& peer) const;
  // Peers' cursors as read so far in one transaction, by Needed; a peer
  // without a cursor (removed) reads as past every seq.
  using CursorCache = std::map<std::string, std::uint64_t, std::less<>>;
  // Whether some destination of `entry` (at `seq`) has not acknowledged it.
  Result<bool> Needed(const storage::Txn& txn, std::uint64_t seq,
                      const OutboxEntry& entry, CursorCache& cursors) const;
  Status PutQueued(storage::WriteTxn& txn, const std::string& peer,
                   std::uint64_t n) const;

  storage::Table<OutboxEntry> entries_;
  storage::Dbi cursors_;
  std::uint64_t collapse_after_;
};

}  // namespace hearth::federation

CEREAL_CLASS_VERSION(hearth::federation::OutboxEntry, 1);
