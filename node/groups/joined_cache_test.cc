#include "node/groups/joined_cache.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

JoinedCache::Groups Set(std::set<std::string> groups) {
  return std::make_shared<const std::set<std::string>>(std::move(groups));
}

TEST(JoinedCacheTest, AnEntryHoldsForLaterSnapshotsUntilAMembershipWrite) {
  JoinedCache cache;
  EXPECT_EQ(cache.Find("@ann:a.test", 5), nullptr);
  cache.Keep("@ann:a.test", 5, Set({"g1"}));
  ASSERT_NE(cache.Find("@ann:a.test", 5), nullptr);
  EXPECT_EQ(*cache.Find("@ann:a.test", 9), std::set<std::string>{"g1"});
  // Writes other than memberships commit ids 6..9 meanwhile: still true.
  // A membership write with id 10 (not yet visible at 9, but it may be at
  // the next snapshot): nobody may use the entry any more.
  cache.NoteWrite(10);
  EXPECT_EQ(cache.Find("@ann:a.test", 9), nullptr);
  EXPECT_EQ(cache.Find("@ann:a.test", 10), nullptr);
  // Read again at 10, it holds again.
  cache.Keep("@ann:a.test", 10, Set({"g1", "g2"}));
  EXPECT_EQ(*cache.Find("@ann:a.test", 12),
            (std::set<std::string>{"g1", "g2"}));
}

TEST(JoinedCacheTest, AReaderNeverUsesAnEntryReadAtANewerSnapshot) {
  JoinedCache cache;
  // Read at 8, after a leave committed with id 7; a reader still at 6
  // must see the group it had then.
  cache.NoteWrite(7);
  cache.Keep("@ann:a.test", 8, Set({}));
  EXPECT_EQ(cache.Find("@ann:a.test", 6), nullptr);
  EXPECT_NE(cache.Find("@ann:a.test", 8), nullptr);
  // An older read does not replace a newer one.
  cache.Keep("@ann:a.test", 6, Set({"g1"}));
  EXPECT_EQ(*cache.Find("@ann:a.test", 8), std::set<std::string>{});
}

TEST(JoinedCacheTest, AWriteNoNewerThanTheEntryLeavesItTrue) {
  JoinedCache cache;
  cache.NoteWrite(4);  // committed (seen at 5) or aborted: either way true
  cache.Keep("@ann:a.test", 5, Set({"g1"}));
  cache.NoteWrite(3);  // ids only ever rise
  EXPECT_NE(cache.Find("@ann:a.test", 5), nullptr);
}

TEST(JoinedCacheTest, ItStaysWithinItsCapacity) {
  JoinedCache cache(2);
  cache.Keep("@a:x", 1, Set({}));
  cache.Keep("@b:x", 1, Set({}));
  cache.Keep("@c:x", 1, Set({}));
  EXPECT_EQ(cache.size(), 2u);  // one made room, not all
  EXPECT_NE(cache.Find("@c:x", 1), nullptr);
}

}  // namespace
}  // namespace hearth
