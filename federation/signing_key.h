// Ed25519 node keys (libsodium: 2.5x OpenSSL 3's speed here, see the
// README's dependency list; the signatures are the same bytes). A key id is
// "ed25519:" plus a short id; the key file uses Synapse's signing.key format,
// one line:
//   ed25519 <short id> <unpadded base64 of the 32-byte seed>
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace hearth::federation {

class SigningKey {
 public:
  // A new random key; its short id is derived from its public key.
  static SigningKey Generate();
  // The key for a 32-byte seed, under `key_id` ("ed25519:...").
  static Result<SigningKey> FromSeed(std::string_view seed,
                                     const std::string& key_id);

  const std::string& key_id() const { return key_id_; }
  const std::string& public_key() const { return public_key_; }  // 32 bytes
  std::string seed() const;                                      // 32 bytes

  // The 64-byte Ed25519 signature of `message`.
  std::string Sign(std::string_view message) const;

 private:
  struct Secret;  // seed and public key, wiped when the last copy goes
  SigningKey(std::shared_ptr<const Secret> secret, std::string key_id);
  std::shared_ptr<const Secret> secret_;
  std::string key_id_;
  std::string public_key_;
};

// True if `signature` is `public_key`'s signature of `message`.
bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature);

// Key ids: "ed25519:" + 1-32 characters of [A-Za-z0-9_].
bool IsValidKeyId(std::string_view key_id);

// What admins compare out of band: SHA-256 of the public key, as
// "SHA256:" + unpadded base64 (the OpenSSH fingerprint style).
std::string Fingerprint(std::string_view public_key);

// One line of a key file (see above), with its newline; and its parser.
std::string KeyFileLine(const SigningKey& key);
Result<SigningKey> ParseKeyFileLine(std::string_view line);

}  // namespace hearth::federation
