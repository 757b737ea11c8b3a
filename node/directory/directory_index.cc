#include "node/directory/directory_index.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/crypto.h"
#include "common/ids.h"
#include "node/directory/search_text.h"

namespace hearth::directory {
namespace {

const std::string kSep(1, '\0');

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// host 0x00 slug: a group's key in the groups table and the tail of each
// of its postings.
std::string EntryKey(const std::string& group_id) {
  auto id = GroupId::Parse(group_id);
  return id ? id->server + kSep + id->slug : group_id;
}

std::string HostOf(std::string_view entry_key) {
  return std::string(entry_key.substr(0, entry_key.find('\0')));
}

std::string WordKey(const std::string& word) { return "w" + word + kSep; }
std::string FilterKey(const std::string& kind, const std::string& value) {
  return "f" + kind + ":" + value + kSep;
}

// Every posting of `g`: key prefix (word or filter) -> value.
std::map<std::string, std::string> Postings(const GroupRecord& g) {
  std::map<std::string, std::uint8_t> words;
  for (const auto& w : Words(g.name)) words[w] |= kName;
  for (const auto& t : g.topics)
    for (const auto& w : Words(t)) words[w] |= kTopic;
  for (const auto& w : Words(g.description)) words[w] |= kDescription;
  std::map<std::string, std::string> out;
  for (const auto& [w, mask] : words)
    out[WordKey(w)] = std::string(1, char(mask));
  for (const auto& t : g.topics) out[FilterKey("topic", Fold(t))] = "";
  if (!g.language.empty()) out[FilterKey("lang", g.language)] = "";
  for (const auto& m : g.meetings) out[FilterKey("day", m.weekday)] = "";
  out[FilterKey("join", ToString(g.join_policy))] = "";
  return out;
}

Status PutPostings(storage::WriteTxn& txn, storage::Dbi dbi,
                   const std::string& entry, const GroupRecord& g) {
  for (const auto& [prefix, value] : Postings(g))
    HEARTH_RETURN_IF_ERROR(txn.Put(dbi, prefix + entry, value));
  return Ok();
}

Status DeletePostings(storage::WriteTxn& txn, storage::Dbi dbi,
                      const std::string& entry, const GroupRecord& g) {
  for (const auto& [prefix, value] : Postings(g)) {
    (void)value;
    HEARTH_ASSIGN_OR_RETURN(bool existed, txn.Delete(dbi, prefix + entry));
    (void)existed;
  }
  return Ok();
}

// The stored groups of `host`: entry key -> record.
Result<std::map<std::string, DirGroup>> HostGroups(
    const storage::Txn& txn, const storage::Table<DirGroup>& table,
    const std::string& host) {
  std::map<std::string, DirGroup> out;
  std::string prefix = host + kSep;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, table.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
  while (more && StartsWith(c.key(), prefix)) {
    HEARTH_ASSIGN_OR_RETURN(auto g, storage::Decode<DirGroup>(c.value()));
    out.emplace(std::string(c.key()), std::move(g));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

// Entry keys under `prefix` in the postings table (a filter's list).
Result<std::vector<std::string>> Posted(const storage::Txn& txn,
                                        storage::Dbi dbi,
                                        const std::string& prefix) {
  std::vector<std::string> out;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, dbi));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
  while (more && StartsWith(c.key(), prefix)) {
    out.emplace_back(c.key().substr(prefix.size()));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

}  // namespace

Result<DirectoryIndex> DirectoryIndex::Open(storage::Env& env) {
  DirectoryIndex index;
  HEARTH_ASSIGN_OR_RETURN(
      index.groups_, storage::Table<DirGroup>::Open(env, "hostslug_dirgroup"));
  HEARTH_ASSIGN_OR_RETURN(index.postings_, env.OpenTable("term_dirpost"));
  HEARTH_ASSIGN_OR_RETURN(
      index.sources_, storage::Table<DirSource>::Open(env, "host_dirsource"));
  return index;
}

Result<MergeStats> DirectoryIndex::Replace(
    storage::WriteTxn& txn, const std::string& host,
    const std::vector<GroupRecord>& groups) const {
  MergeStats stats;
  HEARTH_ASSIGN_OR_RETURN(auto old, HostGroups(txn, groups_, host));
  for (const GroupRecord& g : groups) {
    std::string key = EntryKey(g.group_id);
    if (HostOf(key) != host)
      return Error::Internal("directory: " + g.group_id + " is not on " + host);
    DirGroup fresh{g, Sha256(storage::Encode(g))};
    auto it = old.find(key);
    if (it != old.end()) {
      bool same = it->second.hash == fresh.hash;
      if (!same)
        HEARTH_RETURN_IF_ERROR(
            DeletePostings(txn, postings_, key, it->second.group));
      old.erase(it);
      if (same) {
        ++stats.unchanged;
        continue;
      }
      ++stats.changed;
    } else {
      ++stats.added;
    }
    HEARTH_RETURN_IF_ERROR(PutPostings(txn, postings_, key, g));
    HEARTH_RETURN_IF_ERROR(groups_.Put(txn, key, fresh));
  }
  for (const auto& [key, gone] : old) {
    HEARTH_RETURN_IF_ERROR(DeletePostings(txn, postings_, key, gone.group));
    HEARTH_ASSIGN_OR_RETURN(bool existed, groups_.Delete(txn, key));
    (void)existed;
    ++stats.removed;
  }
  return stats;
}

Result<size_t> DirectoryIndex::Purge(storage::WriteTxn& txn,
                                     const std::string& host) const {
  HEARTH_ASSIGN_OR_RETURN(MergeStats stats, Replace(txn, host, {}));
  HEARTH_ASSIGN_OR_RETURN(bool existed, sources_.Delete(txn, host));
  (void)existed;
  return stats.removed;
}

Result<std::optional<DirSource>> DirectoryIndex::Source(
    const storage::Txn& txn, const std::string& host) const {
  return sources_.Get(txn, host);
}

Status DirectoryIndex::PutSource(storage::WriteTxn& txn,
                                 const std::string& host,
                                 const DirSource& source) const {
  return sources_.Put(txn, host, source);
}

Result<SearchPage> DirectoryIndex::Search(
    const storage::Txn& txn, const SearchQuery& query,
    const std::function<HostView(const std::string&)>& view) const {
  // Candidates (entry keys) with their scores; unset until a word or a
  // filter has narrowed them.
  std::optional<std::unordered_map<std::string, int>> scores;
  auto narrow = [&](std::unordered_map<std::string, int> found) {
    if (!scores) {
      scores = std::move(found);
      return;
    }
    for (auto it = scores->begin(); it != scores->end();) {
      auto f = found.find(it->first);
      if (f == found.end()) {
        it = scores->erase(it);
      } else {
        it->second += f->second;
        ++it;
      }
    }
  };

  for (const std::string& word : query.words) {
    std::string prefix = "w" + word;
    std::unordered_map<std::string, WordMatch> matches;
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, postings_));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
    while (more && StartsWith(c.key(), prefix)) {
      std::string_view key = c.key();
      size_t end = key.find('\0', 1);
      if (end != std::string_view::npos && !c.value().empty()) {
        auto fields = static_cast<std::uint8_t>(c.value()[0]);
        WordMatch& m = matches[std::string(key.substr(end + 1))];
        if (end - 1 == word.size())
          m.exact |= fields;
        else
          m.prefix |= fields;
      }
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
    std::unordered_map<std::string, int> found;
    found.reserve(matches.size());
    for (const auto& [entry, m] : matches) found.emplace(entry, WordScore(m));
    narrow(std::move(found));
  }

  const std::pair<const char*, const std::string*> filters[] = {
      {"topic", &query.topic},
      {"lang", &query.language},
      {"day", &query.day},
      {"join", &query.join_policy}};
  for (const auto& [kind, value] : filters) {
    if (value->empty()) continue;
    HEARTH_ASSIGN_OR_RETURN(auto keys,
                            Posted(txn, postings_, FilterKey(kind, *value)));
    std::unordered_map<std::string, int> found;
    for (auto& k : keys) found.emplace(std::move(k), 0);
    narrow(std::move(found));
  }

  // No words and no filters: every group (of one node, if asked).
  std::vector<std::pair<std::string, DirGroup>> loaded;
  if (!scores) {
    scores.emplace();
    std::string prefix = query.node.empty() ? "" : query.node + kSep;
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, groups_.dbi()));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
    while (more && StartsWith(c.key(), prefix)) {
      HEARTH_ASSIGN_OR_RETURN(auto g, storage::Decode<DirGroup>(c.value()));
      loaded.emplace_back(std::string(c.key()), std::move(g));
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  } else {
    loaded.reserve(scores->size());
    for (const auto& [key, score] : *scores) {
      (void)score;
      if (!query.node.empty() && HostOf(key) != query.node) continue;
      HEARTH_ASSIGN_OR_RETURN(auto g, groups_.Get(txn, key));
      if (g) loaded.emplace_back(key, std::move(*g));
    }
  }

  std::unordered_map<std::string, HostView> views;
  std::vector<SearchHit> hits;
  hits.reserve(loaded.size());
  for (auto& [key, g] : loaded) {
    std::string host = HostOf(key);
    auto v = views.find(host);
    if (v == views.end()) v = views.emplace(host, view(host)).first;
    if (!v->second.visible) continue;
    auto s = scores->find(key);
    hits.push_back(SearchHit{std::move(g.group), std::move(host),
                             s == scores->end() ? 0 : s->second, v->second});
  }
  auto rank = [](const SearchHit& a, const SearchHit& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.view.local != b.view.local) return a.view.local;
    if (a.view.stale != b.view.stale) return !a.view.stale;
    if (a.group.member_count != b.group.member_count)
      return a.group.member_count > b.group.member_count;
    if (a.group.name != b.group.name) return a.group.name < b.group.name;
    return a.group.group_id < b.group.group_id;
  };
  SearchPage page;
  page.total = hits.size();
  size_t end = std::min(hits.size(), query.offset + query.limit);
  if (query.offset < end) {
    std::partial_sort(hits.begin(), hits.begin() + end, hits.end(), rank);
    for (size_t i = query.offset; i < end; ++i)
      page.hits.push_back(std::move(hits[i]));
  }
  if (end < hits.size()) page.next = end;
  return page;
}

}  // namespace hearth::directory
