// Matrix's canonical JSON test vectors (spec appendices) plus the
// rejections Hearth adds for inbound text.
#include "federation/canonical_json.h"

#include <gtest/gtest.h>

namespace hearth::federation {
namespace {

std::string Canon(const std::string& text) {
  auto v = nlohmann::json::parse(text);
  auto c = Canonicalize(v);
  EXPECT_TRUE(c) << c.error().message;
  return c ? *c : "";
}

TEST(CanonicalJsonTest, MatrixVectors) {
  EXPECT_EQ(Canon("{}"), "{}");
  EXPECT_EQ(Canon(R"({ "one": 1, "two": "Two" })"), R"({"one":1,"two":"Two"})");
  EXPECT_EQ(Canon(R"({ "b": "2", "a": "1" })"), R"({"a":"1","b":"2"})");
  EXPECT_EQ(Canon(R"({"b":"2","a":"1"})"), R"({"a":"1","b":"2"})");
  EXPECT_EQ(
      Canon(R"({"auth": {"success": true, "mxid": "@john.doe:example.com",
        "profile": {"display_name": "John Doe", "three_pids": [
          {"medium": "email", "address": "john.doe@example.org"},
          {"medium": "msisdn", "address": "123456789"}]}}})"),
      R"({"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}})");
  EXPECT_EQ(Canon(R"({"a": "日本語"})"), R"({"a":"日本語"})");
  EXPECT_EQ(Canon(R"({"本": 2, "日": 1})"), R"({"日":1,"本":2})");
  EXPECT_EQ(Canon(R"({"a": "\u65E5"})"), R"({"a":"日"})");
  EXPECT_EQ(Canon(R"({"a": null})"), R"({"a":null})");
}

TEST(CanonicalJsonTest, MinimalEscapes) {
  EXPECT_EQ(
      Canon(R"({"a":"\u0000\u0008\u0009\u000a\u000c\u000d\u001f\"\\\/é"})"),
      "{\"a\":\"\\u0000\\b\\t\\n\\f\\r\\u001f\\\"\\\\/é\"}");
}

TEST(CanonicalJsonTest, OneStringEncodesAsCanonicalizeWouldEncodeIt) {
  // Every byte alone (the fast path takes printable ASCII only), and
  // strings around the edges of it.
  std::vector<std::string> cases = {
      "",          "group.accept", "@a.b-c_d@x.test",         "a\"b",
      "tab\there", "日本語",       std::string("nul\0in", 6), "\x7f"};
  for (int c = 0; c < 128; ++c) cases.push_back(std::string(1, char(c)));
  for (const auto& s : cases) {
    auto fast = CanonicalString(s);
    auto slow = Canonicalize(nlohmann::json(s));
    ASSERT_TRUE(fast && slow) << s;
    EXPECT_EQ(*fast, *slow) << s;
  }
  // Invalid UTF-8 is refused, as by Canonicalize.
  auto bad = CanonicalString("\xff\xfe");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason, "not_canonical");
}

TEST(CanonicalJsonTest, ParseCanonicalAcceptsExactlyTheCanonicalForm) {
  for (const char* ok :
       {"{}", R"({"a":1})", R"({"a":[1,-2,true,false,null,"x"]})",
        R"({"a":"\u0001"})", R"({"日":1,"本":2})",
        R"({"big":9007199254740991,"small":-9007199254740991})"}) {
    auto r = ParseCanonical(ok);
    EXPECT_TRUE(r) << ok << ": " << r.error().message;
  }
  struct Case {
    const char* text;
    const char* reason;
  } bad[] = {
      {R"({"a":1,"a":2})", "not_canonical"},  // duplicate key
      {R"({"b":1,"a":2})", "not_canonical"},  // unsorted
      {R"({"a": 1})", "not_canonical"},       // whitespace
      {R"({"a":1.5})", "not_canonical"},      // float
      {R"({"a":1e3})", "not_canonical"},      // exponent
      {R"({"a":1.0})", "not_canonical"},
      {R"({"a":-0})", "not_canonical"},
      {R"({"a":01})", "bad_json"},                     // leading zero
      {R"({"a":9007199254740992})", "not_canonical"},  // 2^53
      {R"({"a":-9007199254740992})", "not_canonical"},
      {R"({"a":18446744073709551616})", "not_canonical"},
      {R"({"a":"\u0041"})", "not_canonical"},  // needless escape
      {R"({"a":"\u00e9"})", "not_canonical"},
      {"{\"a\":\"\xff\"}", "bad_json"},          // invalid UTF-8
      {"{\"a\":\"\xed\xa0\x80\"}", "bad_json"},  // surrogate in UTF-8
      {R"({"a":"\ud800"})", "bad_json"},         // lone surrogate escape
      {R"({"a":)", "bad_json"},
      {"", "bad_json"},
  };
  for (const Case& c : bad) {
    auto r = ParseCanonical(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().reason, c.reason) << c.text;
  }
}

TEST(CanonicalJsonTest, DepthAndSizeAreBounded) {
  std::string deep;
  for (int i = 0; i < 33; ++i) deep += "[";
  for (int i = 0; i < 33; ++i) deep += "]";
  EXPECT_EQ(ParseCanonical(deep).error().reason, "too_deep");
  std::string very_deep(100000, '[');
  very_deep += std::string(100000, ']');
  EXPECT_EQ(ParseCanonical(very_deep, {.max_bytes = 1 << 20}).error().reason,
            "too_deep");
  std::string ok;
  for (int i = 0; i < 32; ++i) ok += "[";
  for (int i = 0; i < 32; ++i) ok += "]";
  EXPECT_TRUE(ParseCanonical(ok));
  std::string big = "{\"a\":\"" + std::string(100, 'x') + "\"}";
  auto r = ParseCanonical(big, {.max_bytes = 50});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kTooLarge);
}

TEST(CanonicalJsonTest, CanonicalizeRefusesWhatCannotBeCanonical) {
  EXPECT_FALSE(Canonicalize(nlohmann::json{{"a", 0.5}}));
  EXPECT_FALSE(Canonicalize(nlohmann::json{{"a", std::uint64_t(1) << 60}}));
  EXPECT_FALSE(Canonicalize(nlohmann::json{{"a", std::string("\xff")}}));
}

}  // namespace
}  // namespace hearth::federation
