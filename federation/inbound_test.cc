#include "federation/inbound.h"

#include <gtest/gtest.h>

#include "federation/canonical_json.h"
#include "federation/signed_json.h"
#include "tests/support/temp_dir.h"

namespace hearth::federation {
namespace {

// One peer, p.test, whose key document this client serves.
class OnePeer final : public PeerClient {
 public:
  std::string doc;
  Result<PeerResponse> Get(const std::string&, const std::string&,
                           const std::string&) override {
    return PeerResponse{200, doc};
  }
};

// Accepts every event and counts them.
class CountingSink final : public InboundSink {
 public:
  int applied = 0;
  Status Apply(storage::WriteTxn&, const InboundEvent&) override {
    ++applied;
    return Ok();
  }
};

class InboundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::move(storage::Env::Open(dir_.path(), {})).value();
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

  Result<nlohmann::json> Send(const std::string& txn_id,
                              const std::string& body_text) {
    nlohmann::json event = {{"type", "x"},
                            {"origin", "p.test"},
                            {"ts", clock_.NowMs()},
                            {"content", {{"body", body_text}}}};
    EXPECT_TRUE(SignJson(event, "p.test", key_));
    nlohmann::json txn = {{"origin", "p.test"},
                          {"destination", "me.test"},
                          {"ts", clock_.NowMs()},
                          {"events", {event}}};
    std::string body = *Canonicalize(txn);
    std::string uri = "/_hearth/v1/send/" + txn_id;
    auto auth = SignRequest(key_, "p.test", "me.test", "PUT", uri,
                            clock_.NowMs(), &txn);
    return inbound_->Send(txn_id, uri, *auth, body);
  }

  hearth::testing::TempDir dir_;
  FakeClock clock_;
  Metrics metrics_;
  OnePeer peer_;
  CountingSink sink_;
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

}  // namespace
}  // namespace hearth::federation
