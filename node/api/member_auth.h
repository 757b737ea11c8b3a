// Wraps a member API handler so that it runs only for a valid session.
#pragma once

#include <functional>

#include "node/accounts/account_service.h"
#include "node/http/router.h"

namespace hearth {

using MemberHandler =
    std::function<Result<http::Reply>(const http::Request&, const Member&)>;

inline http::Handler Authed(AccountService& accounts, MemberHandler handler) {
  return [&accounts, handler = std::move(handler)](
             const http::Request& req) -> Result<http::Reply> {
    HEARTH_ASSIGN_OR_RETURN(std::string token, req.BearerToken());
    HEARTH_ASSIGN_OR_RETURN(Member m, accounts.Authenticate(token));
    return handler(req, m);
  };
}

}  // namespace hearth
