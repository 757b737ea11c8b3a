#include "node/directory/directory_index.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/crypto.h"
#include "common/encoding.h"
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

// Every posting of `g`: key prefix (word or filter) -> value. Values carry
// the member count, so that ranking needs no group record: a word's is
// its field mask and the count (u64 BE), a filter's the count.
std::map<std::string, std::string> Postings(const GroupRecord& g) {
  const std::string members = EncodeU64BE(g.member_count);
  std::map<std::string, std::uint8_t> words;
  for (const auto& w : Words(g.name)) words[w] |= kName;
  for (const auto& t : g.topics)
    for (const auto& w : Words(t)) words[w] |= kTopic;
  for (const auto& w : Words(g.description)) words[w] |= kDescription;
  std::map<std::string, std::string> out;
  for (const auto& [w, mask] : words)
    out[WordKey(w)] = std::string(1, char(mask)) + members;
  for (const auto& t : g.topics) out[FilterKey("topic", Fold(t))] = members;
  if (!g.language.empty()) out[FilterKey("lang", g.language)] = members;
  for (const auto& m : g.meetings) out[FilterKey("day", m.weekday)] = members;
  // Every group has exactly one join posting: browsing scans these.
  out[FilterKey("join", ToString(g.join_policy))] = members;
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

std::uint64_t Members(std::string_view bytes) {
  return DecodeU64BE(bytes).value_or(0);
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

Result<bool> DirectoryIndex::RebuildIfStale(storage::WriteTxn& txn) const {
  const std::string version_key = "v";
  HEARTH_ASSIGN_OR_RETURN(auto stored, txn.Get(postings_, version_key));
  if (stored && DecodeU64BE(*stored) == kTextRulesVersion) return false;
  std::vector<std::string> keys;
  {
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, postings_));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    while (more) {
      keys.emplace_back(c.key());
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  for (const auto& k : keys) {
    HEARTH_ASSIGN_OR_RETURN(bool existed, txn.Delete(postings_, k));
    (void)existed;
  }
  std::vector<std::pair<std::string, GroupRecord>> groups;
  {
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, groups_.dbi()));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
    while (more) {
      HEARTH_ASSIGN_OR_RETURN(auto g, storage::Decode<DirGroup>(c.value()));
      groups.emplace_back(std::string(c.key()), std::move(g.group));
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
  }
  for (const auto& [key, g] : groups)
    HEARTH_RETURN_IF_ERROR(PutPostings(txn, postings_, key, g));
  HEARTH_RETURN_IF_ERROR(
      txn.Put(postings_, version_key, EncodeU64BE(kTextRulesVersion)));
  return true;
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

Result<std::vector<std::pair<std::string, DirSource>>> DirectoryIndex::Sources(
    const storage::Txn& txn) const {
  std::vector<std::pair<std::string, DirSource>> out;
  HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, sources_.dbi()));
  HEARTH_ASSIGN_OR_RETURN(bool more, c.First());
  while (more) {
    HEARTH_ASSIGN_OR_RETURN(auto s, storage::Decode<DirSource>(c.value()));
    out.emplace_back(std::string(c.key()), std::move(s));
    HEARTH_ASSIGN_OR_RETURN(more, c.Next());
  }
  return out;
}

Result<SearchPage> DirectoryIndex::Search(
    const storage::Txn& txn, const SearchQuery& query,
    const std::function<HostView(const std::string&)>& view) const {
  // Candidates by entry key; unset until a word or a filter has narrowed
  // them. Only the page's groups are read from the groups table.
  struct Candidate {
    int score = 0;
    std::uint64_t members = 0;
  };
  using Candidates = std::unordered_map<std::string, Candidate>;
  std::optional<Candidates> found;
  auto narrow = [&](Candidates more) {
    if (!found) {
      found = std::move(more);
      return;
    }
    for (auto it = found->begin(); it != found->end();) {
      auto f = more.find(it->first);
      if (f == more.end()) {
        it = found->erase(it);
      } else {
        it->second.score += f->second.score;
        ++it;
      }
    }
  };
  const std::string node_prefix = query.node.empty() ? "" : query.node + kSep;
  // Scans postings under `prefix`; `take` gets (term, entry key, value).
  auto scan = [&](const std::string& prefix, auto&& take) -> Status {
    HEARTH_ASSIGN_OR_RETURN(auto c, storage::Cursor::Open(txn, postings_));
    HEARTH_ASSIGN_OR_RETURN(bool more, c.Seek(prefix));
    while (more && StartsWith(c.key(), prefix)) {
      std::string_view key = c.key();
      size_t end = key.find('\0', 1);
      if (end != std::string_view::npos) {
        std::string_view entry = key.substr(end + 1);
        if (StartsWith(entry, node_prefix))
          take(key.substr(1, end - 1), entry, c.value());
      }
      HEARTH_ASSIGN_OR_RETURN(more, c.Next());
    }
    return Ok();
  };

  for (const std::string& word : query.words) {
    std::unordered_map<std::string, std::pair<WordMatch, std::uint64_t>> hits;
    HEARTH_RETURN_IF_ERROR(
        scan("w" + word, [&](std::string_view term, std::string_view entry,
                             std::string_view value) {
          if (value.empty()) return;
          auto fields = static_cast<std::uint8_t>(value[0]);
          auto& [m, members] = hits[std::string(entry)];
          if (term.size() == word.size())
            m.exact |= fields;
          else
            m.prefix |= fields;
          members = Members(value.substr(1));
        }));
    Candidates more;
    more.reserve(hits.size());
    for (const auto& [entry, hit] : hits)
      more.emplace(entry, Candidate{WordScore(hit.first), hit.second});
    narrow(std::move(more));
  }

  const std::pair<const char*, const std::string*> filters[] = {
      {"topic", &query.topic},
      {"lang", &query.language},
      {"day", &query.day},
      {"join", &query.join_policy}};
  auto take_filter = [](Candidates& into) {
    return [&into](std::string_view, std::string_view entry,
                   std::string_view value) {
      into.emplace(std::string(entry), Candidate{0, Members(value)});
    };
  };
  for (const auto& [kind, value] : filters) {
    if (value->empty()) continue;
    Candidates more;
    HEARTH_RETURN_IF_ERROR(scan(FilterKey(kind, *value), take_filter(more)));
    narrow(std::move(more));
  }
  // No words and no filters: every group (of one node, if asked), found
  // through the one join posting each group has.
  if (!found) {
    found.emplace();
    HEARTH_RETURN_IF_ERROR(scan("fjoin:", take_filter(*found)));
  }

  struct Ranked {
    const std::string* key;
    Candidate c;
    const HostView* view;
  };
  std::unordered_map<std::string, HostView> views;
  std::vector<Ranked> ranked;
  ranked.reserve(found->size());
  for (const auto& [key, c] : *found) {
    std::string host = HostOf(key);
    auto v = views.find(host);
    if (v == views.end()) v = views.emplace(host, view(host)).first;
    if (v->second.visible) ranked.push_back(Ranked{&key, c, &v->second});
  }
  auto before = [](const Ranked& a, const Ranked& b) {
    if (a.c.score != b.c.score) return a.c.score > b.c.score;
    if (a.view->local != b.view->local) return a.view->local;
    if (a.view->stale != b.view->stale) return !a.view->stale;
    if (a.c.members != b.c.members) return a.c.members > b.c.members;
    return *a.key < *b.key;
  };
  SearchPage page;
  page.total = ranked.size();
  size_t end = std::min(ranked.size(), query.offset + query.limit);
  if (query.offset < end) {
    std::partial_sort(ranked.begin(), ranked.begin() + end, ranked.end(),
                      before);
    for (size_t i = query.offset; i < end; ++i) {
      HEARTH_ASSIGN_OR_RETURN(auto g, groups_.Get(txn, *ranked[i].key));
      if (!g) {
        // A posting left behind (cannot happen while the text rules stay
        // as they were indexed with; Open rebuilds when they change).
        --page.total;
        continue;
      }
      page.hits.push_back(SearchHit{std::move(g->group), HostOf(*ranked[i].key),
                                    ranked[i].c.score, *ranked[i].view});
    }
  }
  if (end < ranked.size()) page.next = end;
  return page;
}

}  // namespace hearth::directory
