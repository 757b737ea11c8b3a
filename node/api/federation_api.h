// The federation endpoints peers call, on the member listener:
//   GET /_hearth/v1/keys            the key document (unauthenticated)
//   PUT /_hearth/v1/send/{txn_id}   a signed transaction of events
#pragma once

#include "federation/inbound.h"
#include "federation/node_keys.h"
#include "node/http/router.h"

namespace hearth {

void AddFederationApi(http::Router& router, const federation::NodeKeys& keys,
                      federation::Inbound& inbound);

}  // namespace hearth
