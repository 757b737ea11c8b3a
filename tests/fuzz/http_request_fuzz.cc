// libFuzzer target: the HTTP/1.1 request parser, which reads bytes from
// anyone who can connect. Invariants: no crash, hang or leak; a request
// it completes used no more bytes than it had, and every shorter prefix of
// those bytes asks for more (the server parses growing buffers, so a
// request must not read differently depending on how it was split); a
// body never exceeds the limit.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "node/http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hearth::http::ParseResult;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  hearth::http::ParseLimits limits;
  limits.max_line_bytes = 256;
  limits.max_header_bytes = 1024;
  limits.max_headers = 16;
  limits.max_body_bytes = 512;
  hearth::http::RawRequest req;
  ParseResult r = hearth::http::ParseRequest(text, limits, &req);
  if (r.state == ParseResult::kError &&
      (r.status < 400 || r.status > 599 || r.code.empty()))
    std::abort();
  if (r.state == ParseResult::kNeedMore && r.need != 0 && r.need <= size)
    std::abort();
  if (r.state != ParseResult::kDone) return 0;
  if (r.consumed == 0 || r.consumed > size) std::abort();
  if (req.body.size() > limits.max_body_bytes) std::abort();
  const std::string body = req.body;
  for (size_t cut : {r.consumed - 1, r.consumed / 2}) {
    hearth::http::RawRequest part;
    if (hearth::http::ParseRequest(text.substr(0, cut), limits, &part).state !=
        ParseResult::kNeedMore)
      std::abort();
  }
  hearth::http::RawRequest again;
  ParseResult r2 =
      hearth::http::ParseRequest(text.substr(0, r.consumed), limits, &again);
  if (r2.state != ParseResult::kDone || r2.consumed != r.consumed ||
      again.body != body)
    std::abort();
  return 0;
}
