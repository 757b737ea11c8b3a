#include "node/directory/search_text.h"

#include <algorithm>
#include <array>

namespace hearth::directory {
namespace {

// Decodes one UTF-8 sequence at `s[i]`; advances `i`. Returns -1 for an
// invalid or overlong sequence (one byte consumed).
int32_t Decode(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  int len = (b & 0xe0) == 0xc0   ? 2
            : (b & 0xf0) == 0xe0 ? 3
            : (b & 0xf8) == 0xf0 ? 4
                                 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return -1;
  }
  int32_t cp = b & (0xff >> (len + 1));
  for (int k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) {
      ++i;
      return -1;
    }
    cp = (cp << 6) | (c & 0x3f);
  }
  static constexpr int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    ++i;
    return -1;
  }
  i += len;
  return cp;
}

void Append(std::string& out, int32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xc0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xe0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(char(0xf0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(char(0x80 | (cp & 0x3f)));
  }
}

// U+00C0..U+00FF; "" for × and ÷, which are not letters.
constexpr std::array<const char*, 64> kLatin1 = {
    "a", "a", "a", "a", "a",  "a",  "ae", "c", "e", "e", "e",  "e", "i",
    "i", "i", "i", "d", "n",  "o",  "o",  "o", "o", "o", "",   "o", "u",
    "u", "u", "u", "y", "th", "ss", "a",  "a", "a", "a", "a",  "a", "ae",
    "c", "e", "e", "e", "e",  "i",  "i",  "i", "i", "d", "n",  "o", "o",
    "o", "o", "o", "",  "o",  "u",  "u",  "u", "u", "y", "th", "y"};

// U+0100..U+017F as runs: (folded letters, how many code points).
struct Run {
  const char* to;
  int count;
};
constexpr Run kLatinExtA[] = {
    {"a", 6},  {"c", 8},  {"d", 4}, {"e", 10}, {"g", 8},  {"h", 4},
    {"i", 10}, {"ij", 2}, {"j", 2}, {"k", 3},  {"l", 10}, {"n", 9},
    {"o", 6},  {"oe", 2}, {"r", 6}, {"s", 8},  {"t", 6},  {"u", 12},
    {"w", 2},  {"y", 3},  {"z", 6}, {"s", 1}};

const char* LatinExtA(int32_t cp) {
  int offset = cp - 0x100;
  for (const Run& r : kLatinExtA) {
    if (offset < r.count) return r.to;
    offset -= r.count;
  }
  return nullptr;
}

// Greek: lowercase without tonos or dialytika; final sigma as sigma.
int32_t FoldGreek(int32_t cp) {
  switch (cp) {
    case 0x386:
    case 0x3ac:
      return 0x3b1;  // alpha
    case 0x388:
    case 0x3ad:
      return 0x3b5;  // epsilon
    case 0x389:
    case 0x3ae:
      return 0x3b7;  // eta
    case 0x38a:
    case 0x3af:
    case 0x3ca:
    case 0x390:
    case 0x3aa:
      return 0x3b9;
    case 0x38c:
    case 0x3cc:
      return 0x3bf;  // omicron
    case 0x38e:
    case 0x3cd:
    case 0x3cb:
    case 0x3b0:
    case 0x3ab:
      return 0x3c5;
    case 0x38f:
    case 0x3ce:
      return 0x3c9;  // omega
    case 0x3c2:
      return 0x3c3;  // final sigma
    default:
      break;
  }
  // U+03A2 is unassigned; shifted it would be the final sigma.
  if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) return cp + 0x20;
  return cp;
}

int32_t FoldCyrillic(int32_t cp) {
  if (cp >= 0x410 && cp <= 0x42f)
    cp += 0x20;
  else if (cp >= 0x400 && cp <= 0x40f)
    cp += 0x50;
  // Cyrillic Supplement pairs (Ukrainian Ґ, Kazakh Қ, ...): uppercase
  // even, lowercase odd; from U+04C1 to U+04CE the other way round.
  else if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48a && cp <= 0x4bf) ||
           (cp >= 0x4d0 && cp <= 0x4ff))
    cp |= 1;
  else if (cp >= 0x4c1 && cp <= 0x4ce && (cp & 1))
    cp += 1;
  if (cp == 0x451) return 0x435;  // ё -> е
  return cp;
}

bool IsCombiningMark(int32_t cp) {
  return (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x483 && cp <= 0x489) ||
         (cp >= 0x1ab0 && cp <= 0x1aff) || (cp >= 0x1dc0 && cp <= 0x1dff) ||
         (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe20 && cp <= 0xfe2f);
}

// Letters and digits after folding (folding leaves only these ASCII ones).
bool IsWordChar(int32_t cp) {
  if (cp < 0x80)
    return (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') ||
           (cp >= 'A' && cp <= 'Z');
  if (cp < 0xc0) return cp == 0xaa || cp == 0xb5 || cp == 0xba;
  if (cp == 0xd7 || cp == 0xf7) return false;
  if (cp >= 0x2000 && cp <= 0x2bff) return false;    // punctuation, symbols
  if (cp >= 0x2e00 && cp <= 0x2e7f) return false;    // supplemental punct.
  if (cp >= 0x3000 && cp <= 0x303f) return false;    // CJK punctuation
  if (cp >= 0xfe10 && cp <= 0xfe6f) return false;    // forms and small punct.
  if (cp >= 0xff00 && cp <= 0xff0f) return false;    // fullwidth punctuation
  if (cp >= 0xfff0 && cp <= 0xffff) return false;    // specials
  if (cp >= 0x1f000 && cp <= 0x1faff) return false;  // emoji, pictographs
  return true;
}

// Folds one code point into `out`.
void FoldInto(std::string& out, int32_t cp) {
  if (cp < 0) {
    out.push_back(' ');
  } else if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? char(cp + 32) : char(cp));
  } else if (cp >= 0xc0 && cp <= 0xff) {
    const char* to = kLatin1[cp - 0xc0];
    if (*to)
      out += to;
    else
      Append(out, cp);
  } else if (cp >= 0x100 && cp <= 0x17f) {
    out += LatinExtA(cp);
  } else if (IsCombiningMark(cp)) {
    // dropped: "e" + U+0301 folds like "é"
  } else if (cp >= 0x370 && cp <= 0x3ff) {
    Append(out, FoldGreek(cp));
  } else if (cp >= 0x400 && cp <= 0x4ff) {
    Append(out, FoldCyrillic(cp));
  } else {
    Append(out, cp);
  }
}

void Cut(std::string& word) {
  if (word.size() <= kMaxWordBytes) return;
  size_t n = kMaxWordBytes;
  while (n > 0 && (static_cast<unsigned char>(word[n]) & 0xc0) == 0x80) --n;
  word.resize(n);
}

}  // namespace

std::string Fold(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) FoldInto(out, Decode(utf8, i));
  return out;
}

std::vector<std::string> Words(std::string_view utf8) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    Cut(word);
    words.push_back(std::move(word));
    word.clear();
  };
  for (size_t i = 0; i < utf8.size();) {
    int32_t cp = Decode(utf8, i);
    if (cp >= 0 && IsCombiningMark(cp)) continue;  // inside a word
    if (cp < 0 || !IsWordChar(cp)) {
      flush();
      continue;
    }
    FoldInto(word, cp);
  }
  flush();
  return words;
}

int WordScore(const WordMatch& m) {
  struct Weight {
    Field field;
    int exact, prefix;
  };
  static constexpr Weight kWeights[] = {
      {kName, 12, 8}, {kTopic, 10, 6}, {kDescription, 3, 2}};
  int best = 0, fields = 0;
  for (const Weight& w : kWeights) {
    int points = (m.exact & w.field)    ? w.exact
                 : (m.prefix & w.field) ? w.prefix
                                        : 0;
    if (points == 0) continue;
    ++fields;
    best = std::max(best, points);
  }
  return best == 0 ? 0 : best + fields - 1;
}

}  // namespace hearth::directory
