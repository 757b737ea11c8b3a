// HTTP/1.1 requests (RFC 9112) read from a connection's bytes: the
// request line, the header fields and a body framed by Content-Length or
// the chunked transfer coding. Pure, so the server and the fuzzer drive it
// the same way: the server appends what it reads to a buffer and parses
// from the buffer's start until a request is complete.
//
// Strict where laxness lets two parsers disagree about where a request
// ends (request smuggling): Content-Length and Transfer-Encoding together,
// two different lengths, a transfer coding other than chunked, folded or
// malformed header lines, and control characters are all refused.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::http {

struct RawRequest {
  std::string method;
  std::string target;     // as sent: the path and query, still percent-encoded
  int minor_version = 1;  // HTTP/1.<minor_version>
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  // Query parameters, percent-decoded ('+' is a space).
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  bool keep_alive = true;  // after this request, per Connection and version

  // The first value of a header field (names are case-insensitive).
  const std::string* Header(std::string_view name) const;
  // The same, "" when absent.
  std::string HeaderValue(std::string_view name) const;
  // The target up to '?'.
  std::string_view Path() const;
  // The first value of a query parameter.
  const std::string* Query(std::string_view name) const;
};

struct ParseLimits {
  size_t max_line_bytes = 8192;     // the request line (414 beyond)
  size_t max_header_bytes = 65536;  // the whole header section (431)
  size_t max_headers = 100;         // header fields (431)
  size_t max_body_bytes = 1 << 20;  // the decoded body (413)
};

struct ParseResult {
  enum State { kNeedMore, kDone, kError } state = kNeedMore;
  size_t consumed = 0;  // kDone: the bytes this request took
  // kNeedMore: the buffer size at which parsing can go on (0: unknown, any
  // more bytes); known once a Content-Length body is all that is missing.
  size_t need = 0;
  // kNeedMore: the header section is complete and asks for
  // "Expect: 100-continue" (the server answers 100 before reading on).
  bool expect_continue = false;
  int status = 0;             // kError: the HTTP status to answer
  std::string code, message;  // kError: the JSON error's code and message
};

// Parses one request from the start of `buffer` into `*out`.
ParseResult ParseRequest(std::string_view buffer, const ParseLimits& limits,
                         RawRequest* out);

}  // namespace hearth::http
