#include "federation/signing_key.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <sstream>

#include "common/crypto.h"
#include "common/encoding.h"

namespace hearth::federation {
namespace {

using PkeyPtr = std::shared_ptr<EVP_PKEY>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

PkeyPtr Wrap(EVP_PKEY* p) { return PkeyPtr(p, EVP_PKEY_free); }

std::string RawPublic(EVP_PKEY* pkey) {
  std::string out(32, '\0');
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(
          pkey, reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
      len != 32) {
    std::abort();  // an Ed25519 key always has one
  }
  return out;
}

}  // namespace

SigningKey::SigningKey(std::shared_ptr<EVP_PKEY> pkey, std::string key_id)
    : pkey_(std::move(pkey)),
      key_id_(std::move(key_id)),
      public_key_(RawPublic(pkey_.get())) {}

SigningKey SigningKey::Generate() {
  std::string seed = RandomBytes(32);
  EVP_PKEY* p = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (p == nullptr) std::abort();
  PkeyPtr pkey = Wrap(p);
  // Derive the short id from the public key: stable, and distinct keys
  // get distinct ids.
  std::string id = Base64UrlEncode(Sha256(RawPublic(p))).substr(0, 8);
  for (char& c : id) {
    if (c == '-') c = '_';
  }
  return SigningKey(pkey, "ed25519:" + id);
}

Result<SigningKey> SigningKey::FromSeed(std::string_view seed,
                                        const std::string& key_id) {
  if (seed.size() != 32)
    return Error::Invalid("bad_key", "an Ed25519 seed has 32 bytes");
  if (!IsValidKeyId(key_id))
    return Error::Invalid("bad_key", "bad key id \"" + key_id + "\"");
  EVP_PKEY* p = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (p == nullptr)
    return Error::Invalid("bad_key", "OpenSSL refused the seed");
  return SigningKey(Wrap(p), key_id);
}

std::string SigningKey::seed() const {
  std::string out(32, '\0');
  size_t len = out.size();
  EVP_PKEY_get_raw_private_key(
      pkey_.get(), reinterpret_cast<unsigned char*>(out.data()), &len);
  return out;
}

std::string SigningKey::Sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) !=
          1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    std::abort();  // signing with a valid key cannot fail but for memory
  }
  return sig;
}

bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != 32 || signature.size() != 64) return false;
  EVP_PKEY* p = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size());
  if (p == nullptr) return false;
  PkeyPtr pkey = Wrap(p);
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                                   pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(
             ctx.get(),
             reinterpret_cast<const unsigned char*>(signature.data()),
             signature.size(),
             reinterpret_cast<const unsigned char*>(message.data()),
             message.size()) == 1;
}

bool IsValidKeyId(std::string_view key_id) {
  constexpr std::string_view kPrefix = "ed25519:";
  if (key_id.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view id = key_id.substr(kPrefix.size());
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string Fingerprint(std::string_view public_key) {
  return "SHA256:" + Base64Encode(Sha256(public_key));
}

std::string KeyFileLine(const SigningKey& key) {
  return "ed25519 " + key.key_id().substr(8) + " " + Base64Encode(key.seed()) +
         "\n";
}

Result<SigningKey> ParseKeyFileLine(std::string_view line) {
  std::istringstream fields{std::string(line)};
  std::string alg, id, seed_b64, extra;
  fields >> alg >> id >> seed_b64;
  auto seed = Base64Decode(seed_b64);
  if (alg != "ed25519" || id.empty() || !seed || (fields >> extra))
    return Error::Invalid("bad_key", "expected 'ed25519 <id> <seed>'");
  return SigningKey::FromSeed(*seed, "ed25519:" + id);
}

}  // namespace hearth::federation
