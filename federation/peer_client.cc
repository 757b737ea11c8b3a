#include "federation/peer_client.h"

#include <httplib.h>

namespace hearth::federation {

namespace {

// A peer's answer larger than this is refused (a full directory document
// of 5,000 groups is about 10 MiB).
constexpr size_t kMaxAnswerBytes = 32 << 20;

void Configure(httplib::Client& client) {
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(15, 0);
  client.set_tcp_nodelay(true);
  client.enable_server_certificate_verification(true);
}

}  // namespace

Result<PeerResponse> HttpPeerClient::Get(const std::string& base_url,
                                         const std::string& path,
                                         const std::string& authorization) {
  httplib::Client client(base_url);
  Configure(client);
  httplib::Headers headers;
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  std::string body;
  bool too_large = false;
  auto res = client.Get(path.c_str(), headers, [&](const char* data, size_t n) {
    if (body.size() + n > kMaxAnswerBytes) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (too_large)
    return Error::Unavailable(
        "peer_unreachable", base_url + ": the answer is larger than " +
                                std::to_string(kMaxAnswerBytes >> 20) + " MiB");
  if (!res) {
    return Error::Unavailable(
        "peer_unreachable", base_url + ": " + httplib::to_string(res.error()));
  }
  return PeerResponse{res->status, std::move(body)};
}

Result<PeerResponse> HttpPeerClient::Post(const std::string& base_url,
                                          const std::string& path,
                                          const std::string& authorization,
                                          const std::string& body) {
  httplib::Client client(base_url);
  Configure(client);
  httplib::Headers headers;
  if (!authorization.empty()) headers.emplace("Authorization", authorization);
  auto res = client.Post(path.c_str(), headers, body, "application/json");
  if (!res) {
    return Error::Unavailable(
        "peer_unreachable", base_url + ": " + httplib::to_string(res.error()));
  }
  return PeerResponse{res->status, res->body};
}

Result<std::string> NormalizeBaseUrl(const std::string& url, bool allow_http) {
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    if (!allow_http) {
      return Error::Invalid("bad_url",
                            "plain http:// peers need federation.allow_http "
                            "= true");
    }
    rest = url.substr(7);
  } else {
    return Error::Invalid("bad_url", "a peer URL starts with https://");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.size() > 300 ||
      rest.find_first_of("/?#@ \t\r\n") != std::string::npos) {
    return Error::Invalid("bad_url",
                          "a peer URL is scheme://host[:port] with no path");
  }
  return url.substr(0, url.find("://") + 3) + rest;
}

}  // namespace hearth::federation
