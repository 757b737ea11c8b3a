// Errors as values. Every fallible call that crosses a layer returns
// Result<T> (or Status = Result<void>), shaped like std::expected so that it
// can become a `using` once we build with C++23.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace hearth {

// The category decides the HTTP status (see node/http/errors.cc, the one
// place that maps them); `reason` is the snake_case code clients see.
enum class ErrorKind {
  kInvalid,           // 400
  kUnauthenticated,   // 401
  kForbidden,         // 403
  kNotFound,          // 404
  kMethodNotAllowed,  // 405
  kConflict,          // 409
  kTooLarge,          // 413
  kRateLimited,       // 429
  kInternal,          // 500: the message is logged, never sent
  kUnavailable,       // 503
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string reason;               // snake_case, e.g. "handle_taken"
  std::string message;              // human readable
  std::int64_t retry_after_ms = 0;  // for kRateLimited

  static Error Invalid(std::string reason, std::string message) {
    return {ErrorKind::kInvalid, std::move(reason), std::move(message)};
  }
  static Error Unauthenticated(std::string reason, std::string message) {
    return {ErrorKind::kUnauthenticated, std::move(reason), std::move(message)};
  }
  static Error Forbidden(std::string reason, std::string message) {
    return {ErrorKind::kForbidden, std::move(reason), std::move(message)};
  }
  static Error NotFound(std::string reason, std::string message) {
    return {ErrorKind::kNotFound, std::move(reason), std::move(message)};
  }
  static Error Conflict(std::string reason, std::string message) {
    return {ErrorKind::kConflict, std::move(reason), std::move(message)};
  }
  static Error TooLarge(std::string reason, std::string message) {
    return {ErrorKind::kTooLarge, std::move(reason), std::move(message)};
  }
  static Error RateLimited(std::string message, std::int64_t retry_after_ms) {
    return {ErrorKind::kRateLimited, "rate_limited", std::move(message),
            retry_after_ms};
  }
  static Error Internal(std::string message) {
    return {ErrorKind::kInternal, "internal", std::move(message)};
  }
  static Error Unavailable(std::string reason, std::string message) {
    return {ErrorKind::kUnavailable, std::move(reason), std::move(message)};
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(v_));
  }
  const Error& error() const {
    assert(!has_value());
    return std::get<1>(v_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  void value() const { assert(has_value()); }
  const Error& error() const {
    assert(!has_value());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status Ok() { return Status(); }

}  // namespace hearth

// Propagates an error from a Status/Result expression.
#define HEARTH_RETURN_IF_ERROR(expr)                    \
  do {                                                  \
    auto hearth_status_ = (expr);                       \
    if (!hearth_status_) return hearth_status_.error(); \
  } while (0)

#define HEARTH_CONCAT_INNER_(a, b) a##b
#define HEARTH_CONCAT_(a, b) HEARTH_CONCAT_INNER_(a, b)
// `HEARTH_ASSIGN_OR_RETURN(auto x, Call());`
#define HEARTH_ASSIGN_OR_RETURN(lhs, expr)                   \
  auto HEARTH_CONCAT_(hearth_result_, __LINE__) = (expr);    \
  if (!HEARTH_CONCAT_(hearth_result_, __LINE__))             \
    return HEARTH_CONCAT_(hearth_result_, __LINE__).error(); \
  lhs = std::move(HEARTH_CONCAT_(hearth_result_, __LINE__)).value()
