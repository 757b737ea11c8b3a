#include "federation/outbox.h"

#include <algorithm>

#include "common/encoding.h"

namespace hearth::federation {

Result<Outbox> Outbox::Open(storage::Env& env) {
  HEARTH_ASSIGN_OR_RETURN(
      auto entries, storage::Table<OutboxEntry>::Open(env, "seq_outboxentry"));
  HEARTH_ASSIGN_OR_RETURN(auto cursors, env.OpenTable("servername_cursor"));
  return Outbox(entries, cursors);
}

// The last seq ever used lives under a key no server name can have, so
// that seqs (and so txn ids) never repeat, even after every entry was
// delivered and deleted and peers came and went.
constexpr char kLastSeqKey[] = "\x01last_seq";

Result<std::uint64_t> Outbox::LastSeq(const storage::Txn& txn) const {
  HEARTH_ASSIGN_OR_RETURN(auto v, txn.Get(cursors_, kLastSeqKey));
  if (v) return DecodeU64BE(*v).value_or(0);
  // No stored value (a store from before it was kept): the highest of the
  // last entry and every cursor.
  std::uint64_t high = 0;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, entries_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool any, c.Last());
  if (any) high = DecodeU64BE(c.key()).value_or(0);
  HEARTH_ASSIGN_OR_RETURN(auto cc, storage::Cursor::Open(txn, cursors_));
  for (auto more = cc.First(); more && *more; more = cc.Next())
    high = std::max(high, DecodeU64BE(cc.value()).value_or(0));
  return high;
}

Result<std::uint64_t> Outbox::Cursor(const storage::Txn& txn,
                                     const std::string& peer) const {
  HEARTH_ASSIGN_OR_RETURN(auto v, txn.Get(cursors_, peer));
  if (!v) return std::uint64_t(0);
  return DecodeU64BE(*v).value_or(0);
}

Result<std::uint64_t> Outbox::Enqueue(
    storage::WriteTxn& txn, std::string event,
    std::vector<std::string> destinations) const {
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t last, LastSeq(txn));
  std::uint64_t seq = last + 1;
  HEARTH_RETURN_IF_ERROR(txn.Put(cursors_, kLastSeqKey, EncodeU64BE(seq)));
  HEARTH_RETURN_IF_ERROR(
      entries_.Insert(txn, EncodeU64BE(seq),
                      OutboxEntry{std::move(event), std::move(destinations)}));
  return seq;
}

Result<OutboxBatch> Outbox::Next(const storage::Txn& txn,
                                 const std::string& peer, size_t max_events,
                                 size_t max_bytes, std::uint64_t after) const {
  OutboxBatch batch;
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t stored, Cursor(txn, peer));
  const std::uint64_t cursor = std::max(stored, after);
  batch.last_seq = cursor;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, entries_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(EncodeU64BE(cursor + 1)));
  size_t bytes = 0;
  while (more && batch.events.size() < max_events) {
    std::uint64_t seq = DecodeU64BE(c.key()).value_or(0);
    HEARTH_ASSIGN_OR_RETURN(auto entry,
                            storage::Decode<OutboxEntry>(c.value()));
    bool mine = std::find(entry.destinations.begin(), entry.destinations.end(),
                          peer) != entry.destinations.end();
    if (mine) {
      if (!batch.events.empty() && bytes + entry.event.size() > max_bytes)
        break;
      if (batch.events.empty()) batch.first_seq = seq;
      bytes += entry.event.size();
      batch.events.push_back(std::move(entry.event));
    }
    batch.last_seq = seq;
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return batch;
}

Status Outbox::Ack(storage::WriteTxn& txn, const std::string& peer,
                   std::uint64_t last_seq) const {
  // A cursor only moves forward (a late ack must not resend what a block
  // or a newer ack already passed), and a late ack for a removed peer must
  // not bring its cursor back: entries would wait for it forever.
  HEARTH_ASSIGN_OR_RETURN(auto stored, txn.Get(cursors_, peer));
  if (stored && last_seq > DecodeU64BE(*stored).value_or(0)) {
    HEARTH_RETURN_IF_ERROR(txn.Put(cursors_, peer, EncodeU64BE(last_seq)));
  }
  // Delete entries at the front that every destination has acknowledged.
  std::vector<std::string> done;
  {
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, entries_.dbi()));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    while (more && done.size() < 1000) {
      std::uint64_t seq = DecodeU64BE(c.key()).value_or(0);
      HEARTH_ASSIGN_OR_RETURN(auto entry,
                              storage::Decode<OutboxEntry>(c.value()));
      bool pending = false;
      for (const auto& d : entry.destinations) {
        HEARTH_ASSIGN_OR_RETURN(auto v, txn.Get(cursors_, d));
        // A destination without a cursor was removed as a peer.
        if (v && DecodeU64BE(*v).value_or(0) < seq) pending = true;
      }
      if (pending) break;
      done.emplace_back(c.key());
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  for (const auto& key : done) {
    HEARTH_RETURN_IF_ERROR(entries_.Delete(txn, key));
  }
  return Ok();
}

Status Outbox::StartCursor(storage::WriteTxn& txn,
                           const std::string& peer) const {
  HEARTH_ASSIGN_OR_RETURN(auto existing, txn.Get(cursors_, peer));
  if (existing) return Ok();
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t last, LastSeq(txn));
  return txn.Put(cursors_, peer, EncodeU64BE(last));
}

Status Outbox::DropQueue(storage::WriteTxn& txn,
                         const std::string& peer) const {
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t last, LastSeq(txn));
  return Ack(txn, peer, last);
}

Status Outbox::DropCursor(storage::WriteTxn& txn,
                          const std::string& peer) const {
  HEARTH_ASSIGN_OR_RETURN(bool existed, txn.Delete(cursors_, peer));
  (void)existed;
  return Ok();
}

Result<std::uint64_t> Outbox::Depth(const storage::Txn& txn,
                                    const std::string& peer) const {
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t cursor, Cursor(txn, peer));
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, entries_.dbi()));
  std::uint64_t n = 0;
  for (auto more = c.Seek(EncodeU64BE(cursor + 1)); more && *more;
       more = c.Next()) {
    auto entry = storage::Decode<OutboxEntry>(c.value());
    if (entry &&
        std::find(entry->destinations.begin(), entry->destinations.end(),
                  peer) != entry->destinations.end())
      ++n;
  }
  return n;
}

}  // namespace hearth::federation
