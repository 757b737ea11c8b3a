// The member API of a real `hearth` process: accounts, sessions and the
// error model.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/support/node_process.h"

namespace hearth::testing {
namespace {

using nlohmann::json;

class AccountsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(node_.Start(&error)) << error;
    client_ = node_.Client();
  }

  // Asserts status and JSON error code.
  void ExpectError(const httplib::Result& res, int status,
                   const std::string& code) {
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, status) << res->body;
    json body = JsonOf(res);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_EQ(body["error"]["code"], code) << res->body;
    EXPECT_TRUE(body["error"]["message"].is_string()) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  }

  NodeProcess node_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(AccountsApiTest, NodeDocumentDescribesTheNode) {
  auto res = client_->Get("/api/v1/node");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  json j = JsonOf(res);
  EXPECT_EQ(j["server_name"], "a.test");
  EXPECT_EQ(j["software"], "hearth");
  EXPECT_EQ(j["registration"], "open");
  EXPECT_TRUE(j["crisis_resources"].is_array());
}

TEST_F(AccountsApiTest, RegisterLoginLogout) {
  auto reg = PostJson(*client_, "/api/v1/accounts",
                      {{"handle", "sam"},
                       {"password", "correct horse"},
                       {"display_name", "Sam"}});
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 201) << reg->body;
  json r = JsonOf(reg);
  EXPECT_EQ(r["member_id"], "@sam@a.test");
  std::string first = r["token"];

  auto me = GetWithToken(*client_, "/api/v1/me", first);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(JsonOf(me)["display_name"], "Sam");

  auto login = PostJson(*client_, "/api/v1/sessions",
                        {{"handle", "sam"}, {"password", "correct horse"}});
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  std::string second = JsonOf(login)["token"];
  EXPECT_NE(first, second);

  auto out = client_->Delete("/api/v1/sessions/current",
                             {{"Authorization", "Bearer " + second}});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  ExpectError(GetWithToken(*client_, "/api/v1/me", second), 401,
              "invalid_token");
  // Logging out one session leaves the other.
  me = GetWithToken(*client_, "/api/v1/me", first);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  // Logging out twice is an error, not a silent success.
  ExpectError(client_->Delete("/api/v1/sessions/current",
                              {{"Authorization", "Bearer " + second}}),
              401, "invalid_token");
}

TEST_F(AccountsApiTest, SessionsSurviveARestart) {
  auto reg = PostJson(*client_, "/api/v1/accounts",
                      {{"handle", "river"}, {"password", "long enough"}});
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 201);
  std::string token = JsonOf(reg)["token"];
  client_.reset();  // an idle keep-alive connection would delay shutdown
  EXPECT_EQ(node_.Stop(), 0) << node_.log();
  std::string error;
  ASSERT_TRUE(node_.Start(&error)) << error;
  client_ = node_.Client();
  auto me = GetWithToken(*client_, "/api/v1/me", token);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200) << me->body;
}

TEST_F(AccountsApiTest, BadInputGetsClearErrors) {
  // Malformed JSON, wrong shapes, missing and invalid fields.
  ExpectError(
      client_->Post("/api/v1/accounts", "{\"handle\":", "application/json"),
      400, "bad_json");
  ExpectError(client_->Post("/api/v1/accounts", "[1,2]", "application/json"),
              400, "not_an_object");
  ExpectError(PostJson(*client_, "/api/v1/accounts", {{"password", "x"}}), 400,
              "missing_field");
  ExpectError(PostJson(*client_, "/api/v1/accounts",
                       {{"handle", 7}, {"password", "long enough"}}),
              400, "invalid_field");
  ExpectError(PostJson(*client_, "/api/v1/accounts",
                       {{"handle", "Sam"}, {"password", "long enough"}}),
              400, "invalid_handle");
  ExpectError(
      PostJson(*client_, "/api/v1/accounts",
               {{"handle", std::string(33, 'a')}, {"password", "long enough"}}),
      400, "invalid_handle");
  ExpectError(PostJson(*client_, "/api/v1/accounts",
                       {{"handle", "sam"}, {"password", "short"}}),
              400, "weak_password");
  // Taken handle.
  ASSERT_EQ(PostJson(*client_, "/api/v1/accounts",
                     {{"handle", "sam"}, {"password", "long enough"}})
                ->status,
            201);
  ExpectError(PostJson(*client_, "/api/v1/accounts",
                       {{"handle", "sam"}, {"password", "long enough"}}),
              409, "handle_taken");
  // Wrong password and unknown handle look the same.
  ExpectError(PostJson(*client_, "/api/v1/sessions",
                       {{"handle", "sam"}, {"password", "wrong password"}}),
              401, "invalid_credentials");
  ExpectError(PostJson(*client_, "/api/v1/sessions",
                       {{"handle", "nobody"}, {"password", "long enough"}}),
              401, "invalid_credentials");
  // Credentials.
  ExpectError(client_->Get("/api/v1/me"), 401, "missing_token");
  ExpectError(client_->Get("/api/v1/me", {{"Authorization", "Basic abc"}}), 401,
              "missing_token");
  ExpectError(GetWithToken(*client_, "/api/v1/me", "hst_nonsense"), 401,
              "invalid_token");
  // Oversized body (limit 1 MiB).
  ExpectError(client_->Post("/api/v1/accounts", std::string(2 << 20, ' '),
                            "application/json"),
              413, "too_large");
  // Unknown path, wrong method, a body-less POST.
  auto fresh = node_.Client();
  ExpectError(fresh->Get("/api/v1/nothing-here"), 404, "not_found");
  ExpectError(fresh->Get("/"), 404, "not_found");
  ExpectError(fresh->Put("/api/v1/accounts", "{}", "application/json"), 405,
              "method_not_allowed");
  ExpectError(fresh->Delete("/api/v1/me"), 405, "method_not_allowed");
  ExpectError(fresh->Post("/api/v1/sessions"), 400, "bad_json");
  // The node is still fine.
  auto ok = fresh->Get("/api/v1/node");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(AccountsApiTest, RepeatedFailedLoginsAreSlowedDown) {
  ASSERT_EQ(PostJson(*client_, "/api/v1/accounts",
                     {{"handle", "kit"}, {"password", "the right one"}})
                ->status,
            201);
  int limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto res = PostJson(*client_, "/api/v1/sessions",
                        {{"handle", "kit"}, {"password", "a wrong one"}});
    ASSERT_TRUE(res);
    if (res->status == 429) {
      ++limited;
      EXPECT_FALSE(res->get_header_value("Retry-After").empty());
      EXPECT_EQ(JsonOf(res)["error"]["code"], "rate_limited");
    } else {
      EXPECT_EQ(res->status, 401);
    }
  }
  EXPECT_GT(limited, 0);
  // While limited, even the right password waits: the guesser learns nothing.
  auto res = PostJson(*client_, "/api/v1/sessions",
                      {{"handle", "kit"}, {"password", "the right one"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
}

class RegistrationPolicyTest : public ::testing::Test {};

TEST_F(RegistrationPolicyTest, ClosedNodeRefusesRegistration) {
  NodeProcess node(NodeOptions{.registration = "closed"});
  std::string error;
  ASSERT_TRUE(node.Start(&error)) << error;
  auto c = node.Client();
  auto res = PostJson(*c, "/api/v1/accounts",
                      {{"handle", "sam"}, {"password", "long enough"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(JsonOf(res)["error"]["code"], "registration_closed");
}

TEST_F(RegistrationPolicyTest, InviteOnlyNodeTakesAdminInvites) {
  NodeProcess node(NodeOptions{.registration = "invite"});
  std::string error;
  ASSERT_TRUE(node.Start(&error)) << error;
  auto c = node.Client();
  auto admin = node.AdminClient();

  auto res = PostJson(*c, "/api/v1/accounts",
                      {{"handle", "sam"}, {"password", "long enough"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(JsonOf(res)["error"]["code"], "invite_required");

  // The admin API wants the admin token.
  auto no_token = PostJson(*admin, "/admin/v1/invites", {{"uses", 2}});
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  auto bad_token =
      PostJson(*admin, "/admin/v1/invites", {{"uses", 2}}, "not-the-token");
  ASSERT_TRUE(bad_token);
  EXPECT_EQ(bad_token->status, 401);
  auto bad_uses =
      PostJson(*admin, "/admin/v1/invites", {{"uses", 0}}, node.admin_token());
  ASSERT_TRUE(bad_uses);
  EXPECT_EQ(bad_uses->status, 400);

  auto invite =
      PostJson(*admin, "/admin/v1/invites", {{"uses", 2}}, node.admin_token());
  ASSERT_TRUE(invite);
  ASSERT_EQ(invite->status, 201) << invite->body;
  std::string code = JsonOf(invite)["code"];

  res = PostJson(*c, "/api/v1/accounts",
                 {{"handle", "sam"},
                  {"password", "long enough"},
                  {"invite", "hsi_wrong"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(JsonOf(res)["error"]["code"], "invalid_invite");
  for (std::string handle : {"sam", "alex"}) {
    res = PostJson(
        *c, "/api/v1/accounts",
        {{"handle", handle}, {"password", "long enough"}, {"invite", code}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 201) << res->body;
  }
  // Used up after two.
  res = PostJson(
      *c, "/api/v1/accounts",
      {{"handle", "jo"}, {"password", "long enough"}, {"invite", code}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(JsonOf(res)["error"]["code"], "invalid_invite");

  // The invite is in the audit log, without the code itself.
  auto audit = GetWithToken(*admin, "/admin/v1/audit", node.admin_token());
  ASSERT_TRUE(audit);
  ASSERT_EQ(audit->status, 200);
  json entries = JsonOf(audit)["entries"];
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["action"], "invite.create");
  EXPECT_EQ(entries[0]["actor"], "admin");
  EXPECT_EQ(audit->body.find(code), std::string::npos);

  // Metrics count the requests by route and status, and report LMDB size.
  auto metrics = GetWithToken(*admin, "/metrics", node.admin_token());
  ASSERT_TRUE(metrics);
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("hearth_http_requests_total{listener=\"member\","
                               "route=\"/api/v1/accounts\",method=\"POST\","
                               "status=\"201\"} 2"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("hearth_lmdb_used_bytes "), std::string::npos);
  EXPECT_NE(metrics->body.find("hearth_http_request_duration_seconds_bucket"),
            std::string::npos);

  // hearthctl wraps the same calls.
  auto ctl = RunCommand({HearthctlBinary(), "--data-dir", node.data_dir(),
                         "invites", "create", "--uses", "3"});
  EXPECT_EQ(ctl.exit_code, 0) << ctl.output;
  EXPECT_NE(ctl.output.find("hsi_"), std::string::npos) << ctl.output;
  ctl = RunCommand(
      {HearthctlBinary(), "--data-dir", node.data_dir(), "--json", "audit"});
  EXPECT_EQ(ctl.exit_code, 0) << ctl.output;
  json listed = json::parse(ctl.output, nullptr, false);
  ASSERT_TRUE(listed.is_object()) << ctl.output;
  EXPECT_EQ(listed["entries"].size(), 2u);
}

TEST_F(RegistrationPolicyTest, NoSecretsInTheLogEvenAtTraceLevel) {
  NodeProcess node(NodeOptions{.log_level = "trace"});
  std::string error;
  ASSERT_TRUE(node.Start(&error)) << error;
  auto c = node.Client();
  auto reg = PostJson(*c, "/api/v1/accounts",
                      {{"handle", "sam"}, {"password", "pw-do-not-log"}});
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 201);
  std::string token = JsonOf(reg)["token"];
  ASSERT_EQ(GetWithToken(*c, "/api/v1/me", token)->status, 200);
  c.reset();
  EXPECT_EQ(node.Stop(), 0);
  std::string log = node.log();
  EXPECT_NE(log.find("/api/v1/accounts"), std::string::npos) << log;
  EXPECT_EQ(log.find("pw-do-not-log"), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << log;
  EXPECT_EQ(log.find(node.admin_token()), std::string::npos) << log;
}

}  // namespace
}  // namespace hearth::testing

namespace hearth::testing {
namespace {

TEST(GracefulShutdownTest, InFlightRequestFinishesOnSigterm) {
  // Expensive hashing keeps the registration in flight for a while.
  NodeProcess node(NodeOptions{
      .accounts_extra = "password_memory_kib = 65536\npassword_iterations = "
                        "12\n"});
  std::string error;
  ASSERT_TRUE(node.Start(&error)) << error;
  int status = 0;
  std::thread client([&] {
    auto c = node.Client();
    auto res = PostJson(*c, "/api/v1/accounts",
                        {{"handle", "late"}, {"password", "long enough"}});
    status = res ? res->status : -1;
  });
  // Stop only once the registration is being handled (hashing).
  auto admin = node.AdminClient();
  std::string metrics;
  EXPECT_TRUE(WaitFor([&] {
    auto m = GetWithToken(*admin, "/metrics", node.admin_token());
    metrics = m ? m->body : "";
    return metrics.find(
               "hearth_http_requests_in_flight{listener=\"member\"} 1") !=
           std::string::npos;
  })) << metrics;
  EXPECT_EQ(node.Stop(), 0) << node.log();
  client.join();
  EXPECT_EQ(status, 201) << node.log();
  // What was acknowledged is there after a restart.
  ASSERT_TRUE(node.Start(&error)) << error;
  auto c = node.Client();
  auto login = PostJson(*c, "/api/v1/sessions",
                        {{"handle", "late"}, {"password", "long enough"}});
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 200);
}

}  // namespace
}  // namespace hearth::testing

namespace hearth::testing {
namespace {

TEST(ProxyTest, ThrottlingCountsTheForwardedClientBehindATrustedProxy) {
  NodeProcess node;
  std::string error;
  {
    std::string path = node.data_dir() + "/hearth.toml";
    std::ifstream in(path);
    std::string config((std::istreambuf_iterator<char>(in)), {});
    config.replace(config.find("[node]\n"), 7,
                   "[node]\ntrusted_proxies = [\"127.0.0.1\"]\n");
    std::ofstream(path) << config;
  }
  ASSERT_TRUE(node.Start(&error)) << error;
  auto c = node.Client();
  ASSERT_EQ(PostJson(*c, "/api/v1/accounts",
                     {{"handle", "sam"}, {"password", "long enough"}})
                ->status,
            201);
  auto login = [&](const std::string& handle, const std::string& client) {
    return c->Post(
        "/api/v1/sessions", {{"X-Forwarded-For", client}},
        json{{"handle", handle}, {"password", "wrong password"}}.dump(),
        "application/json");
  };
  // One client guessing across many handles gets slowed down...
  int limited = 0;
  for (int i = 0; i < 25; ++i) {
    auto res = login("user" + std::to_string(i), "198.51.100.7");
    ASSERT_TRUE(res);
    if (res->status == 429) ++limited;
  }
  EXPECT_GT(limited, 0);
  // ...while another client behind the same proxy is not.
  auto other =
      c->Post("/api/v1/sessions", {{"X-Forwarded-For", "203.0.113.9"}},
              json{{"handle", "sam"}, {"password", "long enough"}}.dump(),
              "application/json");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200) << other->body;
}

}  // namespace
}  // namespace hearth::testing
