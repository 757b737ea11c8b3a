// The admin API on its own listener (loopback by default). Every call needs
// the admin token from DATA_DIR/admin.token as a bearer token.
#pragma once

#include <string>

#include "common/metrics.h"
#include "node/accounts/account_service.h"
#include "node/http/router.h"
#include "storage/audit_log.h"
#include "storage/env.h"

namespace hearth {

struct AdminDeps {
  std::string admin_token;
  AccountService& accounts;
  storage::Env& env;
  storage::AuditLog audit;
  Metrics& metrics;
};

void AddAdminApi(http::Router& router, AdminDeps deps);

}  // namespace hearth
