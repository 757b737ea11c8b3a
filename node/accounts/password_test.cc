#include "node/accounts/password.h"

#include <argon2.h>
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

namespace hearth {
namespace {

TEST(PasswordTest, VerifiesHashesMadeByLibargon2sOwnEncoder) {
  // Compatibility with hashes written by argon2id_hash_encoded (and so by
  // any tool that follows the PHC format).
  const char* salt = "somesaltsomesalt";
  char encoded[256];
  ASSERT_EQ(argon2id_hash_encoded(1, 256, 1, "pass word", 9, salt, 16, 32,
                                  encoded, sizeof encoded),
            ARGON2_OK);
  PasswordHasher h(Cheap(), 1);
  EXPECT_TRUE(h.Verify(encoded, "pass word"));
  EXPECT_FALSE(h.Verify(encoded, "pass worc"));
  // And libargon2 verifies ours.
  auto ours = h.Hash("pass word");
  ASSERT_TRUE(ours);
  EXPECT_EQ(argon2id_verify(ours->c_str(), "pass word", 9), ARGON2_OK);
}

TEST(PasswordTest, MalformedHashesNeverVerify) {
  PasswordHasher h(Cheap(), 1);
  for (const char* bad : {"", "$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
                          "$argon2id$v=16$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
                          "$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
                          "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$",
                          "$argon2id$v=19$m=256,t=1,p=1$c2F!bHQ$aGFzaA"}) {
    EXPECT_FALSE(h.Verify(bad, "anything")) << bad;
    EXPECT_TRUE(h.NeedsRehash(bad)) << bad;
  }
}

}  // namespace
}  // namespace hearth
