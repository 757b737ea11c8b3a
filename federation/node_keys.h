// This node's signing keys. The current key signs everything; the previous
// one, kept after a rotation, also signs the key document so that peers
// that pinned it accept the new key. Public halves of every key ever used
// stay in the store so that old events remain verifiable.
//
//   DATA_DIR/node.key: one line per key, current first (Synapse's
//     signing.key format: "ed25519 <id> <base64 seed>"); a rotation writes
//     two: the new key and the one it replaced.
//   Table `keyid_nodekey`: key id -> NodeKeyRecord (public key, created,
//     expired_ts; 0 = current).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "federation/key_document.h"
#include "federation/signing_key.h"
#include "storage/audit_log.h"
#include "storage/committer.h"
#include "storage/env.h"
#include "storage/table.h"

namespace hearth::federation {

struct NodeKeyRecord {
  std::string public_key;
  std::int64_t created_ts = 0;
  std::int64_t expired_ts = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(public_key, created_ts, expired_ts);
  }
};

// Writes a key file with one new key (for `hearth init`).
Status CreateKeyFile(const std::string& path);

class NodeKeys {
 public:
  // Loads the key file (creating one if missing) and brings the history
  // table in line with it: the file's first key is current, any other
  // current record is marked expired now. This also completes a rotation
  // interrupted between writing the file and the store.
  static Result<std::unique_ptr<NodeKeys>> Open(storage::Env& env,
                                                storage::Committer& committer,
                                                const std::string& key_path,
                                                std::string server_name,
                                                const Clock& clock);

  const std::string& server_name() const { return server_name_; }
  SigningKey current() const;

  // The signed key document, valid for a day.
  Result<std::string> KeyDocumentText() const;

  // Replaces the current key with a new one; the old key keeps verifying
  // (old_verify_keys) and cross-signs the key document until the next
  // rotation. Recorded in `audit` as `keys.rotate`.
  Result<std::string> Rotate(const storage::AuditLog& audit,
                             const std::string& actor);

  // A public key of ours by id (current or old), for tests and tools.
  std::map<std::string, NodeKeyRecord> History() const;
  // One of our public keys by id, inside the caller's transaction.
  Result<std::optional<NodeKeyRecord>> Find(const storage::Txn& txn,
                                            const std::string& key_id) const;

 private:
  NodeKeys(storage::Env& env, storage::Committer& committer,
           storage::Table<NodeKeyRecord> table, std::string key_path,
           std::string server_name, const Clock& clock)
      : env_(env),
        committer_(committer),
        table_(table),
        key_path_(std::move(key_path)),
        server_name_(std::move(server_name)),
        clock_(clock) {}
  Status Reconcile();

  storage::Env& env_;
  storage::Committer& committer_;
  storage::Table<NodeKeyRecord> table_;
  std::string key_path_;
  std::string server_name_;
  const Clock& clock_;
  std::mutex rotate_mu_;          // serializes Rotate
  mutable std::mutex mu_;         // guards keys_; never held across a commit
  std::vector<SigningKey> keys_;  // current first
};

// Reads every key line of a key file; the error names the file.
Result<std::vector<SigningKey>> LoadKeyFile(const std::string& path);
// Writes a key file (atomically, 0600), current key first.
Status SaveKeyFile(const std::string& path,
                   const std::vector<SigningKey>& keys);

}  // namespace hearth::federation

CEREAL_CLASS_VERSION(hearth::federation::NodeKeyRecord, 1);
