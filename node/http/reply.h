// What a handler returns, and the request it gets. Handlers never write
// to the connection; node/http/server.cc writes replies and errors in one
// place.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "node/http/request_parser.h"

namespace hearth::http {

struct Parked;

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // Set instead of an answer when there is nothing to say yet (a long
  // poll): the server keeps the connection without a thread until the
  // wait ends, then asks again (see Parked).
  std::shared_ptr<Parked> park;

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
  static Reply Later(std::shared_ptr<Parked> parked) {
    Reply r;
    r.park = std::move(parked);
    return r;
  }
};

// A reply to come. The server calls `arm` once with a `wake` function that
// may be called, once, from any thread (at once included) when there may
// be something to say; at `wake` or at `deadline`, whichever comes first,
// a pool thread calls `resume` (`timed_out`: the deadline passed, or the
// server is stopping). `resume` gives the reply, or parks again. Both
// run without the request: they must own what they need.
struct Parked {
  std::chrono::steady_clock::time_point deadline;
  std::function<void(std::function<void()> wake)> arm;
  std::function<Result<Reply>(bool timed_out)> resume;
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
