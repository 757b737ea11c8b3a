#include "federation/trust.h"

#include <gtest/gtest.h>

#include "federation/node_keys.h"
#include "tests/support/temp_dir.h"

namespace hearth::federation {
namespace {

// Serves key documents for fake peers, as their nodes would.
class FakePeers final : public PeerClient {
 public:
  std::map<std::string, std::string> docs;  // base URL -> document
  int fetches = 0;
  Result<PeerResponse> Get(const std::string& base_url, const std::string&,
                           const std::string&) override {
    ++fetches;
    auto it = docs.find(base_url);
    if (it == docs.end())
      return Error::Unavailable("peer_unreachable", base_url + ": down");
    return PeerResponse{200, it->second};
  }
};

// Signed by every key in `keys`; the first is current, the others are
// listed as expired (as a node that rotated publishes them).
std::string Doc(const std::string& name, const std::vector<SigningKey>& keys) {
  std::map<std::string, PublicKey> old;
  for (size_t i = 1; i < keys.size(); ++i)
    old[keys[i].key_id()] = PublicKey{keys[i].public_key(), 1764000000000};
  return *MakeKeyDocument(name, keys, old, 4000000000000);
}

class TrustTest : public ::testing::Test {
 protected:
  void SetUp() { Make(FederationPolicy::kAllowlist); }
  void Make(FederationPolicy policy) {
    trust_.reset();
    committer_.reset();
    outbox_.reset();
    env_.reset();
    dir_ = std::make_unique<hearth::testing::TempDir>();
    env_ = std::move(storage::Env::Open(dir_->path(), {})).value();
    committer_ = std::make_unique<storage::Committer>(*env_);
    outbox_.emplace(std::move(Outbox::Open(*env_)).value());
    auto audit = storage::AuditLog::Open(*env_);
    trust_ = std::move(TrustService::Open(*env_, *committer_, *audit, *outbox_,
                                          peers_, clock_,
                                          TrustOptions{.server_name = "me.test",
                                                       .policy = policy,
                                                       .allow_http = true}))
                 .value();
  }
  PeerState StateOf(const std::string& name) {
    return (*trust_->Get(name))->state;
  }

  std::unique_ptr<hearth::testing::TempDir> dir_;
  FakeClock clock_;
  FakePeers peers_;
  std::unique_ptr<storage::Env> env_;
  std::unique_ptr<storage::Committer> committer_;
  std::optional<Outbox> outbox_;
  std::unique_ptr<TrustService> trust_;
  SigningKey k1_ = SigningKey::Generate();
  SigningKey k2_ = SigningKey::Generate();
};

TEST_F(TrustTest, AddedPeersArePendingUntilTrustedWithMatchingFingerprints) {
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  auto added = trust_->AddPeer("http://p.test/", "admin");
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->record.state, PeerState::kPending);
  EXPECT_EQ(added->record.base_url, "http://p.test");
  EXPECT_EQ(trust_->CheckInbound("p.test", false).error().reason,
            "not_trusted");
  EXPECT_EQ(trust_->AddPeer("http://p.test", "admin").error().reason,
            "peer_exists");
  EXPECT_EQ(
      trust_->Trust("p.test", std::vector<std::string>{"SHA256:nope"}, "admin")
          .error()
          .reason,
      "fingerprint_mismatch");
  EXPECT_EQ(StateOf("p.test"), PeerState::kPending);
  ASSERT_TRUE(trust_->Trust(
      "p.test", std::vector<std::string>{Fingerprint(k1_.public_key())},
      "admin"));
  EXPECT_TRUE(trust_->CheckInbound("p.test", false));
  EXPECT_EQ(trust_->PublicKeyFor("p.test", k1_.key_id())->key,
            k1_.public_key());
}

TEST(PeerUrlTest, PlainHttpNeedsAllowHttp) {
  EXPECT_EQ(NormalizeBaseUrl("http://p.test", false).error().reason, "bad_url");
  EXPECT_EQ(*NormalizeBaseUrl("http://p.test:8080/", true),
            "http://p.test:8080");
  EXPECT_EQ(*NormalizeBaseUrl("https://p.test", false), "https://p.test");
  EXPECT_EQ(NormalizeBaseUrl("https://user@p.test", false).error().reason,
            "bad_url");
}

TEST_F(TrustTest, BadPeersAreRefusedWhenAdded) {
  EXPECT_EQ(trust_->AddPeer("ftp://x", "admin").error().reason, "bad_url");
  EXPECT_EQ(trust_->AddPeer("http://x/path", "admin").error().reason,
            "bad_url");
  EXPECT_EQ(trust_->AddPeer("http://down.test", "admin").error().reason,
            "peer_unreachable");
  peers_.docs["http://me.test"] = Doc("me.test", {k1_});
  EXPECT_EQ(trust_->AddPeer("http://me.test", "admin").error().reason,
            "is_self");
  peers_.docs["http://junk.test"] = "{\"not\": \"a key document\"}";
  EXPECT_EQ(trust_->AddPeer("http://junk.test", "admin").error().reason,
            "bad_key_document");
}

TEST_F(TrustTest, LimitedAndBlockedPeers) {
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
  ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  ASSERT_TRUE(trust_->SetState("p.test", PeerState::kLimited, "admin"));
  EXPECT_EQ(trust_->CheckInbound("p.test", false).error().reason, "limited");
  EXPECT_TRUE(trust_->CheckInbound("p.test", true));
  ASSERT_TRUE(trust_->SetState("p.test", PeerState::kBlocked, "admin"));
  EXPECT_EQ(trust_->CheckInbound("p.test", true).error().reason, "blocked");
  EXPECT_EQ(trust_->PublicKeyFor("p.test", k1_.key_id()).error().reason,
            "blocked");
  ASSERT_TRUE(trust_->Remove("p.test", "admin"));
  EXPECT_FALSE(*trust_->Get("p.test"));
}

TEST_F(TrustTest, ARotationVouchedForByAPinnedKeyIsPinned) {
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
  ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  // The peer rotates: k2 current, k1 cross-signs.
  peers_.docs["http://p.test"] = Doc("p.test", {k2_, k1_});
  auto key = trust_->PublicKeyFor("p.test", k2_.key_id());
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->key, k2_.public_key());
  EXPECT_EQ(StateOf("p.test"), PeerState::kTrusted);
  // The old key still verifies old events.
  EXPECT_EQ(trust_->PublicKeyFor("p.test", k1_.key_id())->key,
            k1_.public_key());
}

TEST_F(TrustTest, AnUnvouchedKeyChangeMakesThePeerPending) {
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
  ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  peers_.docs["http://p.test"] = Doc("p.test", {k2_});
  EXPECT_EQ(trust_->PublicKeyFor("p.test", k2_.key_id()).error().reason,
            "unknown_key");
  EXPECT_EQ(StateOf("p.test"), PeerState::kPending);
  EXPECT_EQ(trust_->CheckInbound("p.test", false).error().reason,
            "not_trusted");
  // The admin looks, and trusts the new key, which replaces the old one:
  // the old key verifies only what it signed before now.
  ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  EXPECT_EQ(trust_->PublicKeyFor("p.test", k2_.key_id())->key,
            k2_.public_key());
  auto old = trust_->PublicKeyFor("p.test", k1_.key_id());
  ASSERT_TRUE(old);
  EXPECT_EQ(old->expired_ts, clock_.NowMs());
}

TEST_F(TrustTest, UnknownKeyIdsRefetchAtMostOncePerInterval) {
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
  ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  int before = peers_.fetches;
  for (int i = 0; i < 10; ++i)
    EXPECT_FALSE(trust_->PublicKeyFor("p.test", "ed25519:garbage"));
  EXPECT_EQ(peers_.fetches, before + 1);
  clock_.Advance(61 * 1000);
  EXPECT_FALSE(trust_->PublicKeyFor("p.test", "ed25519:garbage"));
  EXPECT_EQ(peers_.fetches, before + 2);
}

TEST_F(TrustTest, OpenFederationPinsOnFirstContactButHonoursBlocks) {
  Make(FederationPolicy::kOpen);
  peers_.docs["https://q.test"] = Doc("q.test", {k1_});
  EXPECT_EQ(trust_->CheckInbound("q.test", false).error().reason,
            "not_trusted");
  auto key = trust_->PublicKeyFor("q.test", k1_.key_id());
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_TRUE(trust_->CheckInbound("q.test", false));
  ASSERT_TRUE(trust_->SetState("q.test", PeerState::kBlocked, "admin"));
  EXPECT_EQ(trust_->CheckInbound("q.test", false).error().reason, "blocked");
}

}  // namespace
}  // namespace hearth::federation

namespace hearth::federation {
namespace {

TEST_F(TrustTest, APeerNotYetTrustedThatCallsIsNotAKeyChange) {
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
  // p trusted us first and calls: we fetch its keys, but nothing we pinned
  // changed, so it stays plainly pending (no key-change alarm).
  EXPECT_FALSE(trust_->PublicKeyFor("p.test", k1_.key_id()));
  auto p = *trust_->Get("p.test");
  EXPECT_EQ(p->state, PeerState::kPending);
  EXPECT_EQ(p->note, "added");
}

TEST_F(TrustTest, BlockingAPeerDropsWhatWasQueuedForIt) {
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
  ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  ASSERT_TRUE(env_->Update([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto seq, outbox_->Enqueue(txn, "{}", {"p.test"}));
    (void)seq;
    return Ok();
  }));
  ASSERT_TRUE(trust_->SetState("p.test", PeerState::kBlocked, "admin"));
  auto txn = env_->BeginRead();
  EXPECT_EQ(*outbox_->Depth(*txn, "p.test"), 0u);
}

}  // namespace
}  // namespace hearth::federation

namespace hearth::federation {
namespace {

TEST_F(TrustTest, PeriodicRefreshSeesARotationBeforeAnyEventNeedsIt) {
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
  ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  peers_.docs["http://p.test"] = Doc("p.test", {k2_, k1_});
  clock_.Advance(13ll * 3600 * 1000);
  auto n = trust_->RefreshKeys();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1u);
  auto p = *trust_->Get("p.test");
  EXPECT_EQ(p->state, PeerState::kTrusted);
  EXPECT_TRUE(p->pinned.count(k2_.key_id()));
  EXPECT_TRUE(p->old_keys.count(k1_.key_id()));
  // Not again until the interval has passed.
  EXPECT_EQ(*trust_->RefreshKeys(), 0u);
}

}  // namespace
}  // namespace hearth::federation

namespace hearth::federation {
namespace {

// The senders re-read the peer table only when this moves on, so every
// kind of write must move it, and reads must not.
TEST_F(TrustTest, TheGenerationMovesOnWithEveryWriteOfThePeerTable) {
  auto g = [&] { return trust_->generation(); };
  std::uint64_t before = g();
  peers_.docs["http://p.test"] = Doc("p.test", {k1_});
  ASSERT_TRUE(trust_->AddPeer("http://p.test", "admin"));
  EXPECT_GT(g(), before);
  before = g();
  ASSERT_TRUE(trust_->Trust("p.test", std::nullopt, "admin"));
  EXPECT_GT(g(), before);
  before = g();
  ASSERT_TRUE(trust_->List());
  ASSERT_TRUE(trust_->TrustedPeers());
  ASSERT_TRUE(trust_->CheckInbound("p.test", false));
  EXPECT_EQ(g(), before);
  // A key change found by a fetch (not by an admin) is a write too.
  peers_.docs["http://p.test"] = Doc("p.test", {k2_});
  EXPECT_FALSE(trust_->PublicKeyFor("p.test", k2_.key_id()));
  EXPECT_EQ(StateOf("p.test"), PeerState::kPending);
  EXPECT_GT(g(), before);
  before = g();
  ASSERT_TRUE(trust_->Remove("p.test", "admin"));
  EXPECT_GT(g(), before);
}

}  // namespace
}  // namespace hearth::federation
