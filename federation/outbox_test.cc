#include "federation/outbox.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "common/encoding.h"
#include "federation/sender.h"
#include "tests/support/temp_dir.h"

namespace hearth::federation {
namespace {

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::move(storage::Env::Open(dir_.path(), {})).value();
    outbox_.emplace(std::move(Outbox::Open(*env_)).value());
  }
  void Enqueue(const std::string& ev, std::vector<std::string> dests) {
    ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(auto seq, outbox_->Enqueue(txn, ev, dests));
      (void)seq;
      return Ok();
    }));
  }
  OutboxBatch Next(const std::string& peer, size_t max = 50,
                   size_t bytes = 1 << 20, std::uint64_t after = 0) {
    auto txn = env_->BeginRead();
    return std::move(outbox_->Next(*txn, peer, max, bytes, after)).value();
  }
  void Ack(const std::string& peer, std::uint64_t seq) {
    ASSERT_TRUE(env_->Update(
        [&](storage::WriteTxn& txn) { return outbox_->Ack(txn, peer, seq); }));
  }
  void Start(const std::string& peer) {
    ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) {
      return outbox_->StartCursor(txn, peer);
    }));
  }
  // How many entries the table holds, for every peer.
  size_t Stored() {
    auto dbi = *env_->OpenTable("seq_outboxentry");
    auto txn = std::move(env_->BeginRead()).value();
    auto c = std::move(storage::Cursor::Open(txn, dbi)).value();
    size_t n = 0;
    for (auto more = c.First(); more && *more; more = c.Next()) ++n;
    return n;
  }
  std::uint64_t Depth(const std::string& peer) {
    auto txn = env_->BeginRead();
    return *outbox_->Depth(*txn, peer);
  }

  hearth::testing::TempDir dir_;
  std::unique_ptr<storage::Env> env_;
  std::optional<Outbox> outbox_;
};

TEST_F(OutboxTest, EachPeerGetsItsEventsInOrderWithItsOwnCursor) {
  Start("b");
  Start("c");
  Enqueue("e1", {"b", "c"});
  Enqueue("e2", {"c"});
  Enqueue("e3", {"b"});
  auto b = Next("b");
  EXPECT_EQ(b.events, (std::vector<std::string>{"e1", "e3"}));
  EXPECT_EQ(b.first_seq, 1u);
  EXPECT_EQ(b.last_seq, 3u);
  auto c = Next("c", 1);
  EXPECT_EQ(c.events, (std::vector<std::string>{"e1"}));
  Ack("b", b.last_seq);
  EXPECT_TRUE(Next("b").events.empty());
  EXPECT_EQ(Depth("b"), 0u);
  EXPECT_EQ(Depth("c"), 2u);
  Ack("c", c.last_seq);
  EXPECT_EQ(Next("c").events, (std::vector<std::string>{"e2"}));
}

TEST_F(OutboxTest, ASenderReadsPastWhatItDeliveredBeforeItsAckIsStored) {
  Start("b");
  Enqueue("e1", {"b"});
  Enqueue("e2", {"b"});
  Enqueue("e3", {"b"});
  auto first = Next("b", 2);
  EXPECT_EQ(first.events, (std::vector<std::string>{"e1", "e2"}));
  // Delivered, not yet acknowledged in the store: the next batch follows.
  EXPECT_EQ(Next("b", 50, 1 << 20, first.last_seq).events,
            (std::vector<std::string>{"e3"}));
  // After a restart (nothing in memory) the stored cursor rules.
  EXPECT_EQ(Next("b").events.size(), 3u);
  // A stored cursor ahead of `after` wins.
  Ack("b", 3);
  EXPECT_TRUE(Next("b", 50, 1 << 20, 1).events.empty());
}

TEST_F(OutboxTest, ALateAckForARemovedPeerDoesNotHoldEntriesForIt) {
  Start("b");
  Start("c");
  Enqueue("e1", {"b", "c"});
  Enqueue("e2", {"b", "c"});
  ASSERT_TRUE(env_->Update(
      [&](storage::WriteTxn& txn) { return outbox_->DropCursor(txn, "c"); }));
  Ack("c", 1);  // c's sender, finishing as c was removed
  Ack("b", 2);
  EXPECT_EQ(Depth("b"), 0u);
  // Both entries are gone (a revived cursor at 1 would keep e2 for c).
  EXPECT_EQ(Depth("c"), 0u);
}

TEST_F(OutboxTest, BatchesRespectTheByteLimitButAlwaysTakeOneEvent) {
  Start("b");
  Enqueue(std::string(100, 'x'), {"b"});
  Enqueue(std::string(100, 'y'), {"b"});
  EXPECT_EQ(Next("b", 50, 150).events.size(), 1u);
  EXPECT_EQ(Next("b", 50, 10).events.size(), 1u);
  EXPECT_EQ(Next("b", 50, 200).events.size(), 2u);
}

TEST_F(OutboxTest, EntriesEveryDestinationAckedAreDeletedAndSeqsNeverRepeat) {
  Start("b");
  Start("c");
  Enqueue("e1", {"b", "c"});
  Enqueue("e2", {"b"});
  Ack("b", 2);
  EXPECT_EQ(Depth("c"), 1u);  // e1 still waits for c
  Ack("c", 2);
  // All delivered: the table is empty, and the next seq continues.
  Enqueue("e3", {"b"});
  auto b = Next("b");
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.first_seq, 3u);
}

TEST_F(OutboxTest, APeerThatIsDownHoldsOnlyWhatIsQueuedForIt) {
  Start("b");
  Start("down");
  Enqueue("both 1", {"b", "down"});
  for (int i = 0; i < 10; ++i) Enqueue("b only", {"b"});
  Enqueue("both 2", {"b", "down"});
  Enqueue("b last", {"b"});
  Ack("b", 13);
  // What only b needed is gone, although "down" still needs seq 1.
  EXPECT_EQ(Stored(), 2u);
  EXPECT_EQ(Depth("down"), 2u);
  auto d = Next("down");
  EXPECT_EQ(d.events, (std::vector<std::string>{"both 1", "both 2"}));
  EXPECT_EQ(d.first_seq, 1u);
  Ack("down", d.last_seq);
  EXPECT_EQ(Stored(), 0u);
  // A new entry goes on after the last seq, holes or not.
  Enqueue("b again", {"b"});
  EXPECT_EQ(Next("b").first_seq, 14u);
}

TEST_F(OutboxTest, WhatOneAcknowledgementCouldNotLookAtTheNextOneDoes) {
  Start("b");
  Start("down");
  Enqueue("both", {"b", "down"});
  // More than one acknowledgement deletes (1000) or looks at (2000).
  ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) -> Status {
    for (int i = 0; i < 2500; ++i) {
      HEARTH_ASSIGN_OR_RETURN(auto seq, outbox_->Enqueue(txn, "b", {"b"}));
      (void)seq;
    }
    return Ok();
  }));
  Ack("b", 2501);
  EXPECT_EQ(Stored(), 1501u);
  // Acknowledgements that move nothing go on where the last one stopped.
  Ack("b", 2501);
  EXPECT_EQ(Stored(), 501u);
  Ack("b", 2501);
  EXPECT_EQ(Stored(), 1u);  // what "down" needs
  EXPECT_EQ(Depth("down"), 1u);
  Ack("down", 2501);
  EXPECT_EQ(Stored(), 0u);
}

TEST_F(OutboxTest, ANewPeerStartsAtTheEnd) {
  Start("b");
  Enqueue("old", {"b"});
  Start("c");
  Enqueue("new", {"b", "c"});
  EXPECT_EQ(Next("c").events, (std::vector<std::string>{"new"}));
}

TEST_F(OutboxTest, TransactionsAreDeterministicSoResendsAreIdentical) {
  OutboxBatch batch{{R"({"ts":5})", R"({"ts":9})"}, 4, 7};
  auto a = MakeTransaction("a.test", "b.test", batch);
  auto b = MakeTransaction("a.test", "b.test", batch);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->txn_id, "4-7");
  EXPECT_EQ(a->body, b->body);
  EXPECT_EQ(
      a->body,
      R"({"destination":"b.test","events":[{"ts":5},{"ts":9}],"origin":"a.test","ts":9})");
}

TEST_F(OutboxTest, TheTransactionTsIsTheLargestTopLevelEventTs) {
  // Nested "ts" members and strings that look like one do not count.
  OutboxBatch batch{{R"({"a":{"ts":99},"b":["\"ts\":98"],"ts":5})",
                     R"({"c":"ts","d":[{"ts":97}],"ts":7,"z":{"ts":96}})",
                     R"({"content":{},"ts":-3})"},
                    1,
                    3};
  auto t = MakeTransaction("a.test", "b.test", batch);
  ASSERT_TRUE(t);
  EXPECT_EQ(nlohmann::json::parse(t->body)["ts"], 7);
}

}  // namespace
}  // namespace hearth::federation

namespace hearth::federation {
namespace {

TEST_F(OutboxTest, SeqsNeverRepeatEvenAfterEveryPeerIsGone) {
  Start("b");
  Enqueue("e1", {"b"});
  Enqueue("e2", {"b"});
  Ack("b", 2);
  ASSERT_TRUE(env_->Update(
      [&](storage::WriteTxn& txn) { return outbox_->DropCursor(txn, "b"); }));
  Start("b");
  Enqueue("e3", {"b"});
  EXPECT_EQ(Next("b").first_seq, 3u);
}

}  // namespace
}  // namespace hearth::federation

namespace hearth::federation {
namespace {

TEST_F(OutboxTest, ACursorNeverMovesBackwards) {
  Start("b");
  Enqueue("e1", {"b"});
  Enqueue("e2", {"b"});
  Ack("b", 2);
  Ack("b", 1);  // a late acknowledgement
  EXPECT_TRUE(Next("b").events.empty());
}

}  // namespace
}  // namespace hearth::federation

namespace hearth::federation {
namespace {

// The depth is a kept count; this checks it against a model of what each
// peer has queued, through every way an entry joins or leaves a queue.
TEST_F(OutboxTest, TheQueueDepthIsKeptExactThroughEveryChange) {
  const std::vector<std::string> peers = {"b", "c", "d"};
  std::map<std::string, std::set<std::uint64_t>> queued;  // with a cursor
  std::map<std::string, std::uint64_t> cursor;
  std::uint64_t last = 0;
  std::mt19937 rng(7);
  auto pick = [&](size_t n) { return size_t(rng() % n); };
  for (const auto& p : peers) {
    Start(p);
    cursor[p] = 0;
    queued[p];
  }
  auto check = [&](int step) {
    for (const auto& [p, seqs] : queued)
      ASSERT_EQ(Depth(p), seqs.size()) << "peer " << p << ", step " << step;
  };
  for (int step = 0; step < 400; ++step) {
    const std::string& p = peers[pick(peers.size())];
    switch (pick(10)) {
      case 0:
      case 1:
      case 2:
      case 3: {  // an event for some peers, one of them maybe twice
        std::vector<std::string> dests;
        for (const auto& q : peers)
          if (pick(2)) dests.push_back(q);
        if (dests.empty()) dests.push_back(p);
        if (pick(4) == 0) dests.push_back(dests.front());
        Enqueue("e" + std::to_string(step), dests);
        ++last;
        for (const auto& q : dests)
          if (queued.count(q)) queued[q].insert(last);
        break;
      }
      case 4:
      case 5:
      case 6: {  // an acknowledgement, late ones too
        std::uint64_t to = last == 0 ? 0 : 1 + pick(last);
        Ack(p, to);
        if (queued.count(p) && to > cursor[p]) {
          cursor[p] = to;
          queued[p].erase(queued[p].begin(), queued[p].upper_bound(to));
        }
        break;
      }
      case 7:  // blocked: the queue dropped
        ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) {
          return outbox_->DropQueue(txn, p);
        }));
        if (queued.count(p)) {
          cursor[p] = std::max(cursor[p], last);
          queued[p].clear();
        }
        break;
      case 8:  // removed as a peer
        ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) {
          return outbox_->DropCursor(txn, p);
        }));
        queued.erase(p);
        cursor.erase(p);
        break;
      default:  // trusted (again): starts at the end
        if (!queued.count(p)) {
          Start(p);
          cursor[p] = last;
          queued[p];
        }
        break;
    }
    check(step);
  }
  // Counts an older build left wrong (it moves cursors and adds entries
  // without them), or none at all: made again when the store is opened.
  auto dbi = *env_->OpenTable("servername_cursor");
  ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) -> Status {
    for (size_t i = 0; i < peers.size(); ++i) {
      if (i == 0) {
        HEARTH_ASSIGN_OR_RETURN(bool gone, txn.Delete(dbi, "\x02" + peers[i]));
        (void)gone;
      } else {
        HEARTH_RETURN_IF_ERROR(
            txn.Put(dbi, "\x02" + peers[i], EncodeU64BE(999)));
      }
    }
    return Ok();
  }));
  outbox_.emplace(std::move(Outbox::Open(*env_)).value());
  check(-1);
  // Stored again (Depth would count without them, but slowly).
  auto txn = std::move(env_->BeginRead()).value();
  for (const auto& [p, seqs] : queued) {
    auto v = txn.Get(dbi, "\x02" + p);
    ASSERT_TRUE(v && *v) << p;
    EXPECT_EQ(DecodeU64BE(**v), seqs.size()) << p;
  }
}

}  // namespace
}  // namespace hearth::federation

namespace hearth::federation {
namespace {

TEST_F(OutboxTest, APeerFarBehindGetsOnlyTheNewestEventOfEachCollapseKey) {
  outbox_.emplace(std::move(Outbox::Open(*env_, 3)).value());
  Start("down");
  Start("up");
  // "up" acknowledges each event as it comes.
  std::uint64_t seq = 0;
  auto enqueue = [&](const std::string& ev, std::vector<std::string> dests,
                     const std::string& key) {
    ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(seq, outbox_->Enqueue(txn, ev, dests, key));
      return Ok();
    }));
    Ack("up", seq);
  };
  // Below the limit nothing collapses.
  enqueue("g1 #1", {"down", "up"}, "g1");
  enqueue("g1 #2", {"down", "up"}, "g1");
  enqueue("g1 #3", {"down", "up"}, "g1");
  // From here on each collapses the one before it under the same key;
  // events without a key, and other keys, stay.
  enqueue("g1 #4", {"down", "up"}, "g1");
  enqueue("direct", {"down"}, "");
  enqueue("g2 #1", {"down", "up"}, "g2");
  enqueue("g1 #5", {"down", "up"}, "g1");
  enqueue("g2 #2", {"down"}, "g2");
  enqueue("g1 #6", {"down", "up"}, "g1");
  EXPECT_EQ(Depth("down"), 6u);
  EXPECT_EQ(Next("down").events,
            (std::vector<std::string>{"g1 #1", "g1 #2", "g1 #3", "direct",
                                      "g2 #2", "g1 #6"}));
  // The replaced entries went at once ("up" had them already), not when
  // "down" comes back.
  EXPECT_EQ(Depth("up"), 0u);
  EXPECT_EQ(Stored(), 6u);
  // Caught up, the peer gets everything again.
  Ack("down", 9);
  EXPECT_EQ(Stored(), 0u);
  enqueue("g1 #7", {"down"}, "g1");
  enqueue("g1 #8", {"down"}, "g1");
  EXPECT_EQ(Next("down").events, (std::vector<std::string>{"g1 #7", "g1 #8"}));
  // What it got last under a key is forgotten with its cursor.
  ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) {
    return outbox_->DropCursor(txn, "down");
  }));
  auto dbi = *env_->OpenTable("servername_cursor");
  auto txn = std::move(env_->BeginRead()).value();
  auto c = std::move(storage::Cursor::Open(txn, dbi)).value();
  for (auto more = c.First(); more && *more; more = c.Next())
    EXPECT_EQ(c.key().find("down"), std::string_view::npos) << c.key();
}

}  // namespace
}  // namespace hearth::federation

namespace hearth::federation {
namespace {

TEST_F(OutboxTest, ADestinationWithoutACursorIsNotCounted) {
  // Removed while the change that queued for it was under way: nobody
  // would ever take its count down.
  Start("b");
  Enqueue("e1", {"b", "gone"});
  Ack("b", 1);
  EXPECT_EQ(Stored(), 0u);  // nobody needs e1 any more
  auto dbi = *env_->OpenTable("servername_cursor");
  auto txn = std::move(env_->BeginRead()).value();
  auto v = txn.Get(dbi, "\x02gone");
  ASSERT_TRUE(v);
  EXPECT_FALSE(*v);
  EXPECT_EQ(Depth("b"), 0u);
}

}  // namespace
}  // namespace hearth::federation
