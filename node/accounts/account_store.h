// The accounts service's tables.
//
//   handle_account:    handle (ASCII)            -> AccountRecord
//   tokenhash_session: SHA-256(token) (32 bytes) -> SessionRecord
//   codehash_invite:   SHA-256(code) (32 bytes)  -> InviteRecord
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "storage/env.h"
#include "storage/table.h"

namespace hearth {

struct AccountRecord {
  std::string handle;
  std::string display_name;   // since v1; empty in v0 records
  std::string password_hash;  // PHC string, records its own parameters
  std::int64_t created_ts = 0;
  bool suspended = false;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    if (version == 0) {
      ar(handle, password_hash, created_ts, suspended);
    } else {
      ar(handle, display_name, password_hash, created_ts, suspended);
    }
  }
};

struct SessionRecord {
  std::string handle;
  std::int64_t created_ts = 0;
  std::int64_t expires_ts = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(handle, created_ts, expires_ts);
  }
};

struct InviteRecord {
  std::int64_t created_ts = 0;
  std::int64_t expires_ts = 0;
  std::uint32_t uses_left = 1;
  std::string created_by;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(created_ts, expires_ts, uses_left, created_by);
  }
};

struct AccountStore {
  storage::Table<AccountRecord> accounts;
  storage::Table<SessionRecord> sessions;
  storage::Table<InviteRecord> invites;

  static Result<AccountStore> Open(storage::Env& env);
};

}  // namespace hearth

CEREAL_CLASS_VERSION(hearth::AccountRecord, 1);
CEREAL_CLASS_VERSION(hearth::SessionRecord, 1);
CEREAL_CLASS_VERSION(hearth::InviteRecord, 1);
