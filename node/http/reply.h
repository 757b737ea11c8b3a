// What a handler returns, and the request it gets. Handlers never write
// to the connection; node/http/server.cc writes replies and errors in one
// place.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "node/http/request_parser.h"

namespace hearth::http {

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";

  // Bytes that are not UTF-8 (which a message may quote from what a
  // client or peer sent) become U+FFFD instead of an exception.
  static Reply Json(int status, const nlohmann::json& body) {
    return Reply{
        status,
        body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
        "application/json"};
  }
  static Reply Text(int status, std::string body, std::string content_type) {
    return Reply{status, std::move(body), std::move(content_type)};
  }
};

struct Request {
  const RawRequest& raw;
  std::vector<std::string> params;  // percent-decoded path parameters
  std::string remote_addr;

  // The body as a JSON object (400 `bad_json` / `not_an_object`).
  Result<nlohmann::json> JsonBody() const;
  // The bearer token of the Authorization header (401 `missing_token`).
  Result<std::string> BearerToken() const;
  // A query parameter, if present.
  std::optional<std::string> Query(const std::string& name) const;
};

// Field readers for JSON bodies; each names the field in its error.
Result<std::string> RequiredString(const nlohmann::json& body,
                                   const std::string& field, size_t max_bytes);
Result<std::optional<std::string>> OptionalString(const nlohmann::json& body,
                                                  const std::string& field,
                                                  size_t max_bytes);
Result<std::optional<std::int64_t>> OptionalInt(const nlohmann::json& body,
                                                const std::string& field,
                                                std::int64_t min,
                                                std::int64_t max);
// A query parameter as a bounded integer (400 `invalid_query`).
Result<std::optional<std::int64_t>> QueryInt(const Request& req,
                                             const std::string& name,
                                             std::int64_t min,
                                             std::int64_t max);

}  // namespace hearth::http
