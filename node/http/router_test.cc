#include "node/http/router.h"

#include <gtest/gtest.h>

namespace hearth::http {
namespace {

Result<Reply> Ok200(const Request&) { return Reply{200, "", "text/plain"}; }

TEST(RouterTest, MatchesLiteralsAndDecodesPlaceholders) {
  Router r;
  r.Add("GET", "/api/v1/groups/{}/messages", Ok200);
  r.Add("POST", "/api/v1/groups/{}/messages", Ok200);
  r.Add("GET", "/api/v1/me", Ok200);
  auto m = r.Find("GET", "/api/v1/groups/%21calm%40a.test/messages");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route->pattern, "/api/v1/groups/{}/messages");
  ASSERT_EQ(m->params.size(), 1u);
  EXPECT_EQ(m->params[0], "!calm@a.test");
  EXPECT_TRUE(r.Find("HEAD", "/api/v1/me"));
}

TEST(RouterTest, TellsNotFoundFromMethodNotAllowed) {
  Router r;
  r.Add("GET", "/api/v1/me", Ok200);
  r.Add("DELETE", "/api/v1/me", Ok200);
  auto m = r.Find("POST", "/api/v1/me");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind, ErrorKind::kMethodNotAllowed);
  EXPECT_NE(m.error().message.find("GET, DELETE"), std::string::npos);
  EXPECT_EQ(r.Find("GET", "/api/v1/you").error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(r.Find("GET", "/api/v1/me/").error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(r.Find("GET", "").error().kind, ErrorKind::kNotFound);
}

TEST(RouterTest, RejectsBadEscapesAndEmptyIds) {
  Router r;
  r.Add("GET", "/g/{}", Ok200);
  EXPECT_EQ(r.Find("GET", "/g/%zz").error().reason, "invalid_id");
  EXPECT_EQ(r.Find("GET", "/g/a%2Fb").error().reason, "invalid_id");
  EXPECT_EQ(r.Find("GET", "/g/").error().kind, ErrorKind::kNotFound);
}

}  // namespace
}  // namespace hearth::http
