// The merged directory: every listed group this node knows, its own and
// its peers', with a word index for search (spec/directory.md §4-5).
// Updated incrementally: a merge rewrites only the groups that changed.
//
//   hostslug_dirgroup: host 0x00 slug -> DirGroup
//   term_dirpost:      'w' word 0x00 host 0x00 slug
//                          -> field mask (1 byte), member count (u64 BE)
//                      'f' filter 0x00 host 0x00 slug -> member count
//                      (filters: topic:T, lang:L, day:D, join:P; every
//                      group has one join posting)
//                      'v' -> the text rules version (u64 BE)
// Ranking reads only postings; the groups table is read for the page.
//   host_dirsource:    host -> DirSource (what we last merged from it)
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "node/groups/group_records.h"
#include "storage/env.h"
#include "storage/table.h"
#include "storage/txn.h"

namespace hearth::directory {

struct DirGroup {
  GroupRecord group;  // listed fields only
  std::string hash;   // of the encoded record: a merge skips equal ones

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(group, hash);
  }
};

struct DirSource {
  std::uint64_t version = 0;    // of the document last merged
  std::string hash;             // this node's own listing: its hash
  std::int64_t last_ok_ts = 0;  // last successful pull (or publish)
  std::int64_t last_try_ts = 0;
  std::string last_error;
  std::uint64_t groups = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t /*version*/) {
    ar(version, hash, last_ok_ts, last_try_ts, last_error, groups);
  }
};

// A search; empty strings match anything. Filters are exact (after
// folding); `q` is matched word by word, each word as a prefix.
struct SearchQuery {
  std::vector<std::string> words;  // folded (Words(q))
  std::string topic, language, day, join_policy, node;
  size_t offset = 0;
  size_t limit = 20;
};

// How search shows a host's groups.
struct HostView {
  bool visible = false;   // own node, or a trusted or limited peer
  bool local = false;     // this node
  bool stale = false;     // not heard from in stale_after
  bool joinable = false;  // members here may join (not limited)
};

struct SearchHit {
  GroupRecord group;
  std::string host;
  int score = 0;
  HostView view;
};

struct SearchPage {
  std::vector<SearchHit> hits;
  size_t total = 0;            // matches across all pages
  std::optional<size_t> next;  // the offset of the next page
};

struct MergeStats {
  size_t added = 0, changed = 0, removed = 0, unchanged = 0;
};

class DirectoryIndex {
 public:
  static Result<DirectoryIndex> Open(storage::Env& env);

  // Makes `groups` (all hosted on `host`) the whole of `host`'s listing.
  Result<MergeStats> Replace(storage::WriteTxn& txn, const std::string& host,
                             const std::vector<GroupRecord>& groups) const;
  // Rebuilds every posting from the stored groups if they were made with
  // other text rules than kTextRulesVersion. Returns whether it did.
  Result<bool> RebuildIfStale(storage::WriteTxn& txn) const;
  // Drops `host`'s groups and source record. Returns how many groups.
  Result<size_t> Purge(storage::WriteTxn& txn, const std::string& host) const;

  Result<std::optional<DirSource>> Source(const storage::Txn& txn,
                                          const std::string& host) const;
  Status PutSource(storage::WriteTxn& txn, const std::string& host,
                   const DirSource& source) const;
  // Every source (this node and each peer merged from), by host.
  Result<std::vector<std::pair<std::string, DirSource>>> Sources(
      const storage::Txn& txn) const;

  // Ranked matches (spec/directory.md §5): score, then this node's
  // groups, fresh before stale, more members, host and slug. `view` is
  // asked once
  // per host; groups of hosts it does not show are left out.
  Result<SearchPage> Search(
      const storage::Txn& txn, const SearchQuery& query,
      const std::function<HostView(const std::string&)>& view) const;

 private:
  storage::Table<DirGroup> groups_;
  storage::Dbi postings_;
  storage::Table<DirSource> sources_;
};

}  // namespace hearth::directory

CEREAL_CLASS_VERSION(hearth::directory::DirGroup, 1);
CEREAL_CLASS_VERSION(hearth::directory::DirSource, 1);
