#include "node/directory/directory_index.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "node/directory/search_text.h"
#include "storage/committer.h"
#include "tests/support/temp_dir.h"

namespace hearth::directory {
namespace {

GroupRecord Group(const std::string& gid, const std::string& name,
                  const std::string& description,
                  std::vector<std::string> topics = {},
                  const std::string& language = "en",
                  JoinPolicy policy = JoinPolicy::kOpen,
                  std::vector<std::string> days = {},
                  std::uint64_t members = 1) {
  GroupRecord g;
  g.group_id = gid;
  g.name = name;
  g.description = description;
  g.topics = std::move(topics);
  g.language = language;
  g.join_policy = policy;
  for (const auto& d : days) g.meetings.push_back({d, "19:00", "UTC", ""});
  g.member_count = members;
  return g;
}

class DirectoryIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = storage::Env::Open(dir_.path(), {});
    ASSERT_TRUE(env);
    env_ = std::move(env).value();
    auto index = DirectoryIndex::Open(*env_);
    ASSERT_TRUE(index);
    index_.emplace(*index);
    committer_.emplace(*env_);
  }

  MergeStats Replace(const std::string& host,
                     const std::vector<GroupRecord>& groups) {
    MergeStats stats;
    EXPECT_TRUE(committer_->Run([&](storage::WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(stats, index_->Replace(txn, host, groups));
      return Ok();
    }));
    return stats;
  }

  // Group ids of a search, in rank order.
  std::vector<std::string> Find(SearchQuery q, const std::string& words = "",
                                SearchPage* page_out = nullptr) {
    q.words = Words(words);
    auto txn = env_->BeginRead();
    auto page = index_->Search(*txn, q, [&](const std::string& host) {
      HostView v;
      v.visible = !hidden_.count(host);
      v.local = host == "a.test";
      v.stale = stale_.count(host) > 0;
      return v;
    });
    EXPECT_TRUE(page) << page.error().message;
    std::vector<std::string> ids;
    for (const auto& h : page->hits) ids.push_back(h.group.group_id);
    if (page_out) *page_out = *page;
    return ids;
  }

  hearth::testing::TempDir dir_;
  std::unique_ptr<storage::Env> env_;
  std::optional<DirectoryIndex> index_;
  std::optional<storage::Committer> committer_;
  std::set<std::string> hidden_, stale_;
};

using Ids = std::vector<std::string>;

TEST_F(DirectoryIndexTest, FindsByWordPrefixCaseAndAccentInsensitively) {
  Replace("b.test", {Group("!grief@b.test", "Grief Circle",
                           "Peer support after losing someone", {"grief"}),
                     Group("!angst@b.test", "Ängste gemeinsam tragen",
                           "Selbsthilfe bei Angst", {"anxiety"}, "de")});
  EXPECT_EQ(Find({}, "grief"), Ids{"!grief@b.test"});
  EXPECT_EQ(Find({}, "GRI"), Ids{"!grief@b.test"});     // prefix, case
  EXPECT_EQ(Find({}, "ängste"), Ids{"!angst@b.test"});  // accents
  EXPECT_EQ(Find({}, "angste"), Ids{"!angst@b.test"});
  EXPECT_EQ(Find({}, "selbsthilfe"), Ids{"!angst@b.test"});  // description
  EXPECT_EQ(Find({}, "anxi"), Ids{"!angst@b.test"});         // topic
  // Every word must match (each as a prefix).
  EXPECT_EQ(Find({}, "peer lo"), Ids{"!grief@b.test"});
  EXPECT_EQ(Find({}, "peer angst"), Ids{});
  EXPECT_EQ(Find({}, "zebra"), Ids{});
}

TEST_F(DirectoryIndexTest, RanksNameAndTopicAboveDescription) {
  Replace("b.test",
          {Group("!desc@b.test", "Tuesday circle", "we talk about anxiety", {},
                 "en", JoinPolicy::kOpen, {}, 50),
           Group("!topic@b.test", "Open circle", "", {"anxiety"}),
           Group("!name@b.test", "Anxiety peers", "")});
  EXPECT_EQ(Find({}, "anxiety"),
            (Ids{"!name@b.test", "!topic@b.test", "!desc@b.test"}));
  // A longer word that only starts with the query word counts less.
  Replace("c.test", {Group("!anx@c.test", "Anxietyfree living", "")});
  EXPECT_EQ(Find({}, "anxiety"), (Ids{"!name@b.test", "!topic@b.test",
                                      "!anx@c.test", "!desc@b.test"}));
}

TEST_F(DirectoryIndexTest, LocalGroupsComeFirstAmongEqualMatchesAndStaleLast) {
  Replace("b.test", {Group("!grief@b.test", "Grief", "", {}, "en",
                           JoinPolicy::kOpen, {}, 90)});
  Replace("c.test", {Group("!grief@c.test", "Grief", "", {}, "en",
                           JoinPolicy::kOpen, {}, 99)});
  Replace("a.test", {Group("!grief@a.test", "Grief", "", {}, "en",
                           JoinPolicy::kOpen, {}, 2)});
  stale_.insert("c.test");
  EXPECT_EQ(Find({}, "grief"),
            (Ids{"!grief@a.test", "!grief@b.test", "!grief@c.test"}));
}

TEST_F(DirectoryIndexTest, FiltersAreExactAndCombine) {
  Replace("b.test", {Group("!aa@b.test", "A", "", {"grief", "loss"}, "en",
                           JoinPolicy::kOpen, {"monday"}),
                     Group("!bb@b.test", "B", "", {"grief"}, "de",
                           JoinPolicy::kApproval, {"monday", "friday"}),
                     Group("!cc@b.test", "C", "", {"griefwork"}, "en",
                           JoinPolicy::kInvite, {"friday"})});
  Replace("c.test", {Group("!dd@c.test", "D", "", {"grief"}, "en",
                           JoinPolicy::kOpen, {"monday"})});
  auto sorted = [](Ids ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  SearchQuery q;
  q.topic = "grief";  // exact: not "griefwork"
  EXPECT_EQ(sorted(Find(q)), (Ids{"!aa@b.test", "!bb@b.test", "!dd@c.test"}));
  q.language = "en";
  EXPECT_EQ(sorted(Find(q)), (Ids{"!aa@b.test", "!dd@c.test"}));
  q.node = "b.test";
  EXPECT_EQ(Find(q), (Ids{"!aa@b.test"}));
  q = {};
  q.day = "friday";
  EXPECT_EQ(sorted(Find(q)), (Ids{"!bb@b.test", "!cc@b.test"}));
  q.join_policy = "approval";
  EXPECT_EQ(Find(q), (Ids{"!bb@b.test"}));
  q = {};
  q.node = "c.test";
  EXPECT_EQ(Find(q), (Ids{"!dd@c.test"}));
  q = {};
  q.join_policy = "open";
  EXPECT_EQ(sorted(Find(q, "d")), (Ids{"!dd@c.test"}));
  // A hidden host (blocked, pending, unknown) shows nothing.
  hidden_.insert("c.test");
  EXPECT_EQ(Find({}, "d"), Ids{});
  EXPECT_EQ(Find(SearchQuery{.node = "c.test"}), Ids{});
}

TEST_F(DirectoryIndexTest, MergesIncrementallyAndRemovesWhatIsGone) {
  std::vector<GroupRecord> groups;
  for (int i = 0; i < 5; ++i)
    groups.push_back(Group("!g" + std::to_string(i) + "@b.test",
                           "Group " + std::to_string(i), "kind words"));
  MergeStats s = Replace("b.test", groups);
  EXPECT_EQ(s.added, 5u);
  s = Replace("b.test", groups);
  EXPECT_EQ(s.unchanged, 5u);
  EXPECT_EQ(s.added + s.changed + s.removed, 0u);

  groups[1].description = "gentle words";
  groups.pop_back();
  s = Replace("b.test", groups);
  EXPECT_EQ(s.changed, 1u);
  EXPECT_EQ(s.removed, 1u);
  EXPECT_EQ(s.unchanged, 3u);
  // The old words of the changed group are gone, the new ones found.
  EXPECT_EQ(Find({}, "kind").size(), 3u);
  EXPECT_EQ(Find({}, "gentle"), Ids{"!g1@b.test"});
  EXPECT_EQ(Find({}).size(), 4u);
  EXPECT_EQ(Find({}, "4"), Ids{});

  // Purging drops the host's groups, postings and source.
  ASSERT_TRUE(committer_->Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_RETURN_IF_ERROR(index_->PutSource(txn, "b.test", DirSource{7}));
    HEARTH_ASSIGN_OR_RETURN(size_t n, index_->Purge(txn, "b.test"));
    EXPECT_EQ(n, 4u);
    return Ok();
  }));
  EXPECT_EQ(Find({}), Ids{});
  EXPECT_EQ(Find({}, "gentle"), Ids{});
  auto txn = env_->BeginRead();
  auto source = index_->Source(*txn, "b.test");
  ASSERT_TRUE(source);
  EXPECT_FALSE(*source);
}

TEST_F(DirectoryIndexTest, RebuildsItsPostingsWhenTheTextRulesChange) {
  Replace("b.test", {Group("!grief@b.test", "Grief Circle", "")});
  auto rebuild = [&] {
    bool rebuilt = false;
    EXPECT_TRUE(committer_->Run([&](storage::WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(rebuilt, index_->RebuildIfStale(txn));
      return Ok();
    }));
    return rebuilt;
  };
  EXPECT_TRUE(rebuild());  // a store without a rules version
  EXPECT_FALSE(rebuild());
  EXPECT_EQ(Find({}, "grief"), Ids{"!grief@b.test"});
  // Postings made by other rules (here: a stray one, an older version).
  auto dbi = env_->OpenTable("term_dirpost");
  ASSERT_TRUE(dbi);
  ASSERT_TRUE(committer_->Run([&](storage::WriteTxn& txn) -> Status {
    HEARTH_RETURN_IF_ERROR(txn.Put(*dbi, std::string("wgrie\0b.test\0old", 16),
                                   std::string(9, '\x01')));
    return txn.Put(*dbi, "v", EncodeU64BE(0));
  }));
  SearchPage page;
  EXPECT_EQ(Find({}, "grie", &page), Ids{"!grief@b.test"});  // orphan skipped
  EXPECT_EQ(page.total, 1u);
  EXPECT_TRUE(rebuild());
  EXPECT_EQ(Find({}, "grie"), Ids{"!grief@b.test"});
  EXPECT_EQ(Find({}, "circle"), Ids{"!grief@b.test"});
}

TEST_F(DirectoryIndexTest, PagesThroughRankedResults) {
  std::vector<GroupRecord> groups;
  for (int i = 0; i < 25; ++i)
    groups.push_back(Group("!g" + std::to_string(100 + i) + "@b.test",
                           "Recovery " + std::to_string(100 + i), "", {}, "en",
                           JoinPolicy::kOpen, {}, std::uint64_t(i)));
  Replace("b.test", groups);
  SearchPage page;
  SearchQuery q;
  q.limit = 10;
  auto first = Find(q, "recovery", &page);
  EXPECT_EQ(page.total, 25u);
  ASSERT_TRUE(page.next);
  EXPECT_EQ(*page.next, 10u);
  EXPECT_EQ(first.front(), "!g124@b.test");  // most members first
  q.offset = 20;
  auto last = Find(q, "recovery", &page);
  EXPECT_EQ(last.size(), 5u);
  EXPECT_FALSE(page.next);
  EXPECT_EQ(last.back(), "!g100@b.test");
  q.offset = 30;
  EXPECT_EQ(Find(q, "recovery", &page), Ids{});
}

}  // namespace
}  // namespace hearth::directory
