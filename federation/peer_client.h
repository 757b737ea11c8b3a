// Outbound HTTP to peers. An interface so that unit tests can stand in for
// the network; multi-node tests use the real one against real nodes.
#pragma once

#include <string>

#include "common/result.h"

namespace hearth::federation {

struct PeerResponse {
  int status = 0;
  std::string body;
};

class PeerClient {
 public:
  virtual ~PeerClient() = default;
  // GET base_url + path. Unavailable (`peer_unreachable`) when no answer.
  virtual Result<PeerResponse> Get(const std::string& base_url,
                                   const std::string& path,
                                   const std::string& authorization) = 0;
  // POST of a JSON body; the same errors.
  virtual Result<PeerResponse> Post(const std::string& base_url,
                                    const std::string& /*path*/,
                                    const std::string& /*authorization*/,
                                    const std::string& /*body*/) {
    return Error::Unavailable("peer_unreachable", base_url + ": no POST");
  }
};

// cpp-httplib with certificate verification (https) or plain http.
class HttpPeerClient final : public PeerClient {
 public:
  Result<PeerResponse> Get(const std::string& base_url, const std::string& path,
                           const std::string& authorization) override;
  Result<PeerResponse> Post(const std::string& base_url,
                            const std::string& path,
                            const std::string& authorization,
                            const std::string& body) override;
};

// "https://host[:port]" (or http:// when `allow_http`), no path. Returns
// the normalized URL or Invalid (`bad_url`).
Result<std::string> NormalizeBaseUrl(const std::string& url, bool allow_http);

}  // namespace hearth::federation
