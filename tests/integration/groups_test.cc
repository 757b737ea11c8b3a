// Support groups and one-on-one conversations across three real `hearth`
// processes on loopback: membership relayed to the host, posts sequenced
// and fanned out by the host, histories that converge, catch-up after a
// restart, approval, bans, conversations with consent and blocks, sync
// long-polls, and the access-control refusals.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/encoding.h"
#include "federation/canonical_json.h"
#include "federation/node_keys.h"
#include "federation/request_auth.h"
#include "federation/signed_json.h"
#include "storage/env.h"
#include "tests/support/node_process.h"

namespace hearth::testing {
namespace {

using nlohmann::json;

std::string G(const std::string& gid) {
  return "/api/v1/groups/" + PercentEncode(gid);
}
std::string C(const std::string& member) {
  return "/api/v1/conversations/" + PercentEncode(member);
}

// (seq, event id) of a group's whole history as `token` sees it.
std::vector<std::pair<std::uint64_t, std::string>> History(
    NodeProcess& n, const std::string& token, const std::string& gid) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  std::string after = "0";
  for (int page = 0; page < 100; ++page) {
    Answer a =
        Call(n, "GET", G(gid) + "/messages?limit=7&after=" + after, token);
    if (a.status != 200) return out;
    for (const auto& m : a.body["messages"])
      out.emplace_back(m["seq"].get<std::uint64_t>(), m["event_id"]);
    if (a.body["next"].is_null()) break;
    after = std::to_string(a.body["next"].get<std::uint64_t>());
  }
  return out;
}

class GroupsTest : public ::testing::Test {
 protected:
  static NodeOptions Options(const std::string& name) {
    return NodeOptions{.server_name = name,
                       .allow_http = true,
                       .federation_extra =
                           "retry_min_ms = 100\n"
                           "retry_max_s = 1\n"};
  }
  void SetUp() override {
    ASSERT_EQ(StartAndPeer({&a_, &b_, &c_}), "");
    alice_ = RegisterMember(a_, "alice");
    bob_ = RegisterMember(b_, "bob");
    cara_ = RegisterMember(c_, "cara");
    ASSERT_FALSE(alice_.empty() || bob_.empty() || cara_.empty());
  }

  std::string CreateGroup(const std::string& slug, const std::string& policy,
                          const std::string& visibility = "public",
                          const std::string& rules = "") {
    json spec = {{"slug", slug},
                 {"name", "Group " + slug},
                 {"description", "peer support"},
                 {"topics", {"grief", "anxiety"}},
                 {"language", "en"},
                 {"visibility", visibility},
                 {"join_policy", policy},
                 {"meetings",
                  {{{"weekday", "tuesday"},
                    {"time", "19:30"},
                    {"timezone", "Europe/Berlin"},
                    {"link", "https://meet.example/calm"}}}}};
    if (!rules.empty()) spec["rules"] = rules;
    Answer r = Call(a_, "POST", "/api/v1/groups", alice_, spec);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("group_id", "");
  }

  void Join(NodeProcess& n, const std::string& token, const std::string& gid,
            const std::string& expect = "joined") {
    Answer r = Call(n, "POST", G(gid) + "/join", token, json::object());
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["status"], expect);
  }

  // Group message bodies from `token`'s long polls (10 s each) after
  // `*since`, until `want` arrived or after `max_polls` polls.
  std::vector<std::string> SyncMessages(NodeProcess& n,
                                        const std::string& token,
                                        std::string* since, size_t want,
                                        int max_polls) {
    std::vector<std::string> bodies;
    for (int i = 0; i < max_polls && bodies.size() < want; ++i) {
      Answer s =
          Call(n, "GET", "/api/v1/sync?timeout=10000&since=" + *since, token);
      EXPECT_EQ(s.status, 200);
      if (s.status != 200) break;
      *since = s.body["next"];
      for (const auto& e : s.body["events"])
        if (e["type"] == "group.message") bodies.push_back(e["body"]);
    }
    return bodies;
  }

  std::string Post(NodeProcess& n, const std::string& token,
                   const std::string& gid, const std::string& body) {
    Answer r = Call(n, "POST", G(gid) + "/messages", token, {{"body", body}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("event_id", "");
  }

  // Sends a request signed with `node`'s own key, as that node would.
  httplib::Result Signed(NodeProcess& from, const std::string& from_name,
                         NodeProcess& to, const std::string& to_name,
                         const std::string& method, const std::string& path,
                         const json* body) {
    auto keys = federation::LoadKeyFile(from.data_dir() + "/node.key");
    EXPECT_TRUE(keys);
    std::string text = body ? *federation::Canonicalize(*body) : "";
    auto auth = federation::SignRequest(keys->front(), from_name, to_name,
                                        method, path, clock_.NowMs(), body);
    httplib::Headers h{{"Authorization", *auth}};
    auto c = to.Client();
    return method == "GET" ? c->Get(path.c_str(), h)
                           : c->Post(path.c_str(), h, text, "application/json");
  }

  // Puts `events` to `to` in a transaction that `from` signs, as its
  // sender would; returns the per-event results.
  json SendAs(NodeProcess& from, const std::string& from_name, NodeProcess& to,
              const std::string& to_name, const json& events) {
    auto keys = federation::LoadKeyFile(from.data_dir() + "/node.key");
    EXPECT_TRUE(keys);
    json txn = {{"origin", from_name},
                {"destination", to_name},
                {"ts", clock_.NowMs()},
                {"events", events}};
    std::string path = "/_hearth/v1/send/test-" + std::to_string(++sent_);
    auto auth = federation::SignRequest(keys->front(), from_name, to_name,
                                        "PUT", path, clock_.NowMs(), &txn);
    auto res =
        to.Client()->Put(path.c_str(), {{"Authorization", *auth}},
                         *federation::Canonicalize(txn), "application/json");
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return JsonOf(res)["results"];
  }

  SystemClock clock_;
  int sent_ = 0;
  NodeProcess a_{Options("a.test")};
  NodeProcess b_{Options("b.test")};
  NodeProcess c_{Options("c.test")};
  std::string alice_, bob_, cara_;
};

TEST_F(GroupsTest, HistoriesOnThreeNodesConvergeToTheSameEventsInHostOrder) {
  std::string gid = CreateGroup("calm-circle", "open");
  ASSERT_EQ(gid, "!calm-circle@a.test");
  Join(b_, bob_, gid);
  Join(c_, cara_, gid);
  // A remote group reads through the member's own node, with membership.
  Answer info = Call(b_, "GET", G(gid), bob_);
  ASSERT_EQ(info.status, 200) << info.body.dump();
  EXPECT_EQ(info.body["membership"], "joined");
  EXPECT_EQ(info.body["member_count"], 3);
  EXPECT_EQ(info.body["meetings"][0]["timezone"], "Europe/Berlin");

  std::set<std::string> posted;
  for (int i = 0; i < 5; ++i) {
    posted.insert(Post(a_, alice_, gid, "from a " + std::to_string(i)));
    posted.insert(Post(b_, bob_, gid, "from b " + std::to_string(i)));
    posted.insert(Post(c_, cara_, gid, "from c " + std::to_string(i)));
  }
  ASSERT_EQ(posted.size(), 15u);
  auto host = History(a_, alice_, gid);
  ASSERT_EQ(host.size(), 15u);
  for (size_t i = 0; i < host.size(); ++i) EXPECT_EQ(host[i].first, i + 1);
  EXPECT_TRUE(WaitFor([&] { return History(b_, bob_, gid) == host; }));
  EXPECT_TRUE(WaitFor([&] { return History(c_, cara_, gid) == host; }));
  std::set<std::string> ids;
  for (const auto& [seq, id] : host) ids.insert(id);
  EXPECT_EQ(ids, posted);

  // Content warnings and replies travel with the message.
  Answer r = Call(b_, "POST", G(gid) + "/messages", bob_,
                  {{"body", "hard day"},
                   {"content_warning", "loss"},
                   {"reply_to", host[0].second}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_TRUE(WaitFor([&] {
    Answer h = Call(c_, "GET", G(gid) + "/messages?after=15", cara_);
    return h.status == 200 && h.body["messages"].size() == 1 &&
           h.body["messages"][0]["content_warning"] == "loss" &&
           h.body["messages"][0]["reply_to"] == host[0].second &&
           h.body["messages"][0]["author"] == "@bob@b.test";
  }));
}

TEST_F(GroupsTest, AStoppedNodeCatchesUpOnRestartWithNoGapOrDuplicate) {
  std::string gid = CreateGroup("night-owls", "open");
  Join(b_, bob_, gid);
  Join(c_, cara_, gid);
  Post(a_, alice_, gid, "before");
  ASSERT_TRUE(WaitFor([&] { return History(c_, cara_, gid).size() == 1; }));
  ASSERT_EQ(c_.Stop(), 0);
  for (int i = 0; i < 12; ++i) {
    Post(i % 2 ? a_ : b_, i % 2 ? alice_ : bob_, gid, "while c is down");
  }
  ASSERT_TRUE(c_.Start());
  auto host = History(a_, alice_, gid);
  ASSERT_EQ(host.size(), 13u);
  EXPECT_TRUE(WaitFor([&] { return History(c_, cara_, gid) == host; }))
      << c_.log();
  // And the outbox's late copies change nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(History(c_, cara_, gid), host);
}

TEST_F(GroupsTest, ANodeCutOffHasABoundedQueueAndBackfillsTheGap) {
  // a (the host) lets messages of one group replace each other in a
  // peer's queue once 3 events wait for it.
  ASSERT_EQ(a_.Stop(), 0);
  const std::string path = a_.data_dir() + "/hearth.toml";
  std::stringstream config;
  config << std::ifstream(path).rdbuf();
  std::string text = config.str();
  auto at = text.find("[federation]\n");
  ASSERT_NE(at, std::string::npos);
  text.insert(at + 13, "queue_collapse_events = 3\n");
  std::ofstream(path) << text;
  ASSERT_TRUE(a_.Start());

  std::string gid = CreateGroup("long-night", "open");
  Join(b_, bob_, gid);
  Join(c_, cara_, gid);
  Post(a_, alice_, gid, "before");
  ASSERT_TRUE(WaitFor([&] { return History(c_, cara_, gid).size() == 1; }));
  auto depth = [&](const std::string& peer) {
    json peers = AdminCall(a_, "GET", "/admin/v1/peers");
    for (const auto& p : peers["peers"])
      if (p["server_name"] == peer) return p["queue_depth"].get<int>();
    return -1;
  };
  // c stops taking a's deliveries, but keeps running (a restart would
  // backfill every group anyway): it limits a, so a's transactions are
  // refused with 403 and a's sender backs off and tries again.
  int status = 0;
  AdminCall(c_, "POST", "/admin/v1/peers/a.test/limit", json::object(),
            &status);
  ASSERT_EQ(status, 200);
  for (int i = 0; i < 20; ++i) {
    Post(i % 2 ? a_ : b_, i % 2 ? alice_ : bob_, gid, "while c is away");
  }
  // Not 20: what was waiting before, then one message of the group.
  int held = depth("c.test");
  EXPECT_GE(held, 1);
  EXPECT_LE(held, 4);
  // a's log says so (at its next failed delivery to c).
  EXPECT_TRUE(WaitFor([&] {
    return a_.log().find("sender c.test: ") != std::string::npos &&
           a_.log().find("newest message now replaces") != std::string::npos;
  })) << a_.log();
  // b, which keeps up, got every one of them in order.
  auto host = History(a_, alice_, gid);
  ASSERT_EQ(host.size(), 21u);
  EXPECT_TRUE(WaitFor([&] { return History(b_, bob_, gid) == host; }));

  // c takes a's deliveries again: the newest message shows it the gap,
  // and it fetches the rest from a.
  AdminCall(c_, "POST", "/admin/v1/peers/a.test/trust", json::object(),
            &status);
  ASSERT_EQ(status, 200);
  EXPECT_TRUE(WaitFor([&] { return History(c_, cara_, gid) == host; }))
      << c_.log();
  EXPECT_TRUE(WaitFor([&] { return depth("c.test") == 0; }));
}

TEST_F(GroupsTest, PostsAcknowledgedBeforeTheHostIsKilledAreKeptInOrder) {
  std::string gid = CreateGroup("steady", "open");
  Join(b_, bob_, gid);
  Join(c_, cara_, gid);
  // Posters on the host and on b (relayed), until the host is killed.
  std::mutex mu;
  std::map<std::uint64_t, std::string> acked;  // seq -> event id
  std::atomic<bool> stop{false};
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      NodeProcess& n = t % 2 ? b_ : a_;
      const std::string& token = t % 2 ? bob_ : alice_;
      for (int i = 0; !stop && i < 100000; ++i) {
        Answer r =
            Call(n, "POST", G(gid) + "/messages", token,
                 {{"body", "p" + std::to_string(t) + "-" + std::to_string(i)}});
        if (r.status != 201) {
          // The host is gone (b answers 503 for it): wait for the stop.
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        auto [it, fresh] = acked.emplace(r.body["seq"].get<std::uint64_t>(),
                                         r.body["event_id"]);
        EXPECT_TRUE(fresh) << "seq " << it->first << " acknowledged twice";
      }
    });
  }
  bool enough = WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acked.size() >= 150;
      },
      std::chrono::seconds(60));
  a_.Kill();
  stop = true;
  for (auto& p : posters) p.join();
  ASSERT_TRUE(enough) << "too few posts acknowledged\n" << a_.log();

  ASSERT_TRUE(a_.Start());
  auto host = History(a_, alice_, gid);
  // Seqs 1..N without a hole, and every acknowledged post at its seq.
  for (size_t i = 0; i < host.size(); ++i)
    ASSERT_EQ(host[i].first, i + 1) << "a hole before seq " << host[i].first;
  std::map<std::string, std::uint64_t> seen;
  for (const auto& [seq, id] : host)
    EXPECT_TRUE(seen.emplace(id, seq).second) << id << " stored twice";
  for (const auto& [seq, id] : acked) {
    auto it = seen.find(id);
    ASSERT_NE(it, seen.end()) << "acknowledged post " << id << " is gone";
    EXPECT_EQ(it->second, seq) << id << " moved";
  }
  // The other nodes converge on it: what the host's sender had not
  // delivered when it died goes after the restart.
  EXPECT_TRUE(WaitFor([&] { return History(b_, bob_, gid) == host; },
                      std::chrono::seconds(60)))
      << b_.log();
  EXPECT_TRUE(WaitFor([&] { return History(c_, cara_, gid) == host; },
                      std::chrono::seconds(60)))
      << c_.log();
}

TEST_F(GroupsTest, AFacilitatorApprovesARemoteMemberFromPendingToJoined) {
  std::string gid = CreateGroup("approved", "approval", "public",
                                "Be kind. What is said "
                                "here stays here.");
  // Rules must be accepted.
  Answer r = Call(b_, "POST", G(gid) + "/join", bob_, json::object());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "rules_not_accepted");
  r = Call(b_, "POST", G(gid) + "/join", bob_, {{"accept_rules", true}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["status"], "pending");
  EXPECT_EQ(Call(b_, "GET", G(gid), bob_).body["membership"], "pending");
  // Pending members read nothing.
  EXPECT_EQ(Call(b_, "GET", G(gid) + "/messages", bob_).status, 403);

  Answer reqs = Call(a_, "GET", G(gid) + "/requests", alice_);
  ASSERT_EQ(reqs.status, 200);
  ASSERT_EQ(reqs.body["requests"].size(), 1u);
  EXPECT_EQ(reqs.body["requests"][0]["member_id"], "@bob@b.test");
  // Only facilitators see or decide requests.
  EXPECT_EQ(Call(b_, "GET", G(gid) + "/requests", bob_).status, 403);

  // Bob waits in sync on his node; the approval wakes him.
  Answer first = Call(b_, "GET", "/api/v1/sync", bob_);
  ASSERT_EQ(first.status, 200);
  std::string since = first.body["next"];
  std::thread approve([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Answer ok =
        Call(a_, "POST",
             G(gid) + "/requests/" + PercentEncode("@bob@b.test") + "/approve",
             alice_);
    EXPECT_EQ(ok.status, 200) << ok.body.dump();
  });
  bool joined = false;
  for (int i = 0; i < 5 && !joined; ++i) {
    Answer s =
        Call(b_, "GET", "/api/v1/sync?timeout=10000&since=" + since, bob_);
    ASSERT_EQ(s.status, 200);
    since = s.body["next"];
    for (const auto& e : s.body["events"])
      joined =
          joined || (e["type"] == "group.membership" && e["state"] == "joined");
  }
  approve.join();
  EXPECT_TRUE(joined);
  EXPECT_EQ(Call(b_, "GET", G(gid), bob_).body["membership"], "joined");
  Post(b_, bob_, gid, "thank you for having me");
}

TEST_F(GroupsTest, ABannedRemoteMembersPostsAreRefusedByTheHost) {
  std::string gid = CreateGroup("banned", "open");
  Join(b_, bob_, gid);
  Post(b_, bob_, gid, "hello");
  Answer ban = Call(a_, "POST",
                    G(gid) + "/bans/" + PercentEncode("@bob@b.test"), alice_);
  ASSERT_EQ(ban.status, 200) << ban.body.dump();
  // The host refuses a post b relays for bob, whatever b believes.
  SystemClock clock;
  json event = {
      {"type", "group.message"}, {"origin", "b.test"},
      {"author", "@bob@b.test"}, {"group", gid},
      {"ts", clock.NowMs()},     {"content", {{"body", "let me back in"}}}};
  auto keys = federation::LoadKeyFile(b_.data_dir() + "/node.key");
  ASSERT_TRUE(federation::SignJson(event, "b.test", keys->front()));
  std::string path = "/_hearth/v1/groups/" + PercentEncode(gid) + "/messages";
  auto res = Signed(b_, "b.test", a_, "a.test", "POST", path, &event);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;
  EXPECT_EQ(JsonOf(res)["error"]["code"], "banned");
  // And through the member API on b.
  Answer r = Call(b_, "POST", G(gid) + "/messages", bob_, {{"body", "hi"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body["error"]["code"], "banned");
  EXPECT_EQ(History(a_, alice_, gid).size(), 1u);
  // A leave relayed for bob answers that the ban holds, and b keeps it
  // even if the ban's own event comes after that answer.
  std::string leave = "/_hearth/v1/groups/" + PercentEncode(gid) + "/leave";
  json who = {{"member", "@bob@b.test"}};
  auto left = Signed(b_, "b.test", a_, "a.test", "POST", leave, &who);
  ASSERT_TRUE(left);
  ASSERT_EQ(left->status, 200) << left->body;
  EXPECT_EQ(JsonOf(left)["status"], "banned");
  EXPECT_GT(JsonOf(left)["version"].get<std::uint64_t>(), 0u);
  // b learns of the ban.
  EXPECT_TRUE(WaitFor([&] {
    return Call(b_, "GET", G(gid), bob_).body["membership"] == "banned";
  }));
  EXPECT_EQ(Call(b_, "POST", G(gid) + "/join", bob_).status, 403);
}

// Host answers and group.membership events can cross, and an event can be
// sent again after a restart: the member's node keeps the newest word by
// the host's membership version, also once the member's row is gone.
TEST_F(GroupsTest, ALateOrRepeatedMembershipEventDoesNotUndoANewerState) {
  std::string gid = CreateGroup("late-word", "invite");
  const std::string bob = "@bob@b.test";
  auto state = [&] {
    return Call(b_, "GET", G(gid), bob_).body["membership"].get<std::string>();
  };
  ASSERT_EQ(Call(a_, "POST", G(gid) + "/invites/" + PercentEncode(bob), alice_)
                .status,
            200);
  ASSERT_TRUE(WaitFor([&] { return state() == "invited"; }));
  const std::int64_t invited_ts = clock_.NowMs();
  Join(b_, bob_, gid);
  ASSERT_EQ(Call(b_, "POST", G(gid) + "/leave", bob_).status, 200);
  ASSERT_EQ(state(), "none");

  // The invitation again, as a's outbox would send it late: signed by a,
  // with the version the real one had (the owner's row was 1).
  auto group = Signed(b_, "b.test", a_, "a.test", "GET",
                      "/_hearth/v1/groups/" + PercentEncode(gid), nullptr);
  ASSERT_TRUE(group);
  ASSERT_EQ(group->status, 200) << group->body;
  auto a_keys = federation::LoadKeyFile(a_.data_dir() + "/node.key");
  ASSERT_TRUE(a_keys);
  auto membership = [&](const std::string& st, std::uint64_t version,
                        std::int64_t ts) {
    json e = {{"type", "group.membership"},
              {"origin", "a.test"},
              {"group", gid},
              {"ts", ts},
              {"content",
               {{"member", bob},
                {"state", st},
                {"role", "member"},
                {"group", JsonOf(group)}}}};
    if (version) e["content"]["version"] = version;
    EXPECT_TRUE(federation::SignJson(e, "a.test", a_keys->front()));
    return e;
  };
  json results = SendAs(a_, "a.test", b_, "b.test",
                        json::array({membership("invited", 2, invited_ts)}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE((*results.begin()).contains("error")) << results.dump();
  EXPECT_EQ(state(), "none");
  // From a host that sends no version (an older build), its clock orders:
  // the leave's time outlives the row.
  SendAs(a_, "a.test", b_, "b.test",
         json::array({membership("invited", 0, invited_ts)}));
  EXPECT_EQ(state(), "none");

  // A newer word is taken: a invites bob again.
  ASSERT_EQ(Call(a_, "POST", G(gid) + "/invites/" + PercentEncode(bob), alice_)
                .status,
            200);
  ASSERT_TRUE(WaitFor([&] { return state() == "invited"; }));

  // The same event twice (a resend after a restart) tells bob once.
  Answer head = Call(b_, "GET", "/api/v1/sync", bob_);
  ASSERT_EQ(head.status, 200);
  json twice = membership("banned", 1000, clock_.NowMs());
  SendAs(a_, "a.test", b_, "b.test", json::array({twice}));
  SendAs(a_, "a.test", b_, "b.test", json::array({twice}));
  EXPECT_EQ(state(), "banned");
  Answer items = Call(
      b_, "GET",
      "/api/v1/sync?timeout=0&since=" + head.body["next"].get<std::string>(),
      bob_);
  ASSERT_EQ(items.status, 200);
  int told = 0;
  for (const auto& e : items.body["events"])
    told += e["type"] == "group.membership" ? 1 : 0;
  EXPECT_EQ(told, 1) << items.body.dump();
}

TEST_F(GroupsTest, ARetriedRelayGetsItsFirstAcceptBackEvenAfterARestart) {
  std::string gid = CreateGroup("retries", "open");
  Join(b_, bob_, gid);
  Post(a_, alice_, gid, "first");
  auto keys = federation::LoadKeyFile(b_.data_dir() + "/node.key");
  ASSERT_TRUE(keys);
  auto relay = [&](const std::string& body) {
    json event = {{"type", "group.message"}, {"origin", "b.test"},
                  {"author", "@bob@b.test"}, {"group", gid},
                  {"ts", clock_.NowMs()},    {"content", {{"body", body}}}};
    EXPECT_TRUE(federation::SignJson(event, "b.test", keys->front()));
    return event;
  };
  std::string path = "/_hearth/v1/groups/" + PercentEncode(gid) + "/messages";
  auto send = [&](const json& event) {
    auto res = Signed(b_, "b.test", a_, "a.test", "POST", path, &event);
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    return res ? JsonOf(res)["accept"] : json();
  };
  json once = relay("said once");
  json first = send(once);
  EXPECT_EQ(first["seq"], 2);
  // The answer was lost; b asks again: the same accept, not a second seq.
  EXPECT_EQ(send(once), first);
  json other = relay("said again");
  EXPECT_EQ(send(other)["seq"], 3);
  // The index is in the store, not in memory.
  ASSERT_EQ(a_.Stop(), 0);
  ASSERT_TRUE(a_.Start());
  EXPECT_EQ(send(once), first);
  EXPECT_EQ(send(other)["seq"], 3);
  auto h = History(a_, alice_, gid);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[1].second, *federation::EventId(once));
  EXPECT_EQ(h[2].second, *federation::EventId(other));
}

TEST_F(GroupsTest, APostIndexedByAnOlderBuildIsStillFoundWhenRetried) {
  // Builds before `tseventid_message` kept the host's index of accepted
  // events by event id alone, in `eventid_message`; a relay retried after
  // the upgrade must still get its first accept back.
  std::string gid = CreateGroup("upgraded", "open");
  Join(b_, bob_, gid);
  auto keys = federation::LoadKeyFile(b_.data_dir() + "/node.key");
  ASSERT_TRUE(keys);
  json event = {{"type", "group.message"}, {"origin", "b.test"},
                {"author", "@bob@b.test"}, {"group", gid},
                {"ts", clock_.NowMs()},    {"content", {{"body", "once"}}}};
  ASSERT_TRUE(federation::SignJson(event, "b.test", keys->front()));
  const std::string id = *federation::EventId(event);
  std::string path = "/_hearth/v1/groups/" + PercentEncode(gid) + "/messages";
  auto send = [&](const json& e) {
    auto res = Signed(b_, "b.test", a_, "a.test", "POST", path, &e);
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    return res ? JsonOf(res)["accept"] : json();
  };
  json first = send(event);
  ASSERT_EQ(first["seq"], 1);

  // Rewrite a's store as the older build left it: the entry moves from
  // (ts, event id) to event id alone.
  ASSERT_EQ(a_.Stop(), 0);
  {
    auto env = storage::Env::Open(a_.data_dir() + "/store", {});
    ASSERT_TRUE(env) << env.error().message;
    auto by_ts = (*env)->OpenTable("tseventid_message");
    auto by_id = (*env)->OpenTable("eventid_message");
    ASSERT_TRUE(by_ts && by_id);
    const std::string ts_key =
        EncodeU64BE(std::uint64_t(event["ts"].get<std::int64_t>())) + id;
    ASSERT_TRUE((*env)->Update([&](storage::WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(auto value, txn.Get(*by_ts, ts_key));
      if (!value) return Error::NotFound("missing", "no (ts, id) entry");
      std::string v(*value);
      HEARTH_ASSIGN_OR_RETURN(bool gone, txn.Delete(*by_ts, ts_key));
      (void)gone;
      return txn.Put(*by_id, id, v);
    }));
  }
  ASSERT_TRUE(a_.Start());
  EXPECT_EQ(send(event), first);
  auto h = History(a_, alice_, gid);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].second, id);
}

TEST_F(GroupsTest, AccessControlRefusesNonMembersAndForeignNodes) {
  std::string priv = CreateGroup("private-room", "invite", "private");
  std::string pub = CreateGroup("open-room", "open");
  std::string dave = RegisterMember(a_, "dave");
  // A private group does not exist for a non-member, locally or remotely.
  EXPECT_EQ(Call(a_, "GET", G(priv), dave).status, 404);
  EXPECT_EQ(Call(a_, "GET", G(priv) + "/messages", dave).status, 404);
  EXPECT_EQ(Call(b_, "GET", G(priv), bob_).status, 404);
  EXPECT_EQ(Call(b_, "POST", G(priv) + "/join", bob_).status, 404);
  // A public group: readable description, but no history, no posting.
  EXPECT_EQ(Call(a_, "GET", G(pub), dave).status, 200);
  EXPECT_EQ(Call(a_, "GET", G(pub) + "/messages", dave).status, 403);
  Answer p = Call(a_, "POST", G(pub) + "/messages", dave, {{"body", "x"}});
  EXPECT_EQ(p.status, 403);
  EXPECT_EQ(p.body["error"]["code"], "not_member");
  EXPECT_EQ(
      Call(b_, "POST", G(pub) + "/messages", bob_, {{"body", "x"}}).status,
      403);
  // Invite-only: an invite lets bob in.
  Answer inv = Call(
      a_, "POST", G(priv) + "/invites/" + PercentEncode("@bob@b.test"), alice_);
  ASSERT_EQ(inv.status, 200) << inv.body.dump();
  EXPECT_TRUE(WaitFor([&] {
    return Call(b_, "GET", "/api/v1/me/groups", bob_)
               .body["groups"]
               .dump()
               .find("invited") != std::string::npos;
  }));
  Join(b_, bob_, priv);
  Post(a_, alice_, priv, "welcome");

  // Backfill by a node with no members is refused; for a private group
  // the group does not even exist for it.
  std::string events = "/_hearth/v1/groups/" + PercentEncode(priv) + "/events";
  auto res = Signed(c_, "c.test", a_, "a.test", "GET", events, nullptr);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404) << res->body;
  Post(a_, alice_, pub, "public but members only");
  res = Signed(c_, "c.test", a_, "a.test", "GET",
               "/_hearth/v1/groups/" + PercentEncode(pub) + "/events", nullptr);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;
  EXPECT_EQ(JsonOf(res)["error"]["code"], "no_members");
  // A post relayed for someone who is not a member is refused by the host.
  json stray = {
      {"type", "group.message"},  {"origin", "c.test"},
      {"author", "@cara@c.test"}, {"group", pub},
      {"ts", clock_.NowMs()},     {"content", {{"body", "let me in"}}}};
  auto c_keys = federation::LoadKeyFile(c_.data_dir() + "/node.key");
  ASSERT_TRUE(federation::SignJson(stray, "c.test", c_keys->front()));
  res =
      Signed(c_, "c.test", a_, "a.test", "POST",
             "/_hearth/v1/groups/" + PercentEncode(pub) + "/messages", &stray);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;
  EXPECT_EQ(JsonOf(res)["error"]["code"], "not_member");
  res = Signed(b_, "b.test", a_, "a.test", "GET", events, nullptr);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(JsonOf(res)["events"].size(), 1u);
  res = Signed(c_, "c.test", a_, "a.test", "GET",
               "/_hearth/v1/groups/" + PercentEncode(priv), nullptr);
  EXPECT_EQ(res->status, 404);
  // A node may speak only for its own members.
  json join = {{"member", "@bob@b.test"}, {"accept_rules", true}};
  res = Signed(c_, "c.test", a_, "a.test", "POST",
               "/_hearth/v1/groups/" + PercentEncode(pub) + "/join", &join);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(JsonOf(res)["error"]["code"], "wrong_origin");
}

TEST_F(GroupsTest, ForgedHostSignaturesOnFannedOutEventsAreRefused) {
  std::string gid = CreateGroup("forgery", "open");
  Join(b_, bob_, gid);
  std::string real = Post(a_, alice_, gid, "real");
  ASSERT_TRUE(WaitFor([&] { return History(b_, bob_, gid).size() == 1; }));
  SystemClock clock;
  auto a_keys = federation::LoadKeyFile(a_.data_dir() + "/node.key");
  auto c_keys = federation::LoadKeyFile(c_.data_dir() + "/node.key");
  json inner = {{"type", "group.message"},   {"origin", "a.test"},
                {"author", "@alice@a.test"}, {"group", gid},
                {"ts", clock.NowMs()},       {"content", {{"body", "forged"}}}};
  json accept = {{"type", "group.accept"}, {"origin", "a.test"},
                 {"group", gid},           {"seq", 2},
                 {"ts", clock.NowMs()},    {"content", json::object()},
                 {"event", inner}};
  // Signed by a key that is not a's (same key id), sent in a transaction
  // that a really signed.
  auto forger = federation::SigningKey::FromSeed(
      federation::SigningKey::Generate().seed(), a_keys->front().key_id());
  json forged = accept;
  ASSERT_TRUE(forger);
  ASSERT_TRUE(federation::SignJson(forged, "a.test", *forger));
  // An accept for the group, but sent by c, which is not its host.
  json by_c = accept;
  by_c["origin"] = "c.test";
  ASSERT_TRUE(federation::SignJson(by_c, "c.test", c_keys->front()));
  // The host's real signature over an author's event that c never signed.
  json lying = accept;
  lying["event"]["origin"] = "c.test";
  lying["event"]["author"] = "@cara@c.test";
  ASSERT_TRUE(federation::SignJson(lying["event"], "c.test", *forger));
  ASSERT_TRUE(federation::SignJson(lying, "a.test", a_keys->front()));
  for (auto [from, key, event, code] :
       {std::tuple{"a.test", &a_keys->front(), forged, "bad_signature"},
        std::tuple{"c.test", &c_keys->front(), by_c, "not_host"},
        std::tuple{"a.test", &a_keys->front(), lying, "bad_signature"}}) {
    json txn = {{"origin", from},
                {"destination", "b.test"},
                {"ts", clock.NowMs()},
                {"events", {event}}};
    std::string body = *federation::Canonicalize(txn);
    std::string path =
        "/_hearth/v1/send/forge-" + std::to_string(clock.NowMs());
    auto auth = federation::SignRequest(*key, from, "b.test", "PUT", path,
                                        clock.NowMs(), &txn);
    auto res = b_.Client()->Put(path.c_str(), {{"Authorization", *auth}}, body,
                                "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    json results = JsonOf(res)["results"];
    ASSERT_EQ(results.size(), 1u) << res->body;
    EXPECT_EQ((*results.begin())["error"]["code"], code) << res->body;
  }
  auto h = History(b_, bob_, gid);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].second, real);
}

TEST_F(GroupsTest, ALimitedPeersMembersCannotJoinOrStartConversations) {
  std::string gid = CreateGroup("limited", "open");
  ASSERT_EQ(AdminCall(a_, "POST", "/admin/v1/peers/c.test/limit")["state"],
            "limited");
  Answer r = Call(c_, "POST", G(gid) + "/join", cara_, json::object());
  EXPECT_EQ(r.status, 403) << r.body.dump();
  r = Call(a_, "POST", C("@cara@c.test") + "/messages", alice_,
           {{"body", "hi"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body["error"]["code"], "peer_limited");
}

TEST_F(GroupsTest, ConversationsNeedConsentAndABlockStopsDelivery) {
  // The first message is a request; more wait for an answer.
  Answer r = Call(a_, "POST", C("@bob@b.test") + "/messages", alice_,
                  {{"body", "hi bob, can we talk?"}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["state"], "requested");
  r = Call(a_, "POST", C("@bob@b.test") + "/messages", alice_, {{"body", "?"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error"]["code"], "not_accepted");
  ASSERT_TRUE(WaitFor([&] {
    Answer l = Call(b_, "GET", "/api/v1/conversations", bob_);
    return l.body["conversations"].size() == 1 &&
           l.body["conversations"][0]["state"] == "incoming_request";
  }));
  Answer m = Call(b_, "GET", C("@alice@a.test") + "/messages", bob_);
  ASSERT_EQ(m.body["messages"].size(), 1u);
  EXPECT_EQ(m.body["messages"][0]["body"], "hi bob, can we talk?");

  ASSERT_EQ(Call(b_, "POST", C("@alice@a.test") + "/accept", bob_).status, 200);
  ASSERT_TRUE(WaitFor([&] {
    return Call(a_, "GET", "/api/v1/conversations", alice_)
               .body["conversations"][0]["state"] == "accepted";
  }));
  r = Call(a_, "POST", C("@bob@b.test") + "/messages", alice_,
           {{"body", "thank you"}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  ASSERT_TRUE(WaitFor([&] {
    return Call(b_, "GET", C("@alice@a.test") + "/messages", bob_)
               .body["messages"]
               .size() == 2;
  }));

  // Bob blocks alice: her next message is taken by b and dropped.
  ASSERT_EQ(
      Call(b_, "POST", "/api/v1/blocks/" + PercentEncode("@alice@a.test"), bob_)
          .status,
      200);
  r = Call(a_, "POST", C("@bob@b.test") + "/messages", alice_,
           {{"body", "are you there?"}});
  EXPECT_EQ(r.status, 201);  // a is not told
  // A later message from a's outbox to b proves the blocked one was handled.
  std::string dave = RegisterMember(a_, "dave");
  ASSERT_EQ(Call(a_, "POST", C("@bob@b.test") + "/messages", dave,
                 {{"body", "hello from dave"}})
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] {
    return Call(b_, "GET", C("@dave@a.test") + "/messages", bob_).status == 200;
  }));
  EXPECT_EQ(Call(b_, "GET", C("@alice@a.test") + "/messages", bob_)
                .body["messages"]
                .size(),
            2u);
  // Bob declines dave; dave's node hears of it and refuses more.
  ASSERT_EQ(Call(b_, "POST", C("@dave@a.test") + "/decline", bob_).status, 200);
  EXPECT_TRUE(WaitFor([&] {
    Answer x = Call(a_, "POST", C("@bob@b.test") + "/messages", dave,
                    {{"body", "please"}});
    return x.status == 403 && x.body["error"]["code"] == "declined";
  }));
}

TEST_F(GroupsTest, ConversationsOnOneNodeFollowTheSameRules) {
  std::string dave = RegisterMember(a_, "dave");
  Answer r = Call(a_, "POST", C("@dave@a.test") + "/messages", alice_,
                  {{"body", "hello neighbour"}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(Call(a_, "GET", "/api/v1/conversations", dave)
                .body["conversations"][0]["state"],
            "incoming_request");
  // Writing back is accepting.
  r = Call(a_, "POST", C("@alice@a.test") + "/messages", dave,
           {{"body", "hi!"}});
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.body["state"], "accepted");
  EXPECT_EQ(Call(a_, "GET", C("@dave@a.test") + "/messages", alice_)
                .body["messages"]
                .size(),
            2u);
  EXPECT_EQ(Call(a_, "POST", C("@nobody@a.test") + "/messages", alice_,
                 {{"body", "x"}})
                .status,
            404);
  EXPECT_EQ(Call(a_, "POST", C("@alice@a.test") + "/messages", alice_,
                 {{"body", "x"}})
                .status,
            400);
}

TEST_F(GroupsTest, SyncWakesForNewMessagesAndReturnsThemInOrder) {
  std::string gid = CreateGroup("sync", "open");
  Join(b_, bob_, gid);
  Answer first = Call(b_, "GET", "/api/v1/sync", bob_);
  ASSERT_EQ(first.status, 200);
  std::string since = first.body["next"];
  // Nothing new: the long-poll times out empty, with the same cursor.
  auto t0 = std::chrono::steady_clock::now();
  Answer idle =
      Call(b_, "GET", "/api/v1/sync?timeout=300&since=" + since, bob_);
  EXPECT_GE(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(250));
  EXPECT_EQ(idle.body["events"].size(), 0u);
  since = idle.body["next"];
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (int i = 0; i < 3; ++i) Post(a_, alice_, gid, "m" + std::to_string(i));
  });
  std::vector<std::string> bodies = SyncMessages(b_, bob_, &since, 3, 10);
  poster.join();
  EXPECT_EQ(bodies, (std::vector<std::string>{"m0", "m1", "m2"}));
  // Bad cursors and timeouts are refused.
  EXPECT_EQ(Call(b_, "GET", "/api/v1/sync?since=abc", bob_).status, 400);
  EXPECT_EQ(Call(b_, "GET", "/api/v1/sync?timeout=9999999", bob_).status, 400);
  EXPECT_EQ(Call(b_, "GET", "/api/v1/sync", "").status, 401);
}

// The host keeps each group's fan-out in memory; a member who joins after
// posts were fanned out must be woken by the next one, not at their
// long-poll's timeout.
TEST_F(GroupsTest, AMemberWhoJoinsAfterPostsIsWokenByTheNextPost) {
  std::string gid = CreateGroup("latecomers", "open");
  Post(a_, alice_, gid, "before anyone else");
  std::string ann = RegisterMember(a_, "ann");
  ASSERT_FALSE(ann.empty());
  Join(a_, ann, gid);
  Answer first = Call(a_, "GET", "/api/v1/sync", ann);
  ASSERT_EQ(first.status, 200);
  std::string since = first.body["next"];
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Post(a_, alice_, gid, "welcome");
  });
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> bodies = SyncMessages(a_, ann, &since, 1, 2);
  poster.join();
  EXPECT_EQ(bodies, (std::vector<std::string>{"welcome"}));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// Sync keeps each member's joined groups in memory between rounds; a
// join or a leave must show in the very next round, on the host and on
// a member's own node.
// A waiting sync holds no listener thread: with 4 of them, 12 members
// waiting still leave logins and posts answered at once, and a post wakes
// every waiter.
TEST(SyncWaitersTest, MoreWaitingMembersThanThreadsLeaveRoomForOthers) {
  NodeProcess n(NodeOptions{.server_name = "w.test", .http_threads = 4});
  std::string error;
  ASSERT_TRUE(n.Start(&error)) << error;
  std::string owner = RegisterMember(n, "owner");
  ASSERT_FALSE(owner.empty());
  Answer g = Call(n, "POST", "/api/v1/groups", owner,
                  {{"slug", "evening"},
                   {"name", "Evening circle"},
                   {"description", "peer support"},
                   {"topics", {"anxiety"}},
                   {"language", "en"},
                   {"visibility", "public"},
                   {"join_policy", "open"}});
  ASSERT_EQ(g.status, 201) << g.body.dump();
  std::string gid = g.body["group_id"];
  constexpr int kWaiters = 12;
  std::vector<std::string> tokens, cursors;
  for (int i = 0; i < kWaiters; ++i) {
    tokens.push_back(RegisterMember(n, "m" + std::to_string(i)));
    ASSERT_FALSE(tokens.back().empty());
    ASSERT_EQ(
        Call(n, "POST", G(gid) + "/join", tokens.back(), json::object()).status,
        200);
    Answer head = Call(n, "GET", "/api/v1/sync", tokens.back());
    ASSERT_EQ(head.status, 200);
    cursors.push_back(head.body["next"]);
  }
  std::vector<Answer> woke(kWaiters);
  std::vector<std::thread> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&, i] {
      woke[i] = Call(n, "GET", "/api/v1/sync?timeout=20000&since=" + cursors[i],
                     tokens[i]);
    });
  }
  // Give every waiter time to be parked (4 threads serve them in turn).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto t0 = std::chrono::steady_clock::now();
  Answer me = Call(n, "GET", "/api/v1/me", owner);
  EXPECT_EQ(me.status, 200);
  Answer post =
      Call(n, "POST", G(gid) + "/messages", owner, {{"body", "welcome all"}});
  EXPECT_EQ(post.status, 201) << post.body.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  for (auto& t : waiters) t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  for (const auto& w : woke) {
    ASSERT_EQ(w.status, 200);
    ASSERT_EQ(w.body["events"].size(), 1u) << w.body.dump();
    EXPECT_EQ(w.body["events"][0]["body"], "welcome all");
  }
}

TEST_F(GroupsTest, SyncFollowsTheGroupsAMemberJoinsAndLeaves) {
  std::string g1 = CreateGroup("first", "open");
  std::string g2 = CreateGroup("second", "open");
  std::string ann = RegisterMember(a_, "ann");
  ASSERT_FALSE(ann.empty());
  Join(a_, ann, g1);
  Join(b_, bob_, g1);
  Answer a0 = Call(a_, "GET", "/api/v1/sync", ann);
  Answer b0 = Call(b_, "GET", "/api/v1/sync", bob_);
  ASSERT_EQ(a0.status, 200);
  ASSERT_EQ(b0.status, 200);
  std::string ann_since = a0.body["next"], bob_since = b0.body["next"];
  using Bodies = std::vector<std::string>;
  Post(a_, alice_, g1, "one");
  EXPECT_EQ(SyncMessages(a_, ann, &ann_since, 1, 3), Bodies{"one"});
  EXPECT_EQ(SyncMessages(b_, bob_, &bob_since, 1, 3), Bodies{"one"});

  Join(a_, ann, g2);
  Join(b_, bob_, g2);
  Post(a_, alice_, g2, "two");
  EXPECT_EQ(SyncMessages(a_, ann, &ann_since, 1, 3), Bodies{"two"});
  EXPECT_EQ(SyncMessages(b_, bob_, &bob_since, 1, 3), Bodies{"two"});

  // Ann leaves the first group: what it gets next is not hers.
  Answer left = Call(a_, "POST", G(g1) + "/leave", ann, json::object());
  ASSERT_EQ(left.status, 200) << left.body.dump();
  Post(a_, alice_, g1, "after ann left");
  Post(a_, alice_, g2, "three");
  EXPECT_EQ(SyncMessages(a_, ann, &ann_since, 1, 3), Bodies{"three"});
  EXPECT_EQ(SyncMessages(b_, bob_, &bob_since, 2, 3),
            (Bodies{"after ann left", "three"}));
}

TEST_F(GroupsTest, GroupInputIsValidated) {
  auto create = [&](json spec) {
    return Call(a_, "POST", "/api/v1/groups", alice_, spec);
  };
  json ok = {{"slug", "fine"}, {"name", "Fine"}};
  EXPECT_EQ(create(ok).status, 201);
  EXPECT_EQ(create(ok).body["error"]["code"], "group_exists");
  EXPECT_EQ(create({{"slug", "Bad Slug"}, {"name", "x"}}).status, 400);
  EXPECT_EQ(create({{"slug", "ok-slug"}}).status, 400);
  EXPECT_EQ(
      create({{"slug", "ok-slug"}, {"name", "x"}, {"visibility", "secret"}})
          .body["error"]["code"],
      "invalid_visibility");
  EXPECT_EQ(create({{"slug", "ok-slug"},
                    {"name", "x"},
                    {"meetings",
                     {{{"weekday", "someday"},
                       {"time", "19:30"},
                       {"timezone", "UTC"}}}}})
                .body["error"]["code"],
            "invalid_meetings");
  EXPECT_EQ(Call(a_, "GET", "/api/v1/groups/not-a-group", alice_).status, 400);
  EXPECT_EQ(Call(a_, "GET", G("!nope@a.test"), alice_).status, 404);
  // Only the owner updates.
  std::string dave = RegisterMember(a_, "dave");
  EXPECT_EQ(
      Call(a_, "PATCH", G("!fine@a.test"), dave, {{"name", "Mine"}}).status,
      403);
  Answer up = Call(a_, "PATCH", G("!fine@a.test"), alice_,
                   {{"description", "updated"}, {"join_policy", "approval"}});
  ASSERT_EQ(up.status, 200) << up.body.dump();
  EXPECT_EQ(up.body["description"], "updated");
  EXPECT_EQ(up.body["join_policy"], "approval");
  EXPECT_EQ(
      Call(a_, "POST", G("!fine@a.test") + "/messages", alice_, {{"body", ""}})
          .status,
      400);
}

}  // namespace
}  // namespace hearth::testing
