// Federation between real `hearth` processes on loopback: peering through
// the admin API, signed transactions over the real transport, the durable
// outbox across restarts, key rotation, and every way an inbound request
// must be refused without storing anything.
#include <gtest/gtest.h>

#include <thread>

#include "common/clock.h"
#include "federation/canonical_json.h"
#include "federation/node_keys.h"
#include "federation/request_auth.h"
#include "federation/signed_json.h"
#include "tests/support/node_process.h"

namespace hearth::testing {
namespace {

using nlohmann::json;

NodeOptions Fed(const std::string& name) {
  return NodeOptions{.server_name = name, .allow_http = true};
}

json Admin(NodeProcess& n, const std::string& method, const std::string& path,
           const json& body = json::object(), int expect = 0) {
  int status = 0;
  json j = AdminCall(n, method, path, body, &status);
  if (expect) {
    EXPECT_EQ(status, expect) << method << " " << path << ": " << j.dump();
  }
  return j;
}

void Peer(NodeProcess& a, NodeProcess& b) {
  std::string problem = PeerNodes(a, b);
  ASSERT_EQ(problem, "");
}

std::string Announce(NodeProcess& n, const std::string& text) {
  json r = Admin(n, "POST", "/admin/v1/announcements", {{"body", text}}, 201);
  return r.is_object() ? r["event_id"].get<std::string>() : "";
}

// (origin, body, event id) of every announcement a node holds, in order.
std::vector<std::tuple<std::string, std::string, std::string>> Announcements(
    NodeProcess& n) {
  std::vector<std::tuple<std::string, std::string, std::string>> out;
  json r = Admin(n, "GET", "/admin/v1/announcements?limit=500");
  if (!r.is_object()) return out;
  for (const auto& a : r["announcements"])
    out.emplace_back(a["origin"], a["body"], a["event_id"]);
  return out;
}

size_t CountFrom(NodeProcess& n, const std::string& origin) {
  size_t k = 0;
  for (const auto& [o, body, id] : Announcements(n)) k += (o == origin);
  return k;
}

class FederationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(a_.Start(&error)) << error;
    ASSERT_TRUE(b_.Start(&error)) << error;
    Peer(a_, b_);
  }
  NodeProcess a_{Fed("a.test")};
  NodeProcess b_{Fed("b.test")};
};

TEST_F(FederationTest, PeersExchangeSignedEventsOverTheRealTransport) {
  std::string id = Announce(a_, "hello from a");
  ASSERT_TRUE(WaitFor([&] { return CountFrom(b_, "a.test") == 1; }))
      << b_.log();
  auto got = Announcements(b_);
  EXPECT_EQ(std::get<1>(got[0]), "hello from a");
  EXPECT_EQ(std::get<2>(got[0]), id);  // the same event id on both nodes
  Announce(b_, "and hello from b");
  ASSERT_TRUE(WaitFor([&] { return CountFrom(a_, "b.test") == 1; }));
  // a acknowledges its event once b's answer arrives, after b counted it.
  json peers;
  EXPECT_TRUE(WaitFor([&] {
    peers = Admin(a_, "GET", "/admin/v1/peers");
    return peers["peers"][0]["queue_depth"] == 0;
  })) << peers.dump();
  EXPECT_TRUE(peers["peers"][0]["last_contact_ts"].is_number());
}

TEST_F(FederationTest, AStoppedPeerGetsEveryQueuedEventInOrderExactlyOnce) {
  ASSERT_EQ(b_.Stop(), 0);
  std::vector<std::string> sent;
  for (int i = 0; i < 30; ++i)
    sent.push_back(Announce(a_, "n" + std::to_string(i)));
  // The sender is backing off (once its first attempt has failed); the
  // queue holds all of them.
  json peers;
  EXPECT_TRUE(WaitFor([&] {
    peers = Admin(a_, "GET", "/admin/v1/peers");
    return peers["peers"][0]["last_error"].is_string();
  })) << peers.dump();
  EXPECT_EQ(peers["peers"][0]["queue_depth"], 30);
  // Restart the sender mid-backlog, without a graceful stop.
  a_.Kill();
  std::string error;
  ASSERT_TRUE(a_.Start(&error)) << error;
  ASSERT_TRUE(b_.Start(&error)) << error;
  ASSERT_TRUE(WaitFor([&] { return CountFrom(b_, "a.test") >= 30; }))
      << a_.log();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto got = Announcements(b_);
  ASSERT_EQ(got.size(), 30u);  // nothing twice
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::get<1>(got[i]), "n" + std::to_string(i));  // in order
    EXPECT_EQ(std::get<2>(got[i]), sent[i]);
  }
}

TEST_F(FederationTest, ABacklogSentTwoTransactionsAtATimeArrivesInOrder) {
  // 300 events are six batches of 50: a's sender has two transactions on
  // their way at once, and b must commit them in the order sent.
  ASSERT_EQ(b_.Stop(), 0);
  std::vector<std::string> sent;
  for (int i = 0; i < 300; ++i)
    sent.push_back(Announce(a_, "n" + std::to_string(i)));
  std::string error;
  ASSERT_TRUE(b_.Start(&error)) << error;
  ASSERT_TRUE(WaitFor([&] { return CountFrom(b_, "a.test") >= 300; },
                      std::chrono::seconds(30)))
      << a_.log();
  auto got = Announcements(b_);
  ASSERT_EQ(got.size(), 300u);  // nothing twice
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(std::get<1>(got[i]), "n" + std::to_string(i)) << "at " << i;
    EXPECT_EQ(std::get<2>(got[i]), sent[i]);
  }
}

TEST_F(FederationTest, ARotatedKeySignedByThePinnedKeyIsAccepted) {
  json rotated =
      Admin(a_, "POST", "/admin/v1/keys/rotate", json::object(), 200);
  std::string new_key = rotated["key_id"];
  Announce(a_, "after rotation");
  ASSERT_TRUE(WaitFor([&] { return CountFrom(b_, "a.test") == 1; }))
      << b_.log();
  json peers = Admin(b_, "GET", "/admin/v1/peers");
  EXPECT_EQ(peers["peers"][0]["state"], "trusted");
  EXPECT_EQ(peers["peers"][0]["pinned"][0]["key_id"], new_key);
  // The old key is still published, as expired.
  auto c = a_.Client();
  json doc = JsonOf(c->Get("/_hearth/v1/keys"));
  EXPECT_EQ(doc["old_verify_keys"].size(), 1u);
  EXPECT_TRUE(doc["verify_keys"].contains(new_key));
}

TEST_F(FederationTest, AnUnpinnedKeyChangePutsThePeerBackToPending) {
  ASSERT_EQ(a_.Stop(), 0);
  // A new key nobody vouched for (a reinstalled node, or an impostor).
  ASSERT_TRUE(federation::CreateKeyFile(a_.data_dir() + "/node.key"));
  std::string error;
  ASSERT_TRUE(a_.Start(&error)) << error;
  Announce(a_, "from a stranger key");
  ASSERT_TRUE(WaitFor([&] {
    json p = Admin(b_, "GET", "/admin/v1/peers");
    return p["peers"][0]["state"] == "pending";
  })) << b_.log();
  EXPECT_EQ(CountFrom(b_, "a.test"), 0u);
  json audit = Admin(b_, "GET", "/admin/v1/audit");
  bool logged = false;
  for (const auto& e : audit["entries"])
    logged = logged || e["action"] == "peer.key_change";
  EXPECT_TRUE(logged);
  // Once the admin compares and trusts the new key, delivery resumes.
  Admin(b_, "POST", "/admin/v1/peers/a.test/trust", json::object(), 200);
  Admin(a_, "POST", "/admin/v1/peers/b.test/trust", json::object(), 200);
  ASSERT_TRUE(WaitFor([&] { return CountFrom(b_, "a.test") == 1; },
                      std::chrono::seconds(40)))
      << a_.log();
}

TEST_F(FederationTest, BlockingStopsTrafficBothWaysAtOnce) {
  Admin(b_, "POST", "/admin/v1/peers/a.test/block", json::object(), 200);
  Announce(a_, "to a node that blocked us");
  Announce(b_, "to a node we blocked");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(CountFrom(b_, "a.test"), 0u);
  EXPECT_EQ(CountFrom(a_, "b.test"), 0u);
  json peers = Admin(a_, "GET", "/admin/v1/peers");
  EXPECT_EQ(peers["peers"][0]["queue_depth"], 1);
}

// Requests crafted with a's real key, sent straight to b.
class InboundRefusalTest : public FederationTest {
 protected:
  void SetUp() override {
    FederationTest::SetUp();
    auto keys = federation::LoadKeyFile(a_.data_dir() + "/node.key");
    ASSERT_TRUE(keys);
    key_ = keys->front();
  }

  json Event(const std::string& body) {
    json e = {{"type", "node.announcement"},
              {"origin", "a.test"},
              {"ts", clock_.NowMs()},
              {"content", {{"body", body}}}};
    EXPECT_TRUE(federation::SignJson(e, "a.test", key_));
    return e;
  }
  std::string Body(const std::vector<json>& events,
                   const std::string& dest = "b.test") {
    json t = {{"origin", "a.test"},
              {"destination", dest},
              {"ts", clock_.NowMs()},
              {"events", events}};
    return *federation::Canonicalize(t);
  }
  httplib::Result Put(const std::string& txn, const std::string& body,
                      std::optional<std::string> auth = std::nullopt,
                      const federation::SigningKey* signer = nullptr,
                      const std::string& origin = "a.test",
                      const std::string& dest = "b.test", std::int64_t ts = 0) {
    std::string path = "/_hearth/v1/send/" + txn;
    if (!auth) {
      json content = json::parse(body, nullptr, false);
      auth =
          *federation::SignRequest(signer ? *signer : key_, origin, dest, "PUT",
                                   path, ts ? ts : clock_.NowMs(),
                                   content.is_discarded() ? nullptr : &content);
    }
    auto c = b_.Client();
    httplib::Headers h;
    if (!auth->empty()) h.emplace("Authorization", *auth);
    return c->Put(path.c_str(), h, body, "application/json");
  }
  void ExpectRefused(const httplib::Result& res, int status,
                     const std::string& code) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    EXPECT_EQ(JsonOf(res)["error"]["code"], code) << res->body;
    EXPECT_EQ(CountFrom(b_, "a.test"), 0u) << "a refused request stored data";
  }

  SystemClock clock_;
  federation::SigningKey key_ = federation::SigningKey::Generate();
};

TEST_F(InboundRefusalTest,
       AValidTransactionIsAcceptedAndItsReplayChangesNothing) {
  std::string body = Body({Event("direct")});
  auto res = Put("t1", body);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json first = JsonOf(res);
  EXPECT_EQ(first["results"].size(), 1u);
  auto again = Put("t1", body);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(JsonOf(again), first);
  EXPECT_EQ(CountFrom(b_, "a.test"), 1u);
  // The same txn id with other content is refused and changes nothing.
  auto conflict = Put("t1", Body({Event("other")}));
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409);
  EXPECT_EQ(JsonOf(conflict)["error"]["code"], "txn_conflict");
  EXPECT_EQ(CountFrom(b_, "a.test"), 1u);
}

TEST_F(InboundRefusalTest, BadRequestsAreRefusedAndStoreNothing) {
  std::string body = Body({Event("x")});
  ExpectRefused(Put("m1", body, ""), 401, "missing_auth");
  EXPECT_EQ(Put("m1", body, "")->get_header_value("WWW-Authenticate"),
            "Hearth");
  ExpectRefused(Put("m2", body, "Bearer abc"), 401, "bad_auth");
  ExpectRefused(Put("m3", body, "Hearth origin=\"a.test\""), 401, "bad_auth");
  // Forged: a's key id, another key's signature.
  federation::SigningKey forger = federation::SigningKey::Generate();
  auto forged = federation::SigningKey::FromSeed(forger.seed(), key_.key_id());
  ExpectRefused(Put("m4", body, std::nullopt, &*forged), 401, "bad_signature");
  ExpectRefused(Put("m5", Body({Event("x")}, "c.test"), std::nullopt, nullptr,
                    "a.test", "c.test"),
                401, "wrong_destination");
  ExpectRefused(Put("m6", body, std::nullopt, nullptr, "a.test", "b.test",
                    clock_.NowMs() - 10 * 60 * 1000),
                401, "stale_request");
  // A stranger in allowlist mode.
  ExpectRefused(Put("m7", body, std::nullopt, &forger, "c.test"), 403,
                "not_trusted");
  // Non-canonical and oversized bodies.
  std::string spaced = body;
  spaced.insert(1, " ");
  ExpectRefused(Put("m8", spaced), 400, "not_canonical");
  std::string dup =
      "{\"destination\":\"b.test\",\"destination\":\"b.test\","
      "\"events\":[],\"origin\":\"a.test\",\"ts\":1}";
  ExpectRefused(Put("m9", dup), 400, "not_canonical");
  json big = Event(std::string(3900, 'x'));
  std::vector<json> many(300, big);
  ExpectRefused(Put("m10", Body(many)), 413, "too_large");
  ExpectRefused(Put("bad txn id!", body), 400, "invalid_txn_id");
  // An event signed by someone else inside a's valid transaction.
  json alien = {{"type", "node.announcement"},
                {"origin", "a.test"},
                {"ts", clock_.NowMs()},
                {"content", {{"body", "alien"}}}};
  ASSERT_TRUE(federation::SignJson(alien, "a.test", *forged));
  auto res = Put("m11", Body({alien}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  json results = JsonOf(res)["results"];
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results.begin().value()["error"]["code"], "bad_signature");
  EXPECT_EQ(CountFrom(b_, "a.test"), 0u);
  // Blocked origin.
  Admin(b_, "POST", "/admin/v1/peers/a.test/block", json::object(), 200);
  ExpectRefused(Put("m12", Body({Event("blocked")})), 403, "blocked");
}

TEST_F(InboundRefusalTest, AnExpiredKeySignsNoNewRequests) {
  // a rotates, and b learns of it from a's next transaction.
  Admin(a_, "POST", "/admin/v1/keys/rotate", json::object(), 200);
  Announce(a_, "signed with the new key");
  ASSERT_TRUE(WaitFor([&] { return CountFrom(b_, "a.test") == 1; }));
  // key_ is a's old key: b still knows it, as expired.
  auto res = Put("old1", Body({Event("with the old key")}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
  EXPECT_EQ(JsonOf(res)["error"]["code"], "expired_key");
  EXPECT_EQ(CountFrom(b_, "a.test"), 1u);
}

TEST_F(InboundRefusalTest, OnlyTheKeyDocumentIsReadableUnsigned) {
  // The key document is public; nothing else is readable unsigned.
  auto c = b_.Client();
  auto keys = c->Get("/_hearth/v1/keys");
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->status, 200);
  auto send_get = c->Get("/_hearth/v1/send/t1");
  ASSERT_TRUE(send_get);
  EXPECT_EQ(send_get->status, 405);
}

}  // namespace
}  // namespace hearth::testing

namespace hearth::testing {
namespace {

TEST(FederationRetryTest, APeerThatComesBackIsRetriedAsSoonAsItContactsUs) {
  // a's first retry would wait 15-30 s: only b's call can make it sooner.
  NodeProcess a(NodeOptions{.server_name = "a.test",
                            .allow_http = true,
                            .federation_extra = "retry_min_ms = 30000\n"});
  NodeProcess b(Fed("b.test"));
  std::string error;
  ASSERT_TRUE(a.Start(&error)) << error;
  ASSERT_TRUE(b.Start(&error)) << error;
  Peer(a, b);
  ASSERT_EQ(b.Stop(), 0);
  Announce(a, "while b was away");
  ASSERT_TRUE(WaitFor([&] {
    json p = Admin(a, "GET", "/admin/v1/peers");
    return p["peers"][0]["last_error"].is_string();
  }));  // the first attempt failed; a is backing off
  ASSERT_TRUE(b.Start(&error)) << error;
  Announce(b, "b is back");  // b calls a
  ASSERT_TRUE(WaitFor([&] { return CountFrom(b, "a.test") == 1; },
                      std::chrono::seconds(10)))
      << "a kept backing off after b contacted it\n"
      << a.log();
  EXPECT_NE(a.log().find("sender b.test: the peer contacted us; retrying now"),
            std::string::npos);
  // The queue depth is a metric per peer. b counts the event when it
  // commits it, before its answer reaches a: a acknowledges a moment later.
  auto c = a.AdminClient();
  std::string metrics;
  EXPECT_TRUE(WaitFor([&] {
    auto m =
        c->Get("/metrics", {{"Authorization", "Bearer " + a.admin_token()}});
    metrics = m ? m->body : "";
    return metrics.find("hearth_federation_queue_depth{peer=\"b.test\"} 0") !=
           std::string::npos;
  })) << metrics;
  EXPECT_NE(
      metrics.find("hearth_federation_events_sent_total{peer=\"b.test\"} 1"),
      std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace hearth::testing
