// The groups service's records and tables. Groups hosted here are
// authoritative; remote groups are cached copies kept for the local
// members in them.
//
//   groupid_group:          group id -> GroupRecord
//   groupmember_membership: group id 0x00 member id -> MembershipRecord
//                           (on the host: every member; elsewhere: the
//                           local members only)
//   membergroup_index:      member id 0x00 group id -> "" (local members)
//   groupseq_message:       group id 0x00 seq (u64 BE) -> MessageRecord
//   eventid_message:        event id -> group id 0x00 seq (u64 BE)
//   groupid_mversion:       group id -> membership version (u64 BE; host)
//   groupmember_taken:      group id 0x00 member id -> version, ts (u64 BE
//                           each; the member's node, for remote groups)
#pragma once

#include <cereal/types/common.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/codec.h"

namespace hearth {

enum class Visibility : std::uint8_t {
  kPublic = 0,
  kUnlisted = 1,
  kPrivate = 2
};
enum class JoinPolicy : std::uint8_t { kOpen = 0, kApproval = 1, kInvite = 2 };
enum class Role : std::uint8_t { kMember = 0, kFacilitator = 1, kOwner = 2 };
// kNone is never stored: no row means no membership.
enum class MemberState : std::uint8_t {
  kNone = 0,
  kInvited = 1,
  kPending = 2,
  kJoined = 3,
  kBanned = 4
};

const char* ToString(Visibility v);
const char* ToString(JoinPolicy p);
const char* ToString(Role r);
const char* ToString(MemberState s);
bool ParseVisibility(const std::string& text, Visibility* out);
bool ParseJoinPolicy(const std::string& text, JoinPolicy* out);
bool ParseRole(const std::string& text, Role* out);
bool ParseMemberState(const std::string& text, MemberState* out);

struct Meeting {
  std::string weekday;   // "monday" .. "sunday"
  std::string time;      // "HH:MM", 24-hour, in `timezone`
  std::string timezone;  // IANA name, e.g. "Europe/Berlin"
  std::string link;      // optional URL of the virtual meeting

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(weekday, time, timezone, link);
  }
};

struct GroupRecord {
  std::string group_id;
  std::string name;
  std::string description;
  std::vector<std::string> topics;
  std::string language;
  Visibility visibility = Visibility::kPublic;
  JoinPolicy join_policy = JoinPolicy::kOpen;
  std::string rules;
  std::vector<Meeting> meetings;
  std::string owner;
  std::int64_t created_ts = 0;
  std::int64_t updated_ts = 0;
  std::uint64_t member_count = 0;  // joined members (the host's count)

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(group_id, name, description, topics, language, visibility, join_policy,
       rules, meetings, owner, created_ts, updated_ts, member_count);
  }
};

struct MembershipRecord {
  std::string member_id;
  MemberState state = MemberState::kNone;
  Role role = Role::kMember;
  bool muted = false;
  std::int64_t rules_accepted_ts = 0;
  std::int64_t updated_ts = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(member_id, state, role, muted, rules_accepted_ts, updated_ts);
  }
};

struct MessageRecord {
  std::uint64_t seq = 0;
  std::string event_id;  // the author's event
  std::string author;
  std::string body;
  std::string content_warning;
  std::string reply_to;        // an event id, or empty
  std::int64_t ts = 0;         // when the author's node signed it
  std::int64_t accept_ts = 0;  // when the host accepted it
  std::string accept;          // canonical JSON of the host's group.accept

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(seq, event_id, author, body, content_warning, reply_to, ts, accept_ts,
       accept);
  }
};

}  // namespace hearth

CEREAL_CLASS_VERSION(hearth::Meeting, 1);
CEREAL_CLASS_VERSION(hearth::GroupRecord, 1);
CEREAL_CLASS_VERSION(hearth::MembershipRecord, 1);
CEREAL_CLASS_VERSION(hearth::MessageRecord, 1);
