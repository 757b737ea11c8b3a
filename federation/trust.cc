#include "federation/trust.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "federation/signed_json.h"

namespace hearth::federation {
namespace {

Error NotFound(const std::string& name) {
  return Error::NotFound("unknown_peer", "no peer named " + name);
}

}  // namespace

const char* ToString(PeerState s) {
  switch (s) {
    case PeerState::kPending:
      return "pending";
    case PeerState::kTrusted:
      return "trusted";
    case PeerState::kLimited:
      return "limited";
    case PeerState::kBlocked:
      return "blocked";
  }
  return "pending";
}

std::vector<std::string> Fingerprints(
    const std::map<std::string, std::string>& keys) {
  std::vector<std::string> out;
  for (const auto& [id, key] : keys) out.push_back(Fingerprint(key));
  return out;
}

Result<std::unique_ptr<TrustService>> TrustService::Open(
    storage::Env& env, storage::Committer& committer, storage::AuditLog audit,
    const Outbox& outbox, PeerClient& client, const Clock& clock,
    TrustOptions options) {
  HEARTH_ASSIGN_OR_RETURN(
      auto table, storage::Table<PeerRecord>::Open(env, "servername_peer"));
  return std::unique_ptr<TrustService>(new TrustService(
      env, committer, table, audit, outbox, client, clock, std::move(options)));
}

Result<KeyDocument> TrustService::FetchKeys(const std::string& base_url) {
  HEARTH_ASSIGN_OR_RETURN(PeerResponse res,
                          client_.Get(base_url, "/_hearth/v1/keys", ""));
  if (res.status != 200) {
    return Error::Unavailable(
        "peer_unreachable",
        base_url + "/_hearth/v1/keys answered " + std::to_string(res.status));
  }
  return ParseKeyDocument(res.body);
}

Status TrustService::Audit(storage::WriteTxn& txn, const std::string& actor,
                           const std::string& action, const std::string& target,
                           const nlohmann::json& detail) {
  HEARTH_ASSIGN_OR_RETURN(
      auto seq,
      audit_.Append(txn, storage::AuditEntry{0, clock_.NowMs(), actor, action,
                                             target, detail.dump()}));
  (void)seq;
  return Ok();
}

PeerView TrustService::ViewOf(PeerRecord record) const {
  PeerView v;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = last_contact_.find(record.server_name);
      it != last_contact_.end())
    v.last_contact_ts = it->second;
  if (auto it = last_error_.find(record.server_name); it != last_error_.end())
    v.last_error = it->second;
  v.record = std::move(record);
  return v;
}

Result<PeerView> TrustService::AddPeer(const std::string& url,
                                       const std::string& actor) {
  HEARTH_ASSIGN_OR_RETURN(std::string base,
                          NormalizeBaseUrl(url, options_.allow_http));
  HEARTH_ASSIGN_OR_RETURN(KeyDocument doc, FetchKeys(base));
  if (doc.server_name == options_.server_name)
    return Error::Invalid("is_self", base + " is this node");
  PeerRecord record;
  record.server_name = doc.server_name;
  record.base_url = base;
  record.state = PeerState::kPending;
  for (const auto& [id, pk] : doc.verify_keys) record.offered[id] = pk.key;
  record.added_ts = clock_.NowMs();
  record.note = "added";
  HEARTH_RETURN_IF_ERROR(ChangePeers([&](storage::WriteTxn& txn) -> Status {
    Status s = table_.Insert(txn, record.server_name, record);
    if (!s && s.error().reason == "exists") {
      return Error::Conflict("peer_exists",
                             record.server_name + " is already a peer");
    }
    HEARTH_RETURN_IF_ERROR(s);
    return Audit(
        txn, actor, "peer.add", record.server_name,
        {{"url", base}, {"fingerprints", Fingerprints(record.offered)}});
  }));
  RecordContact(record.server_name);
  return ViewOf(record);
}

Result<PeerView> TrustService::Update(
    const std::string& name, const std::string& actor,
    const std::string& action,
    const std::function<Status(storage::WriteTxn&, PeerRecord&)>& change) {
  PeerRecord record;
  HEARTH_RETURN_IF_ERROR(ChangePeers([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto stored, table_.Get(txn, name));
    if (!stored) return NotFound(name);
    record = std::move(*stored);
    HEARTH_RETURN_IF_ERROR(change(txn, record));
    HEARTH_RETURN_IF_ERROR(table_.Put(txn, name, record));
    if (on_peer_change_)
      HEARTH_RETURN_IF_ERROR(on_peer_change_(txn, name, record.state));
    return Audit(txn, actor, action, name,
                 {{"state", ToString(record.state)},
                  {"pinned", Fingerprints(record.pinned)}});
  }));
  return ViewOf(record);
}

Result<PeerView> TrustService::Trust(
    const std::string& name,
    const std::optional<std::vector<std::string>>& fingerprints,
    const std::string& actor) {
  return Update(
      name, actor, "peer.trust",
      [&](storage::WriteTxn& txn, PeerRecord& r) -> Status {
        if (r.offered.empty() && r.pinned.empty())
          return Error::Conflict("no_keys", "the peer offers no keys to pin");
        if (fingerprints) {
          for (const auto& fp : Fingerprints(r.offered)) {
            if (std::find(fingerprints->begin(), fingerprints->end(), fp) ==
                fingerprints->end()) {
              return Error::Conflict(
                  "fingerprint_mismatch",
                  "the peer's key " + fp +
                      " is not among the fingerprints given");
            }
          }
        }
        if (!r.offered.empty()) {
          // Pin exactly what was offered. Keys it replaces verify only
          // what was signed before now (a replaced key may have leaked).
          std::int64_t now = clock_.NowMs();
          for (const auto& [id, key] : r.pinned) {
            if (!r.offered.count(id)) r.old_keys[id] = {key, now};
          }
          r.pinned = std::move(r.offered);
          r.offered.clear();
        }
        r.state = PeerState::kTrusted;
        r.note = "trusted";
        return outbox_.StartCursor(txn, r.server_name);
      });
}

Result<PeerView> TrustService::SetState(const std::string& name,
                                        PeerState state,
                                        const std::string& actor) {
  std::string action =
      std::string("peer.") + (state == PeerState::kBlocked   ? "block"
                              : state == PeerState::kLimited ? "limit"
                                                             : "pending");
  return Update(name, actor, action,
                [&](storage::WriteTxn& txn, PeerRecord& r) -> Status {
                  if (state == PeerState::kLimited && r.pinned.empty())
                    return Error::Conflict(
                        "no_keys", "trust the peer's keys before limiting it");
                  r.state = state;
                  r.note = ToString(state);
                  // Nothing queued for a blocked peer is ever sent.
                  if (state == PeerState::kBlocked)
                    return outbox_.DropQueue(txn, r.server_name);
                  return Ok();
                });
}

Status TrustService::Remove(const std::string& name, const std::string& actor) {
  return ChangePeers([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(bool existed, table_.Delete(txn, name));
    if (!existed) return NotFound(name);
    HEARTH_RETURN_IF_ERROR(outbox_.DropCursor(txn, name));
    if (on_peer_change_)
      HEARTH_RETURN_IF_ERROR(on_peer_change_(txn, name, std::nullopt));
    return Audit(txn, actor, "peer.remove", name, nlohmann::json::object());
  });
}

Status TrustService::ChangePeers(const storage::Committer::Change& change) {
  Status s = committer_.Run(change);
  // After the commit, so that whoever sees the new generation reads what
  // changed; on failure too (nothing is lost by a needless re-read).
  generation_.fetch_add(1, std::memory_order_release);
  return s;
}

Result<std::vector<PeerView>> TrustService::List() const {
  std::vector<PeerRecord> records;
  {
    HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, table_.dbi()));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    while (more) {
      HEARTH_ASSIGN_OR_RETURN(auto r, storage::Decode<PeerRecord>(c.value()));
      records.push_back(std::move(r));
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  std::vector<PeerView> out;
  for (auto& r : records) out.push_back(ViewOf(std::move(r)));
  return out;
}

Result<std::optional<PeerRecord>> TrustService::Get(
    const std::string& name) const {
  HEARTH_ASSIGN_OR_RETURN(storage::ReadTxn txn, env_.BeginRead());
  return table_.Get(txn, name);
}

Result<std::optional<PeerRecord>> TrustService::Get(
    const storage::Txn& txn, const std::string& name) const {
  return table_.Get(txn, name);
}

Result<std::vector<std::string>> TrustService::TrustedPeers() const {
  HEARTH_ASSIGN_OR_RETURN(auto all, List());
  std::vector<std::string> out;
  for (const auto& v : all) {
    if (v.record.state == PeerState::kTrusted)
      out.push_back(v.record.server_name);
  }
  return out;
}

Result<PeerRecord> TrustService::CheckInbound(const std::string& origin,
                                              bool directory_only) const {
  HEARTH_ASSIGN_OR_RETURN(auto record, Get(origin));
  if (record && record->state == PeerState::kBlocked)
    return Error::Forbidden("blocked", origin + " is blocked");
  if (record && record->state == PeerState::kTrusted) return *record;
  if (record && record->state == PeerState::kLimited) {
    if (directory_only) return *record;
    return Error::Forbidden("limited",
                            origin + " may only exchange the directory");
  }
  if (options_.policy == FederationPolicy::kOpen && record &&
      !record->pinned.empty()) {
    return *record;
  }
  return Error::Forbidden("not_trusted", origin + " is not a trusted peer");
}

Status TrustService::VerifySigned(const nlohmann::json& object,
                                  const std::string& origin, bool allow_expired,
                                  const std::string* signing_bytes) {
  Error last = Error::Unauthenticated("unsigned",
                                      "the object is not signed by " + origin);
  for (const auto& id : SignatureKeyIds(object, origin)) {
    auto key = PublicKeyFor(origin, id);
    if (!key) {
      last = key.error();
      continue;
    }
    if (key->expired_ts != 0) {
      // An old key verifies only what it signed before it expired.
      auto ts = object.find("ts");
      if (!allow_expired || ts == object.end() || !ts->is_number_integer() ||
          ts->get<std::int64_t>() > key->expired_ts) {
        last = Error::Unauthenticated("expired_key",
                                      id + " of " + origin + " has expired");
        continue;
      }
    }
    Status s = VerifyJson(object, origin, id, key->key, signing_bytes);
    if (s) return Ok();
    last = s.error();
  }
  return last;
}

Result<PeerKey> TrustService::PublicKeyFor(const std::string& origin,
                                           const std::string& key_id) {
  HEARTH_ASSIGN_OR_RETURN(auto record, Get(origin));
  bool open = options_.policy == FederationPolicy::kOpen;
  if (!record && !open)
    return Error::Forbidden("not_trusted", origin + " is not a trusted peer");
  if (record) {
    if (record->state == PeerState::kBlocked)
      return Error::Forbidden("blocked", origin + " is blocked");
    if (auto it = record->pinned.find(key_id); it != record->pinned.end())
      return PeerKey{it->second, 0};
    if (auto it = record->old_keys.find(key_id); it != record->old_keys.end())
      return PeerKey{it->second.first, it->second.second};
  }
  // An id we do not know: look at the peer's key document, but not more
  // than once a minute, so that garbage ids cannot make us hammer it.
  std::int64_t now = clock_.NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_fetch_.size() > 10000) {
      // Open federation lets any name appear here; forget stale entries.
      std::erase_if(last_fetch_, [&](const auto& kv) {
        return now - kv.second >= options_.refresh_interval_ms;
      });
    }
    auto& last = last_fetch_[origin];
    if (now - last < options_.refetch_interval_ms)
      return Error::Unauthenticated("unknown_key", "unknown key " + key_id);
    last = now;
  }
  std::string base = record ? record->base_url : "https://" + origin;
  auto doc = FetchKeys(base);
  if (!doc) {
    RecordError(origin, doc.error().message);
    return Error::Unauthenticated(
        "unknown_key", "unknown key " + key_id + "; " + doc.error().message);
  }
  if (doc->server_name != origin)
    return Error::Unauthenticated("unknown_key",
                                  base + " serves keys of " + doc->server_name);

  HEARTH_RETURN_IF_ERROR(MergeKeys(origin, base, *doc));
  HEARTH_ASSIGN_OR_RETURN(auto after, Get(origin));
  if (after) {
    if (auto it = after->pinned.find(key_id); it != after->pinned.end())
      return PeerKey{it->second, 0};
  }
  return Error::Unauthenticated("unknown_key",
                                "no pinned key " + key_id + " for " + origin);
}

Status TrustService::MergeKeys(const std::string& origin,
                               const std::string& base,
                               const KeyDocument& doc) {
  std::int64_t now = clock_.NowMs();
  return ChangePeers([&](storage::WriteTxn& txn) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto stored, table_.Get(txn, origin));
    PeerRecord r;
    if (stored) {
      r = std::move(*stored);
    } else {
      // Open federation: first contact pins what the peer shows (TOFU).
      r.server_name = origin;
      r.base_url = base;
      r.added_ts = now;
      r.note = "first contact (open federation)";
      for (const auto& [id, pk] : doc.verify_keys) r.pinned[id] = pk.key;
      HEARTH_RETURN_IF_ERROR(table_.Put(txn, origin, r));
      return Audit(txn, "federation", "peer.first_contact", origin,
                   {{"fingerprints", Fingerprints(r.pinned)}});
    }
    // Vouched: the document carries a valid signature by a key we have
    // pinned (and states that key as we pinned it). Expired keys vouch for
    // nothing.
    bool vouched = false;
    for (const auto& id : doc.signed_by) {
      auto pinned = r.pinned.find(id);
      if (pinned == r.pinned.end()) continue;
      const auto& stated = doc.verify_keys.count(id)
                               ? doc.verify_keys.at(id).key
                               : doc.old_verify_keys.at(id).key;
      vouched = vouched || stated == pinned->second;
    }
    bool changed = false;
    for (const auto& [id, pk] : doc.verify_keys) {
      if (!r.pinned.count(id)) changed = true;
    }
    if (!changed) return Ok();
    if (r.pinned.empty()) {
      // Never trusted yet: nothing was pinned, so nothing changed; keep
      // what it offers up to date for the admin who will look at it.
      std::map<std::string, std::string> offered;
      for (const auto& [id, pk] : doc.verify_keys) offered[id] = pk.key;
      if (offered == r.offered) return Ok();
      r.offered = std::move(offered);
      return table_.Put(txn, origin, r);
    }
    if (vouched) {
      // A rotation the old key signed: pin the new keys, retire the rest.
      std::map<std::string, std::string> next;
      for (const auto& [id, pk] : doc.verify_keys) next[id] = pk.key;
      for (const auto& [id, k] : r.pinned) {
        if (next.count(id)) continue;
        std::int64_t expired = doc.old_verify_keys.count(id)
                                   ? doc.old_verify_keys.at(id).expired_ts
                                   : now;
        r.old_keys[id] = {k, expired};
      }
      r.pinned = std::move(next);
      r.note = "key rotated";
      HEARTH_RETURN_IF_ERROR(table_.Put(txn, origin, r));
      return Audit(txn, "federation", "peer.key_rotated", origin,
                   {{"pinned", Fingerprints(r.pinned)}});
    }
    // A key change nobody we trust signed: stop trusting until an admin
    // looks at it.
    r.offered.clear();
    for (const auto& [id, pk] : doc.verify_keys) r.offered[id] = pk.key;
    if (r.state != PeerState::kBlocked) r.state = PeerState::kPending;
    r.note = "unpinned key change";
    spdlog::warn(
        "peer {} changed its keys without a signature from a pinned "
        "key; it is pending until an admin trusts it again",
        origin);
    HEARTH_RETURN_IF_ERROR(table_.Put(txn, origin, r));
    return Audit(txn, "federation", "peer.key_change", origin,
                 {{"offered", Fingerprints(r.offered)}});
  });
}

Result<size_t> TrustService::RefreshKeys() {
  HEARTH_ASSIGN_OR_RETURN(auto peers, List());
  std::int64_t now = clock_.NowMs();
  size_t refreshed = 0;
  for (const auto& view : peers) {
    const PeerRecord& r = view.record;
    if (r.state != PeerState::kTrusted && r.state != PeerState::kLimited)
      continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& last = last_fetch_[r.server_name];
      if (now - last < options_.refresh_interval_ms) continue;
      last = now;
    }
    auto doc = FetchKeys(r.base_url);
    if (!doc || doc->server_name != r.server_name) {
      RecordError(r.server_name, doc ? "key document names " + doc->server_name
                                     : doc.error().message);
      continue;
    }
    HEARTH_RETURN_IF_ERROR(MergeKeys(r.server_name, r.base_url, *doc));
    ++refreshed;
  }
  return refreshed;
}

void TrustService::RecordContact(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  last_contact_[name] = clock_.NowMs();
}

void TrustService::RecordError(const std::string& name,
                               const std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error.empty()) {
    last_error_.erase(name);
  } else {
    // Bounded: in open federation any origin name can fail a key fetch.
    if (last_error_.size() > 10000) last_error_.clear();
    last_error_[name] = error;
  }
}

}  // namespace hearth::federation
