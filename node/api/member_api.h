// The member API handlers (see spec/api.md). Each parses and authenticates,
// calls one service method and maps the result.
#pragma once

#include <string>
#include <vector>

#include "node/accounts/account_service.h"
#include "node/config.h"
#include "node/http/router.h"

namespace hearth {

struct NodeInfo {
  std::string server_name;
  Registration registration;
  std::vector<CrisisResource> crisis_resources;
};

void AddMemberApi(http::Router& router, const NodeInfo& info,
                  AccountService& accounts);

}  // namespace hearth
