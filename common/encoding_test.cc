#include "common/encoding.h"

#include <gtest/gtest.h>

namespace hearth {
namespace {

TEST(EncodingTest, Base64IsUnpaddedAndRoundTrips) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg");
  EXPECT_EQ(Base64Encode("fo"), "Zm8");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\x00\x01\xff"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s);
  }
}

TEST(EncodingTest, Base64DecodingIsLenientOnlyWhereMatrixAsks) {
  EXPECT_EQ(Base64Decode("Zg=="), "f");  // padding accepted
  EXPECT_EQ(Base64Decode("Zh"), "f");    // unused low bits ignored
  EXPECT_FALSE(Base64Decode("Zg="));     // padding that does not pad
  EXPECT_FALSE(Base64Decode("Z=="));
  EXPECT_FALSE(Base64Decode("Z"));  // impossible length
  EXPECT_FALSE(Base64Decode("Zg=a"));
  EXPECT_FALSE(Base64Decode("-_8"));  // URL alphabet in standard
  EXPECT_FALSE(Base64UrlDecode("+/8"));
}

TEST(EncodingTest, HexAndBigEndian) {
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
  EXPECT_EQ(HexDecode("01AB"), "\x01\xab");
  EXPECT_FALSE(HexDecode("0"));
  EXPECT_FALSE(HexDecode("zz"));
  EXPECT_LT(EncodeU64BE(255), EncodeU64BE(256));  // sorts numerically
  EXPECT_EQ(DecodeU64BE(EncodeU64BE(0x0102030405060708)), 0x0102030405060708u);
  EXPECT_FALSE(DecodeU64BE("short"));
}

TEST(EncodingTest, PercentDecodingOfPathSegments) {
  EXPECT_EQ(PercentDecodeSegment("%40sam%40a.test"), "@sam@a.test");
  EXPECT_EQ(PercentDecodeSegment("plain"), "plain");
  EXPECT_EQ(PercentEncode("!calm-circle@a.test:80"),
            "%21calm-circle%40a.test%3A80");
  EXPECT_EQ(PercentEncode("a/b c~_."), "a%2Fb%20c~_.");
  EXPECT_EQ(PercentDecodeSegment(PercentEncode("@sam@a.test")), "@sam@a.test");
  EXPECT_FALSE(PercentDecodeSegment("%4"));
  EXPECT_FALSE(PercentDecodeSegment("%zz"));
  EXPECT_FALSE(PercentDecodeSegment("a%2Fb"));  // no '/' inside an id
  EXPECT_FALSE(PercentDecodeSegment("a%00b"));
}

TEST(EncodingTest, DecodesQueryComponents) {
  EXPECT_EQ(PercentDecode("a%20b+c%2b", true), "a b c+");
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("", true), "");
  EXPECT_FALSE(PercentDecode("%2", true));
  EXPECT_FALSE(PercentDecode("%g0", true));
}

}  // namespace
}  // namespace hearth
