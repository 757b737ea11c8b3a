// libFuzzer target: inbound transaction parsing, everything before keys
// and storage: the Authorization header, the txn id, the canonical body,
// the transaction and event shapes, and event ids. The input is
// "<header>\n<txn id>\n<body>".
#include <cstdint>
#include <string>
#include <string_view>

#include "federation/canonical_json.h"
#include "federation/inbound.h"
#include "federation/request_auth.h"
#include "federation/signed_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  if (nl == std::string_view::npos) return 0;
  std::string_view header = in.substr(0, nl);
  in.remove_prefix(nl + 1);
  nl = in.find('\n');
  if (nl == std::string_view::npos) return 0;
  std::string txn_id(in.substr(0, nl));
  std::string_view body = in.substr(nl + 1);

  auto auth = hearth::federation::ParseAuthorization(header);
  (void)hearth::federation::IsValidTxnId(txn_id);
  auto content = hearth::federation::ParseCanonical(body);
  if (!content) return 0;
  std::string origin = auth ? auth->origin : "a.test";
  auto shape = hearth::federation::CheckTransactionShape(*content, origin,
                                                         "b.test", 100);
  if (!shape) return 0;
  for (const auto& event : (*content)["events"]) {
    if (hearth::federation::CheckEventShape(event, origin)) {
      (void)hearth::federation::EventId(event);
      (void)hearth::federation::SignatureKeyIds(event, origin);
    }
  }
  return 0;
}
