#include "federation/canonical_json.h"

namespace hearth::federation {
namespace {

Error NotCanonical(const std::string& why) {
  return Error::Invalid("not_canonical", "not canonical JSON: " + why);
}

// Checks numbers and depth; strings are checked by the encoder.
Status CheckValue(const nlohmann::json& v, int depth, int max_depth) {
  if (depth > max_depth)
    return Error::Invalid("too_deep", "JSON nests too deeply");
  switch (v.type()) {
    case nlohmann::json::value_t::object:
    case nlohmann::json::value_t::array:
      for (const auto& child : v) {
        HEARTH_RETURN_IF_ERROR(CheckValue(child, depth + 1, max_depth));
      }
      return Ok();
    case nlohmann::json::value_t::number_float:
      return NotCanonical("floats are not allowed");
    case nlohmann::json::value_t::number_unsigned:
      if (v.get<std::uint64_t>() > std::uint64_t(kMaxSafeInteger))
        return NotCanonical("integer out of range");
      return Ok();
    case nlohmann::json::value_t::number_integer: {
      std::int64_t i = v.get<std::int64_t>();
      if (i > kMaxSafeInteger || i < -kMaxSafeInteger)
        return NotCanonical("integer out of range");
      return Ok();
    }
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      return NotCanonical("not a JSON value");
    default:
      return Ok();
  }
}

}  // namespace

Result<std::string> Canonicalize(const nlohmann::json& value,
                                 const JsonLimits& limits) {
  HEARTH_RETURN_IF_ERROR(CheckValue(value, 1, limits.max_depth));
  try {
    // nlohmann's compact dump sorts keys (std::map: byte order, which is
    // code point order for UTF-8) and escapes exactly the canonical set.
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    return NotCanonical("strings must be valid UTF-8");
  }
}

Result<std::string> CanonicalString(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
      return Canonicalize(nlohmann::json(std::string(s)));
  }
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out.append(s);
  out += '"';
  return out;
}

Result<nlohmann::json> ParseJson(std::string_view text,
                                 const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Error::TooLarge("too_large", "JSON of " +
                                            std::to_string(text.size()) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(limits.max_bytes));
  }
  bool too_deep = false;
  // The callback sees every value with its depth; a value nested too deeply
  // is dropped (so memory and the recursion in dump() stay bounded) and
  // the whole text rejected below.
  auto callback = [&](int depth, nlohmann::json::parse_event_t event,
                      nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) &&
        depth >= limits.max_depth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  nlohmann::json value =
      nlohmann::json::parse(text.begin(), text.end(), callback, false);
  if (too_deep) return Error::Invalid("too_deep", "JSON nests too deeply");
  if (value.is_discarded())
    return Error::Invalid("bad_json", "not valid JSON (or not UTF-8)");
  return value;
}

Result<nlohmann::json> ParseCanonical(std::string_view text,
                                      const JsonLimits& limits) {
  HEARTH_ASSIGN_OR_RETURN(nlohmann::json value, ParseJson(text, limits));
  HEARTH_ASSIGN_OR_RETURN(std::string canonical, Canonicalize(value, limits));
  if (canonical != text) {
    return NotCanonical(
        "keys must be sorted and unique, with no whitespace, minimal "
        "escapes and integers only");
  }
  return value;
}

}  // namespace hearth::federation
