#include "node/directory/directory_document.h"

#include <gtest/gtest.h>

#include "federation/canonical_json.h"
#include "federation/signed_json.h"

namespace hearth::directory {
namespace {

using nlohmann::json;

GroupRecord Group(const std::string& gid) {
  GroupRecord g;
  g.group_id = gid;
  g.name = "Grief Circle";
  g.description = "Peer support";
  g.topics = {"grief"};
  g.language = "en";
  g.join_policy = JoinPolicy::kApproval;
  g.meetings = {{"monday", "19:00", "Europe/Berlin", "https://meet.example/x"}};
  g.rules = "be kind";
  g.owner = "@alice@a.test";
  g.member_count = 4;
  return g;
}

TEST(DirectoryDocumentTest, SignsAndReadsBackOnlyTheListedFields) {
  auto key = federation::SigningKey::Generate();
  auto text = SignDirectory(
      DirectoryDocument{"a.test", 42, {Group("!grief@a.test")}}, key);
  ASSERT_TRUE(text);
  auto doc = federation::ParseCanonical(*text);
  ASSERT_TRUE(doc) << "the document is canonical JSON";
  EXPECT_TRUE(
      federation::VerifyJson(*doc, "a.test", key.key_id(), key.public_key()));
  const json& listed = (*doc)["groups"][0];
  EXPECT_FALSE(listed.contains("rules"));
  EXPECT_FALSE(listed.contains("owner"));
  EXPECT_FALSE(listed["meetings"][0].contains("link"));

  size_t skipped = 1;
  auto parsed = ParseDirectory(*doc, "a.test", &skipped);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(skipped, 0u);
  EXPECT_EQ(parsed->version, 42u);
  ASSERT_EQ(parsed->groups.size(), 1u);
  const GroupRecord& g = parsed->groups[0];
  EXPECT_EQ(g.name, "Grief Circle");
  EXPECT_EQ(g.join_policy, JoinPolicy::kApproval);
  EXPECT_EQ(g.member_count, 4u);
  EXPECT_EQ(g.meetings[0].weekday, "monday");
  EXPECT_TRUE(g.meetings[0].link.empty());

  // Any change breaks the signature.
  json tampered = *doc;
  tampered["groups"][0]["member_count"] = 5;
  EXPECT_FALSE(federation::VerifyJson(tampered, "a.test", key.key_id(),
                                      key.public_key()));
}

TEST(DirectoryDocumentTest, RefusesAWrongDocumentAndSkipsBadGroups) {
  json good = ListingJson(Group("!good@a.test"));
  json doc = {{"server_name", "a.test"}, {"version", 3}, {"groups", {good}}};
  size_t skipped = 0;
  EXPECT_TRUE(ParseDirectory(doc, "a.test", &skipped));
  // Not from the server we asked, no version, groups not a list.
  EXPECT_FALSE(ParseDirectory(doc, "b.test", &skipped));
  json bad = doc;
  bad["version"] = 0;
  EXPECT_FALSE(ParseDirectory(bad, "a.test", &skipped));
  bad = doc;
  bad.erase("version");
  EXPECT_FALSE(ParseDirectory(bad, "a.test", &skipped));
  bad = doc;
  bad["groups"] = json::object();
  EXPECT_FALSE(ParseDirectory(bad, "a.test", &skipped));
  bad = doc;
  bad["groups"] = json::array();
  for (size_t i = 0; i <= kMaxListedGroups; ++i) bad["groups"].push_back(good);
  EXPECT_FALSE(ParseDirectory(bad, "a.test", &skipped));

  // Groups hosted elsewhere, breaking the group rules or repeated are
  // skipped; the rest is kept.
  json other = ListingJson(Group("!other@b.test"));
  json bad_topic = ListingJson(Group("!topic@a.test"));
  bad_topic["topics"] = {"Not A Topic"};
  json bad_policy = ListingJson(Group("!policy@a.test"));
  bad_policy["join_policy"] = "whenever";
  json no_name = ListingJson(Group("!noname@a.test"));
  no_name.erase("name");
  json negative = ListingJson(Group("!negative@a.test"));
  negative["member_count"] = -1;
  doc["groups"] = {good, other, bad_topic, bad_policy, no_name, negative, good};
  auto parsed = ParseDirectory(doc, "a.test", &skipped);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(skipped, 6u);
  ASSERT_EQ(parsed->groups.size(), 1u);
  EXPECT_EQ(parsed->groups[0].group_id, "!good@a.test");
}

}  // namespace
}  // namespace hearth::directory
