// Matrix's JSON-signing test vectors (spec appendices): seed
// YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1, server "domain", key
// "ed25519:1". A Hearth signature is a Matrix signature.
#include "federation/signed_json.h"

#include "federation/node_keys.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "tests/support/temp_dir.h"

#include <fstream>

namespace hearth::federation {
namespace {

SigningKey MatrixTestKey() {
  auto seed = Base64Decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
  EXPECT_TRUE(seed);
  auto key = SigningKey::FromSeed(*seed, "ed25519:1");
  EXPECT_TRUE(key);
  return *key;
}

TEST(SignedJsonTest, MatrixSigningVectors) {
  SigningKey key = MatrixTestKey();
  nlohmann::json empty = nlohmann::json::object();
  ASSERT_TRUE(SignJson(empty, "domain", key));
  EXPECT_EQ(
      empty.dump(),
      R"({"signatures":{"domain":{"ed25519:1":"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}})");
  nlohmann::json data = {{"one", 1}, {"two", "Two"}};
  ASSERT_TRUE(SignJson(data, "domain", key));
  EXPECT_EQ(
      data.dump(),
      R"({"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"})");
  EXPECT_TRUE(VerifyJson(data, "domain", "ed25519:1", key.public_key()));
}

TEST(SignedJsonTest, SignCanonicalMakesTheBytesOfSignJsonThenCanonicalize) {
  SigningKey key = MatrixTestKey();
  // An accept-shaped object: a nested signed event, keys on both sides of
  // "signatures", non-ASCII text and escapes.
  nlohmann::json event = {
      {"type", "group.message"},
      {"origin", "b.example"},
      {"ts", 1700000000123},
      {"content", {{"body", "caf\u00e9 \"quoted\"\n\u2603"}}}};
  ASSERT_TRUE(SignJson(event, "b.example", key));
  nlohmann::json dom = {{"type", "group.accept"}, {"origin", "domain"},
                        {"group", "!g@domain"},   {"seq", 42},
                        {"ts", 1700000000456},    {"content", {}},
                        {"event", event},         {"author_key", {{"k", "v"}}}};
  dom["content"] = nlohmann::json::object();
  ASSERT_TRUE(SignJson(dom, "domain", key));
  auto expected = Canonicalize(dom);
  ASSERT_TRUE(expected);

  CanonicalObject obj;
  auto event_text = Canonicalize(event);
  ASSERT_TRUE(event_text);
  // Added out of order on purpose.
  ASSERT_TRUE(obj.AddString("type", "group.accept"));
  obj.AddRaw("event", *event_text);
  ASSERT_TRUE(obj.AddInt("ts", 1700000000456));
  ASSERT_TRUE(obj.AddString("origin", "domain"));
  obj.AddRaw("content", "{}");
  ASSERT_TRUE(obj.AddInt("seq", 42));
  obj.AddRaw("author_key", R"({"k":"v"})");
  ASSERT_TRUE(obj.AddString("group", "!g@domain"));
  auto text = SignCanonical(obj, "domain", key);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, *expected);
  auto parsed = ParseCanonical(*text);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(VerifyJson(*parsed, "domain", "ed25519:1", key.public_key()));

  // What cannot be canonical is refused, not written.
  CanonicalObject bad;
  EXPECT_FALSE(bad.AddInt("n", kMaxSafeInteger + 1));
  EXPECT_FALSE(bad.AddString("s", std::string("\xff\xfe")));
  CanonicalObject twice;
  twice.AddRaw("a", "1");
  twice.AddRaw("a", "2");
  EXPECT_FALSE(twice.Text());
  CanonicalObject signed_already;
  signed_already.AddRaw("signatures", "{}");
  EXPECT_FALSE(SignCanonical(signed_already, "domain", key));
}

TEST(SignedJsonTest, CanonicalFromSigningBytesPutsSignaturesInPlace) {
  SigningKey key = MatrixTestKey();
  std::vector<nlohmann::json> objects = {
      nlohmann::json::object(),
      {{"a", 1}},
      {{"z", "last"}},
      {{"a", {{"signatures", {{"x", "nested, not ours"}}}}}, {"t", "y"}},
      {{"s", "q\"uote}"}, {"signaturez", 1}, {"signatur", "es"}},
      {{"sig\nnatures", 1},
       {"signatures\x01", 2},
       {"\u00e9",
        [] {
          return nlohmann::json::array({1, "]", {{"k", "}"}}});
        }()}},
      {{"content", {{"body", "{\"not\": [json]}\\"}}}, {"ts", 5}},
  };
  for (auto object : objects) {
    ASSERT_TRUE(SignJson(object, "domain", key));
    ASSERT_TRUE(SignJson(object, "other", key));
    auto bytes = SigningBytes(object);
    ASSERT_TRUE(bytes);
    auto fast = CanonicalFromSigningBytes(object, *bytes);
    auto slow = Canonicalize(object);
    ASSERT_TRUE(fast) << fast.error().message << " for " << object.dump();
    ASSERT_TRUE(slow);
    EXPECT_EQ(*fast, *slow);
    // Verifying with the bytes made once is verifying.
    EXPECT_TRUE(
        VerifyJson(object, "domain", "ed25519:1", key.public_key(), &*bytes));
  }
  nlohmann::json unsigned_member = {{"a", 1}, {"unsigned", {{"age", 3}}}};
  ASSERT_TRUE(SignJson(unsigned_member, "domain", key));
  auto bytes = SigningBytes(unsigned_member);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*CanonicalFromSigningBytes(unsigned_member, *bytes),
            *Canonicalize(unsigned_member));
}

TEST(SignedJsonTest, SignaturesAndUnsignedAreNotCovered) {
  SigningKey key = MatrixTestKey();
  nlohmann::json obj = {{"one", 1}, {"two", "Two"}};
  ASSERT_TRUE(SignJson(obj, "domain", key));
  obj["unsigned"] = {{"age", 5}};
  obj["signatures"]["other.example"]["ed25519:x"] = "AAAA";
  EXPECT_TRUE(VerifyJson(obj, "domain", "ed25519:1", key.public_key()));
}

TEST(SignedJsonTest, VerificationFailuresCarryAReason) {
  SigningKey key = MatrixTestKey();
  SigningKey other = SigningKey::Generate();
  nlohmann::json obj = {{"body", "hello"}};
  ASSERT_TRUE(SignJson(obj, "domain", key));

  auto tampered = obj;
  tampered["body"] = "hellO";
  EXPECT_EQ(VerifyJson(tampered, "domain", "ed25519:1", key.public_key())
                .error()
                .reason,
            "bad_signature");
  EXPECT_EQ(
      VerifyJson(obj, "domain", "ed25519:1", other.public_key()).error().reason,
      "bad_signature");
  EXPECT_EQ(VerifyJson(obj, "elsewhere", "ed25519:1", key.public_key())
                .error()
                .reason,
            "unsigned");
  EXPECT_EQ(
      VerifyJson(obj, "domain", "ed25519:2", key.public_key()).error().reason,
      "unsigned");
  auto garbled = obj;
  garbled["signatures"]["domain"]["ed25519:1"] = "not base64!";
  EXPECT_EQ(VerifyJson(garbled, "domain", "ed25519:1", key.public_key())
                .error()
                .reason,
            "bad_signature");
}

TEST(SignedJsonTest, EventIdsAreContentHashesIndependentOfSigners) {
  nlohmann::json event = {{"type", "group.message"},
                          {"origin", "lakeside.example"},
                          {"ts", 1764100000000},
                          {"content", {{"body", "hi"}}}};
  auto before = EventId(event);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->size(), 1u + 43u);  // "$" + 32 bytes of base64url
  EXPECT_EQ((*before)[0], '$');
  ASSERT_TRUE(SignJson(event, "lakeside.example", MatrixTestKey()));
  ASSERT_TRUE(SignJson(event, "riverside.example", SigningKey::Generate()));
  EXPECT_EQ(*EventId(event), *before);
  event["content"]["body"] = "hi!";
  EXPECT_NE(*EventId(event), *before);
}

TEST(SigningKeyTest, KeyFileRoundTripsInSynapseFormat) {
  hearth::testing::TempDir dir;
  SigningKey key = SigningKey::Generate();
  EXPECT_TRUE(IsValidKeyId(key.key_id())) << key.key_id();
  std::string path = dir.Sub("node.key");
  ASSERT_TRUE(SaveKeyFile(path, {key}));
  auto file = LoadKeyFile(path);
  ASSERT_TRUE(file) << file.error().message;
  auto loaded = &file->front();
  EXPECT_EQ(loaded->key_id(), key.key_id());
  EXPECT_EQ(loaded->public_key(), key.public_key());
  std::string sig = key.Sign("message");
  EXPECT_TRUE(VerifyEd25519(loaded->public_key(), "message", sig));
  EXPECT_FALSE(VerifyEd25519(loaded->public_key(), "messagE", sig));
  EXPECT_NE(SigningKey::Generate().key_id(), key.key_id());
  EXPECT_EQ(Fingerprint(key.public_key()).rfind("SHA256:", 0), 0u);
}

TEST(SigningKeyTest, BadKeyFilesAreClearErrors) {
  hearth::testing::TempDir dir;
  std::string path = dir.Sub("node.key");
  for (const char* text : {"", "ed25519 abc", "rsa abc AAAA",
                           "ed25519 abc notbase64!", "ed25519 abc AAAA"}) {
    std::ofstream(path) << text;
    auto k = LoadKeyFile(path);
    ASSERT_FALSE(k) << text;
    EXPECT_NE(k.error().message.find(path), std::string::npos);
  }
  EXPECT_FALSE(IsValidKeyId("ed25519:"));
  EXPECT_FALSE(IsValidKeyId("rsa:abc"));
  EXPECT_FALSE(IsValidKeyId("ed25519:a/b"));
}

}  // namespace
}  // namespace hearth::federation
