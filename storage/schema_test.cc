#include "storage/schema.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "node/accounts/account_store.h"
#include "node/accounts/tokens.h"
#include "storage/audit_log.h"
#include "storage/codec.h"
#include "tests/support/temp_dir.h"

namespace hearth::storage {
namespace {

// The account record as schema v0 wrote it: no display name.
struct AccountRecordV0 {
  std::string handle;
  std::string password_hash;
  std::int64_t created_ts = 0;
  bool suspended = false;
  template <class A>
  void serialize(A& ar, std::uint32_t) {
    ar(handle, password_hash, created_ts, suspended);
  }
};

struct SessionRecordV0 {
  std::string handle;
  std::int64_t created_ts = 0;
  std::int64_t expires_ts = 0;
  template <class A>
  void serialize(A& ar, std::uint32_t) {
    ar(handle, created_ts, expires_ts);
  }
};

}  // namespace
}  // namespace hearth::storage

CEREAL_CLASS_VERSION(hearth::storage::AccountRecordV0, 0);
CEREAL_CLASS_VERSION(hearth::storage::SessionRecordV0, 1);

namespace hearth::storage {
namespace {

// Writes a store exactly as schema v0 laid it out: meta.schema_version = 0,
// sessions keyed by the hex of the token hash, v0 account records.
void WriteV0Fixture(const std::string& dir, const std::string& token) {
  auto env = Env::Open(dir, {});
  ASSERT_TRUE(env);
  Env& e = **env;
  ASSERT_TRUE(e.Update([&](WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(Dbi meta, txn.OpenTable("meta"));
    HEARTH_ASSIGN_OR_RETURN(Dbi accounts, txn.OpenTable("handle_account"));
    HEARTH_ASSIGN_OR_RETURN(Dbi sessions, txn.OpenTable("tokenhash_session"));
    HEARTH_RETURN_IF_ERROR(txn.Put(meta, "schema_version", EncodeU64BE(0)));
    HEARTH_RETURN_IF_ERROR(
        txn.Put(accounts, "sam",
                Encode(AccountRecordV0{"sam", "$argon2id$v=19$m=64,t=1,p=1$x$y",
                                       1700000000000, false})));
    HEARTH_RETURN_IF_ERROR(
        txn.Put(sessions, HexEncode(HashSecret(token)),
                Encode(SessionRecordV0{"sam", 1700000000000, 4000000000000})));
    return Ok();
  }));
}

TEST(SchemaTest, NewStoreIsStampedWithTheCurrentVersion) {
  hearth::testing::TempDir dir;
  auto env = Env::Open(dir.path(), {});
  ASSERT_TRUE(env);
  std::vector<std::string> applied;
  ASSERT_TRUE(Migrate(**env, &applied));
  EXPECT_TRUE(applied.empty());
  auto v = ReadSchemaVersion(**env);
  ASSERT_TRUE(v && *v);
  EXPECT_EQ(**v, kSchemaVersion);
}

TEST(SchemaTest, MigratesAV0StoreAndKeepsItsData) {
  hearth::testing::TempDir dir;
  const std::string token = "hst_v0-session-token";
  WriteV0Fixture(dir.path(), token);

  auto env = Env::Open(dir.path(), {});
  ASSERT_TRUE(env);
  std::vector<std::string> applied;
  Status s = Migrate(**env, &applied);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(**ReadSchemaVersion(**env), 1u);

  // Today's code reads the migrated data through today's types.
  auto store = AccountStore::Open(**env);
  ASSERT_TRUE(store);
  auto txn = (*env)->BeginRead();
  ASSERT_TRUE(txn);
  auto account = store->accounts.Get(*txn, "sam");
  ASSERT_TRUE(account && *account) << (account ? "" : account.error().message);
  EXPECT_EQ((*account)->handle, "sam");
  EXPECT_EQ((*account)->display_name, "");  // new in v1
  EXPECT_EQ((*account)->created_ts, 1700000000000);
  auto session = store->sessions.Get(*txn, HashSecret(token));
  ASSERT_TRUE(session && *session);
  EXPECT_EQ((*session)->handle, "sam");
  auto old_key = store->sessions.Get(*txn, HexEncode(HashSecret(token)));
  ASSERT_TRUE(old_key);
  EXPECT_FALSE(*old_key);
}

TEST(SchemaTest, MigrationIsIdempotentAcrossRestarts) {
  hearth::testing::TempDir dir;
  WriteV0Fixture(dir.path(), "hst_t");
  for (int i = 0; i < 2; ++i) {
    auto env = Env::Open(dir.path(), {});
    ASSERT_TRUE(env);
    std::vector<std::string> applied;
    ASSERT_TRUE(Migrate(**env, &applied));
    EXPECT_EQ(applied.size(), i == 0 ? 1u : 0u);
  }
}

TEST(SchemaTest, RefusesAStoreFromTheFuture) {
  hearth::testing::TempDir dir;
  auto env = Env::Open(dir.path(), {});
  ASSERT_TRUE(env);
  auto meta = (*env)->OpenTable("meta");
  ASSERT_TRUE((*env)->Update([&](WriteTxn& txn) {
    return txn.Put(*meta, "schema_version", EncodeU64BE(kSchemaVersion + 1));
  }));
  Status s = Migrate(**env);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().reason, "store_too_new");
}

TEST(SchemaTest, ServerNameIsClaimedOnce) {
  hearth::testing::TempDir dir;
  auto env = Env::Open(dir.path(), {});
  ASSERT_TRUE(env);
  ASSERT_TRUE(ClaimServerName(**env, "a.test"));
  ASSERT_TRUE(ClaimServerName(**env, "a.test"));
  Status s = ClaimServerName(**env, "b.test");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().reason, "wrong_node");
}

TEST(AuditLogTest, AppendsInOrderAndPages) {
  hearth::testing::TempDir dir;
  auto env = Env::Open(dir.path(), {});
  ASSERT_TRUE(env);
  auto log = AuditLog::Open(**env);
  ASSERT_TRUE(log);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*env)->Update([&](WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(
          auto seq, log->Append(txn, AuditEntry{0, i, "admin", "test.action",
                                                std::to_string(i), "{}"}));
      EXPECT_EQ(seq, std::uint64_t(i + 1));
      return Ok();
    }));
  }
  auto txn = (*env)->BeginRead();
  auto page = log->List(*txn, 2, 2);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 3u);
  EXPECT_EQ((*page)[1].target, "3");
}

}  // namespace
}  // namespace hearth::storage
