// libFuzzer target: the canonical-JSON parser. Invariants: no crash, hang
// or leak on any input; whatever it accepts re-encodes to exactly the
// input (that is what canonical means).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "federation/canonical_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = hearth::federation::ParseCanonical(text);
  if (parsed) {
    auto again = hearth::federation::Canonicalize(*parsed);
    if (!again || *again != text) std::abort();
  }
  return 0;
}
