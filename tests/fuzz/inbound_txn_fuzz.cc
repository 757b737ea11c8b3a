// libFuzzer target: inbound transaction parsing, everything before keys
// and storage: the Authorization header, the txn id, the canonical body,
// the transaction and event shapes, and event ids. The input is
// "<header>\n<txn id>\n<body>". Every refusal's error body is written as
// the server would write it (it quotes what was sent).
#include <cstdint>
#include <string>
#include <string_view>

#include "federation/canonical_json.h"
#include "federation/inbound.h"
#include "federation/request_auth.h"
#include "federation/signed_json.h"
#include "node/http/errors.h"

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
  if (!auth) (void)hearth::http::ErrorBody(auth.error());
  (void)hearth::federation::IsValidTxnId(txn_id);
  auto content = hearth::federation::ParseCanonical(body);
  if (!content) {
    (void)hearth::http::ErrorBody(content.error());
    return 0;
  }
  std::string origin = auth ? auth->origin : "a.test";
  auto shape = hearth::federation::CheckTransactionShape(*content, origin,
                                                         "b.test", 100);
  if (!shape) {
    (void)hearth::http::ErrorBody(shape.error());
    return 0;
  }
  for (const auto& event : (*content)["events"]) {
    auto checked = hearth::federation::CheckEventShape(event, origin);
    if (checked) {
      (void)hearth::federation::EventId(event);
      (void)hearth::federation::SignatureKeyIds(event, origin);
    } else {
      (void)hearth::http::ErrorBody(checked.error());
    }
  }
  return 0;
}
