#include "node/accounts/password.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

PasswordParams Cheap() { return {256, 1, 1}; }

TEST(PasswordTest, HashVerifiesOnlyTheRightPassword) {
  PasswordHasher h(Cheap(), 2);
  auto hash = h.Hash("correct horse");
  ASSERT_TRUE(hash);
  EXPECT_TRUE(h.Verify(*hash, "correct horse"));
  EXPECT_FALSE(h.Verify(*hash, "correct horsf"));
  EXPECT_FALSE(h.Verify(*hash, ""));
  EXPECT_FALSE(h.Verify("not a hash", "correct horse"));
}

TEST(PasswordTest, HashesAreSaltedArgon2idAndRecordTheirParameters) {
  PasswordHasher h(Cheap(), 2);
  auto a = h.Hash("same password");
  auto b = h.Hash("same password");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->rfind("$argon2id$v=19$m=256,t=1,p=1$", 0), 0u) << *a;
  EXPECT_FALSE(h.NeedsRehash(*a));
  // A hasher with new parameters still verifies the old hash, and says it
  // should be upgraded.
  PasswordHasher stronger({512, 2, 1}, 2);
  EXPECT_TRUE(stronger.Verify(*a, "same password"));
  EXPECT_TRUE(stronger.NeedsRehash(*a));
}

TEST(PasswordTest, Validation) {
  EXPECT_FALSE(ValidatePassword("short"));
  EXPECT_EQ(ValidatePassword("short").error().reason, "weak_password");
  EXPECT_TRUE(ValidatePassword("eight ch"));
  EXPECT_TRUE(ValidatePassword(std::string(1024, 'x')));
  EXPECT_FALSE(ValidatePassword(std::string(1025, 'x')));
}

}  // namespace
}  // namespace hearth
