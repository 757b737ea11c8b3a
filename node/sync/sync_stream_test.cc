#include "node/sync/sync_stream.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "storage/committer.h"
#include "tests/support/temp_dir.h"

namespace hearth {
namespace {

class SyncStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = storage::Env::Open(dir_.path(), {});
    ASSERT_TRUE(env);
    env_ = std::move(env).value();
    auto stream = SyncStream::Open(*env_);
    ASSERT_TRUE(stream);
    stream_.emplace(*stream);
  }
  std::uint64_t Append(SyncItem item) {
    storage::Committer committer(*env_);
    std::uint64_t pos = 0;
    EXPECT_TRUE(committer.Run([&](storage::WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(pos, stream_->Append(txn, item));
      return Ok();
    }));
    return pos;
  }
  SyncPage Read(const std::string& member, const std::set<std::string>& groups,
                std::uint64_t since, size_t limit = 100) {
    auto txn = env_->BeginRead();
    auto page = stream_->Read(*txn, member, groups, since, limit);
    EXPECT_TRUE(page);
    return *page;
  }

  hearth::testing::TempDir dir_;
  std::unique_ptr<storage::Env> env_;
  std::optional<SyncStream> stream_;
};

TEST_F(SyncStreamTest, ItemsReachTheirGroupsMembersOrTheirAddressees) {
  EXPECT_EQ(Append({"!g@a.test", {}, R"({"n":1})", 1}), 1u);
  EXPECT_EQ(Append({"", {"@x@a.test"}, R"({"n":2})", 2}), 2u);
  EXPECT_EQ(Append({"!h@a.test", {}, R"({"n":3})", 3}), 3u);
  EXPECT_EQ(Append({"!g@a.test", {"@y@a.test"}, R"({"n":4})", 4}), 4u);

  SyncPage x = Read("@x@a.test", {"!g@a.test"}, 0);
  EXPECT_EQ(x.events, (std::vector<std::string>{R"({"n":1})", R"({"n":2})"}));
  EXPECT_EQ(x.next, 4u);  // skipped items are consumed too
  SyncPage y = Read("@y@a.test", {"!h@a.test"}, 0);
  EXPECT_EQ(y.events, (std::vector<std::string>{R"({"n":3})", R"({"n":4})"}));
  // A listed item is for the listed members only, even in their group.
  SyncPage z = Read("@z@a.test", {"!g@a.test"}, 0);
  EXPECT_EQ(z.events, (std::vector<std::string>{R"({"n":1})"}));
  // `since` is exclusive; the limit stops early.
  EXPECT_EQ(Read("@x@a.test", {"!g@a.test"}, 1).events.size(), 1u);
  SyncPage one = Read("@x@a.test", {"!g@a.test"}, 0, 1);
  EXPECT_EQ(one.events.size(), 1u);
  EXPECT_EQ(one.next, 1u);
  EXPECT_TRUE(Read("@x@a.test", {}, 4).events.empty());
  EXPECT_EQ(Read("@x@a.test", {}, 4).next, 4u);
}

TEST_F(SyncStreamTest, PruneDropsOnlyOldItems) {
  for (int i = 1; i <= 5; ++i) Append({"!g@a.test", {}, "{}", i * 10});
  storage::Committer committer(*env_);
  size_t pruned = 0;
  ASSERT_TRUE(committer.Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(pruned, stream_->Prune(txn, 35, 1000));
    return Ok();
  }));
  EXPECT_EQ(pruned, 3u);
  SyncPage rest = Read("@x@a.test", {"!g@a.test"}, 0);
  EXPECT_EQ(rest.events.size(), 2u);
  // Positions keep counting from the last one, which is never pruned.
  EXPECT_EQ(Append({"!g@a.test", {}, "{}", 60}), 6u);
  ASSERT_TRUE(committer.Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(pruned, stream_->Prune(txn, 1000, 1000));
    return Ok();
  }));
  EXPECT_EQ(pruned, 2u);
  EXPECT_EQ(Append({"!g@a.test", {}, "{}", 70}), 7u);
}

TEST(SyncHubTest, ANotificationWakesOnlyThatMembersWaiters) {
  SyncHub hub;
  auto x = hub.Register("@x@a.test");
  auto y = hub.Register("@y@a.test");
  EXPECT_EQ(hub.waiting(), 2u);
  std::atomic<bool> x_woke{false}, y_woke{false};
  x->Listen([&] { x_woke = true; });
  y->Listen([&] { y_woke = true; });
  EXPECT_FALSE(x_woke);
  hub.Notify({"@x@a.test", "@nobody@a.test"});
  EXPECT_TRUE(x_woke);
  // y was not notified.
  EXPECT_FALSE(y_woke);
}

TEST(SyncHubTest, ANotificationBeforeTheWaitIsNotLost) {
  SyncHub hub;
  auto w = hub.Register("@x@a.test");
  hub.Notify({"@x@a.test"});  // between reading the stream and waiting
  bool woke = false;
  w->Listen([&] { woke = true; });
  EXPECT_TRUE(woke);  // at once
  // Consumed: the next wait waits again, until the next notification.
  woke = false;
  w->Listen([&] { woke = true; });
  EXPECT_FALSE(woke);
  hub.Notify({"@x@a.test"});
  EXPECT_TRUE(woke);
}

TEST(SyncHubTest, StopReleasesEveryWaiterAndUnregisteringForgetsTheSlot) {
  SyncHub hub;
  std::vector<std::unique_ptr<SyncHub::Waiter>> waiters;
  std::atomic<int> released{0};
  for (int i = 0; i < 8; ++i) {
    waiters.push_back(hub.Register("@m" + std::to_string(i % 3) + "@a.test"));
    waiters.back()->Listen([&] { ++released; });
  }
  EXPECT_EQ(hub.waiting(), 8u);
  hub.Stop();
  EXPECT_EQ(released, 8);
  EXPECT_TRUE(waiters.front()->stopped());
  // A waiter that listens after the stop is released at once.
  waiters.front()->Listen([&] { ++released; });
  EXPECT_EQ(released, 9);
  waiters.clear();
  EXPECT_EQ(hub.waiting(), 0u);
}

}  // namespace
}  // namespace hearth
