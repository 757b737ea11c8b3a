// The one mapping from Error to HTTP status and JSON body:
// {"error": {"code": "<snake_case>", "message": "..."}}. Internal errors are
// logged by the caller and answered with a fixed message: storage details
// never reach a response body.
#pragma once

#include <string>

#include "common/result.h"

namespace hearth::http {

int StatusFor(ErrorKind kind);

// The JSON error body for `error`.
std::string ErrorBody(const Error& error);

// A generic error for a bare status (httplib's own 400/413/..., or a status
// set without a body).
Error ErrorForStatus(int status);

}  // namespace hearth::http
