#include "common/ids.h"

namespace hearth {
namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

bool IsValidHandle(std::string_view handle) {
  if (handle.empty() || handle.size() > 32) return false;
  for (char c : handle) {
    if (!IsLowerAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsValidServerName(std::string_view name) {
  auto colon = name.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view port = name.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + unsigned(c - '0');
    }
    if (value == 0 || value > 65535) return false;
    name = name.substr(0, colon);
  }
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!IsLowerAlnum(c) && c != '-') return false;
    }
    start = dot + 1;
  }
  return true;
}

std::optional<MemberId> MemberId::Parse(std::string_view text) {
  if (text.size() < 4 || text[0] != '@') return std::nullopt;
  auto at = text.find('@', 1);
  if (at == std::string_view::npos) return std::nullopt;
  MemberId id{std::string(text.substr(1, at - 1)),
              std::string(text.substr(at + 1))};
  if (!IsValidHandle(id.handle) || !IsValidServerName(id.server))
    return std::nullopt;
  return id;
}

bool IsValidSlug(std::string_view slug) {
  if (slug.size() < 2 || slug.size() > 48) return false;
  for (char c : slug) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

std::optional<GroupId> GroupId::Parse(std::string_view text) {
  if (text.size() < 4 || text[0] != '!') return std::nullopt;
  auto at = text.find('@', 1);
  if (at == std::string_view::npos) return std::nullopt;
  GroupId id{std::string(text.substr(1, at - 1)),
             std::string(text.substr(at + 1))};
  if (!IsValidSlug(id.slug) || !IsValidServerName(id.server))
    return std::nullopt;
  return id;
}

}  // namespace hearth
