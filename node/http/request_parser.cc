#include "node/http/request_parser.h"

#include <cstdint>

#include "common/encoding.h"

namespace hearth::http {
namespace {

bool IsTchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!IsTchar(c)) return false;
  return true;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Calls f(token) for each comma-separated element, trimmed, empty ones
// skipped (RFC 9110 5.6.1).
template <typename F>
void ForEachElement(std::string_view list, F f) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = Trim(list.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

ParseResult Fail(int status, std::string code, std::string message) {
  ParseResult r;
  r.state = ParseResult::kError;
  r.status = status;
  r.code = std::move(code);
  r.message = std::move(message);
  return r;
}

ParseResult Bad(std::string message) {
  return Fail(400, "bad_request", std::move(message));
}

// The line starting at `from` without its CRLF (or bare LF), and where the
// next line starts; nullopt if no line end within `max` bytes (then
// `*overflow` tells whether `max` bytes are already there).
std::optional<std::string_view> Line(std::string_view buf, size_t from,
                                     size_t max, size_t* next, bool* overflow) {
  std::string_view rest = buf.substr(from);
  size_t lf = rest.substr(0, max + 2).find('\n');
  if (lf == std::string_view::npos) {
    *overflow = rest.size() > max + 1;
    return std::nullopt;
  }
  *next = from + lf + 1;
  std::string_view line = rest.substr(0, lf);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// The next line of a header or trailer section that began at `start`,
// keeping the whole section within `max` bytes; nullopt if more bytes are
// needed or (`*too_large`) the section is over the limit.
std::optional<std::string_view> SectionLine(std::string_view buf, size_t start,
                                            size_t max, size_t* next,
                                            bool* too_large) {
  size_t used = *next - start;
  *too_large = used > max;
  if (*too_large) return std::nullopt;
  return Line(buf, *next, max - used, next, too_large);
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  return false;
}

}  // namespace

const std::string* RawRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (EqualsNoCase(k, name)) return &v;
  return nullptr;
}

std::string RawRequest::HeaderValue(std::string_view name) const {
  const std::string* v = Header(name);
  return v ? *v : std::string();
}

std::string_view RawRequest::Path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

const std::string* RawRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return &v;
  return nullptr;
}

ParseResult ParseRequest(std::string_view buf, const ParseLimits& limits,
                         RawRequest* out) {
  *out = RawRequest{};
  // Empty lines before a request line are ignored (RFC 9112 2.2).
  size_t pos = 0;
  while (pos < buf.size() && pos < 8 && (buf[pos] == '\r' || buf[pos] == '\n'))
    ++pos;
  size_t next = 0;
  bool overflow = false;
  auto request_line = Line(buf, pos, limits.max_line_bytes, &next, &overflow);
  if (!request_line) {
    if (overflow)
      return Fail(414, "uri_too_long", "the request line is too long");
    return ParseResult{};
  }
  {
    std::string_view line = *request_line;
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos)
      return Bad("the request line is not 'METHOD target HTTP/1.1'");
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!IsToken(method)) return Bad("the method is not a token");
    if (target.empty() || target.front() != '/')
      return Bad("the request target must be an absolute path");
    for (unsigned char c : target)
      if (c <= 0x20 || c >= 0x7f)
        return Bad("the request target has a space or control character");
    if (version == "HTTP/1.1") {
      out->minor_version = 1;
    } else if (version == "HTTP/1.0") {
      out->minor_version = 0;
    } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
               version[6] == '.' && version[5] >= '0' && version[5] <= '9' &&
               version[7] >= '0' && version[7] <= '9') {
      return Fail(505, "version_not_supported", "only HTTP/1.x is served");
    } else {
      return Bad("the request line is not 'METHOD target HTTP/1.1'");
    }
    out->method = std::string(method);
    out->target = std::string(target);
  }

  // Header fields, up to the empty line.
  const size_t head_start = next;
  bool content_length_seen = false, chunked = false, expect_continue = false;
  std::uint64_t content_length = 0;
  bool close = false, keep_alive_token = false;
  while (true) {
    auto line =
        SectionLine(buf, head_start, limits.max_header_bytes, &next, &overflow);
    if (!line) {
      if (overflow)
        return Fail(431, "headers_too_large",
                    "the header section is too large");
      return ParseResult{};
    }
    if (line->empty()) break;
    if (out->headers.size() >= limits.max_headers)
      return Fail(431, "headers_too_large", "too many header fields");
    if (line->front() == ' ' || line->front() == '\t')
      return Bad("folded header lines are not accepted");
    size_t colon = line->find(':');
    if (colon == std::string_view::npos) return Bad("a header line has no ':'");
    std::string_view name = line->substr(0, colon);
    std::string_view value = Trim(line->substr(colon + 1));
    if (!IsToken(name)) return Bad("a header name is not a token");
    if (HasControl(value) || value.find('\r') != std::string_view::npos)
      return Bad("a header value has a control character");
    if (EqualsNoCase(name, "Content-Length")) {
      bool ok = true;
      ForEachElement(value, [&](std::string_view v) {
        if (v.size() > 15) ok = false;
        std::uint64_t n = 0;
        for (char c : v) {
          if (c < '0' || c > '9') ok = false;
          n = n * 10 + std::uint64_t(c - '0');
        }
        if (!ok) return;
        if (content_length_seen && n != content_length) ok = false;
        content_length = n;
        content_length_seen = true;
      });
      if (!ok || value.empty())
        return Bad("Content-Length is not one decimal number");
    } else if (EqualsNoCase(name, "Transfer-Encoding")) {
      bool ok = true;
      ForEachElement(value, [&](std::string_view v) {
        if (chunked || !EqualsNoCase(v, "chunked")) ok = false;
        chunked = true;
      });
      if (!ok || !chunked)
        return Fail(501, "not_implemented",
                    "only the chunked transfer coding is accepted");
    } else if (EqualsNoCase(name, "Connection")) {
      ForEachElement(value, [&](std::string_view v) {
        if (EqualsNoCase(v, "close")) close = true;
        if (EqualsNoCase(v, "keep-alive")) keep_alive_token = true;
      });
    } else if (EqualsNoCase(name, "Expect")) {
      if (EqualsNoCase(value, "100-continue")) expect_continue = true;
    }
    out->headers.emplace_back(std::string(name), std::string(value));
  }
  if (chunked && content_length_seen)
    return Bad("Content-Length and Transfer-Encoding together");
  out->keep_alive = !close && (out->minor_version == 1 || keep_alive_token);

  // The query.
  std::string_view target = out->target;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      if (!pair.empty()) {
        size_t eq = pair.find('=');
        auto key = PercentDecode(pair.substr(0, eq), true);
        auto value =
            PercentDecode(eq == std::string_view::npos ? std::string_view()
                                                       : pair.substr(eq + 1),
                          true);
        if (!key || !value) return Bad("the query is badly percent-encoded");
        out->query.emplace_back(std::move(*key), std::move(*value));
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }

  // The body.
  if (content_length_seen) {
    if (content_length > limits.max_body_bytes)
      return Fail(413, "too_large", "the request body is too large");
    size_t total = next + size_t(content_length);
    if (buf.size() < total) {
      ParseResult r;
      r.need = total;
      r.expect_continue = expect_continue;
      return r;
    }
    out->body = std::string(buf.substr(next, size_t(content_length)));
    ParseResult r;
    r.state = ParseResult::kDone;
    r.consumed = total;
    return r;
  }
  if (chunked) {
    ParseResult more;
    more.expect_continue = expect_continue;
    while (true) {
      auto size_line = Line(buf, next, 1024, &next, &overflow);
      if (!size_line) {
        if (overflow) return Bad("a chunk size line is too long");
        return more;
      }
      std::string_view hex = size_line->substr(0, size_line->find(';'));
      hex = Trim(hex);
      if (hex.empty() || hex.size() > 8) return Bad("a chunk size is not hex");
      std::uint64_t size = 0;
      for (char c : hex) {
        int v = HexDigitValue(c);
        if (v < 0) return Bad("a chunk size is not hex");
        size = size * 16 + std::uint64_t(v);
      }
      if (size == 0) break;
      if (out->body.size() + size > limits.max_body_bytes)
        return Fail(413, "too_large", "the request body is too large");
      if (buf.size() < next + size + 2) return more;  // parsed again
      if (buf.substr(next + size, 2) != "\r\n")
        return Bad("a chunk does not end with CRLF");
      out->body.append(buf.substr(next, size));
      next += size + 2;
    }
    // Trailer fields (ignored), up to the empty line.
    size_t trailer_start = next;
    while (true) {
      auto line = SectionLine(buf, trailer_start, limits.max_header_bytes,
                              &next, &overflow);
      if (!line) {
        if (overflow)
          return Fail(431, "headers_too_large", "the trailer is too large");
        return more;
      }
      if (line->empty()) break;
      if (line->find(':') == std::string_view::npos || HasControl(*line))
        return Bad("a trailer line is malformed");
    }
    ParseResult r;
    r.state = ParseResult::kDone;
    r.consumed = next;
    return r;
  }
  ParseResult r;
  r.state = ParseResult::kDone;
  r.consumed = next;
  return r;
}

}  // namespace hearth::http
