#include "node/directory/search_text.h"

#include <gtest/gtest.h>

namespace hearth::directory {
namespace {

using Strings = std::vector<std::string>;

TEST(SearchTextTest, FoldsCaseAndAccents) {
  EXPECT_EQ(Fold("Trauer-Café ÆSIR"), "trauer-cafe aesir");
  EXPECT_EQ(Fold("Ångström Ñandú Œuvre Straße"),
            "angstrom nandu oeuvre strasse");
  EXPECT_EQ(Fold("Łódź Škoda Čeština İstanbul"), "lodz skoda cestina istanbul");
  // Decomposed accents (e + U+0301) fold like precomposed ones.
  EXPECT_EQ(Fold("cafe\xcc\x81"), "cafe");
  // Greek and Cyrillic: lowercase without tonos; ё as е.
  EXPECT_EQ(Fold("ΆΓΧΟΣ"), "αγχοσ");
  EXPECT_EQ(Fold("άγχος"), "αγχοσ");
  EXPECT_EQ(Fold("ТРЕВОГА Ёлка"), "тревога елка");
  EXPECT_EQ(Fold("ҐАНОК Қазақ"), "ґанок қазақ");  // Cyrillic Supplement
  // Other scripts pass unchanged.
  EXPECT_EQ(Fold("悲しみ"), "悲しみ");
}

TEST(SearchTextTest, InvalidUtf8BecomesSpaces) {
  EXPECT_EQ(Fold("a\xff"
                 "b"),
            "a b");
  EXPECT_EQ(Fold("\xc0\xaf"), "  ");  // overlong '/'
  EXPECT_EQ(Words("grief\xed\xa0\x80support"), (Strings{"grief", "support"}));
}

TEST(SearchTextTest, SplitsWordsOnPunctuationSymbolsAndSpace) {
  EXPECT_EQ(
      Words("Grief & Loss: a peer-support group (online)!"),
      (Strings{"grief", "loss", "a", "peer", "support", "group", "online"}));
  EXPECT_EQ(Words("  "), Strings{});
  EXPECT_EQ(Words("12-step recovery, 2x/week"),
            (Strings{"12", "step", "recovery", "2x", "week"}));
  EXPECT_EQ(Words("Ängste — Selbsthilfe"), (Strings{"angste", "selbsthilfe"}));
  EXPECT_EQ(Words("anxiety\xe2\x80\x94"
                  "support"),  // em dash
            (Strings{"anxiety", "support"}));
  EXPECT_EQ(Words("grief 💙 support"), (Strings{"grief", "support"}));
  EXPECT_EQ(Words("тревога, депрессия"), (Strings{"тревога", "депрессия"}));
}

TEST(SearchTextTest, CutsLongWordsOnACharacterBoundary) {
  auto words = Words(std::string(40, 'a'));
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0].size(), kMaxWordBytes);
  // 'é' folds to one byte; 'ж' is two: 17 of them cut to 16 (32 bytes).
  words = Words("жжжжжжжжжжжжжжжжж");
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0].size(), 32u);
  words = Words("a" + std::string("жжжжжжжжжжжжжжжжж"));
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0].size(), 31u);  // never half a character
}

TEST(SearchTextTest, ScoresNameAboveTopicAboveDescription) {
  auto score = [](std::uint8_t exact, std::uint8_t prefix) {
    return WordScore(WordMatch{exact, prefix});
  };
  EXPECT_EQ(score(0, 0), 0);
  EXPECT_GT(score(kName, 0), score(kTopic, 0));
  EXPECT_GT(score(kTopic, 0), score(kDescription, 0));
  EXPECT_GT(score(kName, 0), score(0, kName));  // exact beats prefix
  EXPECT_GT(score(0, kTopic), score(kDescription, 0));
  // A word in several fields earns a little more than in its best alone.
  EXPECT_EQ(score(kName | kDescription, 0), score(kName, 0) + 1);
  EXPECT_LT(score(kTopic | kDescription, 0), score(kName, 0));
}

}  // namespace
}  // namespace hearth::directory
