// GET /api/v1/sync?since=CURSOR&timeout=MS: a long-poll. The handler's
// pool thread waits on the member's slot in the SyncHub (no polling, no
// store reads while waiting); a write that concerns the member wakes it.
#include <chrono>

#include "node/api/group_api.h"
#include "node/api/member_auth.h"

namespace hearth {

void AddSyncApi(http::Router& router, SyncDeps deps) {
  router.Add(
      "GET", "/api/v1/sync",
      Authed(
          deps.accounts,
          [deps](const http::Request& req,
                 const Member& m) -> Result<http::Reply> {
            constexpr size_t kMaxEvents = 500;
            HEARTH_ASSIGN_OR_RETURN(
                auto since, http::QueryInt(req, "since", 0, (1ll << 53) - 1));
            HEARTH_ASSIGN_OR_RETURN(auto timeout,
                                    http::QueryInt(req, "timeout", 0, 120000));
            auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(timeout.value_or(30000));
            // Register before reading, so a write in between still wakes us.
            auto waiter = deps.hub.Register(m.member_id);
            std::uint64_t pos = std::uint64_t(since.value_or(0));
            SyncPage page;
            while (true) {
              {
                HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn,
                                        deps.env.BeginRead());
                HEARTH_ASSIGN_OR_RETURN(
                    auto groups, deps.groups.JoinedGroups(txn, m.member_id));
                HEARTH_ASSIGN_OR_RETURN(
                    page, deps.stream.Read(txn, m.member_id, *groups, pos,
                                           kMaxEvents));
              }
              pos = page.next;
              if (!page.events.empty() || !since) break;
              if (!waiter->Wait(deadline)) {
                if (std::chrono::steady_clock::now() >= deadline) break;
                // Stopped: answer now with what we have.
                break;
              }
            }
            std::string body =
                "{\"next\":\"" + std::to_string(pos) + "\",\"events\":[";
            for (size_t i = 0; i < page.events.size(); ++i) {
              if (i) body += ',';
              body += page.events[i];
            }
            body += "]}";
            return http::Reply{200, std::move(body), "application/json"};
          }));
}

}  // namespace hearth
