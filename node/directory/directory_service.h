// The federated group directory (spec/directory.md).
//
// Publishing: this node's public groups become a signed directory document
// with a version that grows on every change; peers fetch it at
// GET /_hearth/v1/directory, "only if newer than N".
// Exchange (a thread): every trusted or limited peer is pulled on an
// interval, and at once when it sends a notice that its document changed;
// after our own listing changes we send our notice to each of them.
// Search: one index (directory_index.h) of our groups and our peers',
// updated incrementally by each merge; a blocked or removed peer's groups
// are purged in the transaction that blocks it, and only trusted and
// limited peers' groups are ever shown.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/result.h"
#include "federation/node_keys.h"
#include "federation/peer_requests.h"
#include "federation/trust.h"
#include "node/directory/directory_index.h"
#include "node/groups/group_service.h"
#include "storage/committer.h"
#include "storage/env.h"

namespace hearth {

struct DirectoryOptions {
  std::int64_t pull_interval_ms = 5 * 60 * 1000;
  std::int64_t stale_after_ms = 6 * 3600 * 1000;
  // How long a change to our listing waits for more before it is
  // published (a burst of joins makes one new version).
  std::int64_t publish_delay_ms = 200;
};

// The member's search, as given (spec/api.md §1.6); Search validates it.
struct DirectorySearch {
  std::string q, topic, language, day, join_policy, node;
  size_t offset = 0;
  size_t limit = 20;
};

class DirectoryService {
 public:
  static constexpr char kPath[] = "/_hearth/v1/directory";
  static constexpr char kNoticePath[] = "/_hearth/v1/directory/notify";

  struct Deps {
    storage::Env& env;
    storage::Committer& committer;
    const GroupService& groups;
    federation::TrustService& trust;
    const federation::NodeKeys& keys;
    federation::PeerRequests& peers;
    const Clock& clock;
    DirectoryOptions options;
  };
  static Result<std::unique_ptr<DirectoryService>> Open(Deps deps);
  ~DirectoryService();

  // Publishes the current listing and starts the exchange thread.
  Status Start();
  void Stop();

  // Called after a change to a group hosted here that may be listed.
  void ListingChanged();

  // --- Peers (after inbound authentication; limited peers allowed) -----
  // The signed document, or {"version": V, "changed": false} when
  // `newer_than` is given and the document is not newer.
  Result<std::string> HostDirectory(std::optional<std::uint64_t> newer_than);
  // A peer's notice {"version": V}: pulls it soon if V is news.
  Status HostNotice(const std::string& origin, const nlohmann::json& body);

  // --- Members ------------------------------------------------------------
  // Errors: invalid_q, invalid_topic, invalid_language, invalid_day,
  // invalid_join_policy, invalid_node (400).
  Result<nlohmann::json> Search(const DirectorySearch& search) const;

  // What we hold from each source, for metrics: host -> record.
  Result<std::vector<std::pair<std::string, directory::DirSource>>> Sources()
      const;

  // --- Trust ----------------------------------------------------------------
  // Drops `peer`'s groups in the caller's transaction (blocking, removal).
  Status PurgeInTxn(storage::WriteTxn& txn, const std::string& peer) const;

  // --- Exchange steps (the thread runs these; tests and benchmarks too) --
  // Rebuilds our listing; true if it changed (a new version).
  Result<bool> Publish();
  // Fetches `peer`'s document if newer and merges it.
  Status Pull(const std::string& peer);
  // Merges a verified document from `peer` (after the trust check, in one
  // transaction). Returns what changed.
  Result<directory::MergeStats> Merge(const std::string& peer,
                                      const nlohmann::json& document);

 private:
  explicit DirectoryService(Deps deps, directory::DirectoryIndex index)
      : d_(std::move(deps)), index_(std::move(index)) {}
  // A notice pulls its peer at once, but at most this often.
  static constexpr std::int64_t kNoticeSpacingMs = 2000;
  void Loop();
  void PublishIfDue();
  // Whether the exchange thread should pull `peer` now.
  bool PullDue(const std::string& peer, bool woken, std::int64_t now);
  void SendNotices(std::uint64_t version);
  void RecordFailure(const std::string& peer, const std::string& error);
  // Trusted and limited peers.
  std::vector<std::string> Peers() const;
  bool Stopping();

  Deps d_;
  directory::DirectoryIndex index_;

  std::mutex doc_mu_;  // the signed document of the current version
  std::uint64_t version_ = 0;
  std::string document_;
  std::string document_key_id_;
  std::vector<GroupRecord> listing_;

  std::mutex mu_;  // the exchange thread's inputs
  std::condition_variable cv_;
  bool stop_ = true;
  bool dirty_ = false;
  std::int64_t dirty_since_ = 0;
  std::set<std::string> wake_;  // peers that sent a notice
  // The exchange thread's own schedule.
  std::map<std::string, std::int64_t> next_pull_;
  std::map<std::string, std::int64_t> last_pull_;
  std::thread thread_;
};

}  // namespace hearth
