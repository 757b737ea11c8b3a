// Member API for the directory:
//   GET /api/v1/directory?q=&topic=&language=&day=&join_policy=&node=
//                        &offset=&limit=
#pragma once

#include "node/accounts/account_service.h"
#include "node/directory/directory_service.h"
#include "node/http/router.h"

namespace hearth {

void AddDirectoryApi(http::Router& router, AccountService& accounts,
                     const DirectoryService& directory);

}  // namespace hearth
