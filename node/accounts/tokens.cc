#include "node/accounts/tokens.h"

#include "common/crypto.h"
#include "common/encoding.h"

namespace hearth {
namespace {

NewSecret Make(const char* prefix) {
  NewSecret s;
  s.text = prefix + Base64UrlEncode(RandomBytes(32));
  s.hash = HashSecret(s.text);
  return s;
}

}  // namespace

NewSecret MakeSessionToken() { return Make("hst_"); }
NewSecret MakeInviteCode() { return Make("hsi_"); }
std::string HashSecret(std::string_view text) { return Sha256(text); }

}  // namespace hearth
