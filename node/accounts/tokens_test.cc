#include "node/accounts/tokens.h"

#include <gtest/gtest.h>

#include <set>

#include "common/encoding.h"

namespace hearth {
namespace {

TEST(TokensTest, TokensCarry256RandomBitsAndAreStoredAsHashes) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    NewSecret t = MakeSessionToken();
    ASSERT_EQ(t.text.rfind("hst_", 0), 0u);
    auto raw = Base64UrlDecode(t.text.substr(4));
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->size(), 32u);
    EXPECT_EQ(t.hash.size(), 32u);
    EXPECT_EQ(t.hash, HashSecret(t.text));
    EXPECT_EQ(t.hash.find(t.text), std::string::npos);
    EXPECT_TRUE(seen.insert(t.text).second);
  }
  EXPECT_EQ(MakeInviteCode().text.rfind("hsi_", 0), 0u);
}

}  // namespace
}  // namespace hearth
