#include "node/directory/directory_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/crypto.h"
#include "common/ids.h"
#include "node/directory/directory_document.h"
#include "node/directory/search_text.h"
#include "node/groups/group_fields.h"
#include "storage/codec.h"

namespace hearth {

using directory::DirSource;
using nlohmann::json;

namespace {

// What leaves the node of a listed group (and what the index keeps).
GroupRecord Listed(const GroupRecord& g) {
  GroupRecord out;
  out.group_id = g.group_id;
  out.name = g.name;
  out.description = g.description;
  out.topics = g.topics;
  out.language = g.language;
  out.join_policy = g.join_policy;
  for (const Meeting& m : g.meetings)
    out.meetings.push_back(Meeting{m.weekday, m.time, m.timezone, ""});
  out.member_count = g.member_count;
  return out;
}

}  // namespace

Result<std::unique_ptr<DirectoryService>> DirectoryService::Open(Deps deps) {
  HEARTH_ASSIGN_OR_RETURN(auto index,
                          directory::DirectoryIndex::Open(deps.env));
  return std::unique_ptr<DirectoryService>(
      new DirectoryService(std::move(deps), std::move(index)));
}

DirectoryService::~DirectoryService() { Stop(); }

void DirectoryService::ListingChanged() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dirty_) return;
    dirty_ = true;
    dirty_since_ = d_.clock.NowMs();
  }
  cv_.notify_all();
}

Result<bool> DirectoryService::Publish() {
  HEARTH_ASSIGN_OR_RETURN(auto hosted, d_.groups.ListedGroups());
  if (hosted.size() > directory::kMaxListedGroups) {
    // Peers refuse a larger document whole: list the first ones by id.
    spdlog::warn("directory: {} public groups; only the first {} are listed",
                 hosted.size(), directory::kMaxListedGroups);
    hosted.resize(directory::kMaxListedGroups);
  }
  std::vector<GroupRecord> listing;
  listing.reserve(hosted.size());
  std::string encoded;
  for (const auto& g : hosted) {
    listing.push_back(Listed(g));
    encoded += storage::Encode(listing.back());
  }
  std::string hash = Sha256(encoded);
  const std::string& self = d_.keys.server_name();
  bool changed = false;
  std::uint64_t version = 0;
  HEARTH_RETURN_IF_ERROR(
      d_.committer.Run([&](storage::WriteTxn& txn) -> Status {
        changed = false;
        HEARTH_ASSIGN_OR_RETURN(auto source, index_.Source(txn, self));
        if (source && source->hash == hash) {
          version = source->version;
          return Ok();
        }
        // A timestamp, so that a node whose store was lost still moves on.
        version = std::max<std::uint64_t>(std::uint64_t(d_.clock.NowMs()),
                                          source ? source->version + 1 : 1);
        HEARTH_ASSIGN_OR_RETURN(auto stats, index_.Replace(txn, self, listing));
        (void)stats;
        std::int64_t now = d_.clock.NowMs();
        changed = true;
        return index_.PutSource(txn, self,
                                DirSource{version, hash, now, now, "",
                                          std::uint64_t(listing.size())});
      }));
  std::lock_guard<std::mutex> lock(doc_mu_);
  if (version != version_ || document_.empty()) {
    version_ = version;
    listing_ = std::move(listing);
    document_.clear();
  }
  return changed;
}

Result<std::string> DirectoryService::HostDirectory(
    std::optional<std::uint64_t> newer_than) {
  std::lock_guard<std::mutex> lock(doc_mu_);
  if (version_ == 0)
    return Error::Unavailable("starting", "the directory is not ready yet");
  if (newer_than && *newer_than >= version_)
    return json{{"changed", false}, {"version", version_}}.dump();
  federation::SigningKey key = d_.keys.current();
  if (document_.empty() || document_key_id_ != key.key_id()) {
    HEARTH_ASSIGN_OR_RETURN(
        document_, directory::SignDirectory(
                       directory::DirectoryDocument{d_.keys.server_name(),
                                                    version_, listing_},
                       key));
    document_key_id_ = key.key_id();
  }
  return document_;
}

Status DirectoryService::HostNotice(const std::string& origin,
                                    const json& body) {
  auto v = body.find("version");
  if (!body.is_object() || v == body.end() || !v->is_number_integer() ||
      v->get<std::int64_t>() < 0)
    return Error::Invalid("bad_notice", "a notice is {\"version\": N}");
  std::uint64_t version = v->get<std::uint64_t>();
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  HEARTH_ASSIGN_OR_RETURN(auto source, index_.Source(txn, origin));
  if (source && source->version >= version) return Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.insert(origin);
  }
  cv_.notify_all();
  return Ok();
}

Result<std::vector<std::pair<std::string, DirSource>>>
DirectoryService::Sources() const {
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  return index_.Sources(txn);
}

Status DirectoryService::PurgeInTxn(storage::WriteTxn& txn,
                                    const std::string& peer) const {
  if (peer == d_.keys.server_name()) return Ok();  // never our own listing
  auto n = index_.Purge(txn, peer);
  if (!n) {
    // The map must grow: the committer runs the change again. Any other
    // failure must not stop the block; search hides the peer anyway.
    if (storage::IsMapFull(n.error())) return n.error();
    spdlog::error("directory: purging {}: {}", peer, n.error().message);
    return Ok();
  }
  if (*n > 0) spdlog::info("directory: purged {} groups of {}", *n, peer);
  return Ok();
}

Result<json> DirectoryService::Search(const DirectorySearch& s) const {
  directory::SearchQuery q;
  if (s.q.size() > 200)
    return Error::Invalid("invalid_q", "q is at most 200 bytes");
  for (auto& w : directory::Words(s.q)) {
    if (std::find(q.words.begin(), q.words.end(), w) == q.words.end())
      q.words.push_back(std::move(w));
  }
  if (q.words.size() > 8)
    return Error::Invalid("invalid_q", "q has at most 8 words");
  if (!s.topic.empty()) {
    if (s.topic.size() > 32)
      return Error::Invalid("invalid_topic", "a topic is at most 32 bytes");
    q.topic = directory::Fold(s.topic);
  }
  if (!s.language.empty()) {
    q.language = directory::Fold(s.language);
    if (!IsLanguage(q.language))
      return Error::Invalid("invalid_language",
                            "language is a tag such as en or pt-br");
  }
  if (!s.day.empty()) {
    q.day = directory::Fold(s.day);
    if (!IsWeekday(q.day))
      return Error::Invalid("invalid_day", "day is monday to sunday");
  }
  if (!s.join_policy.empty()) {
    JoinPolicy p;
    if (!ParseJoinPolicy(s.join_policy, &p))
      return Error::Invalid("invalid_join_policy",
                            "join_policy is open, approval or invite");
    q.join_policy = s.join_policy;
  }
  if (!s.node.empty()) {
    if (!IsValidServerName(s.node))
      return Error::Invalid("invalid_node", "node is a server name");
    q.node = s.node;
  }
  q.offset = s.offset;
  q.limit = s.limit;

  const std::string& self = d_.keys.server_name();
  std::int64_t now = d_.clock.NowMs();
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, d_.env.BeginRead());
  Status failed = Ok();
  auto view = [&](const std::string& host) {
    directory::HostView v;
    if (host == self) {
      v.visible = v.local = v.joinable = true;
      return v;
    }
    auto peer = d_.trust.Get(txn, host);
    auto source = index_.Source(txn, host);
    if (!peer || !source) {
      failed = !peer ? Status(peer.error()) : Status(source.error());
      return v;
    }
    if (!*peer || ((*peer)->state != federation::PeerState::kTrusted &&
                   (*peer)->state != federation::PeerState::kLimited))
      return v;
    v.visible = true;
    v.joinable = (*peer)->state == federation::PeerState::kTrusted;
    v.stale =
        !*source || now - (*source)->last_ok_ts > d_.options.stale_after_ms;
    return v;
  };
  HEARTH_ASSIGN_OR_RETURN(auto page, index_.Search(txn, q, view));
  HEARTH_RETURN_IF_ERROR(failed);
  json groups = json::array();
  for (const auto& hit : page.hits) {
    json j = directory::ListingJson(hit.group);
    j["node"] = hit.host;
    j["local"] = hit.view.local;
    j["joinable"] = hit.view.joinable;
    j["stale"] = hit.view.stale;
    groups.push_back(std::move(j));
  }
  return json{{"groups", std::move(groups)},
              {"total", page.total},
              {"next", page.next ? json(*page.next) : json(nullptr)}};
}

Result<directory::MergeStats> DirectoryService::Merge(const std::string& peer,
                                                      const json& document) {
  // Current keys only: the document carries no time of signing.
  HEARTH_RETURN_IF_ERROR(
      d_.trust.VerifySigned(document, peer, /*allow_expired=*/false));
  size_t skipped = 0;
  HEARTH_ASSIGN_OR_RETURN(auto doc,
                          directory::ParseDirectory(document, peer, &skipped));
  if (skipped > 0)
    spdlog::warn("directory: skipped {} malformed groups from {}", skipped,
                 peer);
  directory::MergeStats stats;
  HEARTH_RETURN_IF_ERROR(
      d_.committer.Run([&](storage::WriteTxn& txn) -> Status {
        stats = {};
        // The admin may have blocked the peer while we were fetching.
        HEARTH_ASSIGN_OR_RETURN(auto record, d_.trust.Get(txn, peer));
        if (!record || (record->state != federation::PeerState::kTrusted &&
                        record->state != federation::PeerState::kLimited))
          return Ok();
        HEARTH_ASSIGN_OR_RETURN(auto source, index_.Source(txn, peer));
        DirSource s = source.value_or(DirSource{});
        std::int64_t now = d_.clock.NowMs();
        s.last_ok_ts = s.last_try_ts = now;
        s.last_error.clear();
        if (doc.version > s.version) {
          HEARTH_ASSIGN_OR_RETURN(stats, index_.Replace(txn, peer, doc.groups));
          s.version = doc.version;
          s.groups = doc.groups.size();
        }
        return index_.PutSource(txn, peer, s);
      }));
  return stats;
}

}  // namespace hearth
