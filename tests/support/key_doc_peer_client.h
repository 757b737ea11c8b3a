// A PeerClient for unit tests that answers every GET with one key
// document (set `doc`), as a single trusted peer would.
#pragma once

#include <string>

#include "federation/peer_client.h"

namespace hearth::testing {

class KeyDocPeerClient final : public federation::PeerClient {
 public:
  std::string doc;
  Result<federation::PeerResponse> Get(const std::string&, const std::string&,
                                       const std::string&) override {
    return federation::PeerResponse{200, doc};
  }
};

}  // namespace hearth::testing
