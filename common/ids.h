// Identifiers from the design brief: server names, member handles and ids.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hearth {

// Handles: [a-z0-9._-]{1,32}.
bool IsValidHandle(std::string_view handle);

// A DNS name, lowercase, 1-253 characters, labels of [a-z0-9-] not starting
// or ending with '-'; an optional ":port" as Matrix allows for tests.
bool IsValidServerName(std::string_view name);

struct MemberId {
  std::string handle;
  std::string server;

  std::string ToString() const { return "@" + handle + "@" + server; }
  // "@handle@server" with both parts valid.
  static std::optional<MemberId> Parse(std::string_view text);
};

// Group slugs: [a-z0-9-]{2,48}.
bool IsValidSlug(std::string_view slug);

struct GroupId {
  std::string slug;
  std::string server;  // the host

  std::string ToString() const { return "!" + slug + "@" + server; }
  // "!slug@server" with both parts valid.
  static std::optional<GroupId> Parse(std::string_view text);
};

}  // namespace hearth
