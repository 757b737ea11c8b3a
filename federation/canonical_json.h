// Canonical JSON, exactly as Matrix defines it (spec appendices, "Canonical
// JSON"): object keys sorted by code point, no insignificant whitespace,
// UTF-8, the minimal escapes (\" \\ \b \f \n \r \t and \u00XX in lowercase
// for other control characters), integers only within ±(2^53−1), no
// floats. Everything Hearth signs or hashes is this form, so Matrix's
// canonical-JSON and signing test vectors apply unchanged.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace hearth::federation {

constexpr std::int64_t kMaxSafeInteger = (std::int64_t(1) << 53) - 1;

struct JsonLimits {
  size_t max_bytes = 1 << 20;  // text size
  int max_depth = 32;          // nesting of objects and arrays
};

// The canonical encoding of `value`. Invalid (`not_canonical`) for floats,
// integers out of range, invalid UTF-8 or nesting deeper than the limit.
Result<std::string> Canonicalize(const nlohmann::json& value,
                                 const JsonLimits& limits = {});

// The canonical encoding of one string: Canonicalize(json(s)), without
// a DOM for the common case (printable ASCII, nothing to escape). Object
// keys and string members of what is signed go through here.
Result<std::string> CanonicalString(std::string_view s);

// Parses JSON text that must already be canonical: the text must equal the
// canonical encoding of what it parses to. That one check rejects
// duplicate keys, unsorted keys, whitespace, floats, exponents, leading
// zeros, -0, needless escapes and out-of-range integers. Errors: TooLarge
// (`too_large`) past max_bytes; Invalid (`bad_json`, `too_deep`,
// `not_canonical`) otherwise.
Result<nlohmann::json> ParseCanonical(std::string_view text,
                                      const JsonLimits& limits = {});

// Parses JSON text, canonical or not, within the same limits (what peers
// answer): TooLarge (`too_large`); Invalid (`bad_json`, `too_deep`).
Result<nlohmann::json> ParseJson(std::string_view text,
                                 const JsonLimits& limits = {});

}  // namespace hearth::federation
