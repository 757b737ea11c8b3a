// The groups service's tables and their key layouts (see group_records.h),
// shared by its two source files.
#pragma once

#include <cstdint>
#include <string>

#include "common/encoding.h"
#include "node/groups/group_service.h"

namespace hearth {

struct GroupService::Tables {
  storage::Table<GroupRecord> groups;
  storage::Table<MembershipRecord> members;
  storage::Dbi index;
  storage::Table<MessageRecord> messages;
  // Accepted author events on their host: EventKey -> message key. Keyed
  // by time first, so each commit's new entries share a page or two.
  storage::Dbi by_event;
  // The index before it, keyed by event id alone (one random page per
  // post): no longer written; read while it still has entries.
  storage::Dbi by_event_v1;
  bool by_event_v1_in_use = false;
  // On the host: group id -> its membership version (u64 BE).
  storage::Dbi membership_version;
  // On members' nodes: MemberKey -> the last change taken (Taken: version
  // u64 BE, then the host's ts as u64 BE).
  storage::Dbi taken;
};

}  // namespace hearth

namespace hearth::groupkeys {

inline std::string MemberKey(const std::string& gid,
                             const std::string& member) {
  return gid + std::string(1, '\0') + member;
}
inline std::string IndexKey(const std::string& member, const std::string& gid) {
  return member + std::string(1, '\0') + gid;
}
inline std::string MessageKey(const std::string& gid, std::uint64_t seq) {
  return gid + std::string(1, '\0') + EncodeU64BE(seq);
}
// The author's ts (u64 BE, negative as 0), then the event id.
inline std::string EventKey(std::int64_t ts, const std::string& event_id) {
  return EncodeU64BE(std::uint64_t(ts < 0 ? 0 : ts)) + event_id;
}

}  // namespace hearth::groupkeys
