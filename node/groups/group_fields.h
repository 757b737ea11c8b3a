// The rules for a group's fields, shared by creating and updating a group
// here, reading a host's copy of a group, and reading peers' directory
// listings (node/directory/), so that one set of limits holds everywhere.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "node/groups/group_records.h"

namespace hearth {

// What a creator or owner sets. For updates, unset fields stay.
struct GroupSpec {
  std::optional<std::string> slug;  // create only
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> topics;
  std::optional<std::string> language;
  std::optional<Visibility> visibility;
  std::optional<JoinPolicy> join_policy;
  std::optional<std::string> rules;
  std::optional<std::vector<Meeting>> meetings;
};

// Applies `spec` to `g`, validating every field it sets (400 invalid_*).
Status ApplyGroupSpec(const GroupSpec& spec, GroupRecord& g);

// A language tag: 2-16 of [a-z-] ("en", "pt-br").
bool IsLanguage(const std::string& l);
// "monday" .. "sunday".
bool IsWeekday(const std::string& d);

// `value` is min..max bytes without control characters (newlines and
// tabs allowed if `multiline`); else 400 invalid_<field>.
Status CheckText(const std::string& field, const std::string& value, size_t min,
                 size_t max, bool multiline);

}  // namespace hearth
