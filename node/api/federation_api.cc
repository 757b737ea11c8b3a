#include "node/api/federation_api.h"

namespace hearth {

void AddFederationApi(http::Router& router, const federation::NodeKeys& keys,
                      federation::Inbound& inbound) {
  router.Add("GET", "/_hearth/v1/keys",
             [&keys](const http::Request&) -> Result<http::Reply> {
               HEARTH_ASSIGN_OR_RETURN(std::string doc, keys.KeyDocumentText());
               return http::Reply{200, std::move(doc), "application/json"};
             });
  router.Add("PUT", "/_hearth/v1/send/{}",
             [&inbound](const http::Request& req) -> Result<http::Reply> {
               HEARTH_ASSIGN_OR_RETURN(
                   nlohmann::json result,
                   inbound.Send(req.params[0], req.raw.target,
                                req.raw.get_header_value("Authorization"),
                                req.raw.body));
               return http::Reply::Json(200, result);
             });
}

}  // namespace hearth
