#include "node/http/reply.h"

#include <charconv>

namespace hearth::http {

Result<nlohmann::json> Request::JsonBody() const {
  // No exceptions: a parse error yields a discarded value.
  nlohmann::json body = nlohmann::json::parse(raw.body, nullptr, false);
  if (body.is_discarded())
    return Error::Invalid("bad_json", "the request body is not valid JSON");
  if (!body.is_object())
    return Error::Invalid("not_an_object",
                          "the request body must be a JSON object");
  return body;
}

Result<std::string> Request::BearerToken() const {
  const std::string* header = raw.Header("Authorization");
  if (!header)
    return Error::Unauthenticated("missing_token",
                                  "an Authorization: Bearer token is required");
  const std::string& v = *header;
  constexpr std::string_view kPrefix = "Bearer ";
  if (v.size() <= kPrefix.size() || v.compare(0, kPrefix.size(), kPrefix) != 0)
    return Error::Unauthenticated(
        "missing_token", "the Authorization header must be 'Bearer <token>'");
  return v.substr(kPrefix.size());
}

std::optional<std::string> Request::Query(const std::string& name) const {
  const std::string* v = raw.Query(name);
  if (!v) return std::nullopt;
  return *v;
}

Result<std::string> RequiredString(const nlohmann::json& body,
                                   const std::string& field, size_t max_bytes) {
  auto it = body.find(field);
  if (it == body.end())
    return Error::Invalid("missing_field", "'" + field + "' is required");
  if (!it->is_string())
    return Error::Invalid("invalid_field", "'" + field + "' must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes)
    return Error::Invalid("invalid_field", "'" + field + "' must be at most " +
                                               std::to_string(max_bytes) +
                                               " bytes");
  return s;
}

Result<std::optional<std::string>> OptionalString(const nlohmann::json& body,
                                                  const std::string& field,
                                                  size_t max_bytes) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  HEARTH_ASSIGN_OR_RETURN(std::string s,
                          RequiredString(body, field, max_bytes));
  return std::optional<std::string>(std::move(s));
}

Result<std::optional<std::int64_t>> OptionalInt(const nlohmann::json& body,
                                                const std::string& field,
                                                std::int64_t min,
                                                std::int64_t max) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::optional<std::int64_t>();
  if (!it->is_number_integer())
    return Error::Invalid("invalid_field",
                          "'" + field + "' must be an integer");
  bool too_big = it->is_number_unsigned() &&
                 it->get<std::uint64_t>() > std::uint64_t(INT64_MAX);
  std::int64_t v = too_big ? INT64_MAX : it->get<std::int64_t>();
  if (too_big || v < min || v > max)
    return Error::Invalid("invalid_field", "'" + field + "' must be between " +
                                               std::to_string(min) + " and " +
                                               std::to_string(max));
  return std::optional<std::int64_t>(v);
}

Result<std::optional<std::int64_t>> QueryInt(const Request& req,
                                             const std::string& name,
                                             std::int64_t min,
                                             std::int64_t max) {
  auto text = req.Query(name);
  if (!text) return std::optional<std::int64_t>();
  std::int64_t v = 0;
  auto [ptr, ec] =
      std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || ptr != text->data() + text->size() || v < min ||
      v > max) {
    return Error::Invalid("invalid_query", "'" + name +
                                               "' must be an integer between " +
                                               std::to_string(min) + " and " +
                                               std::to_string(max));
  }
  return std::optional<std::int64_t>(v);
}

}  // namespace hearth::http
