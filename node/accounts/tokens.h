// Session tokens and invite codes: 256 random bits, given to the client
// once, stored only as their SHA-256.
#pragma once

#include <string>
#include <string_view>

namespace hearth {

struct NewSecret {
  std::string text;  // what the client gets: prefix + base64url(32 bytes)
  std::string hash;  // what we store: raw SHA-256 of `text`
};

// Session tokens start "hst_", invite codes "hsi_", so that secret
// scanners and people can tell them apart.
NewSecret MakeSessionToken();
NewSecret MakeInviteCode();

std::string HashSecret(std::string_view text);

}  // namespace hearth
