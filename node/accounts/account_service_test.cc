#include "node/accounts/account_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "storage/schema.h"
#include "tests/support/temp_dir.h"

namespace hearth {
namespace {

class AccountServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(Registration::kOpen); }

  void Make(Registration registration) {
    service_.reset();
    committer_.reset();
    env_.reset();
    auto env = storage::Env::Open(dir_.path(), {});
    ASSERT_TRUE(env);
    env_ = std::move(env).value();
    ASSERT_TRUE(storage::Migrate(*env_));
    auto store = AccountStore::Open(*env_);
    ASSERT_TRUE(store);
    auto audit = storage::AuditLog::Open(*env_);
    ASSERT_TRUE(audit);
    committer_ = std::make_unique<storage::Committer>(*env_);
    service_ = std::make_unique<AccountService>(
        *env_, *committer_, *store, *audit, hasher_, throttle_, clock_,
        AccountsOptions{"a.test", registration, 3600 * 1000});
  }

  RegisterRequest Req(const std::string& handle,
                      std::optional<std::string> invite = std::nullopt) {
    return RegisterRequest{handle, "long enough", "", invite};
  }

  hearth::testing::TempDir dir_;
  FakeClock clock_;
  PasswordHasher hasher_{PasswordParams{256, 1, 1}, 2};
  LoginThrottle throttle_{clock_, ThrottleOptions{}};
  std::unique_ptr<storage::Env> env_;
  std::unique_ptr<storage::Committer> committer_;
  std::unique_ptr<AccountService> service_;
};

TEST_F(AccountServiceTest, RegisteredMemberCanAuthenticate) {
  auto g = service_->Register(Req("sam"));
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->member_id, "@sam@a.test");
  auto m = service_->Authenticate(g->token);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->handle, "sam");
}

TEST_F(AccountServiceTest, SessionsExpire) {
  auto g = service_->Register(Req("sam"));
  ASSERT_TRUE(g);
  clock_.Advance(3600 * 1000 - 1);
  EXPECT_TRUE(service_->Authenticate(g->token));
  clock_.Advance(1);
  auto m = service_->Authenticate(g->token);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().reason, "invalid_token");
  auto swept = service_->SweepExpiredSessions();
  ASSERT_TRUE(swept);
  EXPECT_EQ(*swept, 1u);
}

TEST_F(AccountServiceTest, LogoutEndsOnlyThatSession) {
  auto a = service_->Register(Req("sam"));
  auto b = service_->Login("sam", "long enough", "127.0.0.1");
  ASSERT_TRUE(a && b);
  // Both authenticated (and so remembered) before the logout.
  ASSERT_TRUE(service_->Authenticate(a->token));
  ASSERT_TRUE(service_->Authenticate(b->token));
  ASSERT_TRUE(service_->Logout(b->token));
  EXPECT_FALSE(service_->Authenticate(b->token));
  EXPECT_TRUE(service_->Authenticate(a->token));
  EXPECT_FALSE(service_->Logout(b->token));
}

TEST_F(AccountServiceTest, ConcurrentRegistrationsOfOneHandleYieldOneAccount) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, taken{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto g = service_->Register(Req("contested"));
      if (g) {
        ++ok;
      } else if (g.error().reason == "handle_taken") {
        ++taken;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(taken, 7);
}

TEST_F(AccountServiceTest, InviteOnlyRegistrationConsumesInvites) {
  Make(Registration::kInvite);
  EXPECT_EQ(service_->Register(Req("sam")).error().reason, "invite_required");
  auto invite = service_->CreateInvite("admin", 1, 3600 * 1000);
  ASSERT_TRUE(invite);
  EXPECT_EQ(service_->Register(Req("sam", "hsi_wrong")).error().reason,
            "invalid_invite");
  ASSERT_TRUE(service_->Register(Req("sam", invite->code)));
  EXPECT_EQ(service_->Register(Req("alex", invite->code)).error().reason,
            "invalid_invite");
  // An expired invite is refused.
  auto late = service_->CreateInvite("admin", 5, 1000);
  ASSERT_TRUE(late);
  clock_.Advance(1000);
  EXPECT_EQ(service_->Register(Req("kit", late->code)).error().reason,
            "invalid_invite");
}

TEST_F(AccountServiceTest, ARefusedRegistrationDoesNotUseTheInvite) {
  Make(Registration::kInvite);
  auto invite = service_->CreateInvite("admin", 1, 3600 * 1000);
  ASSERT_TRUE(invite);
  ASSERT_TRUE(service_->Register(Req("sam", invite->code)));
  auto second = service_->CreateInvite("admin", 1, 3600 * 1000);
  ASSERT_TRUE(second);
  // Taken handle: the invite must still be there afterwards.
  EXPECT_EQ(service_->Register(Req("sam", second->code)).error().reason,
            "handle_taken");
  EXPECT_TRUE(service_->Register(Req("alex", second->code)));
}

TEST_F(AccountServiceTest, ClosedRegistration) {
  Make(Registration::kClosed);
  EXPECT_EQ(service_->Register(Req("sam")).error().reason,
            "registration_closed");
}

TEST_F(AccountServiceTest, UnknownHandleAndWrongPasswordAreIndistinguishable) {
  ASSERT_TRUE(service_->Register(Req("sam")));
  auto wrong = service_->Login("sam", "wrong password", "1.1.1.1");
  auto unknown = service_->Login("nobody", "long enough", "1.1.1.1");
  ASSERT_FALSE(wrong);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error().reason, unknown.error().reason);
  EXPECT_EQ(wrong.error().message, unknown.error().message);
}

TEST_F(AccountServiceTest, LoginUpgradesHashesMadeWithOlderParameters) {
  ASSERT_TRUE(service_->Register(Req("sam")));
  PasswordHasher stronger(PasswordParams{512, 2, 1}, 2);
  auto store = AccountStore::Open(*env_);
  ASSERT_TRUE(store);
  auto audit = storage::AuditLog::Open(*env_);
  AccountService upgraded(
      *env_, *committer_, *store, *audit, stronger, throttle_, clock_,
      AccountsOptions{"a.test", Registration::kOpen, 3600 * 1000});
  ASSERT_TRUE(upgraded.Login("sam", "long enough", "1.1.1.1"));
  auto txn = env_->BeginRead();
  auto record = store->accounts.Get(*txn, "sam");
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->password_hash.rfind("$argon2id$v=19$m=512,t=2,p=1$", 0),
            0u);
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

TEST_F(AccountServiceTest, WithoutAValidInviteNobodyLearnsWhichHandlesExist) {
  Make(Registration::kInvite);
  auto invite = service_->CreateInvite("admin", 1, 3600 * 1000);
  ASSERT_TRUE(invite);
  ASSERT_TRUE(service_->Register(Req("sam", invite->code)));
  EXPECT_EQ(service_->Register(Req("sam", "hsi_made_up")).error().reason,
            "invalid_invite");
}

}  // namespace
}  // namespace hearth
