#include "node/api/directory_api.h"

#include "node/api/member_auth.h"

namespace hearth {

void AddDirectoryApi(http::Router& router, AccountService& accounts,
                     const DirectoryService& directory) {
  router.Add("GET", "/api/v1/directory",
             Authed(accounts,
                    [&directory](const http::Request& req,
                                 const Member&) -> Result<http::Reply> {
                      DirectorySearch s;
                      s.q = req.Query("q").value_or("");
                      s.topic = req.Query("topic").value_or("");
                      s.language = req.Query("language").value_or("");
                      s.day = req.Query("day").value_or("");
                      s.join_policy = req.Query("join_policy").value_or("");
                      s.node = req.Query("node").value_or("");
                      HEARTH_ASSIGN_OR_RETURN(
                          auto offset, http::QueryInt(req, "offset", 0, 10000));
                      HEARTH_ASSIGN_OR_RETURN(
                          auto limit, http::QueryInt(req, "limit", 1, 100));
                      s.offset = size_t(offset.value_or(0));
                      s.limit = size_t(limit.value_or(20));
                      HEARTH_ASSIGN_OR_RETURN(auto page, directory.Search(s));
                      return http::Reply::Json(200, page);
                    }));
}

}  // namespace hearth
