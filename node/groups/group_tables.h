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
  storage::Dbi by_event;
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

}  // namespace hearth::groupkeys
