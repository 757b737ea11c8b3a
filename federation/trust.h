// Peers and the admin's trust in them. The only code that reads or writes
// the peer table; every inbound request passes CheckInbound and
// PublicKeyFor before anything reaches a service.
//
// Table `servername_peer`: server name -> PeerRecord
//
// States: pending (added, not yet trusted, or put back after an unpinned
// key change), trusted, limited (directory only), blocked (no traffic
// either way).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "federation/key_document.h"
#include "federation/outbox.h"
#include "federation/peer_client.h"
#include "storage/audit_log.h"
#include "storage/committer.h"
#include "storage/env.h"
#include "storage/table.h"

#include <cereal/types/map.hpp>
#include <cereal/types/utility.hpp>

namespace hearth::federation {

enum class PeerState : std::uint8_t {
  kPending = 0,
  kTrusted = 1,
  kLimited = 2,
  kBlocked = 3
};
const char* ToString(PeerState s);

enum class FederationPolicy { kAllowlist, kOpen };

struct PeerRecord {
  std::string server_name;
  std::string base_url;
  PeerState state = PeerState::kPending;
  // Keys we accept signatures from: key id -> raw public key.
  std::map<std::string, std::string> pinned;
  // Expired keys: key id -> (raw public key, expired_ts).
  std::map<std::string, std::pair<std::string, std::int64_t>> old_keys;
  // Keys the peer offers that no admin has pinned yet (shown as
  // fingerprints; `trust` pins them).
  std::map<std::string, std::string> offered;
  std::int64_t added_ts = 0;
  std::string note;  // why the state last changed, e.g. "key change"

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(server_name, base_url, state, pinned, old_keys, offered, added_ts, note);
  }
};

// A key a peer signs with, and when it expired (0: current). An expired
// key verifies only what the peer signed before it expired.
struct PeerKey {
  std::string key;  // 32 raw bytes
  std::int64_t expired_ts = 0;
};

// What admins see of a peer.
struct PeerView {
  PeerRecord record;
  std::int64_t last_contact_ts = 0;  // last authenticated request either way
  std::string last_error;            // last delivery or fetch error
};

struct TrustOptions {
  std::string server_name;
  FederationPolicy policy = FederationPolicy::kAllowlist;
  bool allow_http = false;
  // How often an unknown key id may trigger a key-document fetch.
  std::int64_t refetch_interval_ms = 60 * 1000;
  // How often RefreshKeys looks at each peer's key document.
  std::int64_t refresh_interval_ms = 12 * 3600 * 1000;
};

class TrustService {
 public:
  // `outbox`: trusting a peer starts its delivery cursor, removing it
  // drops the cursor, in the same transaction.
  static Result<std::unique_ptr<TrustService>> Open(
      storage::Env& env, storage::Committer& committer, storage::AuditLog audit,
      const Outbox& outbox, PeerClient& client, const Clock& clock,
      TrustOptions options);

  // Fetches `url`'s key document and records the peer as pending with the
  // keys it offers. Conflict (`peer_exists`) if known; Invalid (`bad_url`,
  // `bad_key_document`, `is_self`); Unavailable (`peer_unreachable`).
  Result<PeerView> AddPeer(const std::string& url, const std::string& actor);

  // Pins the offered keys and trusts the peer. With `fingerprints`, every
  // offered key's fingerprint must be among them (Conflict
  // `fingerprint_mismatch`), so an admin can pin what they compared.
  Result<PeerView> Trust(
      const std::string& name,
      const std::optional<std::vector<std::string>>& fingerprints,
      const std::string& actor);
  // Limit or block (blocking takes effect at once, both ways).
  Result<PeerView> SetState(const std::string& name, PeerState state,
                            const std::string& actor);
  Status Remove(const std::string& name, const std::string& actor);

  Result<std::vector<PeerView>> List() const;
  Result<std::optional<PeerRecord>> Get(const std::string& name) const;
  // The same, inside the caller's transaction.
  Result<std::optional<PeerRecord>> Get(const storage::Txn& txn,
                                        const std::string& name) const;
  // Trusted peers (the destinations of what we send).
  Result<std::vector<std::string>> TrustedPeers() const;
  // Moves on after every committed (or failed) write of the peer table:
  // what reads the table only to follow it (the senders) can skip the
  // read while this stays the same.
  std::uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }

  // The inbound gate: Forbidden (`blocked`, `not_trusted`) unless `origin`
  // may send us requests. Limited peers pass only if `directory_only`.
  Result<PeerRecord> CheckInbound(const std::string& origin,
                                  bool directory_only) const;

  // The public key `origin` uses under `key_id`, pinned or old. An unknown
  // id makes us fetch the peer's key document (at most once a minute): a
  // new key signed by a pinned key is pinned; anything else puts the peer
  // back to pending, logs it and records it in the audit log.
  // Unauthenticated (`unknown_key`) if no usable key results.
  Result<PeerKey> PublicKeyFor(const std::string& origin,
                               const std::string& key_id);

  // Fetches the key document of every trusted or limited peer not
  // fetched within refresh_interval_ms and applies it like an unknown key
  // id would (rotations pinned, other changes to pending), so changes are
  // seen before the next event needs them. Returns how many were fetched.
  Result<size_t> RefreshKeys();

  // Checks `origin`'s signature on a signed object (any of its key ids
  // that we accept; an expired key only for objects with a `ts` at or
  // before its expiry). Unauthenticated (`unsigned`, `bad_signature`,
  // `unknown_key`, `expired_key`).
  // `allow_expired` false: current keys only (objects whose `ts` the
  // signer picks freely, or that have none).
  // `signing_bytes`: SigningBytes(object), if the caller made them already.
  Status VerifySigned(const nlohmann::json& object, const std::string& origin,
                      bool allow_expired = true,
                      const std::string* signing_bytes = nullptr);

  // Runs inside the transaction that changes a peer's state (nullopt: the
  // peer is removed), so that what depends on it changes atomically, e.g.
  // the directory purging a blocked peer's groups. Set before serving.
  using PeerChange = std::function<Status(
      storage::WriteTxn&, const std::string&, std::optional<PeerState>)>;
  void OnPeerChange(PeerChange callback) {
    on_peer_change_ = std::move(callback);
  }

  void RecordContact(const std::string& name);
  void RecordError(const std::string& name, const std::string& error);

 private:
  TrustService(storage::Env& env, storage::Committer& committer,
               storage::Table<PeerRecord> table, storage::AuditLog audit,
               const Outbox& outbox, PeerClient& client, const Clock& clock,
               TrustOptions options)
      : env_(env),
        committer_(committer),
        table_(table),
        audit_(audit),
        outbox_(outbox),
        client_(client),
        clock_(clock),
        options_(std::move(options)) {}

  Result<KeyDocument> FetchKeys(const std::string& base_url);
  // Every write of the peer table goes through here (see generation()).
  Status ChangePeers(const storage::Committer::Change& change);
  // Applies a fetched document to `origin`'s record in one transaction.
  Status MergeKeys(const std::string& origin, const std::string& base,
                   const KeyDocument& doc);
  PeerView ViewOf(PeerRecord record) const;
  // Runs `change` on the stored record of `name` and audits `action`.
  Result<PeerView> Update(
      const std::string& name, const std::string& actor,
      const std::string& action,
      const std::function<Status(storage::WriteTxn&, PeerRecord&)>& change);
  Status Audit(storage::WriteTxn& txn, const std::string& actor,
               const std::string& action, const std::string& target,
               const nlohmann::json& detail);

  storage::Env& env_;
  storage::Committer& committer_;
  storage::Table<PeerRecord> table_;
  std::atomic<std::uint64_t> generation_{0};
  storage::AuditLog audit_;
  const Outbox& outbox_;
  PeerClient& client_;
  const Clock& clock_;
  TrustOptions options_;
  PeerChange on_peer_change_;

  mutable std::mutex mu_;  // guards the runtime maps below
  std::map<std::string, std::int64_t> last_contact_;
  std::map<std::string, std::string> last_error_;
  std::map<std::string, std::int64_t> last_fetch_;
};

std::vector<std::string> Fingerprints(
    const std::map<std::string, std::string>& keys);

}  // namespace hearth::federation

CEREAL_CLASS_VERSION(hearth::federation::PeerRecord, 1);
