#include "node/directory/directory_document.h"

#include <set>

#include "common/ids.h"
#include "federation/canonical_json.h"
#include "federation/signed_json.h"
#include "node/groups/group_fields.h"

namespace hearth::directory {

using nlohmann::json;

json ListingJson(const GroupRecord& g) {
  json meetings = json::array();
  for (const Meeting& m : g.meetings) {
    meetings.push_back(
        {{"weekday", m.weekday}, {"time", m.time}, {"timezone", m.timezone}});
  }
  return {{"group_id", g.group_id},
          {"name", g.name},
          {"description", g.description},
          {"topics", g.topics},
          {"language", g.language},
          {"meetings", std::move(meetings)},
          {"join_policy", ToString(g.join_policy)},
          {"member_count", g.member_count}};
}

Result<std::string> SignDirectory(const DirectoryDocument& doc,
                                  const federation::SigningKey& key) {
  json groups = json::array();
  for (const auto& g : doc.groups) groups.push_back(ListingJson(g));
  json j = {{"server_name", doc.server_name},
            {"version", doc.version},
            {"groups", std::move(groups)}};
  HEARTH_RETURN_IF_ERROR(federation::SignJson(j, doc.server_name, key));
  federation::JsonLimits limits;
  limits.max_bytes = 64 << 20;
  return federation::Canonicalize(j, limits);
}

namespace {

Error Bad(const std::string& why) {
  return Error::Invalid("bad_directory", "directory document: " + why);
}

// One listed group, validated by the same rules as a group created here.
Result<GroupRecord> ParseListing(const json& j, const std::string& server) {
  try {
    GroupRecord g;
    g.group_id = j.at("group_id").get<std::string>();
    auto id = GroupId::Parse(g.group_id);
    if (!id || id->server != server)
      return Bad("group " + g.group_id + " is not hosted on " + server);
    GroupSpec spec;
    spec.name = j.at("name").get<std::string>();
    spec.description = j.at("description").get<std::string>();
    spec.topics = j.at("topics").get<std::vector<std::string>>();
    spec.language = j.at("language").get<std::string>();
    JoinPolicy policy;
    if (!ParseJoinPolicy(j.at("join_policy").get<std::string>(), &policy))
      return Bad("bad join policy");
    spec.join_policy = policy;
    std::vector<Meeting> meetings;
    for (const auto& m : j.at("meetings")) {
      meetings.push_back(Meeting{m.at("weekday").get<std::string>(),
                                 m.at("time").get<std::string>(),
                                 m.at("timezone").get<std::string>(), ""});
    }
    spec.meetings = std::move(meetings);
    HEARTH_RETURN_IF_ERROR(ApplyGroupSpec(spec, g));
    const json& count = j.at("member_count");
    if (!count.is_number_integer() || count.get<std::int64_t>() < 0)
      return Bad("member_count is a count");
    g.member_count = count.get<std::uint64_t>();
    return g;
  } catch (const std::exception& e) {
    return Bad(std::string("bad group: ") + e.what());
  }
}

}  // namespace

Result<DirectoryDocument> ParseDirectory(const json& doc,
                                         const std::string& server,
                                         size_t* skipped) {
  *skipped = 0;
  if (!doc.is_object()) return Bad("not an object");
  const auto name = doc.find("server_name");
  const auto version = doc.find("version");
  const auto groups = doc.find("groups");
  if (name == doc.end() || !name->is_string() || *name != server)
    return Bad("it does not name " + server);
  if (version == doc.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() <= 0)
    return Bad("version is a positive integer");
  if (groups == doc.end() || !groups->is_array())
    return Bad("groups is a list");
  if (groups->size() > kMaxListedGroups)
    return Bad("more than " + std::to_string(kMaxListedGroups) + " groups");
  DirectoryDocument out;
  out.server_name = server;
  out.version = version->get<std::uint64_t>();
  std::set<std::string> seen;
  for (const auto& item : *groups) {
    auto g = ParseListing(item, server);
    if (!g || !seen.insert(g->group_id).second) {
      ++*skipped;
      continue;
    }
    out.groups.push_back(std::move(*g));
  }
  return out;
}

}  // namespace hearth::directory
