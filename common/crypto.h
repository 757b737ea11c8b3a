// Small wrappers over OpenSSL primitives that every layer uses.
#pragma once

#include <string>
#include <string_view>

namespace hearth {

// `n` bytes from the OpenSSL CSPRNG. Aborts if the CSPRNG fails: a node that
// cannot make secrets must not make weak ones.
std::string RandomBytes(size_t n);

// Raw 32-byte SHA-256 digest.
std::string Sha256(std::string_view data);

// Constant-time comparison of equal-length secrets; false if lengths differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace hearth
