#include "federation/peer_client.h"

#include <httplib.h>

namespace hearth::federation {

namespace {

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
  auto res = client.Get(path.c_str(), headers);
  if (!res) {
    return Error::Unavailable(
        "peer_unreachable", base_url + ": " + httplib::to_string(res.error()));
  }
  return PeerResponse{res->status, res->body};
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
