#include "node/accounts/password.h"

#include <argon2.h>

#include <cstring>

#include "common/crypto.h"

namespace hearth {

namespace {
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
}  // namespace

class PasswordHasher::Slot {
 public:
  explicit Slot(PasswordHasher& h) : h_(h) {
    std::unique_lock<std::mutex> lock(h_.mu_);
    h_.cv_.wait(lock, [&] { return h_.free_slots_ > 0; });
    --h_.free_slots_;
  }
  ~Slot() {
    {
      std::lock_guard<std::mutex> lock(h_.mu_);
      ++h_.free_slots_;
    }
    h_.cv_.notify_one();
  }

 private:
  PasswordHasher& h_;
};

PasswordHasher::PasswordHasher(PasswordParams params, unsigned max_concurrent)
    : params_(params), free_slots_(max_concurrent == 0 ? 1 : max_concurrent) {
  auto dummy = Hash(RandomBytes(16));
  dummy_hash_ = dummy ? dummy.value() : std::string();
}

Result<std::string> PasswordHasher::Hash(std::string_view password) {
  std::string salt = RandomBytes(kSaltBytes);
  size_t len =
      argon2_encodedlen(params_.iterations, params_.memory_kib,
                        params_.parallelism, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(len, '\0');
  int rc;
  {
    Slot slot(*this);
    rc = argon2id_hash_encoded(params_.iterations, params_.memory_kib,
                               params_.parallelism, password.data(),
                               password.size(), salt.data(), salt.size(),
                               kHashBytes, encoded.data(), encoded.size());
  }
  if (rc != ARGON2_OK)
    return Error::Internal(std::string("argon2: ") + argon2_error_message(rc));
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

bool PasswordHasher::Verify(std::string_view encoded,
                            std::string_view password) {
  std::string enc(encoded);  // argon2 wants a NUL-terminated string
  Slot slot(*this);
  return argon2id_verify(enc.c_str(), password.data(), password.size()) ==
         ARGON2_OK;
}

void PasswordHasher::BurnVerify(std::string_view password) {
  if (!dummy_hash_.empty()) (void)Verify(dummy_hash_, password);
}

bool PasswordHasher::NeedsRehash(std::string_view encoded) const {
  std::string want = "$argon2id$v=19$m=" + std::to_string(params_.memory_kib) +
                     ",t=" + std::to_string(params_.iterations) +
                     ",p=" + std::to_string(params_.parallelism) + "$";
  return encoded.substr(0, want.size()) != want;
}

Status ValidatePassword(std::string_view password) {
  if (password.size() < 8)
    return Error::Invalid("weak_password",
                          "password must be at least 8 characters");
  if (password.size() > 1024)
    return Error::Invalid("invalid_password",
                          "password must be at most 1024 bytes");
  return Ok();
}

}  // namespace hearth
