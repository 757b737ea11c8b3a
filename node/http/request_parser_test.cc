#include "node/http/request_parser.h"

#include <gtest/gtest.h>

namespace hearth::http {
namespace {

ParseResult Parse(std::string_view text, RawRequest* req,
                  ParseLimits limits = {}) {
  return ParseRequest(text, limits, req);
}

TEST(RequestParserTest, ParsesARequestWithAContentLengthBody) {
  RawRequest req;
  std::string text =
      "POST /api/v1/groups/%21g%40a.test/messages?after=3&q=a+b%21 HTTP/1.1\r\n"
      "Host: a.test\r\nauthorization:  Bearer t0k \r\nContent-Length: 5\r\n"
      "\r\nhello"
      "GET / HTTP/1.1\r\n\r\n";
  auto r = Parse(text, &req);
  ASSERT_EQ(r.state, ParseResult::kDone) << r.message;
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.Path(), "/api/v1/groups/%21g%40a.test/messages");
  EXPECT_EQ(req.HeaderValue("Authorization"), "Bearer t0k");
  EXPECT_EQ(req.body, "hello");
  ASSERT_NE(req.Query("q"), nullptr);
  EXPECT_EQ(*req.Query("q"), "a b!");
  EXPECT_EQ(*req.Query("after"), "3");
  EXPECT_EQ(req.Query("missing"), nullptr);
  EXPECT_TRUE(req.keep_alive);
  // It took exactly the first request; the pipelined one follows.
  EXPECT_EQ(text.substr(r.consumed), "GET / HTTP/1.1\r\n\r\n");
}

TEST(RequestParserTest, AsksForMoreUntilTheRequestIsWhole) {
  std::string text =
      "PUT /x HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"
      "0123456789";
  RawRequest req;
  size_t head = text.find("\r\n\r\n") + 4;
  for (size_t n = 1; n < text.size(); ++n) {
    auto r = Parse(std::string_view(text).substr(0, n), &req);
    ASSERT_EQ(r.state, ParseResult::kNeedMore) << n;
    if (n >= head) {
      EXPECT_EQ(r.need, text.size());
      EXPECT_TRUE(r.expect_continue);
    }
  }
  auto r = Parse(text, &req);
  ASSERT_EQ(r.state, ParseResult::kDone);
  EXPECT_EQ(req.body, "0123456789");
}

TEST(RequestParserTest, DecodesChunkedBodies) {
  std::string text =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
  RawRequest req;
  for (size_t n = 1; n < text.size(); ++n)
    ASSERT_EQ(Parse(std::string_view(text).substr(0, n), &req).state,
              ParseResult::kNeedMore)
        << n;
  auto r = Parse(text, &req);
  ASSERT_EQ(r.state, ParseResult::kDone) << r.message;
  EXPECT_EQ(req.body, "hello, world");
  EXPECT_EQ(r.consumed, text.size());
}

TEST(RequestParserTest, KeepAliveFollowsVersionAndConnection) {
  RawRequest req;
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\n\r\n", &req).state, ParseResult::kDone);
  EXPECT_FALSE(req.keep_alive);
  ASSERT_EQ(
      Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req).state,
      ParseResult::kDone);
  EXPECT_TRUE(req.keep_alive);
  ASSERT_EQ(
      Parse("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n", &req).state,
      ParseResult::kDone);
  EXPECT_FALSE(req.keep_alive);
}

struct BadCase {
  std::string text;
  int status;
};

TEST(RequestParserTest, RefusesWhatCouldBeFramedTwoWays) {
  const BadCase cases[] = {
      {"GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
       "\r\n\r\n",
       400},
      {"GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length: 0x3\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 501},
      {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
      {"GET http://a.test/ HTTP/1.1\r\n\r\n", 400},
      {"GET /a b HTTP/1.1\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTX/1.1\r\n\r\n", 400},
      {"GET /?a=%zz HTTP/1.1\r\n\r\n", 400},
      {"GET /?a=% HTTP/1.1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
       400},
  };
  for (const auto& c : cases) {
    RawRequest req;
    auto r = Parse(c.text, &req);
    EXPECT_EQ(r.state, ParseResult::kError) << c.text;
    EXPECT_EQ(r.status, c.status) << c.text;
    EXPECT_FALSE(r.code.empty());
    EXPECT_FALSE(r.message.empty());
  }
}

TEST(RequestParserTest, EnforcesLimits) {
  ParseLimits limits;
  limits.max_line_bytes = 64;
  limits.max_header_bytes = 128;
  limits.max_headers = 3;
  limits.max_body_bytes = 10;
  RawRequest req;
  // Whole or not yet whole, an overlong part is refused at once.
  EXPECT_EQ(Parse("GET /" + std::string(100, 'a'), &req, limits).status, 414);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nX: " + std::string(200, 'a'), &req, limits)
                .status,
            431);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n",
                  &req, limits)
                .status,
            431);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", &req, limits)
                .status,
            413);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999"
                  "\r\n\r\n",
                  &req, limits)
                .status,
            400);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "6\r\nabcdef\r\n6\r\n",
                  &req, limits)
                .status,
            413);
  // Exactly at the limits is fine.
  auto ok = Parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789",
                  &req, limits);
  EXPECT_EQ(ok.state, ParseResult::kDone);
}

TEST(RequestParserTest, IgnoresEmptyLinesBeforeTheRequest) {
  RawRequest req;
  auto r = Parse("\r\n\r\nGET /x HTTP/1.1\r\n\r\n", &req);
  ASSERT_EQ(r.state, ParseResult::kDone);
  EXPECT_EQ(req.target, "/x");
}

}  // namespace
}  // namespace hearth::http
