// The federated group directory across three real `hearth` processes on
// loopback: a public group is found on the other nodes within a bounded
// wait (by notice, long before the pull interval), updates and removals
// follow, private and unlisted groups never leave their node, a blocked
// peer's groups vanish at once, a limited peer's groups are listed but
// cannot be joined, an unreachable peer's groups turn stale, and bad
// input is refused.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/encoding.h"
#include "federation/node_keys.h"
#include "federation/request_auth.h"
#include "tests/support/node_process.h"

namespace hearth::testing {
namespace {

using nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

std::string G(const std::string& gid) {
  return "/api/v1/groups/" + PercentEncode(gid);
}

class DirectoryTest : public ::testing::Test {
 protected:
  // Pulls every 60 s: within a test's waits, only notices bring changes
  // (and the first pull when peers are trusted).
  static NodeOptions Options(
      const std::string& name,
      const std::string& directory = "directory_pull_s = 60\n") {
    return NodeOptions{.server_name = name,
                       .allow_http = true,
                       .federation_extra =
                           "retry_min_ms = 100\n"
                           "retry_max_s = 1\n" +
                           directory};
  }
  void SetUp() override {
    ASSERT_EQ(StartAndPeer({&a_, &b_, &c_}), "");
    alice_ = RegisterMember(a_, "alice");
    bob_ = RegisterMember(b_, "bob");
    cara_ = RegisterMember(c_, "cara");
    ASSERT_FALSE(alice_.empty() || bob_.empty() || cara_.empty());
  }

  std::string Create(NodeProcess& n, const std::string& token,
                     const std::string& slug, const std::string& name,
                     const std::string& visibility = "public") {
    json spec = {
        {"slug", slug},
        {"name", name},
        {"description", "A peer-led circle for people living with loss"},
        {"topics", {"grief", "bereavement"}},
        {"language", "en"},
        {"visibility", visibility},
        {"join_policy", "open"},
        {"meetings",
         {{{"weekday", "thursday"},
           {"time", "18:00"},
           {"timezone", "America/Chicago"},
           {"link", "https://meet.example/private-room"}}}}};
    Answer r = Call(n, "POST", "/api/v1/groups", token, spec);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("group_id", "");
  }

  // The groups a search on `n` returns (null on error).
  json Search(NodeProcess& n, const std::string& token,
              const std::string& query) {
    Answer r = Call(n, "GET", "/api/v1/directory?" + query, token);
    EXPECT_EQ(r.status, 200) << r.body.dump();
    return r.status == 200 ? r.body["groups"] : json();
  }
  // The entry for `gid` in a search, or null.
  json Find(NodeProcess& n, const std::string& token, const std::string& query,
            const std::string& gid) {
    json groups = Search(n, token, query);
    if (groups.is_array())
      for (const auto& g : groups)
        if (g["group_id"] == gid) return g;
    return json();
  }

  // `to`'s directory document as `from` asks for it (signed with its key).
  static httplib::Result FetchDocument(NodeProcess& from,
                                       const std::string& from_name,
                                       NodeProcess& to,
                                       const std::string& to_name,
                                       const std::string& query) {
    auto keys = federation::LoadKeyFile(from.data_dir() + "/node.key");
    std::string path = "/_hearth/v1/directory" + query;
    auto auth =
        federation::SignRequest(keys->front(), from_name, to_name, "GET", path,
                                SystemClock().NowMs(), nullptr);
    return to.Client()->Get(path.c_str(), {{"Authorization", *auth}});
  }

  NodeProcess a_{Options("a.test")};
  NodeProcess b_{Options("b.test")};
  NodeProcess c_{Options("c.test")};
  std::string alice_, bob_, cara_;
};

TEST_F(DirectoryTest, APublicGroupIsFoundElsewhereAndItsUpdatesFollow) {
  std::string gid = Create(a_, alice_, "grief-circle", "Grief Circle");
  // Found on the other two nodes by a word prefix, well before the 60 s
  // pull: the notice brings it.
  for (auto [node, token] : {std::pair{&b_, bob_}, std::pair{&c_, cara_}}) {
    json g;
    ASSERT_TRUE(WaitFor([&] {
      g = Find(*node, token, "q=grie", gid);
      return !g.is_null();
    })) << node->base_url();
    EXPECT_EQ(g["name"], "Grief Circle");
    EXPECT_EQ(g["node"], "a.test");
    EXPECT_EQ(g["local"], false);
    EXPECT_EQ(g["joinable"], true);
    EXPECT_EQ(g["stale"], false);
    EXPECT_EQ(g["topics"], json({"grief", "bereavement"}));
    EXPECT_EQ(g["meetings"][0]["weekday"], "thursday");
    // The meeting link is for members, not the directory.
    EXPECT_FALSE(g["meetings"][0].contains("link"));
  }
  // On its own node it is local.
  EXPECT_EQ(Find(a_, alice_, "q=grief", gid)["local"], true);

  // The owner's update reaches the others; accents do not matter.
  Answer r = Call(a_, "PATCH", G(gid), alice_,
                  {{"description", "Trauer und Verlust, im Café nebenan"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_TRUE(
      WaitFor([&] { return !Find(b_, bob_, "q=cafe", gid).is_null(); }));
  EXPECT_EQ(Find(b_, bob_, "q=CAF%C3%89", gid)["description"],
            "Trauer und Verlust, im Café nebenan");
  ASSERT_TRUE(
      WaitFor([&] { return !Find(c_, cara_, "q=trauer", gid).is_null(); }));
  // The old words are gone.
  EXPECT_TRUE(Find(b_, bob_, "q=loss", gid).is_null());

  // A join changes the member count everywhere.
  r = Call(b_, "POST", G(gid) + "/join", bob_, json::object());
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_TRUE(WaitFor([&] {
    return Find(c_, cara_, "q=grief", gid).value("member_count", 0) == 2;
  }));
  // Filters.
  EXPECT_FALSE(Find(c_, cara_,
                    "topic=grief&day=thursday&language=en"
                    "&join_policy=open&node=a.test",
                    gid)
                   .is_null());
  EXPECT_TRUE(Find(c_, cara_, "q=grief&day=monday", gid).is_null());
  EXPECT_TRUE(Find(c_, cara_, "q=grief&node=b.test", gid).is_null());
}

TEST_F(DirectoryTest, PrivateAndUnlistedGroupsNeverLeaveTheirNode) {
  std::string priv =
      Create(a_, alice_, "hidden-circle", "Hidden Circle", "private");
  std::string unlisted =
      Create(a_, alice_, "quiet-circle", "Quiet Circle", "unlisted");
  std::string open = Create(a_, alice_, "open-circle", "Open Circle");
  // Once the public one arrived, the others would have too.
  ASSERT_TRUE(
      WaitFor([&] { return !Find(b_, bob_, "q=circle", open).is_null(); }));
  ASSERT_TRUE(
      WaitFor([&] { return !Find(c_, cara_, "q=circle", open).is_null(); }));
  for (auto [node, token] :
       {std::pair{&a_, alice_}, std::pair{&b_, bob_}, std::pair{&c_, cara_}}) {
    for (const auto& q :
         {"q=circle", "q=hidden", "q=quiet", "node=a.test", ""}) {
      EXPECT_TRUE(Find(*node, token, q, priv).is_null()) << q;
      EXPECT_TRUE(Find(*node, token, q, unlisted).is_null()) << q;
    }
  }
  // Nor does the document a peer fetches: b asks a for it, signed.
  auto res = a_.Client()->Get("/_hearth/v1/directory");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);  // peers only, signed
  res = FetchDocument(b_, "b.test", a_, "a.test", "");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json doc = json::parse(res->body);
  EXPECT_EQ(doc["server_name"], "a.test");
  EXPECT_TRUE(doc["signatures"].contains("a.test"));
  ASSERT_EQ(doc["groups"].size(), 1u) << res->body;
  EXPECT_EQ(doc["groups"][0]["group_id"], open);
  EXPECT_EQ(res->body.find("meet.example"), std::string::npos)
      << "meeting links never leave the node";
  EXPECT_EQ(res->body.find("Hidden"), std::string::npos);
  EXPECT_EQ(res->body.find("Quiet"), std::string::npos);

  // A public group made private disappears from the others.
  Answer r = Call(a_, "PATCH", G(open), alice_, {{"visibility", "private"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_TRUE(
      WaitFor([&] { return Find(b_, bob_, "q=circle", open).is_null(); }));
  ASSERT_TRUE(
      WaitFor([&] { return Find(c_, cara_, "q=circle", open).is_null(); }));
  EXPECT_TRUE(Find(a_, alice_, "q=circle", open).is_null());
}

TEST_F(DirectoryTest, VersionsGrowOnlyWithListedChangesAndSurviveRestarts) {
  std::string gid = Create(a_, alice_, "steady", "Steady Circle");
  auto version = [&](const std::string& query = "") -> json {
    auto res = FetchDocument(c_, "c.test", a_, "a.test", query);
    if (!res || res->status != 200) return json();
    return json::parse(res->body)["version"];
  };
  // Wait for the publish of the new group.
  ASSERT_TRUE(WaitFor([&] {
    auto res = FetchDocument(c_, "c.test", a_, "a.test", "");
    return res && res->body.find("Steady Circle") != std::string::npos;
  }));
  json v1 = version();
  ASSERT_TRUE(v1.is_number_unsigned());
  // "Only if newer": the same version answers a small "not changed".
  auto res =
      FetchDocument(c_, "c.test", a_, "a.test",
                    "?newer_than=" + std::to_string(v1.get<std::uint64_t>()));
  ASSERT_TRUE(res);
  EXPECT_EQ(json::parse(res->body),
            json({{"changed", false}, {"version", v1}}));
  // Rules are not listed: no new version. A restart: the same version.
  Answer r = Call(a_, "PATCH", G(gid), alice_, {{"rules", "be gentle"}});
  ASSERT_EQ(r.status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(version(), v1);
  ASSERT_EQ(a_.Stop(), 0);
  std::string error;
  ASSERT_TRUE(a_.Start(&error)) << error;
  EXPECT_EQ(version(), v1);
  // A listed change: a greater version, and the old one is "older".
  r = Call(a_, "PATCH", G(gid), alice_, {{"description", "calm and slow"}});
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(WaitFor([&] {
    json v = version();
    return v.is_number_unsigned() &&
           v.get<std::uint64_t>() > v1.get<std::uint64_t>();
  }));
  res = FetchDocument(c_, "c.test", a_, "a.test",
                      "?newer_than=" + std::to_string(v1.get<std::uint64_t>()));
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("calm and slow"), std::string::npos);
}

TEST_F(DirectoryTest, ABlockedPeersGroupsVanishAtOnce) {
  std::string gid = Create(a_, alice_, "recovery", "Recovery Room");
  ASSERT_TRUE(
      WaitFor([&] { return !Find(b_, bob_, "q=recovery", gid).is_null(); }));
  ASSERT_EQ(AdminCall(b_, "POST", "/admin/v1/peers/a.test/block")["state"],
            "blocked");
  // No wait: the block purged them in the same transaction.
  EXPECT_TRUE(Search(b_, bob_, "q=recovery").empty());
  EXPECT_TRUE(Search(b_, bob_, "node=a.test").empty());
  // A change on a does not bring them back.
  Answer r = Call(a_, "PATCH", G(gid), alice_, {{"name", "Recovery Room 2"}});
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(WaitFor([&] {
    return Find(c_, cara_, "q=recovery", gid).value("name", "") ==
           "Recovery Room 2";
  }));
  EXPECT_TRUE(Search(b_, bob_, "q=recovery").empty());
  // c, which did not block a, still lists it.
  EXPECT_FALSE(Find(c_, cara_, "q=room", gid).is_null());
}

TEST_F(DirectoryTest, ALimitedPeersGroupsAreListedButCannotBeJoined) {
  ASSERT_EQ(AdminCall(b_, "POST", "/admin/v1/peers/c.test/limit")["state"],
            "limited");
  std::string gid = Create(c_, cara_, "anxiety-peers", "Anxiety Peers");
  json g;
  ASSERT_TRUE(WaitFor([&] {
    g = Find(b_, bob_, "q=anxiety", gid);
    return !g.is_null();
  }));
  EXPECT_EQ(g["joinable"], false);
  EXPECT_EQ(g["node"], "c.test");
  Answer r = Call(b_, "POST", G(gid) + "/join", bob_, json::object());
  EXPECT_EQ(r.status, 403) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "peer_limited");
  // a trusts c fully: its members may join. (a pulls c on its own
  // schedule, maybe a second after b did.)
  json ga;
  ASSERT_TRUE(WaitFor([&] {
    ga = Find(a_, alice_, "q=anxiety", gid);
    return !ga.is_null();
  }));
  EXPECT_EQ(ga["joinable"], true);
}

TEST_F(DirectoryTest, DirectoryInputIsValidated) {
  for (const auto& [query, code] :
       std::vector<std::pair<std::string, std::string>>{
           {"day=someday", "invalid_day"},
           {"join_policy=maybe", "invalid_join_policy"},
           {"language=EN_us!", "invalid_language"},
           {"node=not%20a%20server", "invalid_node"},
           {"q=" + std::string(201, 'a'), "invalid_q"},
           {"q=a+b+c+d+e+f+g+h+i", "invalid_q"},
           {"limit=0", "invalid_query"},
           {"limit=101", "invalid_query"},
           {"offset=-1", "invalid_query"}}) {
    Answer r = Call(a_, "GET", "/api/v1/directory?" + query, alice_);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(r.body["error"]["code"], code) << query << r.body.dump();
  }
  Answer r = Call(a_, "GET", "/api/v1/directory?q=x", "");
  EXPECT_EQ(r.status, 401);
  // Pagination.
  for (int i = 0; i < 5; ++i)
    Create(a_, alice_, "page-" + std::to_string(i),
           "Paged " + std::to_string(i));
  // Our own listing is indexed after the publish delay (200 ms).
  ASSERT_TRUE(WaitFor([&] {
    r = Call(a_, "GET", "/api/v1/directory?q=paged&limit=3", alice_);
    return r.status == 200 && r.body["total"] == 5;
  }));
  EXPECT_EQ(r.body["groups"].size(), 3u);
  EXPECT_EQ(r.body["total"], 5);
  ASSERT_EQ(r.body["next"], 3);
  r = Call(a_, "GET", "/api/v1/directory?q=paged&limit=3&offset=3", alice_);
  EXPECT_EQ(r.body["groups"].size(), 2u);
  EXPECT_TRUE(r.body["next"].is_null());
}

TEST_F(DirectoryTest, AnUnreachablePeersGroupsTurnStaleButStayListed) {
  // a pulls every second and calls a peer stale after 2 s of silence.
  ASSERT_EQ(a_.Stop(), 0);
  std::string path = a_.data_dir() + "/hearth.toml";
  std::string config = ReadFile(path);
  auto at = config.find("directory_pull_s = 60\n");
  ASSERT_NE(at, std::string::npos);
  config.replace(at, 22, "directory_pull_s = 1\ndirectory_stale_s = 2\n");
  WriteFile(path, config);
  std::string error;
  ASSERT_TRUE(a_.Start(&error)) << error;

  std::string gid = Create(c_, cara_, "night-owls", "Night Owls");
  json owls;
  ASSERT_TRUE(WaitFor([&] {
    owls = Find(a_, alice_, "q=owls", gid);
    return !owls.is_null();
  }));
  EXPECT_EQ(owls["stale"], false);
  c_.Stop();
  ASSERT_TRUE(WaitFor([&] {
    return Find(a_, alice_, "q=owls", gid).value("stale", false);
  })) << "c's groups never turned stale";
  // Still listed, and ranked after fresh matches.
  EXPECT_EQ(Find(a_, alice_, "q=owls", gid)["name"], "Night Owls");
}

}  // namespace
}  // namespace hearth::testing
