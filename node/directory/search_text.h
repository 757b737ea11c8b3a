// The directory's text rules, shared by indexing and querying: folding
// (lowercase, accents removed), splitting into words, and scoring how a
// query's words matched a group. Pure functions; spec/directory.md §4.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::directory {

// The version of these rules (and of the postings built with them,
// directory_index.cc). Bump it with any change to what Fold, Words or the
// postings produce: the index is rebuilt on the next start.
constexpr std::uint64_t kTextRulesVersion = 1;

// Longest indexed word, in bytes; longer words are cut (on a character
// boundary), in documents and queries alike, so they still match.
constexpr size_t kMaxWordBytes = 32;

// Lowercase with accents removed, for Latin (Latin-1 Supplement and
// Latin Extended-A), Greek and Cyrillic letters; combining marks are
// dropped; other characters pass unchanged. Invalid UTF-8 bytes become
// spaces. "Trauer-Café ÆSIR" -> "trauer-cafe aesir".
std::string Fold(std::string_view utf8);

// The folded words of `utf8`, in order, repeats included: maximal runs of
// letters and digits (any non-ASCII character that is not punctuation,
// a symbol or a space counts as a letter).
std::vector<std::string> Words(std::string_view utf8);

// Where a group's text holds a word.
enum Field : std::uint8_t { kName = 1, kTopic = 2, kDescription = 4 };

// How one query word matched one group: the fields with a word equal to
// it, and the fields with a longer word that starts with it.
struct WordMatch {
  std::uint8_t exact = 0;
  std::uint8_t prefix = 0;
};

// Points for one query word: its best field (name 12 exact / 8 prefix,
// topic 10 / 6, description 3 / 2), plus 1 for each further field it
// matched in. 0 if it matched nowhere.
int WordScore(const WordMatch& m);

}  // namespace hearth::directory
