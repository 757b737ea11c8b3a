#include "node/accounts/session_cache.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

TEST(SessionCacheTest, AHitIsTheSessionUntilItExpires) {
  SessionCache cache;
  cache.Put("h", {"sam", "@sam@a.test", 1000}, cache.generation());
  auto hit = cache.Get("h", 999);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->member_id, "@sam@a.test");
  EXPECT_FALSE(cache.Get("h", 1000));
  EXPECT_FALSE(cache.Get("other", 0));
}

TEST(SessionCacheTest, InvalidateDropsEverythingAndRefusesOlderFills) {
  SessionCache cache;
  cache.Put("a", {"a", "@a@x", 1000}, cache.generation());
  // A fill that read the store before a logout committed...
  std::uint64_t before = cache.generation();
  cache.Invalidate();
  EXPECT_FALSE(cache.Get("a", 0));
  // ...is not kept when it arrives after it.
  cache.Put("b", {"b", "@b@x", 1000}, before);
  EXPECT_FALSE(cache.Get("b", 0));
  cache.Put("b", {"b", "@b@x", 1000}, cache.generation());
  EXPECT_TRUE(cache.Get("b", 0));
}

TEST(SessionCacheTest, StaysWithinItsCapacity) {
  SessionCache cache(4);
  for (int i = 0; i < 10; ++i)
    cache.Put(std::to_string(i), {"m", "@m@x", 1000}, cache.generation());
  EXPECT_LE(cache.size(), 4u);
  EXPECT_TRUE(cache.Get("9", 0));
}

}  // namespace
}  // namespace hearth
