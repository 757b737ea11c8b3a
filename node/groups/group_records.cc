#include "node/groups/group_records.h"

namespace hearth {
namespace {

template <typename Enum, size_t N>
bool ParseName(const std::string& text, const char* const (&names)[N],
               Enum* out) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) {
      *out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

const char* const kVisibility[] = {"public", "unlisted", "private"};
const char* const kJoinPolicy[] = {"open", "approval", "invite"};
const char* const kRole[] = {"member", "facilitator", "owner"};
const char* const kMemberState[] = {"none", "invited", "pending", "joined",
                                    "banned"};

}  // namespace

const char* ToString(Visibility v) { return kVisibility[size_t(v) % 3]; }
const char* ToString(JoinPolicy p) { return kJoinPolicy[size_t(p) % 3]; }
const char* ToString(Role r) { return kRole[size_t(r) % 3]; }
const char* ToString(MemberState s) { return kMemberState[size_t(s) % 5]; }
bool ParseVisibility(const std::string& t, Visibility* out) {
  return ParseName(t, kVisibility, out);
}
bool ParseJoinPolicy(const std::string& t, JoinPolicy* out) {
  return ParseName(t, kJoinPolicy, out);
}
bool ParseRole(const std::string& t, Role* out) {
  return ParseName(t, kRole, out);
}
bool ParseMemberState(const std::string& t, MemberState* out) {
  return ParseName(t, kMemberState, out);
}

}  // namespace hearth
