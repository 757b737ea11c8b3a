#include "federation/node_keys.h"

#include <gtest/gtest.h>

#include "common/files.h"
#include "federation/key_document.h"
#include "tests/support/temp_dir.h"

namespace hearth::federation {
namespace {

class NodeKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::move(storage::Env::Open(dir_.Sub(""), {})).value();
    committer_ = std::make_unique<storage::Committer>(*env_);
  }
  std::unique_ptr<NodeKeys> Open() {
    auto k = NodeKeys::Open(*env_, *committer_, dir_.Sub("node.key"), "a.test",
                            clock_);
    EXPECT_TRUE(k) << k.error().message;
    return std::move(k).value();
  }
  hearth::testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<storage::Env> env_;
  std::unique_ptr<storage::Committer> committer_;
};

TEST_F(NodeKeysTest, RotationKeepsOldKeysVerifiableAndCrossSigns) {
  auto keys = Open();
  std::string first = keys->current().key_id();
  auto audit = storage::AuditLog::Open(*env_);
  clock_.Advance(1000);
  auto second = keys->Rotate(*audit, "admin");
  ASSERT_TRUE(second);
  EXPECT_NE(*second, first);
  auto doc = ParseKeyDocument(*keys->KeyDocumentText());
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_TRUE(doc->verify_keys.count(*second));
  ASSERT_TRUE(doc->old_verify_keys.count(first));
  EXPECT_EQ(doc->old_verify_keys[first].expired_ts, clock_.NowMs());
  EXPECT_TRUE(doc->signed_by.count(first));  // the cross-signature
  EXPECT_TRUE(doc->signed_by.count(*second));
  // A restart reads the same state back.
  keys.reset();
  auto again = Open();
  EXPECT_EQ(again->current().key_id(), *second);
  EXPECT_EQ(again->History().size(), 2u);
  // A second rotation drops the oldest seed but keeps its public key.
  ASSERT_TRUE(again->Rotate(*audit, "admin"));
  EXPECT_EQ(LoadKeyFile(dir_.Sub("node.key"))->size(), 2u);
  EXPECT_EQ(again->History().size(), 3u);
}

TEST_F(NodeKeysTest, ARotationInterruptedAfterTheFileIsFinishedOnOpen) {
  auto keys = Open();
  std::string old_id = keys->current().key_id();
  keys.reset();
  // Simulate a crash after the key file was replaced.
  SigningKey next = SigningKey::Generate();
  ASSERT_TRUE(SaveKeyFile(dir_.Sub("node.key"), {next}));
  auto reopened = Open();
  auto history = reopened->History();
  EXPECT_EQ(history[next.key_id()].expired_ts, 0);
  EXPECT_NE(history[old_id].expired_ts, 0);
}

TEST_F(NodeKeysTest, ABrokenKeyFileIsAClearError) {
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("node.key"), "garbage\n"));
  auto k = NodeKeys::Open(*env_, *committer_, dir_.Sub("node.key"), "a.test",
                          clock_);
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message.find("node.key"), std::string::npos);
}

}  // namespace
}  // namespace hearth::federation
