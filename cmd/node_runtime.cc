// The composition root: the one place that wires storage, services, the
// member and admin APIs together.
#include "cmd/node_runtime.h"

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "admin/admin_api.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/version.h"
#include "federation/inbound.h"
#include "federation/node_keys.h"
#include "federation/outbox.h"
#include "federation/peer_client.h"
#include "federation/peer_requests.h"
#include "federation/sender.h"
#include "federation/trust.h"
#include "node/accounts/account_service.h"
#include "node/announcements/announcement_service.h"
#include "node/api/directory_api.h"
#include "node/api/federation_api.h"
#include "node/api/group_api.h"
#include "node/api/member_api.h"
#include "node/config.h"
#include "node/conversations/conversation_service.h"
#include "node/directory/directory_service.h"
#include "node/federation/inbound_router.h"
#include "node/groups/group_service.h"
#include "node/http/server.h"
#include "node/safety/block_list.h"
#include "node/sync/sync_stream.h"
#include "storage/audit_log.h"
#include "storage/committer.h"
#include "storage/env.h"
#include "storage/schema.h"

namespace hearth {
namespace {

int Fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "hearth: %s\n", message.c_str());
  return code;
}

// Runs `work` every `period` until stopped.
class Periodic {
 public:
  Periodic(std::chrono::milliseconds period, std::function<void()> work)
      : thread_([this, period, work = std::move(work)] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
            lock.unlock();
            work();
            lock.lock();
          }
        }) {}
  ~Periodic() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int RunNode(const DataDir& dir) {
  // Large allocations come straight from mmap and go back on free. With
  // glibc's dynamic threshold they drift into per-thread arenas that keep
  // them (measured: 360 MiB RSS after a login burst, before the password
  // hasher reused its buffers).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  auto loaded = LoadConfigFile(dir.ConfigPath());
  if (!loaded) return Fail(loaded.error().message, 2);
  const Config& config = loaded->config;
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  for (const auto& w : loaded->warnings) spdlog::warn("{}", w);

  auto lock = DataDirLock::Acquire(dir);
  if (!lock) return Fail(lock.error().message);
  auto admin_token = ReadSecretFile(dir.AdminTokenPath());
  if (!admin_token) return Fail(admin_token.error().message);

  storage::EnvOptions env_options;
  env_options.max_map_bytes = config.max_store_mb << 20;
  env_options.initial_map_bytes = std::min<std::uint64_t>(
      env_options.initial_map_bytes, env_options.max_map_bytes);
  auto env_result = storage::Env::Open(dir.StorePath(), env_options);
  if (!env_result) return Fail(env_result.error().message);
  storage::Env& env = **env_result;
  // Refuse another node's store before touching it.
  if (auto s = storage::ClaimServerName(env, config.server_name); !s)
    return Fail(s.error().message + " (check node.server_name in " +
                dir.ConfigPath() + ")");
  std::vector<std::string> migrations;
  if (auto s = storage::Migrate(env, &migrations); !s)
    return Fail(s.error().message);
  for (const auto& m : migrations) spdlog::info("store migrated: {}", m);

  auto account_store = AccountStore::Open(env);
  if (!account_store) return Fail(account_store.error().message);
  auto audit = storage::AuditLog::Open(env);
  if (!audit) return Fail(audit.error().message);

  SystemClock clock;
  Metrics metrics;
  storage::Committer committer(env);
  unsigned cores = std::max(2u, std::thread::hardware_concurrency());
  PasswordHasher hasher(config.password, cores);
  ThrottleOptions throttle_options;
  throttle_options.free_failures_per_handle = config.login_free_failures;
  LoginThrottle throttle(clock, throttle_options);
  AccountService accounts(
      env, committer, *account_store, *audit, hasher, throttle, clock,
      AccountsOptions{config.server_name, config.registration,
                      config.session_ttl_hours * 3600 * 1000});

  // Federation: keys, trust, outbox and senders, inbound.
  auto keys = federation::NodeKeys::Open(env, committer, dir.NodeKeyPath(),
                                         config.server_name, clock);
  if (!keys) return Fail(keys.error().message);
  auto outbox = federation::Outbox::Open(
      env, std::uint64_t(config.queue_collapse_events));
  if (!outbox) return Fail(outbox.error().message);
  federation::HttpPeerClient peer_client;
  auto trust = federation::TrustService::Open(
      env, committer, *audit, *outbox, peer_client, clock,
      federation::TrustOptions{
          .server_name = config.server_name,
          .policy = config.federation_mode == FederationMode::kOpen
                        ? federation::FederationPolicy::kOpen
                        : federation::FederationPolicy::kAllowlist,
          .allow_http = config.allow_http});
  if (!trust) return Fail(trust.error().message);
  federation::SenderPool senders(
      env, committer, *outbox, **trust, **keys, clock, metrics,
      federation::SenderOptions{.server_name = config.server_name,
                                .base_backoff_ms = config.retry_min_ms,
                                .max_backoff_ms = config.retry_max_s * 1000});
  auto announcements = AnnouncementService::Open(
      env, committer, *outbox, **trust, **keys, *audit, clock,
      [&senders] { senders.Notify(); });
  if (!announcements) return Fail(announcements.error().message);

  // Groups, conversations, blocks and the sync stream.
  auto stream = SyncStream::Open(env);
  if (!stream) return Fail(stream.error().message);
  SyncHub hub;
  federation::PeerRequests peer_requests(**trust, **keys, peer_client, clock);
  DirectoryService* directory_ptr = nullptr;  // set just below
  auto groups = GroupService::Open(GroupService::Deps{
      env, committer, *outbox, peer_requests, **trust, **keys, accounts,
      *stream, hub, clock, [&senders] { senders.Notify(); },
      [&directory_ptr] {
        if (directory_ptr) directory_ptr->ListingChanged();
      }});
  if (!groups) return Fail(groups.error().message);
  auto directory = DirectoryService::Open(DirectoryService::Deps{
      env, committer, **groups, **trust, **keys, peer_requests, clock,
      DirectoryOptions{.pull_interval_ms = config.directory_pull_s * 1000,
                       .stale_after_ms = config.directory_stale_s * 1000}});
  if (!directory) return Fail(directory.error().message);
  directory_ptr = directory->get();
  // Blocking or removing a peer drops its directory entries in the same
  // transaction.
  (*trust)->OnPeerChange([&directory](storage::WriteTxn& txn,
                                      const std::string& peer,
                                      std::optional<federation::PeerState> s) {
    if (s && *s != federation::PeerState::kBlocked) return Ok();
    return (*directory)->PurgeInTxn(txn, peer);
  });
  auto blocks = BlockList::Open(env, committer, clock);
  if (!blocks) return Fail(blocks.error().message);
  auto conversations = ConversationService::Open(ConversationService::Deps{
      env, committer, *outbox, **trust, **keys, accounts, *blocks, *stream, hub,
      clock, [&senders] { senders.Notify(); }});
  if (!conversations) return Fail(conversations.error().message);

  InboundRouter inbound_router;
  inbound_router.Register(
      AnnouncementService::kEventType,
      [&](storage::WriteTxn& txn, const federation::InboundEvent& e) {
        return (*announcements)->Apply(txn, e);
      });
  inbound_router.Register(
      GroupService::kAcceptType,
      [&](storage::WriteTxn& txn, const federation::InboundEvent& e) {
        return (*groups)->ApplyAccept(txn, e);
      },
      [&](federation::InboundEvent& e) { return (*groups)->PrepareAccept(e); });
  inbound_router.Register(
      GroupService::kMembershipType,
      [&](storage::WriteTxn& txn, const federation::InboundEvent& e) {
        return (*groups)->ApplyMembership(txn, e);
      });
  for (const char* type :
       {ConversationService::kMessageType, ConversationService::kAcceptType,
        ConversationService::kDeclineType}) {
    inbound_router.Register(
        type, [&](storage::WriteTxn& txn, const federation::InboundEvent& e) {
          return (*conversations)->Apply(txn, e);
        });
  }
  auto inbound = federation::Inbound::Open(
      env, committer, **trust, inbound_router, clock, metrics,
      federation::InboundOptions{.server_name = config.server_name});
  if (!inbound) return Fail(inbound.error().message);
  (*inbound)->OnContact(
      [&senders](const std::string& peer) { senders.Poke(peer); });

  metrics.Gauge("hearth_lmdb_map_bytes", "LMDB map size in bytes.",
                [&env] { return double(env.Stats().map_bytes); });
  metrics.Gauge("hearth_lmdb_used_bytes", "LMDB pages in use, in bytes.",
                [&env] { return double(env.Stats().used_bytes); });
  metrics.Gauge(
      "hearth_storage_commits_total",
      "Durable LMDB commits of group-commit batches.",
      [&committer] { return double(committer.commits()); }, "counter");
  metrics.Gauge(
      "hearth_storage_changes_total",
      "Changes made durable through group commit.",
      [&committer] { return double(committer.changes()); }, "counter");
  metrics.GaugeFamily("hearth_federation_queue_depth",
                      "Events waiting for each peer.", [&env, &outbox, &trust] {
                        Metrics::Samples samples;
                        auto peers = (*trust)->List();
                        auto txn = env.BeginRead();
                        if (!peers || !txn) return samples;
                        for (const auto& p : *peers) {
                          auto depth =
                              outbox->Depth(*txn, p.record.server_name);
                          if (depth)
                            samples.push_back({{{"peer", p.record.server_name}},
                                               double(*depth)});
                        }
                        return samples;
                      });
  metrics.GaugeFamily(
      "hearth_directory_groups",
      "Listed groups held in the directory, by publishing node.", [&directory] {
        Metrics::Samples samples;
        auto sources = (*directory)->Sources();
        if (!sources) return samples;
        for (const auto& [host, s] : *sources)
          samples.push_back({{{"node", host}}, double(s.groups)});
        return samples;
      });
  metrics.GaugeFamily(
      "hearth_directory_last_pull_age_seconds",
      "Seconds since each peer's directory was last pulled successfully.",
      [&directory, &clock, &config] {
        Metrics::Samples samples;
        auto sources = (*directory)->Sources();
        if (!sources) return samples;
        for (const auto& [host, s] : *sources) {
          if (host == config.server_name) continue;
          double age = s.last_ok_ts == 0
                           ? -1
                           : double(clock.NowMs() - s.last_ok_ts) / 1000;
          samples.push_back({{{"peer", host}}, age});
        }
        return samples;
      });
  metrics.Gauge("hearth_sync_waiting", "Members waiting in a sync long-poll.",
                [&hub] { return double(hub.waiting()); });
  metrics.Gauge("hearth_login_throttle_entries",
                "Handles and addresses with recent failed logins.",
                [&throttle] { return double(throttle.size()); });

  http::Router member_router;
  AddMemberApi(member_router,
               NodeInfo{config.server_name, config.registration,
                        config.crisis_resources},
               accounts);
  AddGroupApi(member_router, accounts, **groups);
  AddConversationApi(member_router, accounts, **conversations, *blocks);
  AddSyncApi(member_router, SyncDeps{env, accounts, **groups, *stream, hub});
  AddDirectoryApi(member_router, accounts, **directory);
  AddFederationApi(member_router, **keys, **inbound, **groups, **directory);
  http::Router admin_router;
  AddAdminApi(
      admin_router,
      AdminDeps{*admin_token, accounts, env, *audit, metrics, **trust, **keys,
                *outbox, **announcements, [&senders] { senders.Notify(); }});

  http::Server member(
      http::ServerOptions{.name = "member",
                          .host = config.listen.host,
                          .port = config.listen.port,
                          .threads = config.http_threads,
                          .max_body_bytes = config.max_body_bytes,
                          .trusted_proxies = config.trusted_proxies},
      std::move(member_router), metrics);
  http::Server admin(http::ServerOptions{.name = "admin",
                                         .host = config.admin_listen.host,
                                         .port = config.admin_listen.port,
                                         .threads = 4,
                                         .max_body_bytes = 64 << 10},
                     std::move(admin_router), metrics);
  if (auto s = member.Bind(); !s) return Fail(s.error().message);
  if (auto s = admin.Bind(); !s) return Fail(s.error().message);

  if (auto s = (*directory)->Start(); !s) return Fail(s.error().message);
  std::thread member_thread([&] { member.Serve(); });
  std::thread admin_thread([&] { admin.Serve(); });
  senders.Start();
  (*groups)->StartBackfill();
  auto sweeper = std::make_unique<Periodic>(std::chrono::hours(1), [&] {
    auto n = accounts.SweepExpiredSessions();
    if (!n) spdlog::warn("session sweep: {}", n.error().message);
    auto forgotten = (*inbound)->ForgetOldTransactions(7ll * 24 * 3600 * 1000);
    if (!forgotten) spdlog::warn("txn sweep: {}", forgotten.error().message);
    // Peers' key documents, twice a day each.
    auto refreshed = (*trust)->RefreshKeys();
    if (!refreshed) spdlog::warn("key refresh: {}", refreshed.error().message);
    // Sync items older than a week: clients that far behind read history.
    auto pruned = committer.Run([&](storage::WriteTxn& txn) -> Status {
      HEARTH_ASSIGN_OR_RETURN(
          auto n,
          stream->Prune(txn, clock.NowMs() - 7ll * 24 * 3600 * 1000, 100000));
      (void)n;
      return Ok();
    });
    if (!pruned) spdlog::warn("sync prune: {}", pruned.error().message);
  });
  spdlog::info("{} {} serving {} on {}:{} (admin {}:{}), registration {}",
               kSoftware, kVersion, config.server_name, config.listen.host,
               member.port(), config.admin_listen.host, admin.port(),
               ToString(config.registration));

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("received {}, shutting down",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");

  // Stop accepting; the servers finish the requests in flight before
  // their listen threads return. Then the store closes (Env's destructor).
  // Waiting sync requests answer at once.
  hub.Stop();
  member.Stop();
  admin.Stop();
  member_thread.join();
  admin_thread.join();
  senders.Stop();
  (*groups)->StopBackfill();
  (*directory)->Stop();
  sweeper.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace hearth
