// libFuzzer target: what a peer's directory document goes through before
// it reaches the index (canonical parse, then the document and group
// checks), and the text rules every listed word passes. Invariants: no
// crash, hang or leak; every accepted group is hosted on the publisher;
// folding is idempotent; every word is non-empty, at most 32 bytes, and
// is its own only word.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/ids.h"
#include "federation/canonical_json.h"
#include "node/directory/directory_document.h"
#include "node/directory/search_text.h"

namespace {

void CheckText(std::string_view text) {
  using hearth::directory::Fold;
  using hearth::directory::Words;
  std::string folded = Fold(text);
  if (Fold(folded) != folded) std::abort();
  for (const std::string& w : Words(text)) {
    if (w.empty() || w.size() > hearth::directory::kMaxWordBytes) std::abort();
    auto again = Words(w);
    if (again.size() != 1 || again[0] != w) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckText(text);
  auto doc = hearth::federation::ParseCanonical(text);
  if (!doc) return 0;
  size_t skipped = 0;
  auto parsed = hearth::directory::ParseDirectory(*doc, "a.test", &skipped);
  if (!parsed) return 0;
  for (const auto& g : parsed->groups) {
    auto id = hearth::GroupId::Parse(g.group_id);
    if (!id || id->server != "a.test") std::abort();
    CheckText(g.name);
    CheckText(g.description);
  }
  return 0;
}
