// The admin API on its own listener (loopback by default). Every call needs
// the admin token from DATA_DIR/admin.token as a bearer token.
#pragma once

#include <string>

#include "common/metrics.h"
#include "federation/node_keys.h"
#include "federation/outbox.h"
#include "federation/trust.h"
#include "node/accounts/account_service.h"
#include "node/announcements/announcement_service.h"
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
  federation::TrustService& trust;
  federation::NodeKeys& keys;
  const federation::Outbox& outbox;
  AnnouncementService& announcements;
  // Called after a change that may give senders work (a peer trusted).
  std::function<void()> notify_senders;
};

void AddAdminApi(http::Router& router, AdminDeps deps);

}  // namespace hearth
