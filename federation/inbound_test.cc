#include "federation/inbound.h"

#include <gtest/gtest.h>

#include <atomic>
#include <new>
#include <string>
#include <thread>

#include "federation/canonical_json.h"
#include "federation/signed_json.h"
#include "tests/support/key_doc_peer_client.h"
#include "tests/support/temp_dir.h"

namespace hearth::federation {
namespace {

// Writes each event's body (or what Prepare made of it) under its id, then
// refuses those whose body starts with "refuse" (after the write, which
// must not survive). Prepare refuses bodies starting with "unready", fails
// on "broken" as a store would, and makes "made <body>" of "prep...".
class WritingSink final : public InboundSink {
 public:
  storage::Dbi table{};
  int applied = 0;
  std::vector<std::string> order;  // bodies, as applied
  mutable std::atomic<int> prepared{0};
  Status Prepare(InboundEvent& ev) const override {
    ++prepared;
    std::string body = ev.event["content"]["body"];
    if (body.rfind("unready", 0) == 0)
      return Error::Invalid("not_ready", "this sink cannot read " + body);
    if (body.rfind("broken", 0) == 0)
      return Error::Internal("the sink's store failed");
    if (body.rfind("prep", 0) == 0) ev.prepared = "made " + body;
    if (body == "unreadable")  // a member of another type than expected
      (void)ev.event["content"]["body"].get<std::int64_t>();
    return Ok();
  }
  Status Apply(storage::WriteTxn& txn, const InboundEvent& ev) override {
    ++applied;
    std::string body = ev.event["content"]["body"];
    order.push_back(body);
    if (const auto* made = std::any_cast<std::string>(&ev.prepared))
      body = *made;
    HEARTH_RETURN_IF_ERROR(txn.Put(table, ev.event_id, body));
    if (body == "out of range") (void)std::stoi("99999999999999999999");
    if (body == "out of memory") throw std::bad_alloc();
    if (body.rfind("refuse", 0) == 0)
      return Error::Forbidden("refused", "this sink refuses " + body);
    return Ok();
  }
};

class InboundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::move(storage::Env::Open(dir_.path(), {})).value();
    sink_.table = *env_->OpenTable("sink");
    committer_ = std::make_unique<storage::Committer>(*env_);
    outbox_.emplace(std::move(Outbox::Open(*env_)).value());
    peer_.doc = *MakeKeyDocument("p.test", {key_}, {}, 4000000000000);
    trust_ = std::move(TrustService::Open(*env_, *committer_,
                                          *storage::AuditLog::Open(*env_),
                                          *outbox_, peer_, clock_,
                                          TrustOptions{.server_name = "me.test",
                                                       .allow_http = true}))
                 .value();
    ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
    ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
    inbound_ =
        std::move(Inbound::Open(*env_, *committer_, *trust_, sink_, clock_,
                                metrics_,
                                InboundOptions{.server_name = "me.test"}))
            .value();
  }

  nlohmann::json Event(const std::string& body_text) {
    nlohmann::json event = {{"type", "x"},
                            {"origin", "p.test"},
                            {"ts", clock_.NowMs()},
                            {"content", {{"body", body_text}}}};
    EXPECT_TRUE(SignJson(event, "p.test", key_));
    return event;
  }

  Result<nlohmann::json> Send(const std::string& txn_id,
                              const std::string& body_text) {
    return SendEvents(txn_id, nlohmann::json::array({Event(body_text)}));
  }

  // Sends `events` as txn `txn_id`, `after` another txn if not empty.
  Result<nlohmann::json> SendEvents(const std::string& txn_id,
                                    const nlohmann::json& events,
                                    const std::string& after = "") {
    nlohmann::json txn = {{"origin", "p.test"},
                          {"destination", "me.test"},
                          {"ts", clock_.NowMs()},
                          {"events", events}};
    std::string body = *Canonicalize(txn);
    std::string uri = "/_hearth/v1/send/" + txn_id;
    if (!after.empty()) uri += "?after=" + after;
    auto auth = SignRequest(key_, "p.test", "me.test", "PUT", uri,
                            clock_.NowMs(), &txn);
    return inbound_->Send(txn_id, uri, *auth, body,
                          after.empty() ? nullptr : &after);
  }
  // The inbound side again, waiting at most `ms` for an earlier txn.
  void ReopenWithOrderWait(std::int64_t ms) {
    inbound_ = std::move(Inbound::Open(*env_, *committer_, *trust_, sink_,
                                       clock_, metrics_,
                                       InboundOptions{.server_name = "me.test",
                                                      .order_wait_ms = ms}))
                   .value();
  }

  static std::vector<std::string> Ids(const nlohmann::json& events) {
    std::vector<std::string> ids;
    for (const auto& e : events) ids.push_back(*EventId(e));
    return ids;
  }
  // What the sink stored under `id`, or "absent".
  std::string Stored(const std::string& id) {
    auto txn = std::move(env_->BeginRead()).value();
    return std::string(txn.Get(sink_.table, id)->value_or("absent"));
  }

  hearth::testing::TempDir dir_;
  FakeClock clock_;
  Metrics metrics_;
  hearth::testing::KeyDocPeerClient peer_;  // p.test's key document
  WritingSink sink_;
  SigningKey key_ = SigningKey::Generate();
  std::unique_ptr<storage::Env> env_;
  std::unique_ptr<storage::Committer> committer_;
  std::optional<Outbox> outbox_;
  std::unique_ptr<TrustService> trust_;
  std::unique_ptr<Inbound> inbound_;
};

TEST_F(InboundTest, RememberedAnswersAreForgottenAfterTheirTime) {
  ASSERT_TRUE(Send("t1", "first"));
  EXPECT_EQ(sink_.applied, 1);
  EXPECT_EQ(Send("t1", "other").error().reason, "txn_conflict");
  clock_.Advance(3 * 24 * 3600 * 1000);
  EXPECT_EQ(*inbound_->ForgetOldTransactions(7ll * 24 * 3600 * 1000), 0u);
  clock_.Advance(5 * 24 * 3600 * 1000);
  EXPECT_EQ(*inbound_->ForgetOldTransactions(7ll * 24 * 3600 * 1000), 1u);
  // The id is free again.
  ASSERT_TRUE(Send("t1", "other"));
  EXPECT_EQ(sink_.applied, 2);
}

TEST_F(InboundTest, ARefusedEventLeavesNoWriteAndTakesNoOtherWithIt) {
  nlohmann::json events = {Event("one"), Event("refuse two"), Event("three")};
  std::vector<std::string> ids = Ids(events);
  auto answer = SendEvents("t1", events);
  ASSERT_TRUE(answer) << answer.error().message;
  const nlohmann::json& results = (*answer)["results"];
  EXPECT_EQ(results[ids[0]], nlohmann::json::object());
  EXPECT_EQ(results[ids[1]]["error"]["code"], "refused");
  EXPECT_EQ(results[ids[2]], nlohmann::json::object());

  EXPECT_EQ(Stored(ids[0]), "one");
  EXPECT_EQ(Stored(ids[1]), "absent");
  EXPECT_EQ(Stored(ids[2]), "three");
}

TEST_F(InboundTest, ATransactionOfGoodEventsStoresThemAll) {
  nlohmann::json events = nlohmann::json::array();
  for (int i = 0; i < 50; ++i) events.push_back(Event("e" + std::to_string(i)));
  auto answer = SendEvents("t1", events);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ((*answer)["results"].size(), 50u);
  EXPECT_EQ(sink_.applied, 50);  // one pass: nothing applied twice
  auto txn = std::move(env_->BeginRead()).value();
  for (const auto& e : events) {
    auto stored = txn.Get(sink_.table, *EventId(e));
    ASSERT_TRUE(stored && *stored);
    EXPECT_EQ(**stored, e["content"]["body"].get<std::string>());
  }
}

TEST_F(InboundTest, WhatPrepareMadeReachesApplyAndItsRefusalIsTheEventsAlone) {
  nlohmann::json events = {Event("prep one"), Event("unready two"),
                           Event("three")};
  std::vector<std::string> ids = Ids(events);
  auto answer = SendEvents("t1", events);
  ASSERT_TRUE(answer) << answer.error().message;
  const nlohmann::json& results = (*answer)["results"];
  EXPECT_EQ(results[ids[0]], nlohmann::json::object());
  EXPECT_EQ(results[ids[1]]["error"]["code"], "not_ready");
  EXPECT_EQ(results[ids[2]], nlohmann::json::object());
  EXPECT_EQ(sink_.prepared, 3);
  EXPECT_EQ(sink_.applied, 2);  // never the one Prepare refused

  EXPECT_EQ(Stored(ids[0]), "made prep one");
  EXPECT_EQ(Stored(ids[1]), "absent");
  EXPECT_EQ(Stored(ids[2]), "three");
}

TEST_F(InboundTest, AStoreFailureInPrepareFailsTheWholeTransactionForARetry) {
  nlohmann::json events = {Event("one"), Event("broken two")};
  auto answer = SendEvents("t1", events);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::kInternal);
  EXPECT_EQ(sink_.applied, 0);
  // Nothing was remembered for the id: the sender's retry is taken.
  auto retry = SendEvents("t1", nlohmann::json::array({Event("one")}));
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(sink_.applied, 1);
}

TEST_F(InboundTest, AnEventTheCodeCannotHandleIsRefusedAloneNotRetried) {
  // Exceptions that only the event's content causes (the same on every
  // retry) refuse that event; the others apply.
  nlohmann::json events = {Event("one"), Event("unreadable"),
                           Event("out of range"), Event("four")};
  std::vector<std::string> ids = Ids(events);
  auto answer = SendEvents("t1", events);
  ASSERT_TRUE(answer) << answer.error().message;
  const nlohmann::json& results = (*answer)["results"];
  EXPECT_EQ(results[ids[0]], nlohmann::json::object());
  EXPECT_EQ(results[ids[1]]["error"]["code"], "bad_event");
  EXPECT_EQ(results[ids[2]]["error"]["code"], "bad_event");
  EXPECT_EQ(results[ids[3]], nlohmann::json::object());
  EXPECT_EQ(Stored(ids[0]), "one");
  EXPECT_EQ(Stored(ids[2]), "absent");  // its write was rolled back
  EXPECT_EQ(Stored(ids[3]), "four");
  // Out of memory is no verdict on the event: the whole request fails,
  // nothing is stored or remembered, and the sender retries.
  auto oom = SendEvents(
      "t2", nlohmann::json::array({Event("five"), Event("out of memory")}));
  ASSERT_FALSE(oom);
  EXPECT_EQ(oom.error().kind, ErrorKind::kInternal);
  EXPECT_EQ(Stored(Ids(nlohmann::json::array({Event("five")}))[0]), "absent");
}

TEST_F(InboundTest, ATransactionSentAfterAnotherCommitsOnlyAfterIt) {
  // t2 arrives first, naming t1, which is still on its way.
  std::atomic<bool> answered{false};
  Result<nlohmann::json> second = Error::Internal("not answered");
  std::thread t([&] {
    second = SendEvents("t2", nlohmann::json::array({Event("second")}), "t1");
    answered = true;
  });
  // Verified and prepared, t2 must now wait: it answers neither before
  // t1 is sent (watched for 300 ms, bounded) nor without t1 applied.
  for (int i = 0; i < 5000 && sink_.prepared < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(sink_.prepared, 1);
  for (int i = 0; i < 30 && !answered; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(answered) << "t2 committed before t1 arrived";
  auto first = Send("t1", "first");
  t.join();
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(sink_.order, (std::vector<std::string>{"first", "second"}));
  // Answered once, a txn sent after another answers again at once.
  auto again = SendEvents("t2", nlohmann::json::array({Event("second")}), "t1");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *second);
  EXPECT_EQ(sink_.applied, 2);
}

TEST_F(InboundTest, AfterATransactionThatNeverComesTheSenderIsToldToRetry) {
  ReopenWithOrderWait(50);
  auto answer =
      SendEvents("t2", nlohmann::json::array({Event("second")}), "t1");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(answer.error().reason, "out_of_order");
  EXPECT_EQ(sink_.applied, 0);
  // Nothing was remembered: the same txn sent alone is taken.
  auto alone = SendEvents("t2", nlohmann::json::array({Event("second")}));
  ASSERT_TRUE(alone) << alone.error().message;
  EXPECT_EQ(sink_.applied, 1);
  // After itself, or after no valid id, is malformed.
  for (const std::string after : {"t3", "a b"}) {
    auto bad = SendEvents("t3", nlohmann::json::array({Event("x")}), after);
    ASSERT_FALSE(bad) << after;
    EXPECT_EQ(bad.error().reason, "invalid_txn_id") << after;
  }
}

}  // namespace
}  // namespace hearth::federation
