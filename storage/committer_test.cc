#include "storage/committer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/encoding.h"
#include "storage/txn.h"
#include "tests/support/temp_dir.h"

namespace hearth::storage {
namespace {

class CommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = Env::Open(dir_.path(), {});
    ASSERT_TRUE(env);
    env_ = std::move(env).value();
    auto dbi = env_->OpenTable("t");
    ASSERT_TRUE(dbi);
    dbi_ = *dbi;
  }
  size_t Count() {
    auto txn = env_->BeginRead();
    auto c = Cursor::Open(*txn, dbi_);
    size_t n = 0;
    for (auto more = c->First(); more && *more; more = c->Next()) ++n;
    return n;
  }

  hearth::testing::TempDir dir_;
  std::unique_ptr<Env> env_;
  Dbi dbi_;
};

TEST_F(CommitterTest, ConcurrentChangesShareCommitsAndAllLand) {
  Committer committer(*env_);
  constexpr int kThreads = 8, kPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = EncodeU64BE(t * kPerThread + i);
        Status s = committer.Run(
            [&](WriteTxn& txn) { return txn.Put(dbi_, key, "v"); });
        if (!s) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Count(), size_t(kThreads * kPerThread));
  EXPECT_EQ(committer.changes(), std::uint64_t(kThreads * kPerThread));
  // Group commit: with 8 writers waiting on fsync, batches form.
  EXPECT_LT(committer.commits(), committer.changes());
}

TEST_F(CommitterTest, AChangeIsOnDiskWhenRunReturns) {
  Committer committer(*env_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(committer.Run(
        [&](WriteTxn& txn) { return txn.Put(dbi_, EncodeU64BE(i), "v"); }));
    auto latest = env_->BeginRead(Env::View::kLatest);
    ASSERT_TRUE(latest);
    EXPECT_GE(env_->durable_id(), latest->id()) << i;
  }
}

// The group sequencer's contract: numbers taken under a lock that is
// released once the change is queued commit in number order, each change
// seeing the one before it.
TEST_F(CommitterTest, ChangesQueuedUnderALockCommitInTheLocksOrder) {
  Committer committer(*env_);
  constexpr int kThreads = 8, kPerThread = 100;
  std::mutex mu;
  std::uint64_t next = 1;
  std::atomic<int> out_of_order{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        std::unique_lock<std::mutex> lock(mu);
        std::uint64_t n = next;
        Status s = committer.Run(
            [&](WriteTxn& txn) -> Status {
              // The previous number is already there.
              auto prev = txn.Get(dbi_, EncodeU64BE(n - 1));
              if (n > 1 && (!prev || !*prev)) ++out_of_order;
              return txn.Put(dbi_, EncodeU64BE(n), "");
            },
            [&] {
              next = n + 1;
              lock.unlock();
            });
        EXPECT_TRUE(s);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_EQ(Count(), size_t(kThreads * kPerThread));
  EXPECT_LT(committer.commits(), std::uint64_t(kThreads * kPerThread));
}

TEST_F(CommitterTest, AFailedChangeIsRolledBackAloneAndReported) {
  Committer committer(*env_);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, refused{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        bool bad = (i % 3 == 0);
        std::string key = EncodeU64BE(t * 1000 + i);
        Status s = committer.Run([&](WriteTxn& txn) -> Status {
          HEARTH_RETURN_IF_ERROR(txn.Put(dbi_, key, "v"));
          if (bad) return Error::Conflict("nope", "refused");
          return Ok();
        });
        if (s) {
          ++ok;
        } else {
          EXPECT_EQ(s.error().reason, "nope");
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok + refused, 800);
  EXPECT_EQ(Count(), size_t(ok.load()));
  auto txn = env_->BeginRead();
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 100; ++i) {
      auto v = txn->Get(dbi_, EncodeU64BE(t * 1000 + i));
      ASSERT_TRUE(v);
      EXPECT_EQ(v->has_value(), i % 3 != 0);
    }
  }
}

TEST_F(CommitterTest, AChangeThatThrowsFailsAloneAndTheQueueGoesOn) {
  Committer committer(*env_);
  Status thrown = committer.Run([&](WriteTxn& txn) -> Status {
    HEARTH_RETURN_IF_ERROR(txn.Put(dbi_, "half", "written"));
    throw std::runtime_error("bad input");
  });
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error().kind, ErrorKind::kInternal);
  EXPECT_EQ(Count(), 0u);  // rolled back
  // Later writers are not stuck behind it.
  EXPECT_TRUE(committer.Run(
      [&](WriteTxn& txn) -> Status { return txn.Put(dbi_, "next", "v"); }));
  EXPECT_EQ(Count(), 1u);
}

TEST_F(CommitterTest, BatchesSurviveMapGrowth) {
  hearth::testing::TempDir small_dir;
  EnvOptions small;
  small.initial_map_bytes = 256 << 10;
  auto env = Env::Open(small_dir.path(), small);
  ASSERT_TRUE(env);
  auto dbi = (*env)->OpenTable("t");
  ASSERT_TRUE(dbi);
  Committer committer(**env);
  std::vector<std::thread> threads;
  std::string big(3000, 'x');
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        std::string key = EncodeU64BE(t * 1000 + i);
        Status s = committer.Run(
            [&](WriteTxn& txn) { return txn.Put(*dbi, key, big); });
        EXPECT_TRUE(s) << s.error().message;
      }
    });
  }
  for (auto& t : threads) t.join();
  auto txn = (*env)->BeginRead();
  for (int t = 0; t < 4; ++t) {
    auto v = txn->Get(*dbi, EncodeU64BE(t * 1000 + 249));
    ASSERT_TRUE(v && *v);
  }
}

}  // namespace
}  // namespace hearth::storage
