#include "node/http/errors.h"

#include <nlohmann/json.hpp>

namespace hearth::http {

int StatusFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalid:
      return 400;
    case ErrorKind::kUnauthenticated:
      return 401;
    case ErrorKind::kForbidden:
      return 403;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kMethodNotAllowed:
      return 405;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kTooLarge:
      return 413;
    case ErrorKind::kRateLimited:
      return 429;
    case ErrorKind::kInternal:
      return 500;
    case ErrorKind::kUnavailable:
      return 503;
  }
  return 500;
}

std::string ErrorBody(const Error& error) {
  bool internal = error.kind == ErrorKind::kInternal;
  nlohmann::json body = {
      {"error",
       {{"code", internal ? "internal" : error.reason},
        {"message",
         internal ? "internal error; see the node's log" : error.message}}}};
  if (error.kind == ErrorKind::kRateLimited)
    body["error"]["retry_after_ms"] = error.retry_after_ms;
  // Written outside any handler's try: a message quoting bytes a client
  // sent that are not UTF-8 must not throw here (U+FFFD instead).
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Error ErrorForStatus(int status) {
  switch (status) {
    case 400:
      return Error::Invalid("bad_request", "the request is malformed");
    case 404:
      return Error::NotFound("not_found", "no such endpoint");
    case 405:
      return Error{ErrorKind::kMethodNotAllowed, "method_not_allowed",
                   "method not allowed"};
    case 413:
      return Error::TooLarge("too_large", "the request body is too large");
    case 414:
      return Error::TooLarge("uri_too_long", "the request URI is too long");
    case 416:
      return Error::Invalid("bad_range", "range not satisfiable");
    case 429:
      return Error::RateLimited("slow down", 1000);
    case 503:
      return Error::Unavailable("unavailable", "the node is busy");
    default:
      if (status >= 500)
        return Error::Internal("status " + std::to_string(status));
      return Error::Invalid("bad_request", "the request was not accepted");
  }
}

}  // namespace hearth::http
