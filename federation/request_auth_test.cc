#include "federation/request_auth.h"

#include <gtest/gtest.h>

namespace hearth::federation {
namespace {

TEST(RequestAuthTest, SignedRequestsVerifyAndBindEveryField) {
  SigningKey key = SigningKey::Generate();
  nlohmann::json body = {{"events", nlohmann::json::array()}};
  auto header = SignRequest(key, "a.test", "b.test", "PUT",
                            "/_hearth/v1/send/1", 1764100000000, &body);
  ASSERT_TRUE(header);
  auto auth = ParseAuthorization(*header);
  ASSERT_TRUE(auth) << auth.error().message;
  EXPECT_EQ(auth->origin, "a.test");
  EXPECT_EQ(auth->destination, "b.test");
  EXPECT_EQ(auth->key_id, key.key_id());
  EXPECT_EQ(auth->ts, 1764100000000);
  EXPECT_TRUE(VerifyRequest(*auth, "PUT", "/_hearth/v1/send/1", &body,
                            key.public_key()));
  // Any change to what was signed breaks it.
  nlohmann::json other = {{"events", {1}}};
  EXPECT_FALSE(VerifyRequest(*auth, "PUT", "/_hearth/v1/send/1", &other,
                             key.public_key()));
  EXPECT_FALSE(VerifyRequest(*auth, "PUT", "/_hearth/v1/send/2", &body,
                             key.public_key()));
  EXPECT_FALSE(VerifyRequest(*auth, "GET", "/_hearth/v1/send/1", &body,
                             key.public_key()));
  EXPECT_FALSE(VerifyRequest(*auth, "PUT", "/_hearth/v1/send/1", nullptr,
                             key.public_key()));
  RequestAuth shifted = *auth;
  shifted.ts += 1;
  EXPECT_FALSE(VerifyRequest(shifted, "PUT", "/_hearth/v1/send/1", &body,
                             key.public_key()));
  EXPECT_FALSE(VerifyRequest(*auth, "PUT", "/_hearth/v1/send/1", &body,
                             SigningKey::Generate().public_key()));
}

TEST(RequestAuthTest, MalformedHeadersAreRefusedWithAReason) {
  const std::string sig(86, 'A');
  const std::string good =
      "Hearth origin=\"a.test\",destination=\"b.test\","
      "key=\"ed25519:k1\",ts=\"5\",sig=\"" +
      sig + "\"";
  ASSERT_TRUE(ParseAuthorization(good));
  EXPECT_EQ(ParseAuthorization("").error().reason, "missing_auth");
  for (const std::string& bad : std::vector<std::string>{
           std::string("Bearer x"), std::string("Hearth "),
           good + ",origin=\"c.test\"", good + ",",  // repeated
           good + ",extra=\"1\"",                    // unknown field
           std::string("Hearth origin=\"a.test\""),  // fields missing
           good.substr(0, good.size() - 1),          // unterminated
           "Hearth "
           "origin=a.test,destination=\"b.test\",key=\"ed25519:k1\",ts=\"5\","
           "sig="
           "\"" +
               sig + "\"",
           "Hearth "
           "origin=\"A.TEST\",destination=\"b.test\",key=\"ed25519:k1\",ts="
           "\"5\","
           "sig=\"" +
               sig + "\"",
           "Hearth "
           "origin=\"a.test\",destination=\"b.test\",key=\"rsa:k1\",ts=\"5\","
           "sig="
           "\"" +
               sig + "\"",
           "Hearth "
           "origin=\"a.test\",destination=\"b.test\",key=\"ed25519:k1\",ts="
           "\"5x\","
           "sig=\"" +
               sig + "\"",
           "Hearth "
           "origin=\"a.test\",destination=\"b.test\",key=\"ed25519:k1\",ts="
           "\"5\","
           "sig=\"AAAA\""}) {
    auto r = ParseAuthorization(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().reason, "bad_auth") << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kUnauthenticated);
  }
}

}  // namespace
}  // namespace hearth::federation
