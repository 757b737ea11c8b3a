#include "node/groups/group_fields.h"

#include <algorithm>
#include <cctype>

namespace hearth {

namespace {

bool IsPrintable(const std::string& s, bool allow_newlines) {
  for (unsigned char c : s) {
    if (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\t'))) return false;
    if (c == 0x7f) return false;
  }
  return true;
}

}  // namespace

bool IsLanguage(const std::string& l) {
  if (l.size() < 2 || l.size() > 16) return false;
  for (char c : l) {
    if (!((c >= 'a' && c <= 'z') || c == '-')) return false;
  }
  return true;
}

bool IsWeekday(const std::string& d) {
  static const char* const kDays[] = {"monday",   "tuesday", "wednesday",
                                      "thursday", "friday",  "saturday",
                                      "sunday"};
  return std::find(std::begin(kDays), std::end(kDays), d) != std::end(kDays);
}

Status CheckText(const std::string& field, const std::string& value, size_t min,
                 size_t max, bool multiline) {
  if (value.size() < min || value.size() > max ||
      !IsPrintable(value, multiline))
    return Error::Invalid("invalid_" + field,
                          field + " is " + std::to_string(min) + " to " +
                              std::to_string(max) +
                              " bytes of text without control characters");
  return Ok();
}

namespace {

bool IsTopic(const std::string& t) {
  if (t.empty() || t.size() > 32) return false;
  for (char c : t) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok && static_cast<unsigned char>(c) < 0x80) return false;
  }
  return true;
}

Status CheckMeeting(const Meeting& m) {
  if (!IsWeekday(m.weekday))
    return Error::Invalid("invalid_meetings",
                          "a meeting's weekday is monday to sunday");
  bool time_ok = m.time.size() == 5 && m.time[2] == ':' && isdigit(m.time[0]) &&
                 isdigit(m.time[1]) && isdigit(m.time[3]) &&
                 isdigit(m.time[4]) && std::stoi(m.time.substr(0, 2)) < 24 &&
                 std::stoi(m.time.substr(3, 2)) < 60;
  if (!time_ok)
    return Error::Invalid("invalid_meetings",
                          "a meeting's time is HH:MM, 24-hour");
  bool tz_ok = !m.timezone.empty() && m.timezone.size() <= 64;
  for (char c : m.timezone) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' ||
          c == '-' || c == '+'))
      tz_ok = false;
  }
  if (!tz_ok)
    return Error::Invalid("invalid_meetings",
                          "a meeting's timezone is an IANA name such as "
                          "Europe/Berlin");
  if (!m.link.empty() &&
      (m.link.size() > 500 || !IsPrintable(m.link, false) ||
       (m.link.rfind("https://", 0) != 0 && m.link.rfind("http://", 0) != 0)))
    return Error::Invalid("invalid_meetings",
                          "a meeting's link is an http(s) URL");
  return Ok();
}

}  // namespace

Status ApplyGroupSpec(const GroupSpec& spec, GroupRecord& g) {
  if (spec.name) {
    HEARTH_RETURN_IF_ERROR(CheckText("name", *spec.name, 1, 100, false));
    g.name = *spec.name;
  }
  if (spec.description) {
    HEARTH_RETURN_IF_ERROR(
        CheckText("description", *spec.description, 0, 2000, true));
    g.description = *spec.description;
  }
  if (spec.topics) {
    if (spec.topics->size() > 10)
      return Error::Invalid("invalid_topics", "at most 10 topics");
    for (const auto& t : *spec.topics) {
      if (!IsTopic(t))
        return Error::Invalid("invalid_topics",
                              "a topic is 1-32 bytes: lowercase letters, "
                              "digits and '-'");
    }
    g.topics = *spec.topics;
  }
  if (spec.language) {
    if (!IsLanguage(*spec.language))
      return Error::Invalid("invalid_language",
                            "language is a lowercase tag such as en or pt-br");
    g.language = *spec.language;
  }
  if (spec.visibility) g.visibility = *spec.visibility;
  if (spec.join_policy) g.join_policy = *spec.join_policy;
  if (spec.rules) {
    HEARTH_RETURN_IF_ERROR(CheckText("rules", *spec.rules, 0, 4000, true));
    g.rules = *spec.rules;
  }
  if (spec.meetings) {
    if (spec.meetings->size() > 14)
      return Error::Invalid("invalid_meetings", "at most 14 meetings");
    for (const auto& m : *spec.meetings)
      HEARTH_RETURN_IF_ERROR(CheckMeeting(m));
    g.meetings = *spec.meetings;
  }
  return Ok();
}

}  // namespace hearth
