// The federation endpoints peers call, on the member listener:
//   GET /_hearth/v1/keys            the key document (unauthenticated)
//   PUT /_hearth/v1/send/{txn_id}   a signed transaction of events
//   GET  /_hearth/v1/groups/{group_id}                a hosted group
//   POST /_hearth/v1/groups/{group_id}/join|leave     relayed membership
//   POST /_hearth/v1/groups/{group_id}/messages       a relayed post
//   GET  /_hearth/v1/groups/{group_id}/events?after=  backfill
//   GET  /_hearth/v1/directory?newer_than=            the directory document
//   POST /_hearth/v1/directory/notify                 "my directory changed"
// Every call but /keys is authenticated (Inbound::Authenticate) before a
// service sees it; bodies must be canonical JSON.
#pragma once

#include "federation/inbound.h"
#include "federation/node_keys.h"
#include "node/directory/directory_service.h"
#include "node/groups/group_service.h"
#include "node/http/router.h"

namespace hearth {

void AddFederationApi(http::Router& router, const federation::NodeKeys& keys,
                      federation::Inbound& inbound, GroupService& groups,
                      DirectoryService& directory);

}  // namespace hearth
