// Routes requests by method and path pattern. Patterns are literal segments
// and `{}` placeholders ("/api/v1/groups/{}/messages"); placeholders are
// percent-decoded. Knowing every pattern lets the router tell 404 (no such
// path) from 405 (path exists, other method).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "node/http/reply.h"

namespace hearth::http {

using Handler = std::function<Result<Reply>(const Request&)>;

struct Route {
  std::string method;
  std::string pattern;  // also the metrics label
  std::vector<std::string> segments;
  Handler handler;
};

struct Match {
  const Route* route = nullptr;
  std::vector<std::string> params;
};

class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler);

  // NotFound (`not_found`) if no pattern matches the path;
  // MethodNotAllowed (`method_not_allowed`, message lists the allowed
  // methods) if only other methods do; Invalid (`invalid_id`) if a
  // placeholder is badly percent-encoded.
  Result<Match> Find(std::string_view method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace hearth::http
