// Signed requests to a peer that want an answer now (a join relayed to a
// group's host, a post, a backfill page), as opposed to the outbox, which
// delivers events eventually. The peer must be trusted; the request is
// signed with the current node key (request_auth.h) and a JSON body is sent
// in canonical form, as the receiver requires.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "federation/node_keys.h"
#include "federation/peer_client.h"
#include "federation/trust.h"

namespace hearth::federation {

class PeerRequests {
 public:
  PeerRequests(TrustService& trust, const NodeKeys& keys, PeerClient& client,
               const Clock& clock)
      : trust_(trust), keys_(keys), client_(client), clock_(clock) {}

  // Sends `method` `uri` (path and query, percent-encoded) to `peer` and
  // returns the JSON answer of a 2xx. Errors: Forbidden (`peer_not_trusted`,
  // `peer_limited`) before anything is sent; Unavailable
  // (`peer_unreachable`) when the peer does not answer or answers 5xx;
  // the peer's own error (kind from its status, its code and message) for
  // a 4xx. `directory_only` requests (the directory exchange) may go to
  // limited peers too.
  Result<nlohmann::json> Call(const std::string& peer,
                              const std::string& method, const std::string& uri,
                              const nlohmann::json* body,
                              bool directory_only = false);

 private:
  TrustService& trust_;
  const NodeKeys& keys_;
  PeerClient& client_;
  const Clock& clock_;
};

}  // namespace hearth::federation
