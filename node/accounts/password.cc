#include "node/accounts/password.h"

#include <argon2.h>

#include <charconv>
#include <cstring>

#include "common/crypto.h"
#include "common/encoding.h"

namespace hearth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

// Argon2's allocator callbacks take no context, so the slot a thread holds
// lends its buffer through a thread-local. Reusing one buffer per slot
// keeps its pages mapped: a fresh 19 MiB allocation per hash costs ~5,000
// page faults, which measured as half of each hash's time.
thread_local std::string* tls_arena = nullptr;

int AllocateFromArena(uint8_t** memory, size_t bytes) {
  if (tls_arena == nullptr) return ARGON2_MEMORY_ALLOCATION_ERROR;
  if (tls_arena->size() < bytes) tls_arena->resize(bytes);
  *memory = reinterpret_cast<uint8_t*>(tls_arena->data());
  return ARGON2_OK;
}

void FreeToArena(uint8_t*, size_t) {}

struct Phc {
  PasswordParams params;
  std::string salt;
  std::string hash;
};

bool ReadU32(std::string_view text, std::uint32_t& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// "$argon2id$v=19$m=M,t=T,p=P$<salt>$<hash>", unpadded standard base64.
std::optional<Phc> ParsePhc(std::string_view s) {
  constexpr std::string_view kPrefix = "$argon2id$v=19$m=";
  if (s.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  s.remove_prefix(kPrefix.size());
  auto take = [&](char end) -> std::optional<std::string_view> {
    auto pos = s.find(end);
    if (pos == std::string_view::npos) return std::nullopt;
    std::string_view field = s.substr(0, pos);
    s.remove_prefix(pos + 1);
    return field;
  };
  Phc phc;
  auto m = take(',');
  if (!m || !ReadU32(*m, phc.params.memory_kib) || s.substr(0, 2) != "t=")
    return std::nullopt;
  s.remove_prefix(2);
  auto t = take(',');
  if (!t || !ReadU32(*t, phc.params.iterations) || s.substr(0, 2) != "p=")
    return std::nullopt;
  s.remove_prefix(2);
  auto p = take('$');
  if (!p || !ReadU32(*p, phc.params.parallelism)) return std::nullopt;
  auto salt = take('$');
  if (!salt) return std::nullopt;
  auto salt_bytes = Base64Decode(*salt);
  auto hash_bytes = Base64Decode(s);
  if (!salt_bytes || !hash_bytes || hash_bytes->empty()) return std::nullopt;
  phc.salt = std::move(*salt_bytes);
  phc.hash = std::move(*hash_bytes);
  return phc;
}

}  // namespace

class PasswordHasher::Slot {
 public:
  explicit Slot(PasswordHasher& h) : h_(h) {
    std::unique_lock<std::mutex> lock(h_.mu_);
    h_.cv_.wait(lock, [&] { return !h_.free_.empty(); });
    index_ = h_.free_.back();
    h_.free_.pop_back();
    tls_arena = &h_.arenas_[index_];
  }
  ~Slot() {
    tls_arena = nullptr;
    {
      std::lock_guard<std::mutex> lock(h_.mu_);
      h_.free_.push_back(index_);
    }
    h_.cv_.notify_one();
  }

 private:
  PasswordHasher& h_;
  size_t index_;
};

PasswordHasher::PasswordHasher(PasswordParams params, unsigned max_concurrent)
    : params_(params), arenas_(max_concurrent == 0 ? 1 : max_concurrent) {
  for (size_t i = 0; i < arenas_.size(); ++i) free_.push_back(i);
  // A well-formed hash of nothing: verifying against it costs what a real
  // verification costs, and no password matches it. Nothing is computed at
  // start-up.
  dummy_hash_ =
      Encode(params_, RandomBytes(kSaltBytes), RandomBytes(kHashBytes));
}

std::string PasswordHasher::Encode(const PasswordParams& params,
                                   std::string_view salt,
                                   std::string_view hash) {
  return "$argon2id$v=19$m=" + std::to_string(params.memory_kib) +
         ",t=" + std::to_string(params.iterations) +
         ",p=" + std::to_string(params.parallelism) + "$" + Base64Encode(salt) +
         "$" + Base64Encode(hash);
}

Result<std::string> PasswordHasher::Compute(const PasswordParams& params,
                                            std::string_view password,
                                            std::string_view salt,
                                            size_t hash_len) {
  std::string out(hash_len, '\0');
  argon2_context ctx{};
  ctx.out = reinterpret_cast<uint8_t*>(out.data());
  ctx.outlen = uint32_t(out.size());
  ctx.pwd = reinterpret_cast<uint8_t*>(const_cast<char*>(password.data()));
  ctx.pwdlen = uint32_t(password.size());
  ctx.salt = reinterpret_cast<uint8_t*>(const_cast<char*>(salt.data()));
  ctx.saltlen = uint32_t(salt.size());
  ctx.t_cost = params.iterations;
  ctx.m_cost = params.memory_kib;
  ctx.lanes = params.parallelism;
  ctx.threads = params.parallelism;
  ctx.version = ARGON2_VERSION_13;
  ctx.allocate_cbk = AllocateFromArena;
  ctx.free_cbk = FreeToArena;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  int rc;
  {
    Slot slot(*this);
    rc = argon2_ctx(&ctx, Argon2_id);
  }
  if (rc != ARGON2_OK)
    return Error::Internal(std::string("argon2: ") + argon2_error_message(rc));
  return out;
}

Result<std::string> PasswordHasher::Hash(std::string_view password) {
  std::string salt = RandomBytes(kSaltBytes);
  HEARTH_ASSIGN_OR_RETURN(std::string hash,
                          Compute(params_, password, salt, kHashBytes));
  return Encode(params_, salt, hash);
}

bool PasswordHasher::Verify(std::string_view encoded,
                            std::string_view password) {
  auto phc = ParsePhc(encoded);
  if (!phc) return false;
  auto hash = Compute(phc->params, password, phc->salt, phc->hash.size());
  return hash && ConstantTimeEquals(*hash, phc->hash);
}

void PasswordHasher::BurnVerify(std::string_view password) {
  (void)Verify(dummy_hash_, password);
}

bool PasswordHasher::NeedsRehash(std::string_view encoded) const {
  auto phc = ParsePhc(encoded);
  return !phc || phc->params.memory_kib != params_.memory_kib ||
         phc->params.iterations != params_.iterations ||
         phc->params.parallelism != params_.parallelism;
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
