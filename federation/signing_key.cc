#include "federation/signing_key.h"

#include <sodium.h>

#include <cstdlib>
#include <sstream>

#include "common/crypto.h"
#include "common/encoding.h"

namespace hearth::federation {
namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// libsodium picks its implementations once; it is safe to call from any
// thread, and cheap after the first call.
void InitSodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
}

}  // namespace

struct SigningKey::Secret {
  unsigned char sk[crypto_sign_SECRETKEYBYTES];  // seed, then public key
  ~Secret() { sodium_memzero(sk, sizeof sk); }
};

SigningKey::SigningKey(std::shared_ptr<const Secret> secret, std::string key_id)
    : secret_(std::move(secret)),
      key_id_(std::move(key_id)),
      public_key_(
          reinterpret_cast<const char*>(secret_->sk) + crypto_sign_SEEDBYTES,
          crypto_sign_PUBLICKEYBYTES) {}

SigningKey SigningKey::Generate() {
  std::string seed = RandomBytes(crypto_sign_SEEDBYTES);
  auto secret = std::make_shared<Secret>();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  InitSodium();
  crypto_sign_seed_keypair(pk, secret->sk, Bytes(seed));
  sodium_memzero(seed.data(), seed.size());
  // Derive the short id from the public key: stable, and distinct keys
  // get distinct ids.
  std::string id =
      Base64UrlEncode(Sha256(std::string_view(reinterpret_cast<const char*>(pk),
                                              sizeof pk)))
          .substr(0, 8);
  for (char& c : id) {
    if (c == '-') c = '_';
  }
  return SigningKey(std::move(secret), "ed25519:" + id);
}

Result<SigningKey> SigningKey::FromSeed(std::string_view seed,
                                        const std::string& key_id) {
  if (seed.size() != crypto_sign_SEEDBYTES)
    return Error::Invalid("bad_key", "an Ed25519 seed has 32 bytes");
  if (!IsValidKeyId(key_id))
    return Error::Invalid("bad_key", "bad key id \"" + key_id + "\"");
  auto secret = std::make_shared<Secret>();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  InitSodium();
  crypto_sign_seed_keypair(pk, secret->sk, Bytes(seed));
  return SigningKey(std::move(secret), key_id);
}

std::string SigningKey::seed() const {
  return std::string(reinterpret_cast<const char*>(secret_->sk),
                     crypto_sign_SEEDBYTES);
}

std::string SigningKey::Sign(std::string_view message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  if (crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()),
                           nullptr, Bytes(message), message.size(),
                           secret_->sk) != 0) {
    std::abort();  // signing with a valid key cannot fail
  }
  return sig;
}

bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES ||
      signature.size() != crypto_sign_BYTES)
    return false;
  InitSodium();
  // Strict RFC 8032 checks: a canonical S, no small-order key or R.
  return crypto_sign_verify_detached(Bytes(signature), Bytes(message),
                                     message.size(), Bytes(public_key)) == 0;
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
