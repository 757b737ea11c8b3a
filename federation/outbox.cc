#include "federation/outbox.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>

#include "common/encoding.h"

namespace hearth::federation {

namespace {

// How many entries are queued for a peer, after its cursor, lives under
// this byte and the server name (no server name starts with it), so that
// reading a queue's depth costs one lookup however long the queue is.
constexpr char kQueuedPrefix = '\x02';

std::string QueuedKey(std::string_view peer) {
  std::string key(1, kQueuedPrefix);
  key += peer;
  return key;
}

// The entry a peer got last under a collapse key: this byte, the server
// name, 0x00, the key.
constexpr char kCollapsePrefix = '\x03';

std::string CollapseKey(std::string_view peer, std::string_view key) {
  std::string out(1, kCollapsePrefix);
  out += peer;
  out += '\0';
  out += key;
  return out;
}

// A peer's cursor, as opposed to the bookkeeping kept beside the cursors.
bool IsPeerKey(std::string_view key) {
  return !key.empty() && key[0] != '\x01' && key[0] != kQueuedPrefix &&
         key[0] != kCollapsePrefix;
}

}  // namespace

Result<Outbox> Outbox::Open(storage::Env& env, std::uint64_t collapse_after) {
  HEARTH_ASSIGN_OR_RETURN(
      auto entries, storage::Table<OutboxEntry>::Open(env, "seq_outboxentry"));
  HEARTH_ASSIGN_OR_RETURN(auto cursors, env.OpenTable("servername_cursor"));
  Outbox outbox(entries, cursors, collapse_after);
  // The counts are made again at every start, in one pass over the queue:
  // a store from before they were kept, or one an older build wrote to
  // meanwhile (it moves cursors and adds entries without them), starts
  // right; a queue that collapses stays small enough for that.
  HEARTH_RETURN_IF_ERROR(env.Update([&](storage::WriteTxn& txn) -> Status {
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>, std::less<>>
        peers;                         // name -> cursor, count
    std::vector<std::string> counted;  // peers that have a count
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, cursors));
    for (auto more = c.First(); more && *more; more = c.Next()) {
      if (IsPeerKey(c.key()))
        peers[std::string(c.key())] = {DecodeU64BE(c.value()).value_or(0), 0};
      else if (c.key()[0] == kQueuedPrefix)
        counted.emplace_back(c.key().substr(1));
    }
    for (const auto& peer : counted) {
      if (peers.count(peer)) continue;
      HEARTH_ASSIGN_OR_RETURN(bool gone, txn.Delete(cursors, QueuedKey(peer)));
      (void)gone;  // a count left without its cursor
    }
    HEARTH_ASSIGN_OR_RETURN(auto e, storage::Cursor::Open(txn, entries.dbi()));
    for (auto more = e.First(); more && *more; more = e.Next()) {
      const std::uint64_t seq = DecodeU64BE(e.key()).value_or(0);
      HEARTH_ASSIGN_OR_RETURN(auto entry,
                              storage::Decode<OutboxEntry>(e.value()));
      for (const auto& d : entry.destinations) {
        auto it = peers.find(d);
        if (it != peers.end() && it->second.first < seq) ++it->second.second;
      }
    }
    for (const auto& [peer, cursor_count] : peers)
      HEARTH_RETURN_IF_ERROR(outbox.PutQueued(txn, peer, cursor_count.second));
    return Ok();
  }));
  return outbox;
}

// The last seq ever used lives under a key no server name can have, so
// that seqs (and so txn ids) never repeat, even after every entry was
// delivered and deleted and peers came and went.
constexpr char kLastSeqKey[] = "\x01last_seq";

// At most this many entries deleted by one acknowledgement (what is left
// goes with later ones).
constexpr size_t kGcBatch = 1000;
// Seqs acknowledgements passed over that GC has not looked at yet, for
// lack of budget: first and last (u64 BE each). Under a key no server
// name can have, like kLastSeqKey.
constexpr char kGcSweepKey[] = "\x01gc_sweep";

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
    if (IsPeerKey(cc.key()))
      high = std::max(high, DecodeU64BE(cc.value()).value_or(0));
  return high;
}

Result<std::uint64_t> Outbox::Cursor(const storage::Txn& txn,
                                     const std::string& peer) const {
  HEARTH_ASSIGN_OR_RETURN(auto v, txn.Get(cursors_, peer));
  if (!v) return std::uint64_t(0);
  return DecodeU64BE(*v).value_or(0);
}

Result<std::uint64_t> Outbox::CountQueued(const storage::Txn& txn,
                                          const std::string& peer,
                                          std::uint64_t from,
                                          std::uint64_t through) const {
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, entries_.dbi()));
  std::uint64_t n = 0;
  for (auto more = c.Seek(EncodeU64BE(from + 1)); more && *more;
       more = c.Next()) {
    if (DecodeU64BE(c.key()).value_or(0) > through) break;
    HEARTH_ASSIGN_OR_RETURN(auto entry,
                            storage::Decode<OutboxEntry>(c.value()));
    if (std::find(entry.destinations.begin(), entry.destinations.end(), peer) !=
        entry.destinations.end())
      ++n;
  }
  return n;
}

Result<std::uint64_t> Outbox::Queued(const storage::Txn& txn,
                                     const std::string& peer) const {
  HEARTH_ASSIGN_OR_RETURN(auto v, txn.Get(cursors_, QueuedKey(peer)));
  if (!v) return std::uint64_t(0);
  return DecodeU64BE(*v).value_or(0);
}

Result<bool> Outbox::Needed(const storage::Txn& txn, std::uint64_t seq,
                            const OutboxEntry& entry,
                            CursorCache& cursors) const {
  for (const auto& d : entry.destinations) {
    auto it = cursors.find(d);
    if (it == cursors.end()) {
      HEARTH_ASSIGN_OR_RETURN(auto v, txn.Get(cursors_, d));
      it = cursors
               .emplace(d, v ? DecodeU64BE(*v).value_or(0)
                             : std::numeric_limits<std::uint64_t>::max())
               .first;
    }
    if (it->second < seq) return true;
  }
  return false;
}

Status Outbox::PutQueued(storage::WriteTxn& txn, const std::string& peer,
                         std::uint64_t n) const {
  return txn.Put(cursors_, QueuedKey(peer), EncodeU64BE(n));
}

Result<bool> Outbox::Collapse(storage::WriteTxn& txn, const std::string& peer,
                              std::string_view key, std::uint64_t seq) const {
  const std::string index = CollapseKey(peer, key);
  HEARTH_ASSIGN_OR_RETURN(auto prev, txn.Get(cursors_, index));
  std::optional<std::uint64_t> prev_seq;
  if (prev) prev_seq = DecodeU64BE(*prev);
  HEARTH_RETURN_IF_ERROR(txn.Put(cursors_, index, EncodeU64BE(seq)));
  if (!prev_seq) return false;
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t cursor, Cursor(txn, peer));
  if (*prev_seq <= cursor) return false;  // delivered meanwhile
  const std::string at = EncodeU64BE(*prev_seq);
  HEARTH_ASSIGN_OR_RETURN(auto entry, entries_.Get(txn, at));
  if (!entry) return false;
  auto it =
      std::find(entry->destinations.begin(), entry->destinations.end(), peer);
  if (it == entry->destinations.end()) return false;
  entry->destinations.erase(it);
  // Gone when no destination left needs it (as acknowledgements' GC would
  // have done, had this peer not held it): otherwise every event that
  // replaces another would leave one behind for as long as the peer is
  // away.
  CursorCache cursors;
  HEARTH_ASSIGN_OR_RETURN(bool needed, Needed(txn, *prev_seq, *entry, cursors));
  if (!needed) {
    HEARTH_ASSIGN_OR_RETURN(bool gone, entries_.Delete(txn, at));
    (void)gone;
  } else {
    HEARTH_RETURN_IF_ERROR(entries_.Put(txn, at, *entry));
  }
  return true;
}

Result<std::uint64_t> Outbox::Enqueue(storage::WriteTxn& txn, std::string event,
                                      std::vector<std::string> destinations,
                                      std::string_view collapse_key) const {
  HEARTH_ASSIGN_OR_RETURN(std::uint64_t last, LastSeq(txn));
  std::uint64_t seq = last + 1;
  // Each destination once: a name listed twice would be counted twice.
  std::sort(destinations.begin(), destinations.end());
  destinations.erase(std::unique(destinations.begin(), destinations.end()),
                     destinations.end());
  for (const auto& d : destinations) {
    // Counted (and collapsed) only for a peer with a cursor: a destination
    // without one (removed while the change was under way) has nobody to
    // take its count down, and GC treats its entries as done.
    HEARTH_ASSIGN_OR_RETURN(auto cursor, txn.Get(cursors_, d));
    if (!cursor) continue;
    HEARTH_ASSIGN_OR_RETURN(std::uint64_t queued, Queued(txn, d));
    if (!collapse_key.empty() && queued >= collapse_after_) {
      HEARTH_ASSIGN_OR_RETURN(bool replaced,
                              Collapse(txn, d, collapse_key, seq));
      if (replaced) --queued;
    }
    HEARTH_RETURN_IF_ERROR(PutQueued(txn, d, queued + 1));
  }
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
  std::uint64_t moved_from = 0, moved_to = 0;  // what this ack passed over
  if (stored) {
    std::uint64_t before = DecodeU64BE(*stored).value_or(0);
    if (last_seq > before) {
      HEARTH_RETURN_IF_ERROR(txn.Put(cursors_, peer, EncodeU64BE(last_seq)));
      moved_from = before;
      moved_to = last_seq;
    }
  }
  if (moved_to > moved_from) {
    // The count goes down by the peer's entries the cursor passed: none
    // left when it reached the last seq (a dropped queue: no scan).
    HEARTH_ASSIGN_OR_RETURN(std::uint64_t last, LastSeq(txn));
    std::uint64_t left = 0;
    if (moved_to < last) {
      HEARTH_ASSIGN_OR_RETURN(std::uint64_t queued, Queued(txn, peer));
      HEARTH_ASSIGN_OR_RETURN(std::uint64_t passed,
                              CountQueued(txn, peer, moved_from, moved_to));
      left = queued - std::min(queued, passed);
    }
    HEARTH_RETURN_IF_ERROR(PutQueued(txn, peer, left));
  }
  CursorCache cursors;
  std::vector<std::string> done;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, entries_.dbi()));
  // Entries at the front that every destination has acknowledged.
  HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
  std::uint64_t held_at = 0;  // the first entry still needed, if any
  while (more && done.size() < kGcBatch) {
    std::uint64_t seq = DecodeU64BE(c.key()).value_or(0);
    HEARTH_ASSIGN_OR_RETURN(auto entry,
                            storage::Decode<OutboxEntry>(c.value()));
    HEARTH_ASSIGN_OR_RETURN(bool needed, Needed(txn, seq, entry, cursors));
    if (needed) {
      held_at = seq;
      break;
    }
    done.emplace_back(c.key());
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  // Behind an entry a peer still needs (one that is down, say), the
  // entries acknowledgements passed over: those nobody needs any more go
  // now, so a lagging peer holds only what is queued for it, not
  // everyone's. The seqs to look at are this ack's range joined with what
  // earlier ones left when they ran out of budget (kGcSweepKey).
  HEARTH_ASSIGN_OR_RETURN(auto left, txn.Get(cursors_, kGcSweepKey));
  std::uint64_t lo = moved_to > moved_from
                         ? moved_from + 1
                         : std::numeric_limits<std::uint64_t>::max();
  std::uint64_t hi = moved_to;
  if (left && left->size() == 16) {
    lo = std::min(lo, DecodeU64BE(left->substr(0, 8)).value_or(lo));
    hi = std::max(hi, DecodeU64BE(left->substr(8)).value_or(hi));
  }
  if (held_at != 0) lo = std::max(lo, held_at + 1);
  if (held_at != 0 && lo <= hi) {
    size_t looked = 0;
    HEARTH_ASSIGN_OR_RETURN(more, c.Seek(EncodeU64BE(lo)));
    while (more) {
      std::uint64_t seq = DecodeU64BE(c.key()).value_or(0);
      if (seq > hi) {
        lo = hi + 1;  // all looked at
        break;
      }
      if (done.size() >= kGcBatch || looked >= 2 * kGcBatch) {
        lo = seq;  // the next acknowledgement goes on from here
        break;
      }
      ++looked;
      HEARTH_ASSIGN_OR_RETURN(auto entry,
                              storage::Decode<OutboxEntry>(c.value()));
      HEARTH_ASSIGN_OR_RETURN(bool needed, Needed(txn, seq, entry, cursors));
      if (!needed) done.emplace_back(c.key());
      lo = seq + 1;
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
    if (!more) lo = hi + 1;  // the end of the table: all looked at
  } else if (held_at == 0 && !more) {
    lo = hi + 1;  // the front loop emptied the table
  }
  if (lo <= hi) {
    HEARTH_RETURN_IF_ERROR(
        txn.Put(cursors_, kGcSweepKey, EncodeU64BE(lo) + EncodeU64BE(hi)));
  } else if (left) {
    HEARTH_ASSIGN_OR_RETURN(bool gone, txn.Delete(cursors_, kGcSweepKey));
    (void)gone;
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
  HEARTH_RETURN_IF_ERROR(PutQueued(txn, peer, 0));
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
  HEARTH_ASSIGN_OR_RETURN(bool counted, txn.Delete(cursors_, QueuedKey(peer)));
  (void)existed;
  (void)counted;
  // And which entries it got last under collapse keys.
  const std::string prefix = CollapseKey(peer, "");
  std::vector<std::string> keys;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, cursors_));
  for (auto more = c.Seek(prefix);
       more && *more && c.key().substr(0, prefix.size()) == prefix;
       more = c.Next())
    keys.emplace_back(c.key());
  for (const auto& key : keys) {
    HEARTH_ASSIGN_OR_RETURN(bool gone, txn.Delete(cursors_, key));
    (void)gone;
  }
  return Ok();
}

Result<std::uint64_t> Outbox::Depth(const storage::Txn& txn,
                                    const std::string& peer) const {
  // A peer without a cursor has no count: nothing waits for it (it gets
  // only what is queued after it is trusted).
  return Queued(txn, peer);
}

}  // namespace hearth::federation
