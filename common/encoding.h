// Byte encodings used on the wire and in keys. Base64 is written unpadded
// (the Matrix convention that Hearth follows); decoders also accept
// padding, and ignore unused trailing bits, as Matrix asks of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hearth {

std::string Base64Encode(std::string_view bytes);     // standard alphabet
std::string Base64UrlEncode(std::string_view bytes);  // URL-safe alphabet
std::optional<std::string> Base64Decode(std::string_view text);
std::optional<std::string> Base64UrlDecode(std::string_view text);

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view text);

// Big-endian fixed-width integers, so that keys sort numerically.
std::string EncodeU64BE(std::uint64_t v);
std::optional<std::uint64_t> DecodeU64BE(std::string_view bytes);

// The value of a hex digit (either case), -1 if `c` is not one.
int HexDigitValue(char c);
// Percent-decoding; with `plus_is_space` (query components) '+' is a
// space. Returns nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view text,
                                         bool plus_is_space = false);
// Percent-decoding of one path segment. Returns nullopt on a bad escape or
// on a decoded '/' or NUL, which no id may contain.
std::optional<std::string> PercentDecodeSegment(std::string_view segment);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string PercentEncode(std::string_view text);

}  // namespace hearth
