#include "node/http/router.h"

#include "common/encoding.h"

namespace hearth::http {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path[0] != '/') return out;
  size_t start = 1;
  for (;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool Matches(const Route& r, const std::vector<std::string_view>& segs) {
  if (r.segments.size() != segs.size()) return false;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (r.segments[i] == "{}") {
      if (segs[i].empty()) return false;
    } else if (r.segments[i] != segs[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler) {
  Route r{std::move(method), std::move(pattern), {}, std::move(handler)};
  for (auto seg : Split(r.pattern)) r.segments.emplace_back(seg);
  routes_.push_back(std::move(r));
}

Result<Match> Router::Find(std::string_view method,
                           std::string_view path) const {
  auto segs = Split(path);
  std::string allowed;
  for (const Route& r : routes_) {
    if (!Matches(r, segs)) continue;
    bool same = r.method == method || (method == "HEAD" && r.method == "GET");
    if (!same) {
      allowed += (allowed.empty() ? "" : ", ") + r.method;
      continue;
    }
    Match m{&r, {}};
    for (size_t i = 0; i < segs.size(); ++i) {
      if (r.segments[i] != "{}") continue;
      auto decoded = PercentDecodeSegment(segs[i]);
      if (!decoded)
        return Error::Invalid("invalid_id",
                              "a path parameter is badly percent-encoded");
      m.params.push_back(std::move(*decoded));
    }
    return m;
  }
  if (!allowed.empty()) {
    return Error{
        ErrorKind::kMethodNotAllowed, "method_not_allowed",
        std::string(method) + " is not allowed here; allowed: " + allowed};
  }
  return Error::NotFound("not_found", "no such endpoint");
}

}  // namespace hearth::http
