#include "node/accounts/login_throttle.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

TEST(LoginThrottleTest, FreeFailuresThenDoublingDelays) {
  FakeClock clock;
  LoginThrottle t(clock, ThrottleOptions{});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(t.Check("sam", "1.2.3.4"));
    t.RecordFailure("sam", "1.2.3.4");
  }
  // The fifth failure used up the free ones; the sixth sets a 1 s wait.
  ASSERT_TRUE(t.Check("sam", "1.2.3.4"));
  t.RecordFailure("sam", "1.2.3.4");
  Status s = t.Check("sam", "1.2.3.4");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::kRateLimited);
  EXPECT_EQ(s.error().retry_after_ms, 1000);
  // Other handles from other addresses are not affected.
  EXPECT_TRUE(t.Check("alex", "5.6.7.8"));
  clock.Advance(1000);
  ASSERT_TRUE(t.Check("sam", "1.2.3.4"));
  t.RecordFailure("sam", "1.2.3.4");
  EXPECT_EQ(t.Check("sam", "1.2.3.4").error().retry_after_ms, 2000);
}

TEST(LoginThrottleTest, DelaysAreCapped) {
  FakeClock clock;
  ThrottleOptions o;
  o.free_failures_per_handle = 1;
  LoginThrottle t(clock, o);
  for (int i = 0; i < 60; ++i) {
    t.RecordFailure("sam", "a" + std::to_string(i));
    clock.Advance(o.max_delay_ms);
  }
  t.RecordFailure("sam", "x");
  EXPECT_EQ(t.Check("sam", "y").error().retry_after_ms, o.max_delay_ms);
}

TEST(LoginThrottleTest, AnAddressGuessingManyHandlesIsSlowedToo) {
  FakeClock clock;
  LoginThrottle t(clock, ThrottleOptions{});
  for (int i = 0; i < 21; ++i)
    t.RecordFailure("user" + std::to_string(i), "9.9.9.9");
  EXPECT_FALSE(t.Check("fresh-handle", "9.9.9.9"));
  EXPECT_TRUE(t.Check("fresh-handle", "1.1.1.1"));
}

TEST(LoginThrottleTest, SuccessClearsTheHandleAndOldFailuresAreForgotten) {
  FakeClock clock;
  LoginThrottle t(clock, ThrottleOptions{});
  for (int i = 0; i < 5; ++i) t.RecordFailure("sam", "1.1.1.1");
  t.RecordSuccess("sam");
  t.RecordFailure("sam", "2.2.2.2");
  EXPECT_TRUE(t.Check("sam", "3.3.3.3"));
  for (int i = 0; i < 4; ++i) t.RecordFailure("kit", "4.4.4.4");
  clock.Advance(2 * 3600 * 1000);
  t.RecordFailure("kit", "4.4.4.4");
  t.RecordFailure("kit", "4.4.4.4");
  EXPECT_TRUE(t.Check("kit", "5.5.5.5"));  // counting started over
}

TEST(LoginThrottleTest, MemoryIsBounded) {
  FakeClock clock;
  ThrottleOptions o;
  o.max_entries = 1000;
  LoginThrottle t(clock, o);
  for (int i = 0; i < 5000; ++i) {
    t.RecordFailure("h" + std::to_string(i), "a" + std::to_string(i));
  }
  EXPECT_LE(t.size(), 1002u);
}

}  // namespace
}  // namespace hearth
