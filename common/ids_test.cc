#include "common/ids.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

TEST(IdsTest, Handles) {
  EXPECT_TRUE(IsValidHandle("sam"));
  EXPECT_TRUE(IsValidHandle("a.b_c-9"));
  EXPECT_TRUE(IsValidHandle(std::string(32, 'x')));
  EXPECT_FALSE(IsValidHandle(""));
  EXPECT_FALSE(IsValidHandle(std::string(33, 'x')));
  EXPECT_FALSE(IsValidHandle("Sam"));
  EXPECT_FALSE(IsValidHandle("sam@x"));
  EXPECT_FALSE(IsValidHandle("s m"));
}

TEST(IdsTest, GroupIds) {
  auto g = GroupId::Parse("!calm-circle@riverside.example");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->slug, "calm-circle");
  EXPECT_EQ(g->server, "riverside.example");
  EXPECT_EQ(g->ToString(), "!calm-circle@riverside.example");
  EXPECT_TRUE(GroupId::Parse("!ab@a.test:8448"));
  EXPECT_FALSE(GroupId::Parse("!a@a.test"));  // slug too short
  EXPECT_FALSE(GroupId::Parse("!" + std::string(49, 'x') + "@a.test"));
  EXPECT_FALSE(GroupId::Parse("!Calm@a.test"));
  EXPECT_FALSE(GroupId::Parse("!calm_circle@a.test"));
  EXPECT_FALSE(GroupId::Parse("calm@a.test"));
  EXPECT_FALSE(GroupId::Parse("!calm"));
  EXPECT_FALSE(GroupId::Parse("!calm@"));
  EXPECT_FALSE(GroupId::Parse("!calm@a@b"));
}

TEST(IdsTest, ServerNames) {
  EXPECT_TRUE(IsValidServerName("riverside.example"));
  EXPECT_TRUE(IsValidServerName("localhost"));
  EXPECT_TRUE(IsValidServerName("a.test:8448"));
  EXPECT_FALSE(IsValidServerName(""));
  EXPECT_FALSE(IsValidServerName("Upper.example"));
  EXPECT_FALSE(IsValidServerName("a..b"));
  EXPECT_FALSE(IsValidServerName("-a.b"));
  EXPECT_FALSE(IsValidServerName("a.test:0"));
  EXPECT_FALSE(IsValidServerName("a.test:99999"));
  EXPECT_FALSE(IsValidServerName("a_b.test"));
}

TEST(IdsTest, MemberIds) {
  auto id = MemberId::Parse("@sam@lakeside.example");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->handle, "sam");
  EXPECT_EQ(id->server, "lakeside.example");
  EXPECT_EQ(id->ToString(), "@sam@lakeside.example");
  EXPECT_FALSE(MemberId::Parse("sam@lakeside.example"));
  EXPECT_FALSE(MemberId::Parse("@Sam@x.test"));
  EXPECT_FALSE(MemberId::Parse("@sam@"));
  EXPECT_FALSE(MemberId::Parse("@sam"));
}

}  // namespace
}  // namespace hearth
