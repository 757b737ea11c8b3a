// GET /api/v1/sync?since=CURSOR&timeout=MS: a long-poll. When there is
// nothing new yet, the request is parked (http::Parked): the connection
// waits without a pool thread, on the member's slot in the SyncHub (no
// polling, no store reads while waiting), until a write that concerns the
// member wakes it or the timeout ends it.
#include <chrono>
#include <memory>

#include "node/api/group_api.h"
#include "node/api/member_auth.h"

namespace hearth {
namespace {

constexpr size_t kMaxEvents = 500;

// One waiting sync: what its resumptions need once the request is gone.
struct Poll {
  SyncDeps deps;
  std::string member;
  std::uint64_t pos = 0;
  std::chrono::steady_clock::time_point deadline;
  // Registered before the first read, so a write in between still wakes.
  std::unique_ptr<SyncHub::Waiter> waiter;
};

Result<SyncPage> Read(Poll& p) {
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, p.deps.env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto groups,
                          p.deps.groups.JoinedGroups(txn, p.member));
  HEARTH_ASSIGN_OR_RETURN(
      SyncPage page,
      p.deps.stream.Read(txn, p.member, *groups, p.pos, kMaxEvents));
  p.pos = page.next;
  return page;
}

http::Reply Answer(std::uint64_t next, const SyncPage& page) {
  std::string body = "{\"next\":\"" + std::to_string(next) + "\",\"events\":[";
  for (size_t i = 0; i < page.events.size(); ++i) {
    if (i) body += ',';
    body += page.events[i];
  }
  body += "]}";
  return http::Reply{200, std::move(body), "application/json"};
}

// Parks `poll` until the member is woken or its deadline passes; each
// resumption reads again and answers, or parks anew (a wake-up for items
// this member does not see, e.g. another group's).
http::Reply Wait(std::shared_ptr<Poll> poll) {
  auto parked = std::make_shared<http::Parked>();
  parked->deadline = poll->deadline;
  parked->arm = [poll](std::function<void()> wake) {
    poll->waiter->Listen(std::move(wake));
  };
  parked->resume = [poll](bool timed_out) -> Result<http::Reply> {
    HEARTH_ASSIGN_OR_RETURN(SyncPage page, Read(*poll));
    if (!page.events.empty() || timed_out || poll->waiter->stopped() ||
        std::chrono::steady_clock::now() >= poll->deadline)
      return Answer(poll->pos, page);
    return Wait(poll);
  };
  return http::Reply::Later(std::move(parked));
}

}  // namespace

void AddSyncApi(http::Router& router, SyncDeps deps) {
  router.Add(
      "GET", "/api/v1/sync",
      Authed(deps.accounts,
             [deps](const http::Request& req,
                    const Member& m) -> Result<http::Reply> {
               HEARTH_ASSIGN_OR_RETURN(
                   auto since,
                   http::QueryInt(req, "since", 0, (1ll << 53) - 1));
               HEARTH_ASSIGN_OR_RETURN(
                   auto timeout, http::QueryInt(req, "timeout", 0, 120000));
               auto poll = std::make_shared<Poll>(
                   Poll{deps, m.member_id, std::uint64_t(since.value_or(0)),
                        std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(timeout.value_or(30000)),
                        deps.hub.Register(m.member_id)});
               HEARTH_ASSIGN_OR_RETURN(SyncPage page, Read(*poll));
               // Without `since` (a first sync) the answer is the head.
               if (!page.events.empty() || !since ||
                   std::chrono::steady_clock::now() >= poll->deadline)
                 return Answer(poll->pos, page);
               return Wait(std::move(poll));
             }));
}

}  // namespace hearth
